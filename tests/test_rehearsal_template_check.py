"""rehearsal.template_check: the field-by-field comparison of a deployed stack with its template.

The end-to-end demo test runs it against moto for the real app; these pin its rules on small
templates: intrinsics resolved from the stack's own resources, list items matched by name, every
difference reported (known ones explained, critical ones flagged), CloudFormation-only fields apart.
"""

from __future__ import annotations

from typing import Any

from rehearsal.template_check import TemplateResolver, Unresolved, compare_resource

TEMPLATE: dict[str, Any] = {
    "Mappings": {"Images": {"us-east-1": {"account": "785573368785"}}},
    "Resources": {
        "Role": {"Type": "AWS::IAM::Role"},
        "Model": {
            "Type": "AWS::SageMaker::Model",
            "Properties": {
                "EnableNetworkIsolation": True,
                "ExecutionRoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                "PrimaryContainer": {
                    "Image": {
                        "Fn::Join": [
                            "",
                            [
                                {"Fn::FindInMap": ["Images", {"Ref": "AWS::Region"}, "account"]},
                                ".dkr.ecr.",
                                {"Ref": "AWS::Region"},
                                ".",
                                {"Ref": "AWS::URLSuffix"},
                                "/sagemaker-tritonserver:24.09-py3",
                            ],
                        ]
                    },
                    "ModelDataUrl": {"Fn::Sub": "s3://cdk-assets-${AWS::AccountId}-${AWS::Region}/m.tar.gz"},
                    "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "bert"},
                },
                "Tags": [{"Key": "team", "Value": "ml"}],
            },
        },
        "Config": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {"VariantName": "A", "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]}, "InstanceType": "ml.g4dn.xlarge", "InitialVariantWeight": 1},
                    {"VariantName": "B", "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]}, "InstanceType": "ml.g5.xlarge", "InitialVariantWeight": 1},
                ]
            },
        },
    },
}
PHYSICAL = {
    "Role": "stack-Role-1",
    "Model": "arn:aws:sagemaker:us-east-1:123456789012:model/stack-model-1",
    "Config": "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/stack-config-1",
}


def resolver(attribute: Any = None) -> TemplateResolver:
    return TemplateResolver(TEMPLATE, PHYSICAL, region="us-east-1", account="123456789012", attribute=attribute)


def described_model(**overrides: Any) -> dict[str, Any]:
    model = {
        "ModelName": "stack-model-1",
        "EnableNetworkIsolation": False,  # what moto 5.2.5 answers
        "ExecutionRoleArn": "arn:aws:iam::123456789012:role/stack-Role-1",
        "PrimaryContainer": {
            "Image": "785573368785.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3",
            "ModelDataUrl": "s3://cdk-assets-123456789012-us-east-1/m.tar.gz",
            "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "bert"},
        },
    }
    model.update(overrides)
    return model


def test_resolver_evaluates_join_findinmap_sub_ref_and_name_attributes() -> None:
    r = resolver()
    props = TEMPLATE["Resources"]["Model"]["Properties"]
    assert r.resolve(props["PrimaryContainer"]["Image"]) == (
        "785573368785.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3"
    )
    assert r.resolve(props["PrimaryContainer"]["ModelDataUrl"]) == "s3://cdk-assets-123456789012-us-east-1/m.tar.gz"
    assert r.resolve({"Fn::GetAtt": ["Model", "ModelName"]}) == "stack-model-1"
    # an attribute only AWS knows stays unresolved unless a lookup is given
    assert isinstance(r.resolve({"Fn::GetAtt": ["Role", "Arn"]}), Unresolved)
    assert isinstance(r.resolve({"Ref": "NotInTheStack"}), Unresolved)


def test_model_comparison_reports_the_known_network_isolation_difference_and_skips_tags() -> None:
    # GIVEN the template's Model and moto's answer, with the role's ARN looked up
    arn = lambda logical, name, physical: f"arn:aws:iam::123456789012:role/{physical}"  # noqa: E731
    # WHEN they are compared
    result = compare_resource(
        "Model", "Model", "stack-model-1", TEMPLATE["Resources"]["Model"]["Properties"], described_model(), resolver(arn)
    )
    # THEN every literal and resolved field matches, except EnableNetworkIsolation, explained as moto's
    assert sorted(result.equal) == [
        "ExecutionRoleArn",
        "PrimaryContainer.Environment.SAGEMAKER_TRITON_DEFAULT_MODEL_NAME",
        "PrimaryContainer.Image",
        "PrimaryContainer.ModelDataUrl",
    ]
    assert [(d.path, d.template, d.emulator, d.critical) for d in result.differences] == [
        ("EnableNetworkIsolation", True, False, False)
    ]
    assert "moto 5.2.5" in result.differences[0].known
    assert result.cloudformation_only == ["Tags"]


def test_a_changed_environment_value_is_an_unexpected_critical_difference() -> None:
    described = described_model()
    described["PrimaryContainer"]["Environment"] = {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "other"}
    result = compare_resource(
        "Model", "Model", "stack-model-1", TEMPLATE["Resources"]["Model"]["Properties"], described, resolver()
    )
    (env,) = [d for d in result.differences if d.path.startswith("PrimaryContainer.Environment")]
    assert (env.template, env.emulator, env.critical, env.known) == ("bert", "other", True, "")
    assert "UNEXPECTED" in str(env)
    # the role's ARN was not resolvable without a lookup: listed as not compared, not as equal
    assert "ExecutionRoleArn" in result.unresolved


def test_variants_are_matched_by_name_and_an_empty_data_capture_config_is_reported() -> None:
    # GIVEN moto's answer: variants in the other order, B's instance type changed, DataCaptureConfig {}
    described = {
        "EndpointConfigName": "stack-config-1",
        "ProductionVariants": [
            {"VariantName": "B", "ModelName": "stack-model-1", "InstanceType": "ml.g4dn.xlarge", "InitialVariantWeight": 1.0},
            {"VariantName": "A", "ModelName": "stack-model-1", "InstanceType": "ml.g4dn.xlarge", "InitialVariantWeight": 1.0},
        ],
        "DataCaptureConfig": {},
    }
    # WHEN compared
    result = compare_resource(
        "EndpointConfig", "Config", "stack-config-1", TEMPLATE["Resources"]["Config"]["Properties"], described, resolver()
    )
    # THEN only B's instance type and the empty DataCaptureConfig differ (1 == 1.0 is equal)
    assert [(d.path, d.template, d.emulator) for d in result.differences] == [
        ("ProductionVariants[B].InstanceType", "ml.g5.xlarge", "ml.g4dn.xlarge"),
        ("DataCaptureConfig", None, {}),
    ]
    assert result.differences[0].critical and not result.differences[0].known
    assert result.differences[1].known
    assert "ProductionVariants[A].InitialVariantWeight" in result.equal
    assert "ProductionVariants[B].ModelName" in result.equal
