"""ModelPrefix: one copy function per stack, one custom resource per archive, exact IAM, nag and cfn-lint clean.

One stack per module (two prefixes: a default hardened bucket with a local archive and an S3
archive, and an imported bucket with a KMS key), synthesized once under cdk-nag; the tests read
its template.
"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Match, Template

from serving_constructs import ModelArtifact, ModelPrefix


@dataclass
class Synth:
    stack: Stack
    models: ModelPrefix
    encrypted: ModelPrefix
    client: iam.Role
    raw: dict[str, Any]
    findings: list[str]

    @property
    def template(self) -> Template:
        return Template.from_json(self.raw)

    def logical_id(self, construct: Any) -> str:
        return str(self.stack.resolve(construct.node.default_child.logical_id))

    def statements(self, role: Any) -> list[dict[str, Any]]:
        """Every statement of the inline and overflow policies attached to ``role``."""
        ref = {"Ref": self.logical_id(role)}
        return [
            statement
            for resource in self.raw["Resources"].values()
            if resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
            and ref in resource["Properties"].get("Roles", [])
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        ]


def _archive(folder: Path, model: str) -> Path:
    """A model archive whose bytes depend on its content only (no mtimes), like model_build's."""
    config = f'name: "{model}"\nbackend: "onnxruntime"\n'.encode()
    path = folder / f"{model}.tar.gz"
    with gzip.GzipFile(path, "wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        info = tarfile.TarInfo(f"{model}/config.pbtxt")
        info.size = len(config)
        tar.addfile(info, io.BytesIO(config))
    return path


def _app(folder: Path) -> tuple[App, Stack, ModelPrefix, ModelPrefix, iam.Role]:
    app = App(outdir=str(folder / "cdk.out"))
    stack = Stack(app, "Models")
    models = ModelPrefix(stack, "Models")
    models.add_archive("resnet_pt_v0.tar.gz", ModelArtifact.from_asset(_archive(folder, "resnet")))
    source = s3.Bucket.from_bucket_name(stack, "Source", "source-bucket")
    models.add_archive("bert_v0.tar.gz", ModelArtifact.from_bucket(source, "bert/model.tar.gz"))
    key = kms.Key(stack, "Key", enable_key_rotation=True)
    encrypted_bucket = s3.Bucket.from_bucket_attributes(
        stack, "EncryptedBucket", bucket_name="encrypted", encryption_key=key
    )
    encrypted = ModelPrefix(stack, "Encrypted", bucket=encrypted_bucket, prefix="mme/seed-001", allow_overwrite=True)
    encrypted.add_archive("resnet_trt_v0.tar.gz", ModelArtifact.from_bucket(source, "resnet/trt.tar.gz"))
    client = iam.Role(stack, "Client", assumed_by=iam.AccountRootPrincipal())
    models.grant_read(client)
    encrypted.grant_put_archives(client)
    return app, stack, models, encrypted, client


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory, nag_violations: Callable[[App], list[str]]) -> Synth:
    folder = tmp_path_factory.mktemp("model_prefix")
    app, stack, models, encrypted, client = _app(folder)
    findings = nag_violations(app)
    raw = json.loads((Path(app.outdir) / "Models.template.json").read_text())
    return Synth(stack, models, encrypted, client, raw, findings)


def _objects(synth: Synth, bucket: Any, pattern: str) -> Any:
    return synth.stack.resolve(bucket.arn_for_objects(pattern))


def test_model_prefix_exposes_its_prefix_uri_and_sorted_target_models(synth: Synth) -> None:
    # GIVEN prefixes given as the default and as 'mme/seed-001' (no trailing slash)
    # THEN each prefix ends with '/', the URI joins bucket and prefix, target models are sorted
    assert synth.models.prefix == "models/" and synth.encrypted.prefix == "mme/seed-001/"
    assert synth.stack.resolve(synth.encrypted.s3_uri) == "s3://encrypted/mme/seed-001/"
    assert synth.models.target_models == ("bert_v0.tar.gz", "resnet_pt_v0.tar.gz")
    assert list(synth.models.artifacts) == ["bert_v0.tar.gz", "resnet_pt_v0.tar.gz"]
    assert synth.models.artifacts["resnet_pt_v0.tar.gz"].model_names == ("resnet",)


