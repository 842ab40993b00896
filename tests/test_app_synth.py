"""app.py: context parsing, environment, cdk-nag, cfn-lint and deterministic synthesis."""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match, Template

import app as app_module  # app.py at the repository root (tests/conftest.py puts it on sys.path)
from model_build.spec import ModelSpec
from model_build.triton_config import parse_config
from serving_constructs import TritonModel
from serving_constructs.model_prefix import ModelPrefix
from stacks.async_stack import async_stack_id
from stacks.multi_model_stack import TENSORRT_TARGET, multi_model_stack_id
from stacks.realtime_stack import realtime_stack_id

REPO_ROOT = Path(__file__).resolve().parents[1]


CONTEXT_DEFAULTS = app_module.CONTEXT_DEFAULTS
ContextError = app_module.ContextError
build_app = app_module.build_app
settings_from_context = app_module.settings_from_context
unknown_context_keys = app_module.unknown_context_keys
STACK_ID = realtime_stack_id("bert-tiny")
ASYNC_STACK_ID = async_stack_id("pegasus-tiny")
MME_STACK_ID = multi_model_stack_id("resnet-tiny")
# Seed 001's multi-model stack on the resnet-tiny set: the app's shape with the default ResNet-50 set
# (whose two ~95 MB archives take ~90 s to build cold on 2 cores), built in seconds.
QUICK_MME = {"mme_models": "resnet-tiny"}
NO_MME = {"mme_models": "none"}


def _synth(outdir: Path, context: dict | None = None):
    app = build_app(App(outdir=str(outdir), context={**QUICK_MME, **(context or {})}))
    return app.synth()


@pytest.fixture(scope="module")
def synthesized_app(tmp_path_factory):
    app = build_app(App(outdir=str(tmp_path_factory.mktemp("synth")), context=QUICK_MME))
    app.synth()
    return app


@pytest.fixture(scope="module")
def assembly(synthesized_app):
    return synthesized_app.synth()  # the same cloud assembly: a stage synthesizes once


def test_cdk_json_sets_exactly_the_app_defaults_that_are_not_left_to_the_profile():
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    # Keys whose default is None are left unset so that a profile (or the stack default) decides.
    assert cdk_json["context"] == {k: v for k, v in CONTEXT_DEFAULTS.items() if v is not None}
    assert cdk_json["app"].endswith("app.py")


def test_settings_defaults_leave_profile_governed_keys_to_the_stack():
    settings = settings_from_context({})
    assert [(m.reference, m.spec.name, m.example) for m in settings["models"]] == [
        ("bert-tiny", "bert-tiny", True)
    ]
    assert settings["profiles"] == {}
    assert {
        k: settings[k] for k in ("instance_type", "initial_instance_count", "invocations_per_instance")
    } == {
        "instance_type": None,
        "initial_instance_count": None,
        "invocations_per_instance": None,
    }
    assert (settings["min_capacity"], settings["max_capacity"]) == (1, 4)
    # environment-agnostic unless the account/region keys pin it
    assert (settings["env"].account, settings["env"].region) == (None, None)


def test_several_models_get_one_stack_each_named_after_the_model(tmp_path):
    # GIVEN two examples  WHEN the app is built
    app = build_app(
        App(outdir=str(tmp_path), context={"model": "bert-tiny,resnet-tiny", "async_model": "none", **NO_MME})
    )

    # THEN one stack per model, in the order given, each serving its own model
    stacks = app_module.stacks_of(app)
    assert [s.stack_name for s in stacks] == ["TritonRealtime-bert-tiny", "TritonRealtime-resnet-tiny"]
    for stack, name in zip(stacks, ("bert-tiny", "resnet-tiny"), strict=True):
        Template.from_stack(stack).has_resource_properties(
            "AWS::SageMaker::Model",
            {
                "PrimaryContainer": Match.object_like(
                    {"Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": name}}
                )
            },
        )


