"""rehearsal.data_plane.metrics: the metrics a stack's dashboard and alarms read are really published.

A small stack (a real-time endpoint, a dashboard, alarms) is synthesized in-process and created in
the emulator through CloudFormation; the local data plane serves the real bert-tiny archive with a
real Triton, takes traffic (successes, a refused request, a model error), publishes SageMaker's
metrics to the emulator's CloudWatch, and every metric the dashboard and the alarms reference is
read back with ``get_metric_data``.
"""

from __future__ import annotations

import copy
import datetime
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from rehearsal.data_plane.metrics import (
    NOT_OBSERVABLE,
    MetricRef,
    MetricsPublisher,
    referenced_metrics,
    verify_metrics,
)
from rehearsal.reference import kserve_request, tokenized_inputs

_BUCKET = "models-bucket"
_KEY = "bert/model.tar.gz"
_STACK = "MetricsRehearsal"
_GOOD = 6  # successful invocations


def _synthesize(triton_model_name: str) -> dict[str, Any]:
    """A real-time endpoint with its recommended alarms and its dashboard (``add_monitoring``, ``add_dashboard``)."""
    from aws_cdk import App, DefaultStackSynthesizer, Stack
    from aws_cdk import aws_s3 as s3

    from serving_constructs import ModelArtifact, ProductionVariant, RealtimeEndpoint, TritonModel

    app = App()
    stack = Stack(app, _STACK, synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    bucket = s3.Bucket.from_bucket_name(stack, "ModelsBucket", _BUCKET)
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, _KEY, model_name=triton_model_name)
    )
    endpoint = RealtimeEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)])
    endpoint.add_monitoring(latency_target_ms=100, alarms=True)
    endpoint.add_dashboard()
    return app.synth().get_stack_by_name(_STACK).template


@dataclass
class Deployed:
    template: dict[str, Any]
    resources: list[dict[str, Any]]
    endpoint_name: str
    cloudwatch: Any
    cloudformation: Any
    start: datetime.datetime
    end: datetime.datetime
    sent: dict[str, int]
    client_seconds: float
    published: int


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    """The stack created in the emulator, served by the data plane, after traffic and a flush."""
    import boto3
    from botocore.config import Config

    from model_build.examples import get_example
    from model_build.pipeline import build
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    spec = get_example("bert-tiny")
    built = build(spec)
    template = _synthesize(spec.name)
    with MotoServer() as moto:
        kwargs = moto.boto3_kwargs()
        boto3.client("s3", **kwargs).create_bucket(Bucket=_BUCKET)
        boto3.client("s3", **kwargs).upload_file(str(built.archive_path), _BUCKET, _KEY)
        cfn = boto3.client("cloudformation", **kwargs)
        cfn.create_stack(StackName=_STACK, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
        assert cfn.describe_stacks(StackName=_STACK)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
        resources = cfn.describe_stack_resources(StackName=_STACK)["StackResources"]
        (endpoint_name,) = [e["EndpointName"] for e in boto3.client("sagemaker", **kwargs).list_endpoints()["Endpoints"]]
        cloudwatch = boto3.client("cloudwatch", **kwargs)
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=1)
        sent = {"good": 0, "refused": 0, "model_error": 0}
        with LocalDataPlane(moto.endpoint_url, work_dir=tmp_path_factory.mktemp("plane"), seed=0) as plane:
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=plane.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
            body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=5))
            began = time.perf_counter()
            for _ in range(_GOOD):
                runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/json", Body=body)
                sent["good"] += 1
            client_seconds = time.perf_counter() - began
            # A TargetModel on a single-model endpoint: refused with a 400 after the variant is chosen.
            with pytest.raises(ClientError, match="ValidationError"):
                runtime.invoke_endpoint(
                    EndpointName=endpoint_name, ContentType="application/json", Body=body, TargetModel="m.tar.gz"
                )
            sent["refused"] += 1
            # 127 tokens where the model takes 128: Triton answers 400, SageMaker a ModelError (424).
            wrong_width = kserve_request(tokenized_inputs(batch_size=1, sequence_length=127, seed=0))
            with pytest.raises(ClientError, match="ModelError"):
                runtime.invoke_endpoint(EndpointName=endpoint_name, ContentType="application/json", Body=wrong_width)
            sent["model_error"] += 1
            # Two samples of the instance metrics (psutil's CPU share needs two readings).
            plane.flush_metrics()
            time.sleep(0.5)
            plane.flush_metrics()
            published = plane.api.metrics.published
        end = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=1)
        yield Deployed(
            template, resources, endpoint_name, cloudwatch, cfn, start, end, sent, client_seconds, published
        )


