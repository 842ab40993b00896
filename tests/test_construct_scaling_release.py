"""The scaling release handler for real against moto: the events CloudFormation sends around an endpoint update.

The handler (``handlers/scaling_release/index.py``) runs in this process with boto3 aimed at a
MotoServer through ``AWS_ENDPOINT_URL``, as the emulator's Lambda runner does. A CloudFormation
stack in moto holds a real ``AWS::SageMaker::Endpoint`` (the handler reads its physical id with
``DescribeStackResource``); scalable targets are registered through Application Auto Scaling's
API (moto's CloudFormation skips ``AWS::ApplicationAutoScaling::*``). The cfn-response PUT goes
to a listener on 127.0.0.1 that records what CloudFormation would receive.
"""

from __future__ import annotations

import io
import json
import os
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from rehearsal.moto_server import MotoServer

pytestmark = pytest.mark.slow  # every test uses the module's moto server

DIMENSION = "sagemaker:variant:DesiredInstanceCount"
ROLE = "arn:aws:iam::123456789012:role/SageMakerExecution"
#: A stack holding one endpoint with two variants, as the emulator deploys it.
TEMPLATE = {
    "Resources": {
        "Model": {
            "Type": "AWS::SageMaker::Model",
            "Properties": {
                "ExecutionRoleArn": ROLE,
                "PrimaryContainer": {"Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/triton:latest",
                                     "ModelDataUrl": "s3://models/model.tar.gz"},
            },
        },
        "EndpointConfig": {
            "Type": "AWS::SageMaker::EndpointConfig",
            "Properties": {
                "ProductionVariants": [
                    {"VariantName": name, "ModelName": {"Fn::GetAtt": ["Model", "ModelName"]},
                     "InstanceType": "ml.g4dn.xlarge", "InitialInstanceCount": 1, "InitialVariantWeight": 1}
                    for name in ("AllTraffic", "Canary")
                ]
            },
        },
        "EndpointEEF1FD8F": {
            "Type": "AWS::SageMaker::Endpoint",
            "Properties": {"EndpointConfigName": {"Fn::GetAtt": ["EndpointConfig", "EndpointConfigName"]}},
        },
    }
}  # fmt: skip


@dataclass
class Harness:
    """moto's Application Auto Scaling, the stack holding the endpoint, the handler and the ResponseURL listener."""

    moto: MotoServer
    scaling: Any
    handler: ModuleType
    url: str
    stack_id: str
    endpoint_name: str
    received: dict[str, dict[str, Any]]

    def send(self, request: str, phase: str, variants: dict[str, str], **extra: Any) -> dict[str, Any]:
        """Send one event as CloudFormation builds it; return the cfn-response body the handler PUT."""
        path = f"/response/{uuid.uuid4()}"
        event = {
            "RequestType": request,
            "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:release",
            "ResponseURL": self.url + path,
            "StackId": self.stack_id,
            "RequestId": str(uuid.uuid4()),
            "LogicalResourceId": f"EndpointScalingRelease{phase}",
            "ResourceType": "Custom::ScalingRelease",
            "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:release",
                                   "ServiceTimeout": "180", "Phase": phase,
                                   "EndpointLogicalId": extra.pop("endpoint_logical_id", "EndpointEEF1FD8F"),
                                   "Variants": variants},
            **extra,
        }  # fmt: skip
        self.handler.handler(event, None)
        return dict(self.received.pop(path)["body"])

    def register(self, variant: str, endpoint_name: str | None = None) -> None:
        endpoint_name = self.endpoint_name if endpoint_name is None else endpoint_name
        self.scaling.register_scalable_target(
            ServiceNamespace="sagemaker",
            ResourceId=f"endpoint/{endpoint_name}/variant/{variant}",
            ScalableDimension=DIMENSION,
            MinCapacity=1,
            MaxCapacity=4,
        )

    def registered(self) -> set[str]:
        targets = self.scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"]
        return {t["ResourceId"] for t in targets}

    def reset(self) -> None:
        for resource_id in self.registered():
            self.scaling.deregister_scalable_target(
                ServiceNamespace="sagemaker", ResourceId=resource_id, ScalableDimension=DIMENSION
            )