def test_spec_file_model_is_deployed_with_its_own_triton_options(relu_onnx, tmp_path):
    # GIVEN the user's ONNX file and a spec file declaring CPU instances and dynamic batching
    relu_onnx(tmp_path / "relu.onnx")
    (tmp_path / "relu.toml").write_text(
        'name = "my_relu"\n[source]\nkind = "onnx"\npath = "relu.onnx"\n'
        '[triton]\nmax_batch_size = 8\ninstance_kind = "KIND_CPU"\ninstance_count = 3\n'
        "[triton.dynamic_batching]\nmax_queue_delay_microseconds = 250\n"
    )

    # WHEN deployed on a CPU instance type
    app = build_app(
        App(
            outdir=str(tmp_path / "out"),
            context={
                "model": str(tmp_path / "relu.toml"),
                "instance_type": "ml.c5.xlarge",
                "async_model": "none",
                **NO_MME,
            },
        )
    )
    stack = app.node.find_child("TritonRealtime-my-relu")

    # THEN the stack serves it by name, on the type asked for, with the spec's Triton options as declared
    # (not seed 000's: those apply to the built-in examples only)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {"Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "my_relu"}}
            )
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.c5.xlarge"})]},
    )
    assembly = app.synth()
    (archive,) = [p for p in Path(assembly.directory).glob("asset.*") if p.is_file()]
    with tarfile.open(archive) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith("/config.pbtxt")]
        config = parse_config(tar.extractfile(member).read().decode())
    assert [(g.count, g.kind) for g in config.instance_group] == [(3, 2)]  # KIND_CPU
    assert config.dynamic_batching.max_queue_delay_microseconds == 250
    assert config.max_batch_size == 8


def test_stack_ids_replace_underscores_for_cloudformation():
    assert realtime_stack_id("my_model") == "TritonRealtime-my-model"


def test_profile_context_sets_triton_options_count_and_scaling_target(make_profile, tmp_path):
    # GIVEN a measured profile for bert-tiny: 3 initial instances, a 2900/min scaling target, 3 model
    # instances per GPU and max_batch_size 128 (all different from the app's defaults)
    profile = make_profile(
        initial_instance_count=3, invocations_per_instance_target=2900, instance_count=3, max_batch_size=128
    ).save(tmp_path / "profile.json")

    # WHEN the app is built with -c profile=<path>
    app = build_app(
        App(outdir=str(tmp_path / "out"), context={"profile": str(profile), "async_model": "none", **NO_MME})
    )

    # THEN the variant, the scaling policy and the packaged config.pbtxt follow the profile
    template = Template.from_stack(app.node.find_child(STACK_ID))
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InitialInstanceCount": 3})]},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {"TargetTrackingScalingPolicyConfiguration": Match.object_like({"TargetValue": 2900})},
    )
    assembly = app.synth()
    (archive,) = [p for p in Path(assembly.directory).glob("asset.*") if p.is_file()]
    with tarfile.open(archive) as tar:
        (member,) = [m for m in tar.getmembers() if m.name.endswith("/config.pbtxt")]
        config = parse_config(tar.extractfile(member).read().decode())
    assert [g.count for g in config.instance_group] == [3]
    assert config.max_batch_size == 128


def test_context_key_wins_over_the_profile(make_profile, tmp_path):
    # GIVEN a profile with 3 initial instances  WHEN -c instance_count=2 is given as well
    profile = make_profile(initial_instance_count=3).save(tmp_path / "profile.json")
    settings = settings_from_context({"profile": str(profile), "instance_count": "2"})
    # THEN the explicit key wins and the profile is still applied for the rest
    assert settings["initial_instance_count"] == 2
    assert settings["profiles"]["bert-tiny"].initial_instance_count == 3


def test_settings_accept_cli_strings():
    # `cdk synth -c instance_count=3` passes strings
    settings = settings_from_context({"instance_count": "3", "max_capacity": "10", "model": "bert-large"})
    assert settings["initial_instance_count"] == 3
    assert settings["max_capacity"] == 10
    assert [m.spec.name for m in settings["models"]] == ["bert-large"]


