"""app.py: context parsing, environment, cdk-nag, cfn-lint and deterministic synthesis."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from aws_cdk import App
from aws_cdk.assertions import Match, Template

from model_build.triton_config import parse_config

REPO_ROOT = Path(__file__).resolve().parents[1]


def _load_app_module():
    # app.py is a script at the repository root, not an installed package (pytest runs with
    # --import-mode=importlib, which does not put the root on sys.path).
    spec = importlib.util.spec_from_file_location("cdk_app", REPO_ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cdk_app"] = module
    spec.loader.exec_module(module)
    return module


app_module = _load_app_module()
CONTEXT_DEFAULTS = app_module.CONTEXT_DEFAULTS
STACK_ID = app_module.STACK_ID
ContextError = app_module.ContextError
build_app = app_module.build_app
settings_from_context = app_module.settings_from_context


def _synth(outdir: Path, context: dict | None = None, environ: dict | None = None):
    app = build_app(App(outdir=str(outdir), context=context or {}), environ=environ or {})
    return app.synth()


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    return _synth(tmp_path_factory.mktemp("synth"))


def test_cdk_json_sets_exactly_the_app_defaults_that_are_not_left_to_the_profile():
    cdk_json = json.loads((REPO_ROOT / "cdk.json").read_text())
    # Keys whose default is None are left unset so that a profile (or the stack default) decides.
    assert cdk_json["context"] == {k: v for k, v in CONTEXT_DEFAULTS.items() if v is not None}
    assert cdk_json["app"].endswith("app.py")


def test_settings_defaults_leave_profile_governed_keys_to_the_stack():
    assert settings_from_context({}) == {
        "model": "bert-tiny",
        "profile": None,
        "instance_type": None,
        "initial_instance_count": None,
        "min_capacity": 1,
        "max_capacity": 4,
        "invocations_per_instance": None,
    }




def test_profile_context_sets_triton_options_count_and_scaling_target(make_profile, tmp_path):
    # GIVEN a measured profile for bert-tiny: 3 initial instances, a 2900/min scaling target, 3 model
    # instances per GPU and max_batch_size 128 (all different from the app's defaults)
    profile = make_profile(
        initial_instance_count=3, invocations_per_instance_target=2900, instance_count=3, max_batch_size=128
    ).save(tmp_path / "profile.json")

    # WHEN the app is built with -c profile=<path>
    app = build_app(App(outdir=str(tmp_path / "out"), context={"profile": str(profile)}), environ={})

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
    assert settings["profile"].initial_instance_count == 3


def test_bad_profile_file_names_the_context_key(tmp_path):
    (tmp_path / "bad.json").write_text('{"schema_version": 1}')
    with pytest.raises(ContextError, match=r"context key 'profile' must name a valid tuning profile: .*model_name"):
        settings_from_context({"profile": str(tmp_path / "bad.json")})
    with pytest.raises(ContextError, match=r"context key 'profile' must name a valid tuning profile"):
        settings_from_context({"profile": str(tmp_path / "missing.json")})


def test_settings_accept_cli_strings():
    # `cdk synth -c instance_count=3` passes strings
    settings = settings_from_context({"instance_count": "3", "max_capacity": "10", "model": "bert-large"})
    assert settings["initial_instance_count"] == 3
    assert settings["max_capacity"] == 10
    assert settings["model"] == "bert-large"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"model": "gpt-5"}, r"context key 'model' must be one of bert-tiny, .*\(got 'gpt-5'\)"),
        ({"instance_type": "g4dn.xlarge"}, r"context key 'instance_type' must look like 'ml.g4dn.xlarge'"),
        ({"instance_count": "two"}, r"context key 'instance_count' must be an integer >= 1 \(got 'two'\)"),
        ({"instance_count": 0}, r"context key 'instance_count' must be an integer >= 1 \(got 0\)"),
        ({"min_capacity": 0}, r"context key 'min_capacity' must be an integer >= 1"),
        (
            {"min_capacity": 5, "max_capacity": 2},
            r"context key 'max_capacity' must be >= 'min_capacity' \(got 2 < 5\)",
        ),
        ({"invocations_per_instance": "1.5"}, r"context key 'invocations_per_instance' must be an integer"),
    ],
)
def test_bad_context_value_names_the_key(context, message):
    with pytest.raises(ContextError, match=message):
        settings_from_context(context)


def test_app_reads_environment_for_account_and_region(tmp_path):
    # GIVEN / WHEN
    app = build_app(
        App(outdir=str(tmp_path)),
        environ={"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "eu-west-1"},
    )

    # THEN
    stack = app.node.find_child(STACK_ID)
    assert stack.account == "123456789012"
    assert stack.region == "eu-west-1"


def test_app_synth_has_no_unacknowledged_nag_findings(assembly):
    # cdk-nag v3 fails synthesis on errors; the report must also hold no warnings.
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    violations = [v for plugin in report["pluginReports"] for v in plugin["violations"]]
    assert violations == []


def test_app_synth_pinned_environment_has_no_unacknowledged_nag_findings(tmp_path):
    # Acknowledgements name resources as cdk-nag prints them: literal region/account here.
    assembly = _synth(
        tmp_path, environ={"CDK_DEFAULT_ACCOUNT": "123456789012", "CDK_DEFAULT_REGION": "us-east-1"}
    )
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert [v for plugin in report["pluginReports"] for v in plugin["violations"]] == []


def test_app_template_passes_cfn_lint(assembly, cfn_lint_errors):
    assert cfn_lint_errors(assembly.get_stack_by_name(STACK_ID).template) == []


def test_app_has_no_errors_and_warns_only_about_the_single_default_instance(assembly):
    stack = assembly.get_stack_by_name(STACK_ID)
    errors = [m.entry.data for m in stack.messages if m.entry.type == "aws:cdk:error"]
    warnings = [m.entry.data for m in stack.messages if m.entry.type == "aws:cdk:warning"]
    assert errors == []
    assert len(warnings) == 1 and "single instance" in str(warnings[0])


def test_synth_is_deterministic(tmp_path):
    # GIVEN two synths of the same app into two folders
    first = _synth(tmp_path / "a")
    second = _synth(tmp_path / "b")

    # THEN identical templates and asset manifests (asset hashes)
    for name in (f"{STACK_ID}.template.json", f"{STACK_ID}.assets.json"):
        assert (Path(first.directory) / name).read_text() == (Path(second.directory) / name).read_text()


def test_app_module_is_the_only_context_reader():
    # stacks/ and serving_constructs/ take typed props; only app.py reads context or the environment.
    for folder in ("stacks", "constructs/serving_constructs"):
        for path in (REPO_ROOT / folder).rglob("*.py"):
            text = path.read_text()
            assert "try_get_context" not in text and "os.environ" not in text, path
    assert "try_get_context" in Path(app_module.__file__).read_text()


@pytest.mark.slow
def test_cdk_cli_synth_succeeds(tmp_path):
    # GIVEN the CDK CLI as `make synth` runs it
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
    }

    # WHEN
    result = subprocess.run(
        [str(REPO_ROOT / "node_modules/.bin/cdk"), "synth", "--quiet", "-o", str(tmp_path / "cdk.out")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    # THEN
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "cdk.out" / f"{STACK_ID}.template.json").exists()


def test_app_script_reports_bad_context_without_traceback(tmp_path):
    # GIVEN the context the CDK CLI would pass for `-c max_capacity=0`
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"max_capacity": "0"}), "CDK_OUTDIR": str(tmp_path)}

    # WHEN
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "app.py")],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    # THEN
    assert result.returncode == 1
    assert "app.py: context key 'max_capacity' must be an integer >= 1 (got 0)" in result.stderr
    assert "Traceback" not in result.stderr
