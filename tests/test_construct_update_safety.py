"""Updates that do not surprise: an instance-type change with autoscaling deploys in one go, timeouts fit the archive.

moto's CloudFormation skips ``AWS::ApplicationAutoScaling::*``, so the order CloudFormation runs
the release steps in is shown on the template (the handler itself runs against moto in
``test_construct_scaling_release.py``): the endpoint ``DependsOn`` the ``BeforeUpdate`` release,
whose properties change with an instance type and not with a model; the target's logical id
changes with the type and the target is retained; the ``OnDelete`` release ``DependsOn`` the
endpoint. One small app per case, synthesized once per module.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, CfnParameter, Duration, Stack
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match

from serving_constructs import (
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    RealtimeEndpoint,
    TritonModel,
    defaults,
)

GiB = 1024**3


def _archive(folder: Path) -> Path:
    config = folder / "config.pbtxt"
    config.write_text('name: "tiny"\nbackend: "onnxruntime"\n')
    archive = folder / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(config, arcname="tiny/config.pbtxt")
    return archive


def _app(
    outdir: Path, archive: Path, *, instance_type: str = "ml.g5.xlarge", model_key: str = "bert/v1.tar.gz"
) -> tuple[App, Stack]:
    """Two endpoints: ``Endpoint`` with two autoscaled variants (AllTraffic from a local archive,
    Canary from S3) and ``Plain``, which does not autoscale and sets its download timeout."""
    app = App(outdir=str(outdir))
    stack = Stack(app, "Updates")
    local = TritonModel(stack, "Local", artifact=ModelArtifact.from_asset(archive))
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    remote = TritonModel(
        stack, "Remote", artifact=ModelArtifact.from_bucket(bucket, model_key, model_name="bert")
    )
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[
            ProductionVariant(
                model=local, instance_type=InstanceType.of(instance_type), initial_instance_count=2
            ),
            ProductionVariant(
                model=remote,
                variant_name="Canary",
                initial_instance_count=2,
                instance_type=InstanceType.of("ml.g5.xlarge"),
            ),
        ],
    )
    for name in endpoint.variant_names:
        scalable = endpoint.auto_scale_instance_count(name, min_capacity=2, max_capacity=4)
        scalable.scale_on_invocations("Invocations", invocations_per_instance_per_minute=600)
    plain = ProductionVariant(
        model=local, initial_instance_count=2, model_data_download_timeout=Duration.minutes(20)
    )
    RealtimeEndpoint(stack, "Plain", variants=[plain])
    return app, stack


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _only(template: dict[str, Any], resource_type: str) -> tuple[str, dict[str, Any]]:
    (found,) = _resources(template, resource_type).items()
    return found


def _release(template: dict[str, Any], phase: str) -> tuple[str, dict[str, Any]]:
    (found,) = [
        (k, v)
        for k, v in _resources(template, "Custom::ScalingRelease").items()
        if v["Properties"]["Phase"] == phase
    ]
    return found


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The base app, and the same app after each change."""
    archive = _archive(tmp_path_factory.mktemp("archive"))

    def template(**changes: Any) -> dict[str, Any]:
        app, stack = _app(tmp_path_factory.mktemp("changed"), archive, **changes)
        return dict(app.synth().get_stack_by_name(stack.stack_name).template)

    return {
        "archive": archive,
        "base": template(),
        "model_changed": template(model_key="bert/v2.tar.gz"),
        "type_changed": template(instance_type="ml.g5.2xlarge"),
    }


def test_scaling_release_runs_before_the_endpoint_update_and_before_its_delete(synth: dict[str, Any]) -> None:
    # GIVEN an endpoint whose variants autoscale
    template = synth["base"]
    (endpoint_id, endpoint), _ = sorted(_resources(template, "AWS::SageMaker::Endpoint").items())
    before_id, before = _release(template, "BeforeUpdate")
    _, on_delete = _release(template, "OnDelete")
    # THEN the endpoint is updated after the BeforeUpdate release (CloudFormation updates dependencies first)
    assert before_id in endpoint["DependsOn"]
    # THEN the OnDelete release depends on the endpoint, so CloudFormation deletes it before the endpoint
    assert endpoint_id in on_delete["DependsOn"]
    # THEN neither references the endpoint (a cycle): they carry its logical id as a plain string
    for release in (before, on_delete):
        assert release["Properties"]["EndpointLogicalId"] == endpoint_id
        assert release["Properties"]["Variants"] == {"AllTraffic": "ml.g5.xlarge", "Canary": "ml.g5.xlarge"}
    # THEN autoscaled capacity survives an update (RetainAllVariantProperties, instance count only)
    assert endpoint["Properties"]["RetainAllVariantProperties"] is True


