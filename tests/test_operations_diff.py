"""operations.diff: a cdk diff explained in plain words, on real before/after assemblies of the app.

The module synthesizes the app twice, in-process (build cache warm): the base (a spec-file model with
``max_queue_delay_microseconds = 100`` on ml.g4dn.xlarge, seed 001's multi-model stack on
``resnet-tiny`` without its TensorRT slot, Triton 26.05) and the head (the same model with 500 µs, on
ml.g5.xlarge, the multi-model stack with its third archive, Triton 25.09). Policy, IAM and data cases
edit copies of those real templates. One case deploys a small stack into the emulator (moto) and
explains the head against ``GetTemplate``. The pull-request comment (``--comment``) is built from the
same two assemblies, both ways.
"""

from __future__ import annotations

import copy
import json
import tarfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_cdk import App, DefaultStackSynthesizer, Stack

import app as app_module  # app.py at the repository root (tests/conftest.py puts it on sys.path)
from operations.diff import (
    COMMENT_MARKER,
    OVERRIDE_LABEL,
    CloudAssembly,
    Explanation,
    explain_assemblies,
    explain_deployed,
    explain_templates,
    main,
    pr_comment,
)
from serving_constructs import defaults
from stacks.multi_model_stack import multi_model_stack_id
from stacks.realtime_stack import realtime_stack_id

REALTIME = realtime_stack_id("my_relu")
MME = multi_model_stack_id("resnet-tiny")

BASE_CONTEXT = {"async_model": "none", "mme_models": "resnet-tiny", "mme_tensorrt": "off"}
HEAD_CONTEXT = {
    "async_model": "none",
    "mme_models": "resnet-tiny",
    "mme_tensorrt": "rehearsal",  # the TensorRT slot gets the ONNX twin: a third archive
    "instance_type": "ml.g5.xlarge",
}


def _spec(folder: Path, name: str, delay_us: int) -> Path:
    spec = folder / f"{name}.toml"
    spec.write_text(
        'name = "my_relu"\n[source]\nkind = "onnx"\npath = "relu.onnx"\n'
        '[triton]\nmax_batch_size = 8\ninstance_kind = "KIND_GPU"\n'
        f"[triton.dynamic_batching]\nmax_queue_delay_microseconds = {delay_us}\n"
    )
    return spec


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory, relu_onnx: Any) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("diff")
    relu_onnx(root / "relu.onnx")

    def synth(name: str, delay_us: int, context: dict[str, Any], triton_version: str) -> Path:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(defaults, "_TRITON_VERSION", triton_version)  # a change bumping the default release
            context = {"model": str(_spec(root, name, delay_us)), **context}
            app_module.build_app(App(outdir=str(root / name), context=context)).synth()
        return root / name

    return synth("base", 100, BASE_CONTEXT, "26.05"), synth("head", 500, HEAD_CONTEXT, "25.09")


@pytest.fixture(scope="module")
def explained(assemblies: tuple[Path, Path]) -> Explanation:
    return explain_assemblies(*assemblies)


def _lines(explanation: Explanation, stack: str) -> list[str]:
    """Every finding's text and detail lines of one stack, stripped."""
    lines = []
    for finding in explanation.findings:
        if finding.stack == stack:
            lines.append(finding.text)
            lines.extend(detail.strip() for detail in finding.details)
    return lines