def _stats(d: Deployed, name: str, namespace: str = "AWS/SageMaker") -> dict[str, Any]:
    """Every datapoint of one metric of the endpoint's AllTraffic variant, folded into one."""
    points = d.cloudwatch.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=[{"Name": "EndpointName", "Value": d.endpoint_name}, {"Name": "VariantName", "Value": "AllTraffic"}],
        StartTime=d.start,
        EndTime=d.end,
        Period=3600,
        Statistics=["Sum", "SampleCount", "Maximum", "Minimum"],
    )["Datapoints"]
    assert points, f"no {name} datapoints"
    return {
        "Sum": sum(p["Sum"] for p in points),
        "SampleCount": sum(p["SampleCount"] for p in points),
        "Maximum": max(p["Maximum"] for p in points),
        "Minimum": min(p["Minimum"] for p in points),
        "Units": {p.get("Unit") for p in points},
    }


@pytest.mark.slow
def test_rehearsal_metrics_every_metric_the_dashboard_and_alarms_read_has_data(deployed: Deployed) -> None:
    # GIVEN the deployed stack after traffic
    # WHEN every metric its dashboard and alarms reference is read back
    verdict = verify_metrics(deployed.cloudwatch, deployed.template, deployed.resources, deployed.start, deployed.end)
    # THEN the references resolved to the deployed endpoint, and every one the rehearsal can publish has data
    assert verdict.ok, "\n".join(verdict.lines)
    assert {dict(r.dimensions)["EndpointName"] for r in verdict.referenced} == {deployed.endpoint_name}
    assert {r.name for r in verdict.referenced} >= {
        "Invocations", "InvocationsPerInstance", "ModelLatency", "OverheadLatency", "Invocation4XXErrors",
        "Invocation5XXErrors", "InvocationModelErrors", "CPUUtilization", "MemoryUtilization", "DiskUtilization",
    }  # fmt: skip
    # THEN that includes every metric of every alarm (the rollback alarms among them)
    alarms = {k: v for k, v in deployed.template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    alarm_refs = referenced_metrics({"Resources": alarms}, deployed.resources)
    assert len(alarms) >= 3 and {"Invocation5XXErrors", "ModelLatency"} <= {r.name for r in alarm_refs}
    assert alarm_refs <= verdict.referenced
    # THEN the GPU metrics (a GPU instance type) are reported as not observable here, with the reason
    gpu = {r for r in verdict.referenced if r.name in NOT_OBSERVABLE}
    assert {r.name for r in gpu} == {"GPUUtilization", "GPUMemoryUtilization"}
    assert set(verdict.not_observable) == gpu
    assert f"not observable locally: {min(gpu).describe()} ({NOT_OBSERVABLE[min(gpu).name]})" in verdict.lines
    assert verdict.lines[-1] == (
        f"{len(verdict.referenced) - len(gpu)} of {len(verdict.referenced)} metrics the dashboards and alarms read "
        f"have data; 0 missing, {len(gpu)} not observable locally"
    )


@pytest.mark.slow
def test_rehearsal_metrics_the_deploy_created_every_alarm_in_the_emulators_cloudwatch(deployed: Deployed) -> None:
    # GIVEN the stack created through CloudFormation (rehearsal.moto_extensions creates AWS::CloudWatch::Alarm)
    alarms = {k: v for k, v in deployed.template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in deployed.resources}
    # WHEN the emulator's CloudWatch lists its alarms
    listed = {a["AlarmName"]: a for a in deployed.cloudwatch.describe_alarms()["MetricAlarms"]}
    # THEN each alarm of the template is there under its stack resource's name, with its metric or metric math
    assert set(listed) == {physical[logical] for logical in alarms}
    for logical, resource in alarms.items():
        alarm, props = listed[physical[logical]], resource["Properties"]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (props["Threshold"], props["ComparisonOperator"])
        assert alarm.get("MetricName") == props.get("MetricName")
        assert [q["Id"] for q in alarm.get("Metrics", [])] == [q["Id"] for q in props.get("Metrics", [])]


@pytest.mark.slow
def test_rehearsal_metrics_counts_and_units_are_sagemakers(deployed: Deployed) -> None:
    # GIVEN 6 successes, 1 request refused with a 400 and 1 model error (Triton's 400)
    reached = sum(deployed.sent.values())
    # THEN Invocations counts every request that reached the variant, one per request
    assert _stats(deployed, "Invocations")["Sum"] == reached
    # THEN the error metrics are 0/1 per request: two 4xx (the refusal and the model's 400), no 5xx, one model error
    for name, errors in (("Invocation4XXErrors", 2), ("Invocation5XXErrors", 0), ("InvocationModelErrors", 1)):
        stats = _stats(deployed, name)
        assert (stats["Sum"], stats["SampleCount"]) == (errors, reached), name
    # THEN the latencies are in microseconds: the container answered every call it got (6 + the model error),
    # and model plus overhead latency of the successes cannot exceed what the client waited for them
    model, overhead = _stats(deployed, "ModelLatency"), _stats(deployed, "OverheadLatency")
    assert model["Units"] == overhead["Units"] == {"Microseconds"}
    assert model["SampleCount"] == overhead["SampleCount"] == deployed.sent["good"] + deployed.sent["model_error"]
    assert 0 < model["Sum"] + overhead["Sum"] <= deployed.client_seconds * 1e6 + model["Maximum"] + overhead["Maximum"]
    # THEN the instance metrics are percentages
    for name in ("CPUUtilization", "MemoryUtilization", "DiskUtilization"):
        stats = _stats(deployed, name, "/aws/sagemaker/Endpoints")
        assert stats["Units"] == {"Percent"}
        assert stats["Minimum"] >= 0 and (name == "CPUUtilization" or stats["Maximum"] <= 100), (name, stats)


@pytest.mark.slow
def test_rehearsal_metrics_an_alarm_on_the_wrong_dimensions_is_named_with_the_fix(deployed: Deployed) -> None:
    # GIVEN the template plus an alarm on ModelLatency with EndpointName only (SageMaker publishes it per variant)
    # and one on a misspelled metric
    template = copy.deepcopy(deployed.template)
    endpoint_id = next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::SageMaker::Endpoint")
    endpoint_name = {"Fn::GetAtt": [endpoint_id, "EndpointName"]}
    for logical, metric in (("WrongDims", "ModelLatency"), ("Misspelled", "ModelLatencies")):
        template["Resources"][logical] = {
            "Type": "AWS::CloudWatch::Alarm",
            "Properties": {
                "Namespace": "AWS/SageMaker",
                "MetricName": metric,
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}],
                "Statistic": "Average",
                "Period": 60,
                "EvaluationPeriods": 1,
                "Threshold": 1,
                "ComparisonOperator": "GreaterThanThreshold",
            },
        }
    # WHEN it is verified against the same traffic
    verdict = verify_metrics(deployed.cloudwatch, template, deployed.resources, deployed.start, deployed.end)
    # THEN both are missing, each named with what is wrong
    assert not verdict.ok
    assert sorted(r.name for r in verdict.missing) == ["ModelLatencies", "ModelLatency"]
    text = "\n".join(verdict.lines)
    assert (
        f"NO DATA: AWS/SageMaker ModelLatency {{EndpointName={deployed.endpoint_name}}} Average "
        "(SageMaker publishes it with the dimensions EndpointName, VariantName only)"
    ) in text
    assert "ModelLatencies" in text and "(not a SageMaker endpoint metric: check the name)" in text