def test_scaling_release_changes_with_the_instance_type_and_not_with_the_model(synth: dict[str, Any]) -> None:
    # GIVEN the base template, and the same app with a new model on Canary, or a new type on AllTraffic
    def release_props(name: str) -> dict[str, Any]:
        return dict(_release(synth[name], "BeforeUpdate")[1]["Properties"])

    # WHEN / THEN a model change leaves the release untouched (no Update event: SageMaker allows it)
    assert release_props("model_changed") == release_props("base")
    assert _resources(synth["model_changed"], "AWS::SageMaker::Model") != _resources(
        synth["base"], "AWS::SageMaker::Model"
    )
    # WHEN / THEN an instance-type change changes exactly the Variants property
    assert release_props("type_changed")["Variants"] == {
        "AllTraffic": "ml.g5.2xlarge",
        "Canary": "ml.g5.xlarge",
    }
    assert {k: v for k, v in release_props("type_changed").items() if k != "Variants"} == {
        k: v for k, v in release_props("base").items() if k != "Variants"
    }


def test_scaling_release_target_is_new_with_a_new_type_and_retained(synth: dict[str, Any]) -> None:
    # GIVEN the scalable targets and policies before and after AllTraffic's type change
    def ids(name: str, resource_type: str) -> set[str]:
        return set(_resources(synth[name], resource_type))

    targets = ids("base", "AWS::ApplicationAutoScaling::ScalableTarget")
    changed = ids("type_changed", "AWS::ApplicationAutoScaling::ScalableTarget")
    # THEN AllTraffic's target and policy get new logical ids (created after the endpoint update)
    assert {t for t in targets if "AllTraffic" in t} != {t for t in changed if "AllTraffic" in t}
    assert {t for t in changed if "AllTraffic" in t} == {
        t for t in changed if t.startswith("EndpointInstanceCountAllTrafficMlG52xlargeTarget")
    }
    assert ids("base", "AWS::ApplicationAutoScaling::ScalingPolicy") - ids(
        "type_changed", "AWS::ApplicationAutoScaling::ScalingPolicy"
    )
    # THEN Canary's (type unchanged) keep theirs, and a model change touches no target
    assert {t for t in targets if "Canary" in t} == {t for t in changed if "Canary" in t}
    assert ids("model_changed", "AWS::ApplicationAutoScaling::ScalableTarget") == targets
    # THEN every target is retained: the old one's delete would deregister its successor
    for target in _resources(synth["base"], "AWS::ApplicationAutoScaling::ScalableTarget").values():
        assert (target["DeletionPolicy"], target["UpdateReplacePolicy"]) == ("Retain", "Retain")


