"""TritonModel and ModelArtifact: the CfnModel, its environment and its least-privilege role."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Capture, Match, Template

from serving_constructs import ModelArtifact, PropsError, TritonImage, TritonModel

REPO_ROOT = Path(__file__).resolve().parents[1]


def _statements(template: Template) -> list[dict]:
    return [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def test_constructs_folder_has_no_init_py():
    # A package named `constructs` would shadow the library aws-cdk-lib imports (aws/aws-cdk#19301).
    assert not (REPO_ROOT / "constructs" / "__init__.py").exists()


def test_model_renders_cfn_model_with_image_artifact_and_default_model(stack, bucket_artifact):
    # GIVEN / WHEN
    TritonModel(stack, "Model", artifact=bucket_artifact(stack))

    # THEN
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::SageMaker::Model", 1)
    role = Capture()
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "ExecutionRoleArn": {"Fn::GetAtt": [role, "Arn"]},
            "EnableNetworkIsolation": True,
            "ModelName": Match.absent(),
            "VpcConfig": Match.absent(),
            "PrimaryContainer": {
                "Image": Match.object_like({"Fn::Join": Match.any_value()}),
                "ModelDataUrl": "s3://models-bucket/bert/model.tar.gz",
                "Mode": "SingleModel",
                "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "bert"},
            },
        },
    )
    assert template.to_json()["Resources"][role.as_string()]["Type"] == "AWS::IAM::Role"


def test_model_is_the_default_child(stack, bucket_artifact):
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    assert model.node.default_child is not None
    assert model.node.default_child.node.id == "Resource"


def test_model_environment_merges_user_env_and_triton_settings(stack, bucket_artifact):
    # GIVEN / WHEN
    TritonModel(
        stack,
        "Model",
        artifact=bucket_artifact(stack),
        default_model_name="ensemble",
        environment={"MY_FLAG": "1"},
        log_verbose=1,
        shm_default_byte_size=16_777_216,
        shm_growth_byte_size=1_048_576,
    )

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {
                    "Environment": {
                        "MY_FLAG": "1",
                        "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "ensemble",
                        "SAGEMAKER_TRITON_LOG_VERBOSE": "1",
                        "SAGEMAKER_TRITON_SHM_DEFAULT_BYTE_SIZE": "16777216",
                        "SAGEMAKER_TRITON_SHM_GROWTH_BYTE_SIZE": "1048576",
                    }
                }
            )
        },
    )


def test_model_fails_with_every_problem_listed(stack):
    # GIVEN an artifact that does not name its model, and bad values
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    with pytest.raises(PropsError) as error:
        TritonModel(
            stack,
            "Model",
            artifact=ModelArtifact.from_bucket(bucket, "bert/model.tar.gz"),
            environment={"SAGEMAKER_TRITON_LOG_VERBOSE": "3"},
            log_verbose=-1,
            shm_default_byte_size=0,
            security_groups=[],
        )

    # THEN one error names them all
    message = str(error.value)
    assert message.startswith("Invalid TritonModel props: ")
    assert "default_model_name is required" in message
    assert "log_verbose must be >= 0 (got -1)" in message
    assert "shm_default_byte_size must be >= 1 bytes (got 0 bytes)" in message
    assert (
        "environment must not set SAGEMAKER_TRITON_LOG_VERBOSE (use the log_verbose prop instead)" in message
    )
    assert "vpc_subnets and security_groups need vpc" in message


def test_default_role_has_no_wildcard_resource_except_put_metric_data(stack, bucket_artifact):
    # GIVEN / WHEN
    TritonModel(stack, "Model", artifact=bucket_artifact(stack))

    # THEN
    template = Template.from_stack(stack)
    statements = _statements(template)
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert wildcard == [
        {
            "Action": "cloudwatch:PutMetricData",
            "Condition": {"StringEquals": {"cloudwatch:namespace": "/aws/sagemaker/Endpoints"}},
            "Effect": "Allow",
            "Resource": "*",
        }
    ]
    assert "arn:aws:s3:::*" not in json.dumps(template.to_json())
    template.has_resource_properties("AWS::IAM::Role", {"ManagedPolicyArns": Match.absent()})


def test_default_role_reads_exactly_the_artifact_object(stack, bucket_artifact):
    # GIVEN / WHEN
    TritonModel(stack, "Model", artifact=bucket_artifact(stack))

    # THEN the only S3 statement is GetObject on the one key
    s3_statements = [s for s in _statements(Template.from_stack(stack)) if "s3:" in json.dumps(s["Action"])]
    assert s3_statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::models-bucket/bert/model.tar.gz"]]
            },
        }
    ]


def test_default_role_writes_only_endpoint_logs_in_its_account_and_region(stack, bucket_artifact):
    # GIVEN / WHEN
    TritonModel(stack, "Model", artifact=bucket_artifact(stack))

    # THEN
    log_statements = [
        s for s in _statements(Template.from_stack(stack)) if "logs:" in json.dumps(s["Action"])
    ]
    resources = json.dumps([s["Resource"] for s in log_statements])
    assert len(log_statements) == 2
    assert resources.count(":log-group:/aws/sagemaker/Endpoints/*") == 2
    assert '"Ref": "AWS::Region"' in resources and '"Ref": "AWS::AccountId"' in resources


def test_model_depends_on_role_policy(stack, bucket_artifact):
    # GIVEN / WHEN
    TritonModel(stack, "Model", artifact=bucket_artifact(stack))

    # THEN the artifact grant exists before any endpoint can start
    template = Template.from_stack(stack)
    policy_id = next(iter(template.find_resources("AWS::IAM::Policy")))
    model = next(iter(template.find_resources("AWS::SageMaker::Model").values()))
    assert model["DependsOn"] == [policy_id]


def test_kms_encrypted_bucket_grants_decrypt(stack):
    # GIVEN an artifact in a KMS-encrypted bucket
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Bucket", encryption_key=key, enforce_ssl=True)

    # WHEN
    TritonModel(stack, "Model", artifact=ModelArtifact.from_bucket(bucket, "m.tar.gz", model_name="m"))

    # THEN
    actions = json.dumps([s["Action"] for s in _statements(Template.from_stack(stack))])
    assert "kms:Decrypt" in actions


def test_from_asset_uploads_file_and_grants_its_object(stack, model_archive):
    # GIVEN / WHEN
    TritonModel(stack, "Model", artifact=ModelArtifact.from_asset(model_archive, model_name="tiny"))

    # THEN the URL points into the bootstrap bucket and the grant names the exact asset key
    template = Template.from_stack(stack)
    model = next(iter(template.find_resources("AWS::SageMaker::Model").values()))
    url = json.dumps(model["Properties"]["PrimaryContainer"]["ModelDataUrl"])
    assert "cdk-hnb659fds-assets" in url and url.endswith('.gz"}')
    s3_statement = next(s for s in _statements(template) if s["Action"] == "s3:GetObject")
    assert url.split("/")[-1].rstrip('"}') in json.dumps(s3_statement["Resource"])


def test_custom_role_is_used_and_granted(stack, bucket_artifact):
    # GIVEN
    role = iam.Role(stack, "MyRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))

    # WHEN
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack), role=role)

    # THEN
    assert model.role is role
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::IAM::Role", 1)
    assert any(s["Action"] == "s3:GetObject" for s in _statements(template))


def test_model_in_vpc_creates_security_group_and_vpc_config(stack, bucket_artifact):
    # GIVEN
    vpc = ec2.Vpc(stack, "Vpc", max_azs=2, nat_gateways=1)

    # WHEN
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack), vpc=vpc)

    # THEN
    template = Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::SecurityGroup", 1)
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {"VpcConfig": {"SecurityGroupIds": [Match.any_value()], "Subnets": Match.any_value()}},
    )
    assert len(model.connections.security_groups) == 1
    actions = json.dumps([s["Action"] for s in _statements(template)])
    assert "ec2:CreateNetworkInterface" in actions


def test_connections_outside_vpc_raises(stack, bucket_artifact):
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    with pytest.raises(ValueError, match="needs a model in a VPC"):
        _ = model.connections


def test_network_isolation_can_be_turned_off(stack, bucket_artifact):
    TritonModel(stack, "Model", artifact=bucket_artifact(stack), network_isolation=False)
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Model", {"EnableNetworkIsolation": False}
    )


def test_grant_pass_role_names_the_execution_role(stack, bucket_artifact):
    # GIVEN
    model = TritonModel(
        stack, "Model", artifact=bucket_artifact(stack), image=TritonImage.for_region("25.09")
    )
    user = iam.User(stack, "Deployer")

    # WHEN
    model.grant_pass_role(user)

    # THEN
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "Users": Match.any_value(),
            "PolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Action": "iam:PassRole",
                            "Resource": {"Fn::GetAtt": [Match.string_like_regexp("ModelRole"), "Arn"]},
                        }
                    )
                ]
            },
        },
    )


def test_model_template_passes_cfn_lint(stack, bucket_artifact, cfn_lint_errors):
    TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    assert cfn_lint_errors(Template.from_stack(stack).to_json()) == []


@pytest.mark.parametrize("in_vpc", [False, True], ids=["no-vpc", "vpc"])
@pytest.mark.parametrize(
    "env", [None, Environment(account="123456789012", region="eu-west-1")], ids=["agnostic", "pinned"]
)
def test_model_has_no_unacknowledged_nag_findings(bucket_artifact, nag_violations, in_vpc, env):
    # GIVEN a model (in a VPC: the widest role) in an environment-agnostic or -specific stack
    app = App()
    stack = Stack(app, "Nag", env=env)
    vpc = (
        ec2.Vpc.from_vpc_attributes(
            stack,
            "Vpc",
            vpc_id="vpc-0123456789abcdef0",
            availability_zones=["eu-west-1a", "eu-west-1b"],
            private_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
        )
        if in_vpc
        else None
    )
    TritonModel(stack, "Model", artifact=bucket_artifact(stack), vpc=vpc)

    # THEN
    assert nag_violations(app) == []


def test_model_is_grantable(stack, bucket_artifact):
    # GIVEN another bucket the model must read
    model = TritonModel(stack, "Model", artifact=bucket_artifact(stack))
    other = s3.Bucket.from_bucket_name(stack, "Other", "other-bucket")

    # WHEN the model itself is the grantee
    other.grant_read(model, "vocab.txt")

    # THEN its execution role gets the grant
    resources = json.dumps([s["Resource"] for s in _statements(Template.from_stack(stack))])
    assert "other-bucket/vocab.txt" in resources


def test_model_in_isolated_vpc_uses_isolated_subnets(stack, bucket_artifact):
    # GIVEN a VPC with isolated subnets only (SageMaker through VPC endpoints, no NAT)
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="Isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )

    # WHEN
    TritonModel(stack, "Model", artifact=bucket_artifact(stack), vpc=vpc)

    # THEN
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "VpcConfig": Match.object_like(
                {
                    "Subnets": [
                        {"Ref": Match.string_like_regexp("^VpcIsolatedSubnet1")},
                        {"Ref": Match.string_like_regexp("^VpcIsolatedSubnet2")},
                    ]
                }
            )
        },
    )


# --- ModelArtifact.bind(): a binding object, and exactly the grant it needs --------------------


def test_bind_archive_returns_a_frozen_binding_and_grants_the_object(stack, bucket_artifact):
    import dataclasses

    from serving_constructs import Compression, ModelDataBinding, S3DataType

    # GIVEN a role and an archive in S3
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))

    # WHEN
    binding = bucket_artifact(stack).bind(stack, role)

    # THEN
    assert binding == ModelDataBinding(
        "s3://models-bucket/bert/model.tar.gz",
        S3DataType.OBJECT,
        Compression.GZIP,
        "bert",
        bucket_name="models-bucket",
        object_key="bert/model.tar.gz",
    )
    assert binding.is_archive and not binding.is_prefix
    with pytest.raises(dataclasses.FrozenInstanceError):
        binding.s3_uri = "s3://elsewhere/x.tar.gz"  # type: ignore[misc]
    assert [s["Action"] for s in _statements(Template.from_stack(stack))] == ["s3:GetObject"]


def test_binding_refuses_an_uncompressed_single_object():
    from serving_constructs import Compression, ModelDataBinding, S3DataType

    with pytest.raises(ValueError, match="one S3 object must be a gzip tar archive"):
        ModelDataBinding("s3://b/model.onnx", S3DataType.OBJECT, Compression.NONE)


def test_from_bucket_prefix_renders_model_data_source_uncompressed(stack):
    # GIVEN an uncompressed Triton repository under a prefix
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")

    # WHEN
    model = TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket_prefix(bucket, "repos/bert", model_name="bert")
    )

    # THEN ModelDataSource.S3DataSource (S3Prefix, CompressionType None), no ModelDataUrl
    assert model.model_data.is_prefix
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": Match.object_like(
                {
                    "ModelDataUrl": Match.absent(),
                    "ModelDataSource": {
                        "S3DataSource": {
                            "S3Uri": "s3://models-bucket/repos/bert/",
                            "S3DataType": "S3Prefix",
                            "CompressionType": "None",
                        }
                    },
                }
            )
        },
    )


def test_from_bucket_prefix_grants_objects_under_the_prefix_and_listing_of_it(stack):
    # GIVEN / WHEN
    bucket = s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
    TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket_prefix(bucket, "repos/bert/", model_name="bert")
    )

    # THEN GetObject on prefix/* and ListBucket restricted to the prefix, nothing else on S3
    s3_statements = [s for s in _statements(Template.from_stack(stack)) if "s3:" in json.dumps(s["Action"])]
    assert s3_statements == [
        {
            "Action": "s3:GetObject",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::models-bucket/repos/bert/*"]]
            },
        },
        {
            "Action": "s3:ListBucket",
            "Condition": {"StringLike": {"s3:prefix": ["repos/bert/*"]}},
            "Effect": "Allow",
            "Resource": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":s3:::models-bucket"]]},
        },
    ]


@pytest.mark.parametrize("bucket_kind", ["imported", "created"])
def test_from_bucket_prefix_model_has_no_unacknowledged_nag_findings(nag_violations, bucket_kind):
    # GIVEN a prefix in an imported bucket, or in one the stack creates (a token ARN)
    app = App()
    stack = Stack(app, "Nag")
    bucket = (
        s3.Bucket.from_bucket_name(stack, "Models", "models-bucket")
        if bucket_kind == "imported"
        else s3.Bucket(
            stack,
            "Models",
            enforce_ssl=True,
            server_access_logs_bucket=s3.Bucket.from_bucket_name(stack, "Logs", "logs"),
        )
    )
    TritonModel(
        stack, "Model", artifact=ModelArtifact.from_bucket_prefix(bucket, "repos/bert", model_name="bert")
    )

    # THEN the prefix wildcard is acknowledged with its reason, nothing else is
    assert nag_violations(app) == []


def test_from_asset_reads_the_archive_and_defaults_to_its_only_model(model_archive):
    artifact = ModelArtifact.from_asset(model_archive)
    assert (artifact.model_name, artifact.model_names) == ("tiny", ("tiny",))


def test_from_asset_model_name_must_be_in_the_archive(model_archive):
    with pytest.raises(
        PropsError, match=r"model_name 'bert' is not a model in '.*model\.tar\.gz' \(it holds: tiny\)"
    ):
        ModelArtifact.from_asset(model_archive, model_name="bert")


def test_default_model_name_not_in_the_archive_is_a_synth_error(stack, model_archive):
    with pytest.raises(
        PropsError,
        match=r"default_model_name 'tinny' is not a model in the archive '.*model\.tar\.gz' \(it holds: tiny\) — "
        r"pass one of them \(did you mean 'tiny'\?\)",
    ):
        TritonModel(
            stack, "Model", artifact=ModelArtifact.from_asset(model_archive), default_model_name="tinny"
        )


def test_default_model_name_not_in_a_built_spec_is_a_synth_error(stack):
    from model_build.examples import get_example

    with pytest.raises(
        PropsError,
        match=r"default_model_name 'bert' is not a model in the archive built from the spec 'bert-tiny'",
    ):
        TritonModel(
            stack,
            "Model",
            artifact=ModelArtifact.from_build(get_example("bert-tiny")),
            default_model_name="bert",
        )


def test_from_asset_refuses_a_folder_with_the_build_command(tmp_path):
    # GIVEN an unpacked Triton repository
    (tmp_path / "tiny").mkdir()
    with pytest.raises(
        PropsError,
        match=r"path '.*' is a folder, but SageMaker's single-model endpoints take one model\.tar\.gz archive — "
        r"build one with `python -m model_build build",
    ):
        ModelArtifact.from_asset(tmp_path)


@pytest.mark.parametrize("name", ["model.onnx", "model.zip", "model.tar"])
def test_from_asset_refuses_a_file_that_is_not_tar_gz(tmp_path, name):
    (tmp_path / name).write_bytes(b"\x08\x01")
    with pytest.raises(
        PropsError, match=rf"path '.*{name}' is not a \.tar\.gz archive .*`python -m model_build build"
    ):
        ModelArtifact.from_asset(tmp_path / name)


def test_from_asset_refuses_a_corrupt_archive(tmp_path):
    archive = tmp_path / "model.tar.gz"
    archive.write_bytes(b"not gzip at all")
    with pytest.raises(PropsError, match=r"'.*model\.tar\.gz' is not a readable gzip tar archive"):
        ModelArtifact.from_asset(archive)


def test_from_asset_refuses_an_archive_with_config_at_its_root(tmp_path):
    import tarfile

    config = tmp_path / "config.pbtxt"
    config.write_text('name: "tiny"\n')
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(config, arcname="config.pbtxt")
    with pytest.raises(
        PropsError,
        match=r"holds no model folder \(config\.pbtxt at the archive root: the Triton DLC expects <model>/config\.pbtxt\)",
    ):
        ModelArtifact.from_asset(archive)


@pytest.mark.parametrize(
    ("backend", "kind", "needs_gpu"),
    [("onnxruntime", "KIND_CPU", False), ("onnxruntime", "KIND_GPU", True), ("tensorrt", "KIND_CPU", True)],
)
def test_build_artifact_needs_a_gpu_for_gpu_instance_groups_or_a_tensorrt_engine(backend, kind, needs_gpu):
    # GIVEN a spec (nothing is built: requires_gpu reads the spec and model_build.backends only)
    import dataclasses

    from model_build.examples import get_example

    spec = get_example("bert-tiny")
    spec = dataclasses.replace(
        spec, backend=backend, triton=dataclasses.replace(spec.triton, instance_kind=kind)
    )

    # THEN a TensorRT engine needs an NVIDIA GPU whatever its instance groups say
    assert ModelArtifact.from_build(spec).requires_gpu is needs_gpu