def _templates(assemblies: tuple[Path, Path], stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
    base, head = (CloudAssembly(path) for path in assemblies)
    return base.stacks[stack].template(), head.stacks[stack].template()


def _resource(template: dict[str, Any], resource_type: str, name: str | None = None) -> dict[str, Any]:
    """The one resource of a type (and, given ``name``, whose logical id is that name plus CDK's hash)."""
    (resource,) = [
        r
        for lid, r in template["Resources"].items()
        if r["Type"] == resource_type and (name is None or (lid.startswith(name) and len(lid) == len(name) + 8))
    ]
    return resource


def test_diff_instance_type_change_is_a_new_endpoint_config_named_with_its_reason(explained: Explanation) -> None:
    # GIVEN the head deploys the real-time model on ml.g5.xlarge instead of ml.g4dn.xlarge
    lines = _lines(explained, REALTIME)
    # THEN the endpoint gets a new config, and the reason names the variant and both types
    assert "endpoint Endpoint gets a new endpoint config (EndpointEndpointConfig) because:" in lines
    assert "AllTraffic: instance type ml.g4dn.xlarge → ml.g5.xlarge" in lines


def test_diff_batching_change_is_read_inside_the_new_archive(explained: Explanation) -> None:
    # GIVEN the spec's max_queue_delay_microseconds goes from 100 to 500 (a new model.tar.gz)
    lines = _lines(explained, REALTIME)
    # THEN the model is replaced for new model data, and the archive's config.pbtxt says what changed
    assert "AllTraffic: model data: a new archive (model Model is replaced)" in lines
    assert "my_relu/config.pbtxt: dynamic_batching.max_queue_delay_microseconds 100 → 500" in lines
    assert any(line.startswith("model Model is replaced (PrimaryContainer changed)") for line in lines)


def test_diff_image_change_replaces_the_model_and_the_endpoint_config(explained: Explanation) -> None:
    # GIVEN the default Triton release goes from 26.05 to 25.09 (the multi-model stack changes nothing else
    # that its endpoint config holds)
    lines = _lines(explained, MME)
    # THEN the image is the reason for the multi-model endpoint's new config, through its replaced model
    assert (
        "AllTraffic: image sagemaker-tritonserver:26.05-py3 → sagemaker-tritonserver:25.09-py3 "
        "(model EndpointModel is replaced)"
    ) in lines
    assert "endpoint Endpoint gets a new endpoint config (EndpointEndpointConfig) because:" in lines


def test_diff_added_multi_model_archive_needs_no_endpoint_update(explained: Explanation) -> None:
    # GIVEN the head adds resnet_trt_v0.tar.gz under the multi-model prefix
    (finding,) = [f for f in explained.findings if f.stack == MME and "resnet_trt_v0.tar.gz" in f.text]
    # THEN the text says how it is served, and what the new archive holds (read from the head's asset)
    assert finding.text.startswith("adds model archive s3://${ModelPrefixBucket}/resnet-mme-gpu/resnet_trt_v0.tar.gz")
    assert "TargetModel=resnet_trt_v0.tar.gz; no endpoint update" in finding.text
    assert len(finding.details) == 1 and "platform onnxruntime_onnx" in finding.details[0]
    assert not finding.destructive


def test_diff_update_describes_the_deployment_the_head_declares(explained: Explanation) -> None:
    # GIVEN the head's endpoint, whatever DeploymentConfig it renders
    (update,) = [f for f in explained.findings if f.stack == REALTIME and f.text.startswith("endpoint Endpoint update:")]
    # THEN the line names the new fleet, and says whether alarms roll it back
    assert "1 x ml.g5.xlarge (AllTraffic)" in update.text
    assert "rollback on alarms" in update.text or "no rollback alarms" in update.text


def _with_deployment(template: dict[str, Any], deployment: dict[str, Any] | None) -> dict[str, Any]:
    edited = copy.deepcopy(template)
    endpoint = _resource(edited, "AWS::SageMaker::Endpoint")["Properties"]
    endpoint.pop("DeploymentConfig", None)
    if deployment is not None:
        endpoint["DeploymentConfig"] = deployment
    return edited


def _update_line(base: dict[str, Any], head: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    explanation = explain_templates({REALTIME: (base, head)})
    (update,) = [f for f in explanation.findings if f.text.startswith("endpoint Endpoint update:")]
    return update.text, update.details


def test_diff_deployment_canary_with_rollback_alarms(assemblies: tuple[Path, Path]) -> None:
    # GIVEN the head's endpoint with a canary policy and two rollback alarms (CloudFormation's shape)
    base, head = _templates(assemblies, REALTIME)
    head["Resources"]["LatencyAlarm0A1B2C3D"] = {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {"MetricName": "ModelLatency", "Namespace": "AWS/SageMaker"},
    }
    canary = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 600,
            },
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 3600,
        },
        "AutoRollbackConfiguration": {
            "Alarms": [{"AlarmName": {"Ref": "LatencyAlarm0A1B2C3D"}}, {"AlarmName": "team-5xx-alarm"}]
        },
    }
    # WHEN explained
    text, details = _update_line(base, _with_deployment(head, canary))
    # THEN kind, fleet, baking and alarms in one line; the waits under it
    assert text == (
        "endpoint Endpoint update: blue/green (canary: 10 % of the fleet first, then the rest) of "
        "1 x ml.g5.xlarge (AllTraffic), baking 10 min, rollback on alarms LatencyAlarm (ModelLatency), team-5xx-alarm"
    )
    assert "the old fleet is kept 5 min after the shift" in details
    assert "the deployment may take at most 60 min" in details