def test_model_prefix_has_one_python_copy_function_per_stack(synth: Synth) -> None:
    # THEN two prefixes share one function: the latest Python, 15 minutes, 256 MB, its own log group
    synth.template.resource_count_is("AWS::Lambda::Function", 1)
    synth.template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Runtime": "python3.14",
            "Handler": "model_copy.index.handler",
            "Timeout": 900,
            "MemorySize": 256,
            "Architectures": ["arm64"],
            "LoggingConfig": {
                "LogGroup": {"Ref": Match.string_like_regexp("^ModelPrefixCopyHandlerLogGroup")}
            },
            "EphemeralStorage": Match.absent(),
        },
    )
    # THEN no managed policy (AWSLambdaBasicExecutionRole) is attached to its role
    synth.template.has_resource_properties(
        "AWS::IAM::Role",
        {"AssumeRolePolicyDocument": Match.object_like({"Statement": [Match.object_like({"Principal": {
            "Service": "lambda.amazonaws.com"}})]}), "ManagedPolicyArns": Match.absent()},
    )  # fmt: skip


def test_model_prefix_copies_each_archive_from_its_source_to_its_stable_key(synth: Synth) -> None:
    resources = synth.raw["Resources"]
    copies = {
        r["Properties"]["DestinationKey"]: r
        for r in resources.values()
        if r["Type"] == "Custom::ModelArchive"
    }
    function = next(name for name, r in resources.items() if r["Type"] == "AWS::Lambda::Function")
    # THEN one custom resource per archive, each naming its destination key
    assert sorted(copies) == [
        "mme/seed-001/resnet_trt_v0.tar.gz",
        "models/bert_v0.tar.gz",
        "models/resnet_pt_v0.tar.gz",
    ]
    for copy in copies.values():
        # served by the function directly (no Provider framework), answered within 16 minutes
        assert copy["Properties"]["ServiceToken"] == {"Fn::GetAtt": [function, "Arn"]}
        assert copy["Properties"]["ServiceTimeout"] == "960"
        assert copy["DeletionPolicy"] == "Delete"
        # after the role's policies exist (the source read is in them)
        assert synth.logical_id(synth.models._copy_handler().role) in copy["DependsOn"]
    # THEN the sources: the asset in the bootstrap bucket under its content hash, and the S3 archive
    asset = copies["models/resnet_pt_v0.tar.gz"]["Properties"]
    assert asset["SourceBucket"] == {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    assert asset["SourceKey"].endswith(".gz") and len(asset["SourceKey"]) == 64 + len(".gz")
    assert asset["DestinationBucket"] == {"Ref": synth.logical_id(synth.models.bucket)}
    bert = copies["models/bert_v0.tar.gz"]["Properties"]
    assert (bert["SourceBucket"], bert["SourceKey"]) == ("source-bucket", "bert/model.tar.gz")
    assert copies["mme/seed-001/resnet_trt_v0.tar.gz"]["Properties"]["DestinationBucket"] == "encrypted"
    # THEN only the prefix that allows overwrites says so (the copy refuses a changed archive otherwise)
    assert {k: c["Properties"].get("AllowOverwrite") for k, c in copies.items()} == {
        "mme/seed-001/resnet_trt_v0.tar.gz": "true",
        "models/bert_v0.tar.gz": None,
        "models/resnet_pt_v0.tar.gz": None,
    }


def test_model_prefix_copy_function_may_read_only_its_sources_and_write_only_under_its_prefixes(
    synth: Synth,
) -> None:
    handler = synth.models._copy_handler()
    statements = synth.statements(handler.role)
    key = {
        "Fn::GetAtt": [
            synth.stack.resolve(synth.encrypted.bucket.encryption_key.node.default_child.logical_id),
            "Arn",
        ]
    }
    asset_key = synth.raw["Resources"][
        next(n for n, r in synth.raw["Resources"].items() if r["Type"] == "Custom::ModelArchive"
             and r["Properties"]["DestinationKey"] == "models/resnet_pt_v0.tar.gz")
    ]["Properties"]["SourceKey"]  # fmt: skip
    partition = {"Ref": "AWS::Partition"}
    assets = {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    write = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:DeleteObject"]
    expected = [
        {"Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Effect": "Allow",
         "Resource": {"Fn::GetAtt": [synth.logical_id(handler.log_group), "Arn"]}},
        {"Action": write, "Effect": "Allow", "Resource": _objects(synth, synth.models.bucket, "models/*")},
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ["arn:", partition, ":s3:::", assets, f"/{asset_key}"]]}},
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ["arn:", partition, ":s3:::source-bucket/bert/model.tar.gz"]]}},
        {"Action": write, "Effect": "Allow", "Resource": _objects(synth, synth.encrypted.bucket, "mme/seed-001/*")},
        {"Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Effect": "Allow",
         "Resource": key},
        {"Action": "s3:GetObject", "Effect": "Allow",
         "Resource": {"Fn::Join": ["", ["arn:", partition, ":s3:::source-bucket/resnet/trt.tar.gz"]]}},
    ]  # fmt: skip
    # THEN exactly these statements, in this order: no bucket-wide or account-wide access
    assert statements == expected