@pytest.mark.slow
def test_rehearsal_metrics_alarm_updated_and_deleted_with_its_stack_last(deployed: Deployed) -> None:
    # GIVEN the deployed stack (this test runs last: it changes and deletes the stack)
    template = copy.deepcopy(deployed.template)
    logical = next(k for k, v in template["Resources"].items() if v["Type"] == "AWS::CloudWatch::Alarm")
    name = next(r["PhysicalResourceId"] for r in deployed.resources if r["LogicalResourceId"] == logical)
    template["Resources"][logical]["Properties"]["Threshold"] = 0.5
    # WHEN one alarm's threshold changes in an update
    deployed.cloudformation.update_stack(StackName=_STACK, TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"])
    # THEN the emulator's alarm has the new threshold
    (alarm,) = deployed.cloudwatch.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert alarm["Threshold"] == 0.5
    # WHEN the stack is deleted  THEN its alarms are gone
    deployed.cloudformation.delete_stack(StackName=_STACK)
    assert deployed.cloudwatch.describe_alarms()["MetricAlarms"] == []


def test_referenced_metrics_reads_dashboard_rows_shorthand_and_alarm_math() -> None:
    # GIVEN a dashboard body with a token, CloudWatch's "..." shorthand and a math row, and alarms
    # with a single metric and with metric math
    row_options = {"stat": "p90", "period": 60}
    body = {
        "widgets": [
            {
                "type": "metric",
                "properties": {
                    "stat": "Sum",
                    "metrics": [
                        ["AWS/SageMaker", "Invocations", "EndpointName", "\x00", "VariantName", "A"],
                        ["...", "B", row_options],
                        [{"expression": "m1 + m2", "id": "e1"}],
                    ],
                },
            },
            {"type": "text", "properties": {"markdown": "# hello"}},
        ]
    }
    head, tail = json.dumps(body).split("\\u0000")
    template = {
        "Resources": {
            "Ep": {"Type": "AWS::SageMaker::Endpoint", "Properties": {}},
            "Dash": {
                "Type": "AWS::CloudWatch::Dashboard",
                "Properties": {"DashboardBody": {"Fn::Join": ["", [head, {"Fn::GetAtt": ["Ep", "EndpointName"]}, tail]]}},
            },
            "Backlog": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Namespace": "AWS/SageMaker",
                    "MetricName": "HasBacklogWithoutCapacity",
                    "Dimensions": [{"Name": "EndpointName", "Value": {"Ref": "Ep"}}],
                    "Statistic": "Average",
                    "Period": 60,
                },
            },
            "Rate": {
                "Type": "AWS::CloudWatch::Alarm",
                "Properties": {
                    "Metrics": [
                        {"Id": "e", "Expression": "m / 2"},
                        {
                            "Id": "m",
                            "MetricStat": {
                                "Metric": {"Namespace": "AWS/SageMaker", "MetricName": "InvocationModelErrors"},
                                "Period": 300,
                                "Stat": "Sum",
                            },
                        },
                    ]
                },
            },
        }
    }
    resources = [{"LogicalResourceId": "Ep", "PhysicalResourceId": "arn:aws:sagemaker:us-east-1:1:endpoint/ep-1"}]
    # WHEN its references are read with the deployed stack's resources
    refs = referenced_metrics(template, resources)
    # THEN each row, the shorthand row and each alarm metric is one reference, resolved to the endpoint's name
    assert refs == {
        MetricRef("AWS/SageMaker", "Invocations", (("EndpointName", "ep-1"), ("VariantName", "A")), "Sum", 300),
        MetricRef("AWS/SageMaker", "Invocations", (("EndpointName", "ep-1"), ("VariantName", "B")), "p90", 60),
        MetricRef(
            "AWS/SageMaker", "HasBacklogWithoutCapacity",
            (("EndpointName", "arn:aws:sagemaker:us-east-1:1:endpoint/ep-1"),), "Average", 60,
        ),
        MetricRef("AWS/SageMaker", "InvocationModelErrors", (), "Sum", 300),
    }  # fmt: skip
    # WHEN no stack resources are given  THEN the unresolved name stays a visible placeholder
    unresolved = referenced_metrics(template)
    assert MetricRef(
        "AWS/SageMaker", "Invocations", (("EndpointName", "<Ep.EndpointName>"), ("VariantName", "A")), "Sum", 300
    ) in unresolved