@pytest.fixture(scope="module")
def module_harness(custom_resource_handler: Any) -> Iterator[Harness]:
    with MotoServer() as moto, custom_resource_handler("scaling_release") as (module, url, received):
        saved = dict(os.environ)
        os.environ.update(moto.env())
        try:
            cloudformation = boto3.client("cloudformation", **moto.boto3_kwargs())
            stack_id = cloudformation.create_stack(StackName="Scaled", TemplateBody=json.dumps(TEMPLATE))[
                "StackId"
            ]
            endpoint = cloudformation.describe_stack_resource(
                StackName=stack_id, LogicalResourceId="EndpointEEF1FD8F"
            )
            endpoint_name = endpoint["StackResourceDetail"]["PhysicalResourceId"].rsplit(":endpoint/", 1)[-1]
            scaling = boto3.client("application-autoscaling", **moto.boto3_kwargs())
            yield Harness(moto, scaling, module, url, stack_id, endpoint_name, received)
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture
def harness(module_harness: Harness) -> Harness:
    module_harness.reset()
    return module_harness


def test_scaling_release_instance_type_change_deregisters_only_that_variant(harness: Harness) -> None:
    # GIVEN both variants autoscaled
    harness.register("AllTraffic")
    harness.register("Canary")
    old = {"AllTraffic": "ml.g4dn.xlarge", "Canary": "ml.g4dn.xlarge"}
    # WHEN the update changes AllTraffic's instance type (CloudFormation updates the release first)
    new = {"AllTraffic": "ml.g5.xlarge", "Canary": "ml.g4dn.xlarge"}
    answer = harness.send(
        "Update", "BeforeUpdate", new, PhysicalResourceId="r", OldResourceProperties={"Variants": old}
    )
    # THEN AllTraffic's target is gone (SageMaker will accept the update) and Canary's stays
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == "r"  # unchanged: no replacement, no extra Delete
    assert answer["Data"] == {"Released": "AllTraffic"}
    assert harness.registered() == {f"endpoint/{harness.endpoint_name}/variant/Canary"}


def test_scaling_release_unchanged_instance_types_keep_the_targets(harness: Harness) -> None:
    # GIVEN an autoscaled variant
    harness.register("AllTraffic")
    same = {"AllTraffic": "ml.g4dn.xlarge"}
    # WHEN an update reaches the release with the same instance type (another variant was added)
    answer = harness.send(
        "Update",
        "BeforeUpdate",
        {**same, "Canary": "ml.g5.xlarge"},
        PhysicalResourceId="r",
        OldResourceProperties={"Variants": same},
    )
    # THEN nothing is deregistered
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"] == {"Released": ""}
    assert harness.registered() == {f"endpoint/{harness.endpoint_name}/variant/AllTraffic"}


def test_scaling_release_removed_variant_is_deregistered_before_the_update(harness: Harness) -> None:
    # GIVEN two autoscaled variants, of which the update removes Canary
    harness.register("AllTraffic")
    harness.register("Canary")
    old = {"AllTraffic": "ml.g4dn.xlarge", "Canary": "ml.g4dn.xlarge"}
    # WHEN
    answer = harness.send(
        "Update",
        "BeforeUpdate",
        {"AllTraffic": "ml.g4dn.xlarge"},
        PhysicalResourceId="r",
        OldResourceProperties={"Variants": old},
    )
    # THEN
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert harness.registered() == {f"endpoint/{harness.endpoint_name}/variant/AllTraffic"}


def test_scaling_release_missing_target_is_not_an_error(harness: Harness) -> None:
    # GIVEN no registered target (never registered, or released by an earlier attempt)
    # WHEN the type changes, and later the endpoint is deleted
    changed = harness.send(
        "Update",
        "BeforeUpdate",
        {"AllTraffic": "ml.g5.xlarge"},
        PhysicalResourceId="r",
        OldResourceProperties={"Variants": {"AllTraffic": "ml.g4dn.xlarge"}},
    )
    deleted = harness.send("Delete", "OnDelete", {"AllTraffic": "ml.g5.xlarge"}, PhysicalResourceId="r")
    # THEN both succeed with nothing released
    assert (changed["Status"], changed["Data"]) == ("SUCCESS", {"Released": ""}), changed["Reason"]
    assert (deleted["Status"], deleted["Data"]) == ("SUCCESS", {"Released": ""}), deleted["Reason"]