def test_model_prefix_grants_read_and_add_by_copying_under_the_prefix_only(synth: Synth) -> None:
    # GIVEN a client granted read of one prefix and "add a model by copying it" into the other
    statements = synth.statements(synth.client)
    key = {
        "Fn::GetAtt": [
            synth.stack.resolve(synth.encrypted.bucket.encryption_key.node.default_child.logical_id),
            "Arn",
        ]
    }
    # THEN GetObject under models/*, PutObject under mme/seed-001/* (+ the key for encryption)
    assert statements == [
        {"Action": "s3:GetObject", "Effect": "Allow", "Resource": _objects(synth, synth.models.bucket, "models/*")},
        {"Action": "s3:PutObject", "Effect": "Allow",
         "Resource": _objects(synth, synth.encrypted.bucket, "mme/seed-001/*")},
        {"Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Effect": "Allow",
         "Resource": key},
    ]  # fmt: skip


def test_model_prefix_default_bucket_is_hardened_and_retained(synth: Synth) -> None:
    bucket = synth.raw["Resources"][synth.logical_id(synth.models.bucket)]
    # THEN public access blocked, SSE, multipart cleanup, retained
    assert bucket["DeletionPolicy"] == bucket["UpdateReplacePolicy"] == "Retain"
    assert bucket["Properties"]["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert bucket["Properties"]["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
    }
    # THEN a TLS-only bucket policy
    synth.template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {"Bucket": {"Ref": synth.logical_id(synth.models.bucket)}, "PolicyDocument": {"Statement": [
            Match.object_like({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}})]}},
    )  # fmt: skip


def test_model_prefix_template_is_nag_and_cfn_lint_clean(
    synth: Synth, cfn_lint_errors: Callable[..., list[str]]
) -> None:
    # THEN cdk-nag AwsSolutions has no unacknowledged finding and cfn-lint no error or warning
    assert synth.findings == []
    assert cfn_lint_errors(synth.raw) == []


def test_model_prefix_synth_is_deterministic(synth: Synth, tmp_path: Path) -> None:
    # WHEN the same app is synthesized again from freshly written archives of the same content
    app, *_ = _app(tmp_path)
    again = json.loads((Path(app.synth().directory) / "Models.template.json").read_text())
    # THEN the template is identical (asset hashes and logical ids included)
    assert json.dumps(again, sort_keys=True) == json.dumps(synth.raw, sort_keys=True)