def test_metrics_publisher_drops_a_failed_batch_logs_once_and_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    import boto3
    from botocore.config import Config

    # GIVEN a publisher whose control plane does not answer (nothing listens on port 9 of loopback)
    client = boto3.client(
        "cloudwatch",
        endpoint_url="http://127.0.0.1:9",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=2),
    )
    publisher = MetricsPublisher(client, interval_s=3600)
    # WHEN values are recorded and flushed twice
    for flush in range(2):
        publisher.record("Invocations", 1, endpoint="ep", variant="AllTraffic")
        publisher.record_duration("ModelLatency", 0.002, endpoint="ep", variant="AllTraffic")
        assert publisher.flush() == 0, flush
    # THEN nothing raised, both failures are counted, and one warning says what happened
    assert (publisher.failures, publisher.published) == (2, 0)
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "Invocations are not affected" in warnings[0].getMessage()
    # WHEN a metric outside SageMaker's table, or a per-variant one without a variant, is recorded
    # THEN it is refused by name at once
    with pytest.raises(KeyError, match="'ModelLatencies' is not a SageMaker metric"):
        publisher.record("ModelLatencies", 1, endpoint="ep", variant="AllTraffic")
    with pytest.raises(ValueError, match="ModelLatency is published per variant"):
        publisher.record("ModelLatency", 1, endpoint="ep")