def test_diff_deployment_rolling_and_default(assemblies: tuple[Path, Path]) -> None:
    base, head = _templates(assemblies, REALTIME)
    rolling = {
        "RollingUpdatePolicy": {
            "MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 1},
            "WaitIntervalInSeconds": 300,
        }
    }
    # WHEN the head rolls in batches of one instance
    text, details = _update_line(base, _with_deployment(head, rolling))
    assert text == (
        "endpoint Endpoint update: rolling, in batches of 1 instance of 1 x ml.g5.xlarge (AllTraffic), "
        "baking 5 min after each batch, no rollback alarms"
    )
    assert "a rollback restores the whole old fleet at once (RollbackMaximumBatchSize's default)" in details
    # WHEN it declares no DeploymentConfig  THEN SageMaker's default is spelled out
    text, _ = _update_line(base, _with_deployment(head, None))
    assert text == (
        "endpoint Endpoint update: SageMaker's default (no DeploymentConfig): blue/green, all at once of "
        "1 x ml.g5.xlarge (AllTraffic), no baking, no rollback alarms"
    )


def test_diff_iam_moved_grant_is_not_a_broadening_but_a_wildcard_is(assemblies: tuple[Path, Path]) -> None:
    base, head = _templates(assemblies, REALTIME)
    # GIVEN the real head (s3:GetObject moves to the new archive's key) plus a statement granting s3:* on *
    broadened = copy.deepcopy(head)
    policy = _resource(broadened, "AWS::IAM::Policy", "ModelRoleDefaultPolicy")["Properties"]["PolicyDocument"]
    policy["Statement"].append({"Action": "s3:*", "Effect": "Allow", "Resource": "*"})
    # WHEN explained
    lines = [f.text for f in explain_templates({REALTIME: (base, broadened)}).findings if f.section == "iam"]
    # THEN the moved grant is one line, and the wildcard is called a broadening
    moved = [line for line in lines if "moves from" in line]
    assert len(moved) == 1 and moved[0].startswith("ModelRoleDefaultPolicy: Allow s3:GetObject moves from arn:")
    assert "ModelRoleDefaultPolicy: adds Allow s3:* on * — BROADENS: wildcard actions; every resource" in lines


def test_diff_scaling_change_names_the_variant_and_both_values(assemblies: tuple[Path, Path]) -> None:
    base, _ = _templates(assemblies, REALTIME)
    # GIVEN the base with its autoscaling maximum raised from 4 to 6
    head = copy.deepcopy(base)
    _resource(head, "AWS::ApplicationAutoScaling::ScalableTarget")["Properties"]["MaxCapacity"] = 6
    scaling = [f.text for f in explain_templates({REALTIME: (base, head)}).findings]
    # THEN one scaling line, with the variant, and nothing else changes
    (line,) = scaling
    assert line.startswith("scalable target EndpointInstanceCountAllTraffic")
    assert line.endswith("(AllTraffic): MaxCapacity 4 → 6")


