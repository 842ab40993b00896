"""README.md's construct example runs as written: the block under "In your own stacks" synthesizes."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import App, Stack
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_block_after(marker: str) -> str:
    text = README.read_text()
    assert marker in text, f"README lost the {marker!r} example"
    return text.split(marker, 1)[1].split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_construct_example_synthesizes_what_it_says():
    # GIVEN the README's example, with the names it assumes (a stack, a grantee, the two modules)
    block = _python_block_after("In your own stacks:")
    stack = Stack(App(), "Readme")
    grantee = iam.Role(stack, "Fn", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))

    # WHEN it runs
    exec(block, {"self": stack, "my_lambda": grantee, "appscaling": appscaling, "apigateway": apigateway})

    # THEN the endpoint, its scaling (invocations + schedule), the grant and the µs alarm are there
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 2,
            "MaxCapacity": 8,
            "ScheduledActions": Match.array_with([Match.object_like({"Schedule": "cron(0 22 * * ? *)"})]),
        },
    )
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {"Threshold": 500_000},  # 500 ms, in µs
    )
    # THEN the asynchronous endpoint: its config, a 0..5 scalable target, the scale-from-zero alarm,
    # and the grantee may call InvokeEndpointAsync
    template.resource_count_is("AWS::SageMaker::Endpoint", 3)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "AsyncInferenceConfig": Match.object_like(
                {"ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}}
            )
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 0, "MaxCapacity": 5}
    )
    template.has_resource_properties("AWS::CloudWatch::Alarm", {"MetricName": "HasBacklogWithoutCapacity"})
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "sagemaker:InvokeEndpointAsync"})]
                )
            }
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with([Match.object_like({"Action": "sagemaker:InvokeEndpoint"})])
            }
        },
    )
    # THEN the multi-model endpoint: Mode MultiModel on the prefix, one copy per archive at the
    # chosen key, seed 001's GPUUtilization target tracking, and a grant narrowed to one TargetModel
    template.has_resource_properties(
        "AWS::SageMaker::Model", {"PrimaryContainer": Match.object_like({"Mode": "MultiModel"})}
    )
    template.resource_count_is("Custom::ModelArchive", 2)
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "TargetValue": 60,
                    "ScaleInCooldown": 600,
                    "ScaleOutCooldown": 200,
                    "CustomizedMetricSpecification": Match.object_like(
                        {"MetricName": "GPUUtilization", "Namespace": "/aws/sagemaker/Endpoints"}
                    ),
                }
            )
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "sagemaker:InvokeEndpoint",
                                "Condition": {"StringLike": {"sagemaker:TargetModel": Match.any_value()}},
                            }
                        )
                    ]
                )
            }
        },
    )