def test_scaling_release_handler_has_least_privilege(synth: dict[str, Any]) -> None:
    # GIVEN the release function's role policy
    template = synth["base"]
    (policy,) = [
        p
        for k, p in _resources(template, "AWS::IAM::Policy").items()
        if k.startswith("ScalingReleaseHandlerRole")
    ]
    statements = {
        json.dumps(s["Action"]): s["Resource"] for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    # THEN: read this stack only, list targets (no resource-level permissions), deregister targets of
    # this account and region, write its own logs; no SageMaker, no wildcard action
    assert statements.pop('"cloudformation:DescribeStackResource"') == {"Ref": "AWS::StackId"}
    assert statements.pop('"application-autoscaling:DescribeScalableTargets"') == "*"
    deregister = statements.pop('"application-autoscaling:DeregisterScalableTarget"')
    assert deregister["Fn::Join"][1][-1] == ":scalable-target/*"
    assert list(statements) == ['["logs:CreateLogStream", "logs:PutLogEvents"]']
    # THEN one function per stack, on Python 3.14
    _, function = _only(template, "AWS::Lambda::Function")
    assert function["Properties"]["Runtime"] == "python3.14"


def test_scaling_release_template_is_lint_clean(synth: dict[str, Any], cfn_lint_errors) -> None:
    # cdk-nag: every stack of the app autoscales, so test_app_synth's nag checks (environment-agnostic
    # and pinned) cover the release function's acknowledged findings.
    assert cfn_lint_errors(synth["base"]) == []


def test_scaling_release_absent_without_autoscaling(synth: dict[str, Any]) -> None:
    # GIVEN an endpoint that does not autoscale (Plain) next to one that does
    template = synth["base"]
    (plain_id,) = [k for k in _resources(template, "AWS::SageMaker::Endpoint") if k.startswith("Plain")]
    releases = _resources(template, "Custom::ScalingRelease").values()
    # THEN no release step names it and it depends on none
    assert plain_id not in {r["Properties"]["EndpointLogicalId"] for r in releases}
    assert "DependsOn" not in template["Resources"][plain_id]


def test_startup_timeouts_grow_with_the_archive_within_the_api_range() -> None:
    # GIVEN / WHEN / THEN a small archive gets the 600 s floor for both steps
    assert [d.to_seconds() for d in defaults.startup_timeouts(0)] == [600, 600]
    # THEN a 5 GiB archive does not fail on a 10-minute download: 300 s + 512 s at 10 MiB/s, whole minutes
    download, startup = defaults.startup_timeouts(5 * GiB)
    assert (download.to_seconds(), startup.to_seconds()) == (840, 600)
    # THEN 10 GiB: 300 + 1024 -> 1380 s; 300 + 512 -> 840 s
    assert [d.to_seconds() for d in defaults.startup_timeouts(10 * GiB)] == [1380, 840]
    # THEN the API's maximum caps both
    assert [d.to_seconds() for d in defaults.startup_timeouts(200 * GiB)] == [3600, 3600]
    with pytest.raises(ValueError, match=r"archive_bytes must be an int >= 0 \(got -1\)"):
        defaults.startup_timeouts(-1)


def test_production_variant_startup_timeouts_default_from_a_known_archive_and_explicit_values_win(
    synth: dict[str, Any],
) -> None:
    # GIVEN AllTraffic's archive is local (its size known at synth) and Canary's is in S3 (unknown)
    size = synth["archive"].stat().st_size
    expected = [d.to_seconds() for d in defaults.startup_timeouts(size)]
    configs = _resources(synth["base"], "AWS::SageMaker::EndpointConfig")
    (scaled,) = [c for k, c in configs.items() if k.startswith("Endpoint")]
    variants = {v["VariantName"]: v for v in scaled["Properties"]["ProductionVariants"]}
    # THEN the local archive's variant gets both timeouts from its size
    assert [
        variants["AllTraffic"]["ModelDataDownloadTimeoutInSeconds"],
        variants["AllTraffic"]["ContainerStartupHealthCheckTimeoutInSeconds"],
    ] == expected
    # THEN the S3 archive's variant keeps SageMaker's defaults (nothing rendered)
    assert "ModelDataDownloadTimeoutInSeconds" not in variants["Canary"]
    assert "ContainerStartupHealthCheckTimeoutInSeconds" not in variants["Canary"]
    # THEN an explicit value wins, and the other still defaults from the size
    (plain,) = [c["Properties"]["ProductionVariants"][0] for k, c in configs.items() if k.startswith("Plain")]
    assert plain["ModelDataDownloadTimeoutInSeconds"] == 1200
    assert plain["ContainerStartupHealthCheckTimeoutInSeconds"] == expected[1]


def test_scaling_release_warns_when_the_instance_type_is_unknown_at_synth(tmp_path: Path) -> None:
    # GIVEN an autoscaled variant whose instance type is a deploy-time parameter
    app = App(outdir=str(tmp_path))
    stack = Stack(app, "Parameterised")
    instance_type = CfnParameter(stack, "InstanceType", default="ml.g5.xlarge").value_as_string
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="bert")
    )
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[
            ProductionVariant(
                model=model, instance_type=InstanceType.of(instance_type), initial_instance_count=2
            )
        ],
    )
    # WHEN it autoscales
    endpoint.auto_scale_instance_count(min_capacity=2, max_capacity=4)
    # THEN synth warns that a type change cannot release the target first, naming the fix, and adds no release
    Annotations.from_stack(stack).has_warning(
        "/Parameterised/Endpoint",
        Match.string_like_regexp(
            r"Variant 'AllTraffic': the instance type is not known at synth.*aws-cdk #29626"
        ),
    )
    template = app.synth().get_stack_by_name("Parameterised").template
    assert _resources(template, "Custom::ScalingRelease") == {}
    (target,) = _resources(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
    assert "DeletionPolicy" not in target