def _target_renamed(template: dict[str, Any], *, retained: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The template (its target retained or not) and a copy whose scalable target has a new logical id."""
    base = copy.deepcopy(template)
    resources = base["Resources"]
    (old_id,) = [k for k, v in resources.items() if v["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"]
    for key in ("DeletionPolicy", "UpdateReplacePolicy"):
        resources[old_id].pop(key, None)
        if retained:
            resources[old_id][key] = "Retain"
    head = json.loads(json.dumps(base).replace(f'"{old_id}"', f'"{old_id}Renamed"'))
    return base, head


def test_diff_warns_when_a_re_created_scalable_target_would_deregister_the_new_one(
    assemblies: tuple[Path, Path],
) -> None:
    template, _ = _templates(assemblies, REALTIME)
    # GIVEN a deployed target without Retain (as before the scaling release) re-created under a new id
    base, head = _target_renamed(template, retained=False)
    lines = [f.text for f in explain_templates({REALTIME: (base, head)}).findings if f.section == "scaling"]
    # THEN the reviewer is told that the cleanup's delete removes the one registration both share
    assert any("is re-created as" in line for line in lines), lines
    (warning,) = [line for line in lines if line.startswith("WARNING")]
    assert "deregisters the variant's only registration" in warning and "docs/updates.md" in warning
    # GIVEN the same with the deployed target retained (an instance-type change after the release step)
    base, head = _target_renamed(template, retained=True)
    lines = [f.text for f in explain_templates({REALTIME: (base, head)}).findings if f.section == "scaling"]
    # THEN no warning: the old target is kept, not deleted
    assert any("is re-created as" in line for line in lines) and not any(line.startswith("WARNING") for line in lines)


def test_diff_removed_archive_is_destructive_and_fails_the_cli_when_asked(
    assemblies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = assemblies
    # GIVEN the reverse change: the head's third archive goes away
    code = main(["--base", str(head), "--head", str(base), "--stack", MME, "--fail-on-destructive"])
    out, err = capsys.readouterr()
    # THEN the archive deletion is named as destructive, and the command exits 1
    assert code == 1
    assert (
        "DESTRUCTIVE: model archive s3://${ModelPrefixBucket}/resnet-mme-gpu/resnet_trt_v0.tar.gz is removed from "
        "the stack: its object is deleted; requests with TargetModel=resnet_trt_v0.tar.gz fail once no instance has "
        "it loaded"
    ) in out
    assert "1 destructive change(s)" in err


def test_diff_retained_bucket_removed_is_kept_not_destructive(assemblies: tuple[Path, Path]) -> None:
    base, _ = _templates(assemblies, MME)
    # GIVEN the multi-model stack without its prefix bucket (DeletionPolicy Retain)
    head = copy.deepcopy(base)
    for lid, resource in list(head["Resources"].items()):
        if resource["Type"] == "AWS::S3::Bucket":
            del head["Resources"][lid]
    data = [f for f in explain_templates({MME: (base, head)}).findings if f.section == "data"]
    # THEN it says the bucket stays, with its data, and does not call it destructive
    assert [f.text for f in data] == [
        "bucket ModelPrefixBucket is removed from the stack but kept (Retain): its data stays, no longer managed "
        "by the stack"
    ]
    assert not data[0].destructive


def test_diff_same_assembly_has_no_changes_and_markdown_names_each_stack(
    assemblies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = assemblies
    # WHEN an assembly is compared with itself, as markdown
    assert main(["--base", str(base), "--head", str(base), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    # THEN every stack is listed with no changes
    assert out.count("No changes.") == 2
    assert f"### {REALTIME}" in out and f"### {MME}" in out


# --- the pull-request comment (--comment) ----------------------------------------------------------


def _event(folder: Path, *labels: str) -> Path:
    """A pull_request event payload as GitHub writes it to $GITHUB_EVENT_PATH (the fields the comment reads)."""
    event = folder / "event.json"
    event.write_text(
        json.dumps(
            {
                "action": "labeled",
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "head": {"sha": "0123456789abcdef0123456789abcdef01234567", "ref": "feature"},
                    "base": {"ref": "main"},
                    "labels": [{"name": name, "color": "ededed"} for name in labels],
                },
            }
        )
    )
    return event


def test_diff_comment_passes_a_guarded_update_and_starts_with_the_marker(
    assemblies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = assemblies
    # GIVEN the real change: a new instance type behind the app's default guardrails, a new archive
    code = main(["--base", str(base), "--head", str(head), "--comment"])
    out = capsys.readouterr().out
    # THEN the check passes, and the comment is found again by its first line
    assert code == 0
    assert out.splitlines()[0] == COMMENT_MARKER
    assert f"2 of 2 stack(s) change (`{REALTIME}`, `{MME}`)" in out
    assert "No destructive change" in out and "DESTRUCTIVE" not in out
    # AND the stack-by-stack text is diff.py's own markdown
    assert f"\n#### {REALTIME}\n" in out and "- AllTraffic: instance type ml.g4dn.xlarge → ml.g5.xlarge" in out


def test_diff_comment_fails_on_a_deleted_archive_unless_the_label_allows_it(
    assemblies: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = assemblies
    reverse = ["--base", str(head), "--head", str(base), "--comment"]  # the third archive goes away
    # WHEN the pull request has no label
    code = main([*reverse, "--github-event", str(_event(tmp_path, "documentation"))])
    out, err = capsys.readouterr()
    # THEN the check fails, the comment says why, and which label overrides
    assert code == 1
    assert "**This check fails: 1 destructive change(s).**" in out
    assert (
        f"- `{MME}`: model archive s3://${{ModelPrefixBucket}}/resnet-mme-gpu/resnet_trt_v0.tar.gz is removed from the stack"
    ) in out
    assert f"a maintainer adds the label `{OVERRIDE_LABEL}` to this pull request" in out
    assert "Commit `0123456789ab` compared with the base branch: 2 of 2 stack(s) change" in out
    assert f"the label {OVERRIDE_LABEL!r} on the pull request allows them" in err
    # WHEN the pull request carries the label
    code = main([*reverse, "--github-event", str(_event(tmp_path, "documentation", OVERRIDE_LABEL))])
    out = capsys.readouterr().out
    # THEN it passes, and the comment still lists what the label allowed
    assert code == 0
    assert f"**1 destructive change(s), allowed by the label `{OVERRIDE_LABEL}`:** the check passes" in out
    assert "resnet_trt_v0.tar.gz is removed from the stack" in out and "This check fails" not in out
    # AND --allow-destructive says the same from a terminal
    assert main([*reverse, "--allow-destructive"]) == 0
    assert "allowed by --allow-destructive" in capsys.readouterr().out


def test_diff_update_without_guardrails_is_destructive_and_named_in_the_comment(
    assemblies: tuple[Path, Path],
) -> None:
    base, head = _templates(assemblies, REALTIME)
    no_alarms = copy.deepcopy(head)
    _resource(no_alarms, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"].pop("AutoRollbackConfiguration")
    cases = {
        "the app's default (blue/green, rollback alarms)": (head, None),
        "no DeploymentConfig": (_with_deployment(head, None), "no DeploymentConfig: SageMaker's default is all at once"),
        "no rollback alarms": (no_alarms, "the DeploymentConfig has no rollback alarms"),
    }
    for case, (edited, reason) in cases.items():
        # WHEN the real instance-type change is explained with this head
        explanation = explain_templates({REALTIME: (base, edited)})
        (update,) = [f for f in explanation.findings if f.text.startswith("endpoint Endpoint update:")]
        # THEN only an update without guardrails is destructive, and the note says what is missing
        assert update.destructive is (reason is not None), case
        if reason is None:
            assert not explanation.destructive, case
            continue
        (note,) = [d for d in update.details if d.startswith("no deployment guardrails")]
        assert reason in note and "docs/guardrails.md" in note, case
        comment = pr_comment(explanation, compared="the base branch")
        assert f"- `{REALTIME}`: endpoint Endpoint update:" in comment and f"  - {note}" in comment, case


def test_diff_comment_shows_the_deployed_diff_and_stays_under_githubs_limit(
    explained: Explanation, tmp_path: Path, capsys: pytest.CaptureFixture[str], assemblies: tuple[Path, Path]
) -> None:
    # GIVEN cdk diff's output, holding a line of backticks
    cdk_diff = tmp_path / "cdk-diff.txt"
    cdk_diff.write_text(f"Stack {REALTIME}\n[~] AWS::SageMaker::EndpointConfig EndpointEndpointConfig replace\n```\n")
    base, head = assemblies
    assert main(["--base", str(base), "--head", str(head), "--comment", "--cdk-diff", str(cdk_diff)]) == 0
    out = capsys.readouterr().out
    # THEN it is its own section, in a fence longer than any backtick run inside it
    assert "### Against the deployed stacks (`cdk diff --method change-set`)" in out
    assert f"````text\nStack {REALTIME}\n[~] AWS::SageMaker::EndpointConfig EndpointEndpointConfig replace\n```\n````" in out
    # WHEN the texts exceed the limit  THEN both are cut at a line end, and the comment says so
    long_diff = "\n".join(f"[~] resource {i}" for i in range(5_000))
    comment = pr_comment(explained, compared="the base branch", cdk_diff=long_diff, limit=6_000)
    assert len(comment) <= 6_000
    assert comment.startswith(COMMENT_MARKER) and comment.count("… cut here") >= 1
    assert comment.rstrip().endswith("</details>")


# --- against the deployed stack (the emulator) ------------------------------------------------------


def _archive(folder: Path, delay_us: int) -> Path:
    config = folder / f"config-{delay_us}.pbtxt"
    config.write_text(
        'name: "tiny"\nbackend: "onnxruntime"\nmax_batch_size: 8\n'
        f"dynamic_batching {{ max_queue_delay_microseconds: {delay_us} }}\n"
    )
    archive = folder / f"model-{delay_us}.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(config, arcname="tiny/config.pbtxt")
    return archive


def _small_assembly(outdir: Path, archive: Path, instance_type: str, *, extra_stack: bool = False) -> Path:
    from serving_constructs import (
        InstanceType,
        ModelArtifact,
        ProductionVariant,
        RealtimeEndpoint,
        TritonModel,
    )

    app = App(outdir=str(outdir))
    synthesizer = DefaultStackSynthesizer(generate_bootstrap_version_rule=False)  # no CDK bootstrap in moto
    stack = Stack(app, "DiffDeployed", synthesizer=synthesizer)
    model = TritonModel(stack, "Model", artifact=ModelArtifact.from_asset(archive))
    RealtimeEndpoint(
        stack, "Endpoint", variants=[ProductionVariant(model=model, instance_type=InstanceType.of(instance_type))]
    )
    if extra_stack:
        Stack(app, "DiffNotDeployed", synthesizer=DefaultStackSynthesizer(generate_bootstrap_version_rule=False))
    app.synth()
    return outdir


@pytest.mark.slow
def test_diff_deployed_reads_the_deployed_template_and_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rehearsal.moto_server import MotoServer

    base = _small_assembly(tmp_path / "base", _archive(tmp_path, 100), "ml.g4dn.xlarge")
    head = _small_assembly(tmp_path / "head", _archive(tmp_path, 500), "ml.g5.xlarge", extra_stack=True)
    template = CloudAssembly(base).stacks["DiffDeployed"].template()
    with MotoServer() as moto:
        for key, value in moto.env().items():
            monkeypatch.setenv(key, value)
        # GIVEN the base deployed through CloudFormation, its archive published where CDK puts assets
        bucket = f"cdk-hnb659fds-assets-{moto.account_id}-{moto.region}"
        key = _resource(template, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]["ModelDataUrl"]["Fn::Sub"]
        key = key.rsplit("/", 1)[-1]
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=bucket)
        s3.upload_file(str(CloudAssembly(base).asset(key)), bucket, key)
        boto3.client("cloudformation").create_stack(
            StackName="DiffDeployed", TemplateBody=json.dumps(template), Capabilities=["CAPABILITY_IAM"]
        )
        # WHEN the head is explained against the deployed stacks
        explanation = explain_deployed(head)
        # AND through the command line
        assert main(["--deployed", "--head", str(head)]) == 0
    lines = _lines(explanation, "DiffDeployed")
    # THEN the reasons are those of two assemblies, the deployed archive read back from S3
    assert "AllTraffic: instance type ml.g4dn.xlarge → ml.g5.xlarge" in lines
    assert "tiny/config.pbtxt: dynamic_batching.max_queue_delay_microseconds 100 → 500" in lines
    assert _lines(explanation, "DiffNotDeployed") == [
        "new stack: not in the deployed stacks; everything in it is created"
    ]
