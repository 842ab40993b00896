"""ServingPipelineStack (CDK Pipelines), synthesized through app.py: stage order, gates, synth step, cfn-lint, cdk-nag.

One module-scoped synthesis of the app with ``pipeline=true`` and the smallest models (bert-tiny only),
staging and production in two accounts other than the pipeline's. CodePipeline and CodeBuild do not
run here (moto has neither): the pipeline is asserted as synthesized; its stages are rehearsed
locally by ``make pipeline-rehearsal`` (rehearsal/pipeline.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Stack, pipelines
from aws_cdk.assertions import Capture, Match, Template

import app as app_module  # app.py at the repository root (tests/conftest.py puts it on sys.path)
from model_build.cache import DEFAULT_CACHE_DIR
from serving_constructs import PropsError, defaults
from stacks.pipeline_engines import ENGINE_CACHE_DIR, EngineBuild
from stacks.pipeline_smoke import ENV_ENDPOINT, ENV_EXPECTED_CONFIG, ENV_ROLE_ARN, smoke_test_role_name
from stacks.pipeline_stack import STAGE_ORDER, PipelineSource, ServingPipelineStack, synth_command
from stacks.realtime_stack import realtime_stack_id

PIPELINE, STAGING, PRODUCTION = "111111111111", "222222222222", "333333333333"
CONNECTION = f"arn:aws:codestar-connections:us-east-1:{PIPELINE}:connection/0a1b2c3d-4e5f"
TOPIC = f"arn:aws:sns:us-east-1:{PIPELINE}:pipeline-approvals"
CONTEXT = {
    "model": "bert-tiny",
    "async_model": "none",
    "mme_models": "none",
    "pipeline": "true",
    "pipeline_source": "github:example-org/triton-serving@main",
    "pipeline_connection_arn": CONNECTION,
    "account": PIPELINE,
    "region": "us-east-1",
    "staging_account": STAGING,
    "production_account": PRODUCTION,
    "pipeline_approval_topic": TOPIC,
}
SERVING_STACK_ID = realtime_stack_id("bert-tiny")


@pytest.fixture(scope="module")
def app(tmp_path_factory) -> App:
    app = app_module.build_app(App(outdir=str(tmp_path_factory.mktemp("pipeline")), context=CONTEXT))
    app.synth()
    return app


@pytest.fixture(scope="module")
def stack(app) -> ServingPipelineStack:
    (stack,) = app_module.stacks_of(app)
    assert isinstance(stack, ServingPipelineStack)
    return stack


@pytest.fixture(scope="module")
def template(stack) -> Template:
    return Template.from_stack(stack)


def _pipeline_stages(template: Template) -> list[dict]:
    (pipeline,) = template.find_resources("AWS::CodePipeline::Pipeline").values()
    return pipeline["Properties"]["Stages"]


def _stage(template: Template, name: str) -> dict:
    return next(stage for stage in _pipeline_stages(template) if stage["Name"] == name)


def _synth_buildspec(template: Template) -> dict:
    projects = template.find_resources(
        "AWS::CodeBuild::Project", {"Properties": {"Description": Match.string_like_regexp("/Build/Synth$")}}
    )
    (project,) = projects.values()
    return json.loads(project["Properties"]["Source"]["BuildSpec"])


def test_app_with_the_pipeline_key_composes_only_the_pipeline_stack(app, stack):
    assert [s.stack_name for s in app_module.stacks_of(app)] == [app_module.PIPELINE_STACK_ID]
    assert (stack.account, stack.region) == (PIPELINE, "us-east-1")


def test_pipeline_stages_run_source_build_update_assets_staging_production(template):
    assert [stage["Name"] for stage in _pipeline_stages(template)] == list(STAGE_ORDER)


def test_stages_hold_the_apps_serving_stacks_in_their_own_accounts(stack):
    # GIVEN the two stages  THEN each composes the app's serving stack, in its account and region
    for stage, account in ((stack.staging, STAGING), (stack.production, PRODUCTION)):
        (serving,) = stage.serving_stacks
        assert serving.node.id == SERVING_STACK_ID
        assert (serving.account, serving.region) == (account, "us-east-1")
        assert serving.stack_name == f"{stage.stage_name}-{SERVING_STACK_ID}"
        Template.from_stack(serving).resource_count_is("AWS::SageMaker::Endpoint", 1)


def test_production_checks_permissions_then_waits_for_approval_before_deploying(template):
    # GIVEN the Production stage's actions by run order
    actions = sorted(_stage(template, "Production")["Actions"], key=lambda action: action["RunOrder"])
    names = [action["Name"] for action in actions]

    # THEN the IAM check, then the approval, then the stacks' deploy actions
    assert names[:3] == [
        "CheckPermissionsBroadening.Check",
        "CheckPermissionsBroadening.Confirm",
        "ApproveProduction",
    ]
    assert [a["ActionTypeId"]["Provider"] for a in actions[:3]] == ["CodeBuild", "Manual", "Manual"]
    deploys = [a for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation"]
    assert deploys and min(a["RunOrder"] for a in deploys) > actions[2]["RunOrder"]


def test_approval_notifies_the_topic_and_says_what_to_look_at(template):
    approval = next(a for a in _stage(template, "Production")["Actions"] if a["Name"] == "ApproveProduction")
    assert approval["Configuration"]["NotificationArn"] == TOPIC
    for words in ("smoke test", "CheckPermissionsBroadening", "change sets"):
        assert words in approval["Configuration"]["CustomData"]


def test_staging_deploys_without_a_gate(template):
    providers = {a["ActionTypeId"]["Provider"] for a in _stage(template, "Staging")["Actions"]}
    assert "Manual" not in providers


def _stage_deployments(stack) -> dict[str, pipelines.StageDeployment]:
    return {stage.stage_name: stage for wave in stack.pipeline.waves for stage in wave.stages}


def test_every_serving_stack_of_both_stages_is_smoke_tested_after_its_deploy(stack):
    # GIVEN the pipeline's stage deployments, walked as the local rehearsal walks them
    deployments = _stage_deployments(stack)
    assert list(deployments) == ["Staging", "Production"]

    for stage in (stack.staging, stack.production):
        # THEN each serving stack has one post step: the smoke test, fed by that stack's outputs
        steps = {steps.stack: steps for steps in deployments[stage.stage_name].stack_steps}
        assert set(steps) == set(stage.serving_stacks)
        for serving, stack_steps in steps.items():
            (smoke,) = stack_steps.post
            assert isinstance(smoke, pipelines.CodeBuildStep)
            outputs = smoke.env_from_cfn_outputs
            assert {name: output.output_name for name, output in outputs.items()} == {
                ENV_ENDPOINT: "EndpointName",
                ENV_EXPECTED_CONFIG: "EndpointConfigName",
                ENV_ROLE_ARN: "SmokeTestRoleArn",
            }
            deployment = next(d for d in deployments[stage.stage_name].stacks if d.stack_name == serving.stack_name)
            assert all(output.is_produced_by(deployment) for output in outputs.values())
            assert any("python -m operations check" in command for command in smoke.commands)


def test_smoke_steps_run_after_the_deploy_of_their_stack(template):
    for name in ("Staging", "Production"):
        actions = _stage(template, name)["Actions"]
        deploy = max(a["RunOrder"] for a in actions if a["ActionTypeId"]["Provider"] == "CloudFormation")
        smoke = [a for a in actions if "SmokeTest" in a["Name"]]
        assert len(smoke) == 1 and smoke[0]["RunOrder"] > deploy
        # the endpoint name and the expected config come from the deployed stack's outputs
        variables = json.loads(smoke[0]["Configuration"]["EnvironmentVariables"])
        assert {v["name"] for v in variables} >= {ENV_ENDPOINT, ENV_EXPECTED_CONFIG, ENV_ROLE_ARN}
        assert all(v["value"].startswith("#{") for v in variables if v["name"] in (ENV_ENDPOINT, ENV_ROLE_ARN))


def test_smoke_step_roles_may_only_assume_their_stages_smoke_test_role(stack, template):
    # GIVEN the policies of the smoke steps' CodeBuild roles (in the pipeline's stack)
    for stage, account in ((stack.staging, STAGING), (stack.production, PRODUCTION)):
        (serving,) = stage.serving_stacks
        role = f":iam::{account}:role/{smoke_test_role_name(serving)}"
        role_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, role]]}
        # THEN one statement grants sts:AssumeRole on exactly that stack's role, in the stage's account
        template.has_resource_properties(
            "AWS::IAM::Policy",
            {
                "PolicyDocument": {
                    "Statement": Match.array_with(
                        [{"Action": "sts:AssumeRole", "Effect": "Allow", "Resource": role_arn}]
                    )
                }
            },
        )
        # and the stage stack holds that role, trusted by the pipeline's account only
        (role,) = Template.from_stack(serving).find_resources(
            "AWS::IAM::Role", {"Properties": {"RoleName": smoke_test_role_name(serving)}}
        ).values()
        (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert f":iam::{PIPELINE}:root" in json.dumps(trust["Principal"])


def test_source_is_a_codestar_connection_and_the_template_holds_no_secret(template):
    (action,) = _stage(template, "Source")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    configuration = action["Configuration"]
    assert (configuration["ConnectionArn"], configuration["FullRepositoryId"], configuration["BranchName"]) == (
        CONNECTION,
        "example-org/triton-serving",
        "main",
    )
    text = json.dumps(template.to_json())
    assert "OAuthToken" not in text and "secretsmanager" not in text


def test_synth_step_installs_with_make_setup_runs_the_fast_tests_then_synthesizes_with_the_apps_context(
    stack, template
):
    # GIVEN the synth step as the pipeline holds it, and as CodeBuild will run it
    step = stack.pipeline.synth
    assert isinstance(step, pipelines.CodeBuildStep)
    phases = _synth_buildspec(template)["phases"]

    # THEN install with the README's command, the fast tests, then cdk synth with the same context
    assert step.install_commands == ["make setup"]
    assert phases["install"]["commands"] == ["make setup"]
    assert phases["build"]["commands"] == step.commands
    assert step.commands[0] == "make test-fast"
    synth = step.commands[-1]
    assert synth == synth_command(stack.synth_context)
    assert synth.startswith("node_modules/.bin/cdk synth ")
    for key, value in CONTEXT.items():
        assert f"-c {key}={value}" in synth
    # no engine step: the pipeline ships the ONNX path, and its synth says so
    assert "-c mme_tensorrt=off" in synth
    assert stack.engine_step is None
    assert any(c.startswith("echo ") and "ships the ONNX path" in c for c in step.commands)
    assert phases["install"]["runtime-versions"] == {"python": "3.11", "nodejs": "20"}
    # THEN torch==2.13.0 installs from PyPI's CPU twin, not GBs of CUDA packages
    assert step.env["PIP_EXTRA_INDEX_URL"] == "https://download.pytorch.org/whl/cpu"
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Environment": Match.object_like(
                {
                    "EnvironmentVariables": Match.array_with(
                        [{"Name": "PIP_EXTRA_INDEX_URL", "Type": "PLAINTEXT", "Value": step.env["PIP_EXTRA_INDEX_URL"]}]
                    )
                }
            ),
            "Source": Match.object_like({"BuildSpec": Match.string_like_regexp("make test-fast")}),
        },
    )


def test_synth_step_keeps_the_model_build_cache_in_an_encrypted_ssl_only_bucket_of_the_stack(template):
    # GIVEN the synth project's S3 cache
    bucket = Capture()
    template.has_resource_properties(
        "AWS::CodeBuild::Project",
        {
            "Description": Match.string_like_regexp("/Build/Synth$"),
            "Cache": {"Type": "S3", "Location": {"Fn::Join": ["/", [{"Ref": bucket}, "synth"]]}},
        },
    )
    # THEN it caches the model build cache folder, in a bucket of this stack that is encrypted and TLS-only
    assert _synth_buildspec(template)["cache"]["paths"] == [f"{DEFAULT_CACHE_DIR}/**/*"]
    cache_bucket = template.to_json()["Resources"][bucket.as_string()]
    assert cache_bucket["Type"] == "AWS::S3::Bucket"
    assert cache_bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert cache_bucket["Properties"]["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket.as_string()},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_cross_account_stages_get_a_rotated_key_on_the_artifact_bucket(template):
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    template.has_resource_properties(
        "AWS::CodePipeline::Pipeline",
        {"ArtifactStore": Match.object_like({"EncryptionKey": Match.object_like({"Type": "KMS"})})},
    )


def test_pipeline_stack_and_stage_stacks_pass_cfn_lint(stack, cfn_lint_errors):
    # GIVEN the pipeline's template and every stage stack's
    templates = {stack.stack_name: Template.from_stack(stack).to_json()}
    for stage in (stack.staging, stack.production):
        for serving in stage.serving_stacks:
            templates[serving.stack_name] = Template.from_stack(serving).to_json()

    # WHEN linted for the pipeline's region
    found = {name: cfn_lint_errors(body, regions=["us-east-1"]) for name, body in templates.items()}

    # THEN no errors, and no warnings but W3005 on the two DependsOn that CDK Pipelines writes next to a
    # GetAtt of the same role (the pipeline's and the permissions check's Lambda's): redundant, harmless
    expected = {name: [] for name in templates}
    expected[stack.stack_name] = [
        e for e in found[stack.stack_name] if e.startswith("[W3005") and ("'PipelineRole" in e or "AutoApprove" in e)
    ]
    assert len(expected[stack.stack_name]) <= 2
    assert found == expected


def test_pipeline_synth_has_no_unacknowledged_nag_findings(app):
    # cdk-nag checks the pipeline stack and the stage stacks (nested assemblies) alike.
    report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
    assert [v["ruleName"] for plugin in report["pluginReports"] for v in plugin["violations"]] == []


def test_every_nag_acknowledgement_of_the_pipeline_gives_a_reason(stack):
    acknowledgements = [
        entry.data
        for construct in stack.node.find_all()
        for entry in construct.node.metadata
        if "acknowledg" in str(entry.type).lower()
    ]
    assert acknowledgements
    assert all(len(str(data)) > 40 for data in acknowledgements)


def test_synth_is_deterministic(app, tmp_path):
    # GIVEN the same context composed again into another folder (without cdk-nag: it writes no template)
    settings = app_module.settings_from_context(CONTEXT)
    second = App(outdir=str(tmp_path), context=CONTEXT)
    app_module.compose_pipeline(second, settings, app_module.stack_plans(settings), CONTEXT)
    second.synth()

    # THEN the same templates and asset manifests, the pipeline's and every stage's
    first_dir = Path(app.outdir)
    names = [
        path.relative_to(first_dir)
        for path in sorted(first_dir.rglob("*.json"))
        if path.name.endswith((".template.json", ".assets.json"))
    ]
    assert len(names) == 6  # the pipeline and one serving stack per stage, a template and assets each
    for name in names:
        assert (first_dir / name).read_text() == (tmp_path / name).read_text(), name


def test_pipeline_source_factories_refuse_bad_props_naming_each():
    with pytest.raises(PropsError, match=r"repository must be 'owner/name' \(got 'no-slash'\).*connection_arn"):
        PipelineSource.github(repository="no-slash", connection_arn="ghp_token")
    with pytest.raises(PropsError, match=r"repository_name .*'bad name'.*branch must be .*'a..b'"):
        PipelineSource.codecommit(repository_name="bad name", branch="a..b")


def test_codecommit_source_binds_to_the_named_repository():
    stack = Stack(App(), "Source")
    source = PipelineSource.codecommit(repository_name="triton-serving", branch="release")
    step = source.bind(stack)
    assert isinstance(step, pipelines.CodePipelineSource)
    assert source.describe() == "codecommit:triton-serving@release"
    assert stack.node.find_child("SourceRepository") is not None


def test_pipeline_settings_default_the_stage_accounts_to_the_pipelines_and_ship_the_onnx_path():
    # GIVEN a CodeCommit source and no stage accounts  WHEN the app reads the context
    settings = app_module.settings_from_context(
        {
            **CONTEXT,
            "pipeline_source": "codecommit:triton-serving",
            "pipeline_connection_arn": None,
            "staging_account": None,
            "production_account": None,
            "pipeline_approval_topic": None,
            "mme_models": "resnet-tiny",
        }
    )

    # THEN the branch defaults to main, both stages go to the pipeline's account and region, and the
    # multi-model stack leaves the TensorRT engine out (no engine step: the ONNX path)
    pipeline = settings["pipeline"]
    assert pipeline["source"] == PipelineSource.codecommit(repository_name="triton-serving", branch="main")
    assert (pipeline["staging"].account, pipeline["production"].account) == (PIPELINE, PIPELINE)
    assert pipeline["staging"].region == pipeline["production"].region == "us-east-1"
    assert pipeline["tensorrt"] is None and settings["multi_model"]["tensorrt"] == "off"


def test_without_the_pipeline_key_the_app_has_no_pipeline():
    settings = app_module.settings_from_context({"model": "bert-tiny", "mme_models": "none"})
    assert settings["pipeline"] is None


def test_synth_context_renders_every_set_key_as_the_cdk_cli_passes_it():
    context = {"model": ["bert-tiny", "bert-base"], "pipeline": True, "min_capacity": 1, "profile": None, "other": 1}
    assert app_module.synth_context(context) == {"model": "bert-tiny,bert-base", "pipeline": "true", "min_capacity": "1"}
    assert synth_command({"model": "a b", "pipeline": "true"}) == (
        "node_modules/.bin/cdk synth --quiet -c 'model=a b' -c pipeline=true"
    )


def test_with_the_engine_switch_on_the_engine_step_feeds_the_synth_step_which_serves_the_engine():
    # GIVEN the pipeline composed with the TensorRT engine step (composed only: nothing is synthesized)
    settings = app_module.settings_from_context(CONTEXT)
    build = EngineBuild(
        image_uri=f"{PIPELINE}.dkr.ecr.us-east-1.amazonaws.com/tensorrt:{defaults.triton_version()}-py3",
        models="resnet-tiny",
    )
    stack = ServingPipelineStack(
        App(),
        "Pipeline",
        source=settings["pipeline"]["source"],
        plans=app_module.stack_plans(settings),
        synth_context={"model": "bert-tiny"},
        tensorrt=build,
        env=settings["env"],
    )

    # THEN the engine step's output is an input of the synth step, copied into the build cache before
    # cdk synth, which serves the engine (mme_tensorrt=on)
    synth = stack.pipeline.synth
    assert isinstance(synth, pipelines.CodeBuildStep) and stack.engine_step is not None
    assert {i.directory: i.file_set.producer for i in synth.inputs if i.directory == ENGINE_CACHE_DIR} == {
        ENGINE_CACHE_DIR: stack.engine_step
    }
    copy = next(i for i, c in enumerate(synth.commands) if ENGINE_CACHE_DIR in c and DEFAULT_CACHE_DIR in c)
    assert copy < len(synth.commands) - 1
    assert "-c mme_tensorrt=on" in synth.commands[-1] and "-c mme_models=resnet-tiny" in synth.commands[-1]
