"""Bad input to ``cdk synth/deploy`` through app.py: one clear message per mistake, before any work.

Each case gives the context a user could pass with ``-c key=value`` and the parts the message must
contain: the context key, the value given, and what to do. Nothing is built for any of them
(``settings_from_context`` reads and validates, it builds nothing). A few cases run ``app.py`` as the
CDK CLI does (a subprocess with ``CDK_CONTEXT_JSON``) and one runs the real ``cdk synth``, to check
the user sees one line and no traceback.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Annotations, Match

import app as app_module  # app.py at the repository root (tests/conftest.py puts it on sys.path)

REPO_ROOT = Path(__file__).resolve().parents[1]


def _profile_json(make_profile, tmp_path: Path, **overrides) -> str:
    return str(make_profile(**overrides).save(tmp_path / "profile.json"))


# A valid pipeline context, which the pipeline cases change one key of.
PIPELINE = {
    "pipeline": "true",
    "pipeline_source": "github:example-org/serving@main",
    "pipeline_connection_arn": "arn:aws:codestar-connections:us-east-1:111111111111:connection/0a1b2c3d",
    "account": "111111111111",
    "region": "us-east-1",
}

# (id, context, regexes the message must match). "{tmp}" is replaced by the test's temporary folder.
CASES = [
    # model: unknown names, lists, files
    ("model-unknown-example", {"model": "bert-tinyy"}, [r"context key 'model'", r"bert-tinyy", r"bert-tiny"]),
    ("model-empty", {"model": ""}, [r"context key 'model'", r"empty entry", r"-c model=a,b"]),
    ("model-empty-entry", {"model": "bert-tiny,,resnet-tiny"}, [r"context key 'model'", r"empty entry"]),
    (
        "model-duplicate",
        {"model": "bert-tiny,bert-tiny"},
        [r"context key 'model'", r"bert-tiny more than once"],
    ),
    ("model-missing-spec-file", {"model": "{tmp}/nope.toml"}, [r"context key 'model'", r"nope\.toml"]),
    (
        "model-directory",
        {"model": "{tmp}"},
        [r"context key 'model'", r"is a folder", r"give the path of one spec file"],
    ),
    ("model-onnx-file-not-spec", {"model": "{tmp}/model.onnx"}, [r"context key 'model'", r"model\.onnx"]),
    # instance_type
    (
        "instance-type-no-ml-prefix",
        {"instance_type": "g4dn.xlarge"},
        [r"'instance_type'", r"g4dn\.xlarge", r"ml\.g4dn\.xlarge"],
    ),
    ("instance-type-number", {"instance_type": 5}, [r"'instance_type'", r"5", r"ml\.g4dn\.xlarge"]),
    ("instance-type-empty", {"instance_type": ""}, [r"'instance_type'", r"ml\.g4dn\.xlarge"]),
    ("instance-type-upper", {"instance_type": "ML.G4DN.XLARGE"}, [r"'instance_type'", r"ML\.G4DN\.XLARGE"]),
    # instance_count
    (
        "instance-count-word",
        {"instance_count": "two"},
        [r"'instance_count'", r"integer >= 1", r"'two'", r"-c instance_count=2"],
    ),
    ("instance-count-zero", {"instance_count": 0}, [r"'instance_count'", r"integer >= 1", r"got 0"]),
    ("instance-count-negative", {"instance_count": "-3"}, [r"'instance_count'", r"got -3"]),
    ("instance-count-fraction", {"instance_count": 2.5}, [r"'instance_count'", r"2\.5"]),
    ("instance-count-fraction-string", {"instance_count": "2.5"}, [r"'instance_count'", r"2\.5"]),
    ("instance-count-boolean", {"instance_count": True}, [r"'instance_count'", r"True"]),
    ("instance-count-blank", {"instance_count": " "}, [r"'instance_count'", r"integer"]),
    # capacities
    ("min-capacity-zero", {"min_capacity": 0}, [r"'min_capacity'", r"integer >= 1", r"got 0"]),
    ("min-capacity-word", {"min_capacity": "one"}, [r"'min_capacity'", r"'one'"]),
    ("max-capacity-zero", {"max_capacity": "0"}, [r"'max_capacity'", r"got 0"]),
    ("max-capacity-fraction", {"max_capacity": 4.5}, [r"'max_capacity'", r"4\.5"]),
    (
        "max-below-min",
        {"min_capacity": 5, "max_capacity": 2},
        [r"'max_capacity' must be >= 'min_capacity'", r"2 < 5", r"-c max_capacity=5"],
    ),
    # scaling target
    ("invocations-zero", {"invocations_per_instance": 0}, [r"'invocations_per_instance'", r"got 0"]),
    ("invocations-fraction", {"invocations_per_instance": "1.5"}, [r"'invocations_per_instance'", r"1\.5"]),
    ("invocations-word", {"invocations_per_instance": "many"}, [r"'invocations_per_instance'", r"'many'"]),
    # environment
    ("account-letters", {"account": "my-account"}, [r"'account'", r"12-digit", r"my-account"]),
    ("account-short", {"account": "12345678901"}, [r"'account'", r"12345678901"]),
    ("region-incomplete", {"region": "us-east"}, [r"'region'", r"us-east-1", r"'us-east'"]),
    ("region-upper", {"region": "US-EAST-1"}, [r"'region'", r"US-EAST-1"]),
    # profiles
    (
        "profile-missing-file",
        {"profile": "{tmp}/missing.json"},
        [r"context key 'profile'", r"missing\.json", r"python -m tuning matrix"],
    ),
    ("profile-not-json", {"profile": "{tmp}/model.onnx"}, [r"context key 'profile'", r"not JSON"]),
    ("profile-wrong-schema", {"profile": "{tmp}/schema.json"}, [r"context key 'profile'", r"schema_version"]),
    ("profile-empty-entry", {"profile": "{tmp}/a.json,"}, [r"context key 'profile'", r"empty entry"]),
    # hardware translation
    (
        "translation-syntax",
        {"hardware_translation": "H100 to T4"},
        [r"context key 'hardware_translation'", r"FROM -> TO x FACTOR: REASON", r"'H100 to T4'"],
    ),
    (
        "translation-without-profile",
        {"hardware_translation": "H100 -> T4 x 0.1: both measured"},
        [r"context key 'hardware_translation'", r"-c profile="],
    ),
    # the asynchronous stack (seed 002)
    (
        "async-model-unknown",
        {"async_model": "pegasus-tiyn"},
        [r"context key 'async_model'", r"pegasus-tiyn", r"pegasus-tiny", r"-c async_model=none"],
    ),
    (
        "async-model-two",
        {"async_model": "pegasus-tiny,bert-tiny"},
        [
            r"context key 'async_model' takes one model",
            r"'pegasus-tiny,bert-tiny'",
            r"-c async_model=pegasus-tiny",
        ],
    ),
    (
        "async-model-missing-spec-file",
        {"async_model": "{tmp}/nope.toml"},
        [r"context key 'async_model'", r"nope\.toml"],
    ),
    (
        "async-instance-type-shape",
        {"async_instance_type": "g4dn-xlarge"},
        [r"context key 'async_instance_type'", r"'g4dn-xlarge'", r"like 'ml\.g4dn\.xlarge'"],
    ),
    ("async-max-capacity-zero", {"async_max_capacity": "0"}, [r"'async_max_capacity'", r">= 1", r"got 0"]),
    ("async-max-capacity-word", {"async_max_capacity": "five"}, [r"'async_max_capacity'", r"'five'"]),
    # seed 001's multi-model stack
    (
        "mme-models-typo",
        {"mme_models": "resnet-50"},
        [r"context key 'mme_models'", r"'resnet-50'", r"did you mean 'resnet50'", r"'resnet-tiny'", r"-c mme_models=none"],
    ),
    (
        "mme-models-an-example-not-a-set",
        {"mme_models": "resnet50-pt"},
        [r"context key 'mme_models' must name a model set", r"'resnet50-pt'", r"'resnet50': seed 001's ResNet-50"],
    ),
    (
        "mme-tensorrt-typo",
        {"mme_tensorrt": "onn"},
        [r"context key 'mme_tensorrt' must be one of auto, on, off, rehearsal", r"'onn'", r"did you mean 'on'"],
    ),
    (
        "mme-tensorrt-on-without-tensorrt",
        {"mme_tensorrt": "on", "mme_models": "resnet-tiny"},
        [
            r"context key 'mme_tensorrt' is 'on', but the engine resnet-tiny-trt cannot be built here",
            r"tensorrt Python module does not import",
            r"python -m model_build build --example resnet-tiny-trt",
            r"-c mme_tensorrt=auto",
        ],
    ),
    (
        "mme-instance-type-cpu",
        {"mme_instance_type": "ml.c5.xlarge"},
        [r"context key 'mme_instance_type' 'ml\.c5\.xlarge' has no GPU", r"ml\.g4dn\.4xlarge", r"-c mme_instance_type="],
    ),
    (
        "mme-instance-type-multi-gpu",
        {"mme_instance_type": "ml.g5.12xlarge"},
        [r"context key 'mme_instance_type' 'ml\.g5\.12xlarge' has 4 GPUs", r"single-GPU", r"ml\.g5\.xlarge"],
    ),
    (
        "mme-instance-type-shape",
        {"mme_instance_type": "g4dn.4xlarge"},
        [r"context key 'mme_instance_type'", r"'g4dn\.4xlarge'", r"did you mean 'ml\.g4dn\.4xlarge'"],
    ),
    ("mme-instance-count-zero", {"mme_instance_count": "0"}, [r"'mme_instance_count'", r">= 1", r"got 0"]),
    ("mme-max-capacity-float", {"mme_max_capacity": 2.5}, [r"'mme_max_capacity'", r"integer >= 1", r"2\.5"]),
    # the pipeline (pipeline=true and its keys)
    ("pipeline-not-a-flag", {"pipeline": "maybe"}, [r"context key 'pipeline'", r"'maybe'", r"-c pipeline=true"]),
    (
        "pipeline-key-without-pipeline",
        {"pipeline_source": "codecommit:serving@main"},
        [r"context key 'pipeline_source'", r"codecommit:serving@main", r"-c pipeline=true"],
    ),
    (
        "pipeline-without-account",
        {**PIPELINE, "account": None},
        [r"context key 'account'", r"required with pipeline=true", r"-c account=123456789012"],
    ),
    (
        "pipeline-without-source",
        {**PIPELINE, "pipeline_source": None},
        [r"context key 'pipeline_source'", r"required", r"github:OWNER/NAME@BRANCH", r"codecommit:NAME@BRANCH"],
    ),
    (
        "pipeline-source-unknown-kind",
        {**PIPELINE, "pipeline_source": "gitlab:org/repo@main"},
        [r"context key 'pipeline_source'", r"'gitlab:org/repo@main'", r"github:OWNER/NAME@BRANCH"],
    ),
    (
        "pipeline-source-github-no-owner",
        {**PIPELINE, "pipeline_source": "github:repo@main"},
        [r"'pipeline_source'", r"repository must be 'owner/name' \(got 'repo'\)"],
    ),
    (
        "pipeline-source-bad-branch",
        {**PIPELINE, "pipeline_source": "github:org/repo@feat..x"},
        [r"'pipeline_source'", r"branch must be a git branch name", r"'feat\.\.x'"],
    ),
    (
        "pipeline-github-without-connection",
        {**PIPELINE, "pipeline_connection_arn": None},
        [r"context key 'pipeline_connection_arn' is required", r"github:", r"codestar-connections"],
    ),
    (
        "pipeline-connection-is-a-token",
        {**PIPELINE, "pipeline_connection_arn": "ghp_abcdef0123456789"},
        [r"'pipeline_connection_arn'", r"'ghp_abcdef0123456789'", r"arn:aws:codestar-connections:"],
    ),
    (
        "pipeline-codecommit-with-connection",
        {**PIPELINE, "pipeline_source": "codecommit:serving@main"},
        [r"'pipeline_connection_arn' applies only to a github: source", r"codecommit:serving@main", r"drop it"],
    ),
    (
        "pipeline-staging-account-short",
        {**PIPELINE, "staging_account": "2222"},
        [r"context key 'staging_account'", r"12-digit", r"'2222'", r"-c staging_account=123456789012"],
    ),
    (
        "pipeline-production-account-word",
        {**PIPELINE, "production_account": "prod"},
        [r"context key 'production_account'", r"'prod'", r"-c production_account="],
    ),
    (
        "pipeline-approval-topic-other-region",
        {**PIPELINE, "pipeline_approval_topic": "arn:aws:sns:eu-west-1:111111111111:approvals"},
        [r"'pipeline_approval_topic'", r"arn:aws:sns:us-east-1:111111111111:NAME", r"eu-west-1"],
    ),
    (
        "pipeline-tensorrt-typo",
        {**PIPELINE, "pipeline_tensorrt": "of"},
        [r"context key 'pipeline_tensorrt'", r"'of'", r"did you mean 'off'", r"ONNX"],
    ),
    (
        "pipeline-tensorrt-image-without-engine-step",
        {**PIPELINE, "pipeline_tensorrt_image": "111111111111.dkr.ecr.us-east-1.amazonaws.com/tensorrt:24.09-py3"},
        [r"'pipeline_tensorrt_image' applies only with pipeline_tensorrt=processing-job", r"drop it"],
    ),
    (
        "pipeline-tensorrt-without-image",
        {**PIPELINE, "pipeline_tensorrt": "processing-job", "mme_models": "resnet-tiny"},
        [r"context key 'pipeline_tensorrt_image' is required", r"nvcr\.io/nvidia/tensorrt:", r"-c pipeline_tensorrt_image="],
    ),
    (
        "pipeline-tensorrt-without-multi-model-stack",
        {**PIPELINE, "pipeline_tensorrt": "processing-job", "mme_models": "none"},
        [r"'pipeline_tensorrt' is 'processing-job'", r"'mme_models' is 'none'", r"-c pipeline_tensorrt=off"],
    ),
    (
        "pipeline-tensorrt-image-not-ecr",
        {
            **PIPELINE,
            "pipeline_tensorrt": "processing-job",
            "mme_models": "resnet-tiny",
            "pipeline_tensorrt_image": "nvcr.io/nvidia/tensorrt:24.09-py3",
        },
        [r"context keys 'pipeline_tensorrt_image'", r"image_uri", r"nvcr\.io/nvidia/tensorrt:24\.09-py3"],
    ),
    (
        "pipeline-mme-tensorrt-on-without-engine-step",
        {**PIPELINE, "mme_tensorrt": "on"},
        [r"'mme_tensorrt' is 'on'", r"'pipeline_tensorrt' is 'off'", r"-c pipeline_tensorrt=processing-job"],
    ),
    # examples, examples_bucket
    (
        "examples-unknown",
        {"examples": "serverles"},
        [r"context key 'examples'", r"'serverles'", r"did you mean 'serverless'", r"shadow-capture", r"all or none"],
    ),
    ("examples-empty-entry", {"examples": "byoc,,serverless"}, [r"context key 'examples'", r"empty entry"]),
    ("examples-duplicate", {"examples": "byoc,byoc"}, [r"context key 'examples'", r"byoc more than once"]),
    (
        "examples-bucket-missing",
        {"examples": "serverless,inferentia,multi-container"},
        [r"'examples_bucket' is required with examples=inferentia,multi-container", r"-c examples_bucket="],
    ),
    (
        "examples-bucket-without-an-example-reading-it",
        {"examples": "byoc", "examples_bucket": "my-models"},
        [r"'examples_bucket' applies only", r"shadow-capture, multi-container, inferentia", r"'byoc'"],
    ),
    (
        "examples-bucket-not-a-bucket-name",
        {"examples": "inferentia", "examples_bucket": "s3://My_Models"},
        [r"'examples_bucket' must be an S3 bucket name", r"s3://My_Models", r"-c examples_bucket=my-model-bucket"],
    ),
    (
        "examples-with-the-pipeline",
        {**PIPELINE, "examples": "serverless"},
        [r"'examples' \('serverless'\) does not apply with pipeline=true", r"drop examples"],
    ),
]


@pytest.fixture
def workdir(tmp_path):
    (tmp_path / "model.onnx").write_bytes(b"\x08\x07not really onnx")
    (tmp_path / "schema.json").write_text('{"schema_version": 99}')
    return tmp_path


def _fill(context: dict, folder: Path) -> dict:
    return {k: v.replace("{tmp}", str(folder)) if isinstance(v, str) else v for k, v in context.items()}


@pytest.mark.parametrize(("context", "patterns"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_context_gets_one_message_naming_the_key_the_value_and_the_fix(context, patterns, workdir):
    # GIVEN a mistaken context  WHEN the app reads it
    with pytest.raises(app_module.ContextError) as raised:
        app_module.settings_from_context(_fill(context, workdir))

    # THEN one message says which key, what was given and what to do
    message = str(raised.value)
    for pattern in patterns:
        assert re.search(pattern, message), f"{pattern!r} not in: {message}"
    assert "Traceback" not in message


def test_bad_input_case_ids_are_unique():
    assert len({c[0] for c in CASES}) == len(CASES)


def _relu_spec(relu_onnx, folder: Path, *, kind: str | None = None) -> Path:
    relu_onnx(folder / "relu.onnx")
    kind_line = f'instance_kind = "{kind}"\n' if kind else ""
    spec = folder / "relu.toml"
    spec.write_text(
        f'name = "relu"\n[source]\nkind = "onnx"\npath = "relu.onnx"\n[triton]\nmax_batch_size = 4\n{kind_line}'
    )
    return spec


def test_gpu_model_on_a_cpu_instance_names_the_key_and_the_spec_file(relu_onnx, tmp_path):
    # GIVEN a spec file whose Triton instances run on GPUs (the default)  WHEN deployed on a CPU type
    spec = _relu_spec(relu_onnx, tmp_path)
    with pytest.raises(app_module.ContextError) as raised:
        app_module.settings_from_context({"model": str(spec), "instance_type": "ml.c5.xlarge"})

    # THEN the message names the context key, the spec file's key and both fixes
    message = str(raised.value)
    assert "context key 'instance_type' ml.c5.xlarge has no NVIDIA GPU" in message
    assert str(spec) in message and 'instance_kind = "KIND_CPU"' in message
    assert "-c instance_type=ml.g4dn.xlarge" in message


def test_gpu_async_model_on_a_cpu_instance_names_the_async_key(relu_onnx, tmp_path):
    # GIVEN a spec file whose Triton instances run on GPUs  WHEN the asynchronous stack gets a CPU type
    spec = _relu_spec(relu_onnx, tmp_path)
    with pytest.raises(app_module.ContextError) as raised:
        app_module.settings_from_context({"async_model": str(spec), "async_instance_type": "ml.c5.xlarge"})

    # THEN the message names the asynchronous stack's key (not the real-time one) and its fix
    message = str(raised.value)
    assert "context key 'async_instance_type' ml.c5.xlarge has no NVIDIA GPU" in message
    assert "-c async_instance_type=ml.g4dn.xlarge" in message


def test_spec_file_with_errors_is_reported_under_the_model_key(tmp_path):
    # GIVEN a spec file with a typo in a key
    spec = tmp_path / "bad.toml"
    spec.write_text('name = "m"\n[source]\nkind = "onnx"\npath = "m.onnx"\n[triton]\nmax_batch_sise = 4\n')
    with pytest.raises(app_module.ContextError) as raised:
        app_module.settings_from_context({"model": str(spec)})
    message = str(raised.value)
    assert message.startswith("context key 'model': ") and str(spec) in message
    assert "max_batch_sise" in message and "max_batch_size" in message


def test_profile_for_a_model_the_app_does_not_deploy(make_profile, tmp_path):
    # GIVEN a profile measured for bert-tiny  WHEN the app deploys only resnet-tiny
    path = _profile_json(make_profile, tmp_path)
    with pytest.raises(app_module.ContextError) as raised:
        app_module.settings_from_context({"model": "resnet-tiny", "profile": path})

    # THEN the message names both keys, the models and the fix
    assert re.search(
        r"context key 'profile': .*measured for model 'bert-tiny'.*'model' deploys 'resnet-tiny'",
        str(raised.value),
    )


def test_profile_measured_on_another_accelerator_names_both_and_the_translation_key(make_profile, tmp_path):
    # GIVEN a profile measured on one T4  WHEN the app sizes ml.g5.xlarge (an A10G) with it
    path = _profile_json(make_profile, tmp_path)
    with pytest.raises(app_module.ContextError) as raised:
        app_module.settings_from_context({"profile": path, "instance_type": "ml.g5.xlarge"})

    # THEN the message names the keys, both accelerators and how to state a translation
    message = str(raised.value)
    assert message.startswith("context keys 'profile' and 'instance_type': ")
    assert "NVIDIA T4" in message and "NVIDIA A10G" in message and "ml.g5.xlarge" in message
    assert "-c hardware_translation='NVIDIA T4 -> NVIDIA A10G x FACTOR: REASON'" in message


def test_stated_translation_sizes_another_accelerator(make_profile, tmp_path):
    # GIVEN a T4 profile and a translation the user states  WHEN sized on an A10G type
    path = _profile_json(make_profile, tmp_path)
    settings = app_module.settings_from_context(
        {
            "profile": path,
            "instance_type": "ml.g5.xlarge",
            "hardware_translation": "T4 -> A10G x 1.5: measured both",
        }
    )

    # THEN the profile is re-derived through the factor (an estimate, which the profile now records)
    profile = settings["profiles"]["bert-tiny"]
    assert profile.instance_type == "ml.g5.xlarge"
    assert profile.invocations_per_instance_target == profile.scaling_target(
        profile.measured.invocations_per_minute * 1.5, profile.safety_factor
    )
    assert profile.hardware_translation is not None and profile.hardware_translation.factor == 1.5


def test_two_profiles_for_one_model(make_profile, tmp_path):
    first = str(make_profile().save(tmp_path / "a.json"))
    second = str(make_profile().save(tmp_path / "b.json"))
    with pytest.raises(app_module.ContextError, match=r"two profiles for model 'bert-tiny'"):
        app_module.settings_from_context({"profile": f"{first},{second}"})


def test_unknown_context_key_is_a_warning_with_the_near_match(tmp_path):
    app = app_module.build_app(App(outdir=str(tmp_path), context={"max_capacty": 3, "mme_models": "none"}))
    stack = app_module.stacks_of(app)[0]
    Annotations.from_stack(stack).has_warning(
        "*", Match.string_like_regexp(r"context key 'max_capacty' is not read .*did you mean 'max_capacity'")
    )


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"model": "gpt-5"}, r"^app\.py: error: context key 'model': .*gpt-5"),
        ({"instance_count": "two"}, r"^app\.py: error: context key 'instance_count' must be an integer >= 1"),
        ({"region": "mars"}, r"^app\.py: error: context key 'region' must be an AWS region"),
        ({"mme_tensorrt": "yes"}, r"^app\.py: error: context key 'mme_tensorrt' must be one of auto, on, off"),
    ],
    ids=["model", "instance-count", "region", "mme-tensorrt"],
)
def test_app_script_reports_bad_context_in_one_line_without_traceback(
    context, expected, tmp_path, run_app_script
):
    # WHEN app.py runs as the CDK CLI runs it
    result = run_app_script(context, tmp_path / "out")

    # THEN exit status 2, one line on stderr, no traceback, nothing synthesized
    assert result.returncode == 2, result.stderr
    lines = [
        line for line in result.stderr.splitlines() if line.strip() and not line.startswith(("b'", "!!"))
    ]
    assert len(lines) == 1 and re.search(expected, lines[0]), result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_debug_environment_variable_shows_the_traceback(tmp_path, run_app_script):
    result = run_app_script({"min_capacity": "0"}, tmp_path, TRITON_IAC_DEBUG="1")
    assert result.returncode != 0
    assert "Traceback" in result.stderr and "ContextError" in result.stderr


@pytest.mark.slow
def test_cdk_synth_with_a_bad_context_value_prints_the_message_not_a_traceback(tmp_path, cdk_cli_env):
    # GIVEN the real CDK CLI, as a user runs it

    # WHEN
    result = subprocess.run(
        [
            str(REPO_ROOT / "node_modules/.bin/cdk"),
            "synth",
            "--quiet",
            "-c",
            "max_capacity=0",
            "-o",
            str(tmp_path / "cdk.out"),
        ],
        cwd=REPO_ROOT,
        env=cdk_cli_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN the CLI fails with the app's one line, and no Python traceback reaches the user
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "app.py: error: context key 'max_capacity' must be an integer >= 1 (got 0)" in output
    assert "Traceback" not in output


def test_instance_type_unknown_to_sagemaker_is_a_warning_with_the_near_match(tmp_path):
    # GIVEN a typo that still has the ml.<family>.<size> shape (a type newer than botocore would too)
    context = {"instance_type": "ml.g4dn.xlarg", "mme_models": "none"}
    app = app_module.build_app(App(outdir=str(tmp_path), context=context))

    # THEN the stack warns and names the type SageMaker hosting knows
    Annotations.from_stack(app_module.stacks_of(app)[0]).has_warning(
        "*", Match.string_like_regexp(r"ml\.g4dn\.xlarg.*ml\.g4dn\.xlarge")
    )


def test_async_instance_type_unknown_to_sagemaker_is_a_warning_on_the_async_stack(tmp_path):
    context = {"async_instance_type": "ml.g4dn.xlarg", "model": "bert-tiny", "mme_models": "none"}
    app = app_module.build_app(App(outdir=str(tmp_path), context=context))
    Annotations.from_stack(app.node.find_child("TritonAsync-pegasus-tiny")).has_warning(
        "*", Match.string_like_regexp(r"ml\.g4dn\.xlarg.*ml\.g4dn\.xlarge")
    )