def test_account_and_region_keys_pin_the_environment(tmp_path):
    # GIVEN / WHEN
    app = build_app(
        App(outdir=str(tmp_path), context={"account": "123456789012", "region": "eu-west-1", **QUICK_MME})
    )

    # THEN
    stack = app.node.find_child(STACK_ID)
    assert stack.account == "123456789012"
    assert stack.region == "eu-west-1"


def test_unknown_context_key_warns_with_the_near_match(tmp_path):
    # GIVEN a typo in a context key (and the CDK's own keys, which are not the user's)
    context = {
        "instance_typ": "ml.g5.xlarge", "@aws-cdk/core:newStyleStackSynthesis": True, "aws:cdk:x": 1, **NO_MME
    }

    # WHEN the app is built
    app = build_app(App(outdir=str(tmp_path), context=context))

    # THEN one warning on the stack names the key and its near match
    Annotations.from_stack(app.node.find_child(STACK_ID)).has_warning(
        "*",
        Match.string_like_regexp(r"context key 'instance_typ' is not read .*did you mean 'instance_type'"),
    )
    assert len(unknown_context_keys(context)) == 1


def test_app_synth_has_no_unacknowledged_nag_findings(assembly):
    # cdk-nag v3 fails synthesis on errors; the report must also hold no warnings.
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin["violations"]]
    assert violations == []


def test_app_synth_pinned_environment_has_no_unacknowledged_nag_findings(tmp_path):
    # Acknowledgements name resources as cdk-nag prints them: literal region/account here.
    assembly = _synth(tmp_path, context={"account": "123456789012", "region": "us-east-1"})
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert [v for plugin in report["pluginReports"] for v in plugin["violations"]] == []


@pytest.mark.parametrize("stack", [STACK_ID, ASYNC_STACK_ID, MME_STACK_ID])
def test_app_template_passes_cfn_lint(assembly, cfn_lint_errors, stack):
    assert cfn_lint_errors(assembly.get_stack_by_name(stack).template) == []


def test_app_deploys_seed_002s_asynchronous_stack_by_default(assembly):
    # GIVEN no context (but the quick model set) THEN the app holds the real-time stack, seed 002's
    # asynchronous one and seed 001's multi-model one
    assert [s.stack_name for s in assembly.stacks] == sorted([STACK_ID, ASYNC_STACK_ID, MME_STACK_ID])
    template = Template.from_json(assembly.get_stack_by_name(ASYNC_STACK_ID).template)
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "AsyncInferenceConfig": Match.object_like(
                {"ClientConfig": {"MaxConcurrentInvocationsPerInstance": 2}}
            )
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {"Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "pegasus-tiny"}}
            )
        },
    )


def test_async_model_none_leaves_the_asynchronous_stack_out(tmp_path):
    app = build_app(App(outdir=str(tmp_path), context={"async_model": "none", **NO_MME}))
    assert [s.stack_name for s in app_module.stacks_of(app)] == [STACK_ID]


def test_async_context_keys_reach_the_asynchronous_stack(tmp_path):
    # GIVEN another instance type and capacity for the asynchronous stack
    context = {"async_instance_type": "ml.g4dn.2xlarge", "async_max_capacity": "3", "model": "bert-tiny", **NO_MME}
    # WHEN the app is built
    app = build_app(App(outdir=str(tmp_path), context=context))
    # THEN the asynchronous variant and its scalable target follow them; the real-time stack keeps its own
    template = Template.from_stack(app.node.find_child(ASYNC_STACK_ID))
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.g4dn.2xlarge"})]},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 0, "MaxCapacity": 3}
    )
    Template.from_stack(app.node.find_child(STACK_ID)).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.g4dn.xlarge"})]},
    )