def test_scaling_release_on_delete_deregisters_every_variant_and_create_touches_nothing(
    harness: Harness,
) -> None:
    # GIVEN two autoscaled variants, and a target of another endpoint
    harness.register("AllTraffic")
    harness.register("Canary")
    harness.register("AllTraffic", endpoint_name="Other-Endpoint")
    variants = {"AllTraffic": "ml.g4dn.xlarge", "Canary": "ml.g4dn.xlarge"}
    # WHEN the release steps are created (nothing to do), then the endpoint is deleted
    created = [harness.send("Create", phase, variants) for phase in ("BeforeUpdate", "OnDelete")]
    assert harness.registered() == {
        f"endpoint/{harness.endpoint_name}/variant/AllTraffic",
        f"endpoint/{harness.endpoint_name}/variant/Canary",
        "endpoint/Other-Endpoint/variant/AllTraffic",
    }
    kept = harness.send(
        "Delete", "BeforeUpdate", variants, PhysicalResourceId=created[0]["PhysicalResourceId"]
    )
    deleted = harness.send(
        "Delete", "OnDelete", variants, PhysicalResourceId=created[1]["PhysicalResourceId"]
    )
    # THEN only the OnDelete step deregisters, and only this endpoint's targets
    assert [c["Status"] for c in created] == ["SUCCESS", "SUCCESS"]
    assert kept["Data"] == {"Released": ""}
    assert deleted["Status"] == "SUCCESS", deleted["Reason"]
    assert deleted["Data"] == {"Released": "AllTraffic,Canary"}
    assert harness.registered() == {"endpoint/Other-Endpoint/variant/AllTraffic"}


def test_scaling_release_matches_the_endpoint_name_without_regard_to_case(harness: Harness) -> None:
    # GIVEN a target registered under the endpoint's name in other capitals (SageMaker's ARN, the
    # endpoint's physical id on AWS, carries the name lowercased; the target the name as created)
    harness.register("AllTraffic", endpoint_name=harness.endpoint_name.upper())
    # WHEN the endpoint is deleted
    answer = harness.send("Delete", "OnDelete", {"AllTraffic": "ml.g4dn.xlarge"}, PhysicalResourceId="r")
    # THEN the target is found and deregistered
    assert answer["Data"] == {"Released": "AllTraffic"}, answer["Reason"]
    assert harness.registered() == set()


def test_scaling_release_fails_on_bad_properties_naming_them(harness: Harness) -> None:
    # GIVEN / WHEN an event without a known Phase, and one whose Variants is not a map
    no_phase = harness.send("Create", "Sometimes", {})
    bad_variants = harness.send("Delete", "OnDelete", ["AllTraffic"], PhysicalResourceId="r")  # type: ignore[arg-type]
    # THEN each answers FAILED with the property, what was given and what is allowed
    assert no_phase["Status"] == "FAILED"
    assert "Phase must be one of BeforeUpdate, OnDelete (got 'Sometimes')" in no_phase["Reason"]
    assert bad_variants["Status"] == "FAILED"
    assert "Variants must map variant names to instance types (got ['AllTraffic'])" in bad_variants["Reason"]


def test_scaling_release_endpoint_not_in_the_stack_releases_nothing(harness: Harness) -> None:
    # GIVEN a registered target, and a release naming an endpoint the stack does not hold
    harness.register("AllTraffic")
    # WHEN the endpoint is deleted
    answer = harness.send(
        "Delete",
        "OnDelete",
        {"AllTraffic": "ml.g4dn.xlarge"},
        PhysicalResourceId="r",
        endpoint_logical_id="Gone",
    )
    # THEN it succeeds (nothing of this stack to release) and touches nothing
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert harness.registered() == {f"endpoint/{harness.endpoint_name}/variant/AllTraffic"}