def test_app_has_no_errors_and_warns_only_about_the_single_default_instance(assembly):
    stack = assembly.get_stack_by_name(STACK_ID)
    errors = [m.entry.data for m in stack.messages if m.entry.type == "aws:cdk:error"]
    warnings = [m.entry.data for m in stack.messages if m.entry.type == "aws:cdk:warning"]
    assert errors == []
    assert len(warnings) == 1 and "single instance" in str(warnings[0])


def test_synth_is_deterministic(assembly, tmp_path):
    # GIVEN two synths of the same app into two folders (the module's, and one more from a fresh App)
    first = assembly
    second = _synth(tmp_path / "b")
    assert Path(first.directory) != Path(second.directory)

    # THEN identical templates and asset manifests (asset hashes)
    for stack in (STACK_ID, ASYNC_STACK_ID, MME_STACK_ID):
        for name in (f"{stack}.template.json", f"{stack}.assets.json"):
            assert (Path(first.directory) / name).read_text() == (Path(second.directory) / name).read_text()


def test_app_module_is_the_only_context_reader():
    # stacks/ and serving_constructs/ take typed props; only app.py reads context or the environment.
    for folder in ("stacks", "constructs/serving_constructs"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "get_context" not in text and "get_all_context" not in text and "os.environ" not in text, (
                path
            )
    assert "get_all_context" in Path(app_module.__file__).read_text()


@pytest.mark.slow
def test_cdk_cli_synth_succeeds(tmp_path, cdk_cli_env):
    # GIVEN the CDK CLI as `make synth` runs it  WHEN
    result = subprocess.run(
        [
            str(REPO_ROOT / "node_modules/.bin/cdk"),
            "synth",
            "--quiet",
            *("-c", "mme_models=resnet-tiny"),
            *("-o", str(tmp_path / "cdk.out")),
        ],
        cwd=REPO_ROOT,
        env=cdk_cli_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / f"{STACK_ID}.template.json").exists()


def test_app_script_is_environment_agnostic_whatever_the_cdk_cli_defaults_are(tmp_path, run_app_script):
    # GIVEN the environment variables the CDK CLI sets from the local AWS configuration (us-east-1 when
    # none is configured)  WHEN app.py synthesizes
    result = run_app_script(QUICK_MME, tmp_path, CDK_DEFAULT_ACCOUNT="111122223333", CDK_DEFAULT_REGION="us-east-1")

    # THEN the stack is not pinned to them: the same template deploys in any supported region
    assert result.returncode == 0, result.stderr[-2000:]
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["artifacts"][STACK_ID]["environment"] == "aws://unknown-account/unknown-region"


# cfn-lint 1.58's resource spec (CloudFormation's registry schemas) has no AWS::SageMaker::Model,
# EndpointConfig or Endpoint in these regions, although the sagemaker SDK publishes the Triton image there.
CFN_LINT_REGIONS_WITHOUT_SAGEMAKER_TYPES = frozenset({"me-central-1"})


def test_app_template_passes_cfn_lint_in_every_region_the_triton_image_is_published(
    assembly, cfn_lint_errors
):
    # The README's claim, exactly: cfn-lint is run for each region of the Triton DLC's region mapping
    # (the regions the template can deploy to): no errors or warnings, except E3006 "resource type does
    # not exist" for the SageMaker types in the regions where cfn-lint's spec lacks them.
    template = assembly.get_stack_by_name(STACK_ID).template
    (mapping,) = [m for name, m in template["Mappings"].items() if name.startswith("TritonImageAccounts")]
    regions = sorted(mapping)
    assert "us-east-1" in regions and not any(r.startswith(("cn-", "us-gov-")) for r in regions)
    known = tuple(f"does not exist in '{region}'" for region in CFN_LINT_REGIONS_WITHOUT_SAGEMAKER_TYPES)
    errors = cfn_lint_errors(template, regions=regions)
    unexpected = [
        e for e in errors if not ("E3006" in e and "AWS::SageMaker::" in e and any(k in e for k in known))
    ]
    assert unexpected == []
    assert len(errors) == 3 * len(CFN_LINT_REGIONS_WITHOUT_SAGEMAKER_TYPES)  # Model, EndpointConfig, Endpoint


def test_app_composes_seed_001s_multi_model_stack_on_resnet50_by_default():
    # GIVEN no context WHEN the settings are read (nothing is built) THEN seed 001's stack is on, ResNet-50
    assert settings_from_context({})["multi_model"] == {
        "models": "resnet50",
        "tensorrt": "auto",
        "instance_type": None,
        "initial_instance_count": None,
        "max_capacity": 5,
    }
    assert multi_model_stack_id(CONTEXT_DEFAULTS["mme_models"]) == "TritonMultiModel-resnet50"


def test_app_multi_model_stack_warns_that_the_engine_is_left_out_here(assembly):
    # GIVEN this machine (no TensorRT, no GPU) and mme_tensorrt=auto THEN the engine's slot is left out, with why
    stack = assembly.get_stack_by_name(MME_STACK_ID)
    warnings = [str(m.entry.data) for m in stack.messages if m.entry.type == "aws:cdk:warning"]
    assert [w for w in warnings if f"{TENSORRT_TARGET} (the TensorRT engine" in w and "-c mme_tensorrt=on" in w]
    outputs = stack.template["Outputs"]
    assert outputs["TargetModels"]["Value"] == "resnet_onnx_v0.tar.gz,resnet_pt_v0.tar.gz"


def test_mme_context_keys_reach_the_multi_model_stack(tmp_path):
    # GIVEN every mme_* key, with the rehearsal substitute in the TensorRT slot
    context = {
        "model": "bert-tiny",
        "async_model": "none",
        "mme_models": "resnet-tiny",
        "mme_tensorrt": "rehearsal",
        "mme_instance_type": "ml.g5.xlarge",
        "mme_instance_count": "3",
        "mme_max_capacity": "4",
    }
    # WHEN the app is built
    app = build_app(App(outdir=str(tmp_path), context=context))
    stack = app.node.find_child(MME_STACK_ID)
    template = Template.from_stack(stack)
    # THEN the variant, the scaling range and the archives follow them
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"InstanceType": "ml.g5.xlarge", "InitialInstanceCount": 3})]},
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget", {"MinCapacity": 1, "MaxCapacity": 4}
    )
    assert stack.endpoint.target_models == ("resnet_onnx_v0.tar.gz", "resnet_pt_v0.tar.gz", TENSORRT_TARGET)
    Annotations.from_stack(stack).has_warning("*", Match.string_like_regexp("REHEARSAL SUBSTITUTE"))


def _built_specs(app) -> list[ModelSpec]:
    """The specs of every archive the app's stacks bound (built or taken from the cache at synth)."""
    artifacts = []
    for construct in app.node.find_all():
        if isinstance(construct, TritonModel) and not construct.multi_model:
            artifacts.append(construct.artifact)
        elif isinstance(construct, ModelPrefix):
            artifacts.extend(construct.artifacts.values())
    return [artifact.spec for artifact in artifacts]  # all ModelArtifact.from_build: each has its spec


def test_app_planned_specs_are_exactly_what_the_stacks_build(synthesized_app):
    # GIVEN the app's context (every stack: real-time, asynchronous, multi-model)
    settings = settings_from_context(QUICK_MME)

    # WHEN the app plans its builds (nothing built) and the stacks composed from the same settings bind theirs
    planned = app_module.planned_specs(app_module.stack_plans(settings))
    built = _built_specs(synthesized_app)

    # THEN the one parallel build covers every archive of every stack, nothing more, each model once
    assert sorted(spec.inputs_hash() for spec in planned) == sorted({spec.inputs_hash() for spec in built})
    assert {spec.name for spec in planned} == {"bert-tiny", "pegasus-tiny", "resnet-tiny-pt", "resnet-tiny-onnx"}