def _emulated_template(function_arn: str, instance_type: str) -> str:
    """TEMPLATE with ``instance_type`` and the two release steps wired as ``ScalingRelease`` wires them."""
    template = json.loads(json.dumps(TEMPLATE))
    resources = template["Resources"]
    resources["EndpointConfig"]["Properties"]["ProductionVariants"] = [
        {**resources["EndpointConfig"]["Properties"]["ProductionVariants"][0], "InstanceType": instance_type}
    ]
    for phase in ("BeforeUpdate", "OnDelete"):
        resources[f"Release{phase}"] = {
            "Type": "Custom::ScalingRelease",
            "Properties": {"ServiceToken": function_arn, "Phase": phase, "EndpointLogicalId": "EndpointEEF1FD8F",
                           "Variants": {"AllTraffic": instance_type}},
        }  # fmt: skip
    resources["EndpointEEF1FD8F"]["DependsOn"] = ["ReleaseBeforeUpdate"]
    resources["ReleaseOnDelete"]["DependsOn"] = ["EndpointEEF1FD8F"]
    return json.dumps(template)


def test_scaling_release_runs_as_a_lambda_in_an_emulated_type_change_and_delete(
    harness: Harness, wait_for_stack: Any
) -> None:
    # GIVEN the handler deployed as a Lambda function in the emulator (its runner runs the code)
    kwargs = harness.moto.boto3_kwargs()
    cloudformation = boto3.client("cloudformation", **kwargs)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.write(harness.handler.__file__, "scaling_release/index.py")
        archive.write(Path(harness.handler.__file__).parents[1] / "_cfn_response.py", "_cfn_response.py")
    role = boto3.client("iam", **kwargs).create_role(RoleName="release", AssumeRolePolicyDocument="{}")
    function_arn = boto3.client("lambda", **kwargs).create_function(
        FunctionName="release", Runtime="python3.14", Role=role["Role"]["Arn"], Handler="scaling_release.index.handler",
        Code={"ZipFile": code.getvalue()}, Timeout=60,
    )["FunctionArn"]  # fmt: skip
    # GIVEN a stack with an autoscaled endpoint (the target registered as moto's CloudFormation skips it)
    cloudformation.create_stack(
        StackName="Emulated", TemplateBody=_emulated_template(function_arn, "ml.m5.large")
    )
    created = wait_for_stack(cloudformation, "Emulated")
    assert created["StackStatus"] == "CREATE_COMPLETE", created.get("StackStatusReason")
    endpoint = cloudformation.describe_stack_resource(
        StackName="Emulated", LogicalResourceId="EndpointEEF1FD8F"
    )
    endpoint_name = endpoint["StackResourceDetail"]["PhysicalResourceId"].rsplit(":endpoint/", 1)[-1]
    harness.register("AllTraffic", endpoint_name=endpoint_name)

    # WHEN one update changes the variant's instance type
    cloudformation.update_stack(
        StackName="Emulated", TemplateBody=_emulated_template(function_arn, "ml.m5.xlarge")
    )
    updated = wait_for_stack(cloudformation, "Emulated")

    # THEN the update completes with the new type in the stack's config, and the Lambda released the
    # target before it (moto keeps the endpoint on its first config: its update is not emulated)
    assert updated["StackStatus"] == "UPDATE_COMPLETE", updated.get("StackStatusReason")
    config = cloudformation.describe_stack_resource(StackName="Emulated", LogicalResourceId="EndpointConfig")
    config_name = config["StackResourceDetail"]["PhysicalResourceId"].rsplit("/", 1)[-1]
    variants = boto3.client("sagemaker", **kwargs).describe_endpoint_config(EndpointConfigName=config_name)
    assert [v["InstanceType"] for v in variants["ProductionVariants"]] == ["ml.m5.xlarge"]
    assert f"endpoint/{endpoint_name}/variant/AllTraffic" not in harness.registered()

    # WHEN the new target is registered (CloudFormation would create it after the update) and the stack deleted
    harness.register("AllTraffic", endpoint_name=endpoint_name)
    cloudformation.delete_stack(StackName="Emulated")
    deleted = wait_for_stack(cloudformation, created["StackId"])

    # THEN the delete completes and no target of the endpoint is left
    assert deleted["StackStatus"] == "DELETE_COMPLETE", deleted.get("StackStatusReason")
    assert f"endpoint/{endpoint_name}/variant/AllTraffic" not in harness.registered()
