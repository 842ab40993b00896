"""Model archives at stable keys under one S3 prefix: the layout a multi-model endpoint reads.

A SageMaker multi-model endpoint's ``ModelDataUrl`` is a prefix, and a client names a model by
its key under it (``invoke_endpoint(..., TargetModel="resnet_pt_v0.tar.gz")``). CDK uploads
archives under content-hash keys in the bootstrap bucket, so :class:`ModelPrefix` copies each
one to the key the user chose, server-side, on deploy:

- each archive stays a normal CDK file asset: ``cdk deploy`` uploads it once, under its hash, and
  never again while it is unchanged;
- one custom resource per archive (``Custom::ModelArchive``; properties ``SourceBucket``,
  ``SourceKey``, ``DestinationBucket``, ``DestinationKey``) asks the stack's one copy function
  (Python, ``handlers/model_copy/index.py``) to copy the asset to ``<prefix><target_model>``.
  An unchanged archive changes no property, so CloudFormation sends no event and nothing is
  copied; a changed one changes ``SourceKey`` (a new hash) and is copied again; a renamed one
  gets a new PhysicalResourceId and the old key is deleted; a removed one is deleted from the
  prefix. The function deletes only objects it wrote itself (an owner tag in the object's
  metadata), so archives copied into the prefix by hand are never touched.

Limits chosen: S3 copies the bytes (``CopyObject``, or ``UploadPartCopy`` in 256 MiB parts, 16 at
a time), so the function's 256 MB memory and its ``/tmp`` hold no archive data whatever the size;
the bound is S3's 5 TB object limit and the 15 minutes a Lambda function may run (the handler
answers FAILED, naming the object, 30 s before its 900 s timeout). See ``docs/constructs.md``.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

from aws_cdk import CustomResource, Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import Construct
from serving_constructs._bucket import (
    MAX_BUCKET_NAME,
    MAX_KEY_LENGTH,
    SAFE_KEY,
    SAFE_KEY_TEXT,
    hardened_bucket,
)
from serving_constructs._handler_function import StackHandlerFunction
from serving_constructs._nag import acknowledge, flattened
from serving_constructs._validation import (
    PropsError,
    check_bool,
    check_interface,
    check_str,
    given,
    raise_if_any,
)
from serving_constructs.artifact import ModelArtifact, S3DataType

#: The resource type of the per-archive copy.
RESOURCE_TYPE = "Custom::ModelArchive"
#: The stack-level construct holding the one copy function (with its role and log group).
HANDLER_ID = "ModelPrefixCopyHandler"
#: Lambda's longest timeout: the copy of the largest archive must finish within it.
FUNCTION_TIMEOUT = Duration.minutes(15)
#: The function holds no archive bytes (S3 copies them), only boto3 and a few threads.
FUNCTION_MEMORY_MB = 256
#: How long CloudFormation waits for an answer: the timeout plus a minute, not its default hour.
SERVICE_TIMEOUT = Duration.minutes(16)
#: ``ModelDataUrl`` has at most 1024 characters.
_MAX_URL = 1024
_ARCHIVE_SUFFIX = ".tar.gz"
#: What writing an SSE-KMS object needs (single or multipart), without kms:*'s wildcards.
_KMS_WRITE = ("kms:GenerateDataKey", "kms:Decrypt")


class _CopyHandler(StackHandlerFunction):
    """The stack's one function that copies archives to their keys (its S3 grants come per archive)."""

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(
            scope,
            id,
            handler="model_copy",
            role_description="Copies ModelPrefix archives to their keys (server-side) and removes them",
            function_description="ModelPrefix: server-side copy of model archives to stable keys",
            timeout=FUNCTION_TIMEOUT,
            memory_size=FUNCTION_MEMORY_MB,
        )

    @staticmethod
    def of(scope: Construct) -> _CopyHandler:
        """Return the stack's copy handler, creating it on first use."""
        return _CopyHandler.once_per_stack(scope, HANDLER_ID)


def _prefix_problems(prefix: Any, bucket_name: str | None) -> list[str]:
    problems = check_str("prefix", prefix, example=" such as 'models/'")
    if problems:
        return problems
    fix = "e.g. prefix='models/'"
    if Token.is_unresolved(prefix):
        return [
            f"prefix must be known at synth (got the token {prefix!r}): the archive keys and the copy "
            f"function's permissions are built from it — {fix}"
        ]
    if prefix.startswith("/"):
        stripped = prefix.lstrip("/")
        return [
            f"prefix must not start with '/' (got {prefix!r}): S3 keys have no leading slash — "
            + (f"use prefix={stripped!r}" if stripped else fix)
        ]
    core = prefix[:-1] if prefix.endswith("/") else prefix
    if "//" in prefix or any(part in (".", "..") for part in core.split("/")):
        problems.append(f"prefix must not have empty, '.' or '..' segments (got {prefix!r}) — {fix}")
    if not SAFE_KEY.match(prefix):
        bad = "".join(sorted({ch for ch in prefix if not SAFE_KEY.match(ch)}))
        problems.append(
            f"prefix may hold only {SAFE_KEY_TEXT} (got {prefix!r}, with {bad!r}) — replace them, {fix}"
        )
    known = bucket_name is not None and not Token.is_unresolved(bucket_name)
    bucket_length = len(bucket_name) if known and bucket_name is not None else MAX_BUCKET_NAME
    normalised = core + "/"
    url = len("s3://") + bucket_length + 1 + len(normalised)
    # Room for the shortest archive key ("a.tar.gz") under the prefix.
    longest = MAX_KEY_LENGTH - len("a" + _ARCHIVE_SUFFIX)
    if url > _MAX_URL or len(normalised) > longest:
        problems.append(
            f"prefix is too long (got {len(normalised)} characters): ModelDataUrl "
            f"s3://<bucket>/<prefix> may have at most {_MAX_URL} characters and each key at most "
            f"{MAX_KEY_LENGTH} — shorten it to {min(longest, len(normalised) - (url - _MAX_URL))} characters or fewer"
        )
    return problems


class ModelPrefix(Construct):
    """Model archives at stable keys under one S3 prefix (the layout a multi-model endpoint reads).

    :meth:`add_archive` puts an archive (built, local or already in S3) at
    ``s3://<bucket>/<prefix><target_model>``: the key a client passes as ``TargetModel``. The copy
    happens on deploy, server-side in S3, through one custom resource per archive and one Python
    function per stack (15-minute timeout, 256 MB, no ``/tmp`` use; an archive up to S3's 5 TB
    object limit, bounded by what S3 copies in 15 minutes). Unchanged archives are neither
    uploaded nor copied again; an archive removed from the app is removed from the prefix; keys
    the app did not write (archives copied in by hand) are left alone.

    Example:
        >>> models = ModelPrefix(stack, "Models")                       # doctest: +SKIP
        >>> models.add_archive("resnet_pt_v0.tar.gz", ModelArtifact.from_build(spec))

    Args:
        scope: the parent construct.
        id: the construct id.
        bucket: the bucket holding the prefix. Defaults to a new bucket with public access blocked,
            a TLS-only bucket policy, S3-managed encryption, incomplete multipart uploads removed
            after 7 days and the ``RETAIN`` removal policy (deleting the stack leaves it, with any
            archive copied in by hand).
        prefix: the key prefix of the archives (a trailing ``/`` is added; no leading ``/``).
            Defaults to ``"models/"``.
        allow_overwrite: let a deploy put a changed archive at a key that already holds one. Defaults
            to False: such a deploy fails at that archive's copy with a message naming it, because
            SageMaker's multi-model instances that loaded the old archive may keep serving it
            (SageMaker Developer Guide, "Add or Remove Models": to update a model, add it under a new
            and unique name). Set it for a prefix no endpoint caches.

    Raises:
        PropsError: every problem with the props, in one message.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        bucket: s3.IBucket | None = None,
        prefix: str = "models/",
        allow_overwrite: bool = False,
    ) -> None:
        bucket_problems = check_interface(
            "bucket", bucket, "s3.IBucket", "arn_for_objects",
            "use s3.Bucket(...) or s3.Bucket.from_bucket_name(...), or omit it for a new bucket", optional=True,
        )  # fmt: skip
        bucket_name = bucket.bucket_name if bucket is not None and not bucket_problems else None
        raise_if_any(
            "ModelPrefix",
            bucket_problems + _prefix_problems(prefix, bucket_name) + check_bool("allow_overwrite", allow_overwrite),
        )
        super().__init__(scope, id)
        self.allow_overwrite: bool = bool(allow_overwrite)
        """Whether a deploy may put a changed archive at a key that already holds one."""
        self.bucket: s3.IBucket = (
            hardened_bucket(self, "Bucket", holds="model archives of one model prefix", prop="bucket")
            if bucket is None
            else bucket
        )
        """The bucket holding the prefix."""
        self.prefix: str = prefix.rstrip("/") + "/"
        """The key prefix of the archives; ends with ``/``."""
        self.s3_uri: str = f"s3://{self.bucket.bucket_name}/{self.prefix}"
        """``s3://<bucket>/<prefix>``: the ``ModelDataUrl`` of a multi-model endpoint."""
        self._artifacts: dict[str, ModelArtifact] = {}
        self._copies: dict[str, CustomResource] = {}
        self._handler: _CopyHandler | None = None

    @property
    def target_models(self) -> tuple[str, ...]:
        """The archives' keys under the prefix (what clients pass as ``TargetModel``), sorted."""
        return tuple(sorted(self._artifacts))

    @property
    def artifacts(self) -> Mapping[str, ModelArtifact]:
        """``target_model`` -> the artifact copied there, sorted by ``target_model`` (read-only)."""
        return types.MappingProxyType(dict(sorted(self._artifacts.items())))

    def key_of(self, target_model: str) -> str:
        """Return the object key of an archive: ``<prefix><target_model>``."""
        return self.prefix + target_model

    def add_archive(self, target_model: str, artifact: ModelArtifact) -> None:
        """Copy ``artifact`` to ``s3://<bucket>/<prefix><target_model>`` on deploy.

        Args:
            target_model: the key under the prefix, e.g. ``"resnet_pt_v0.tar.gz"``: ends with
                ``.tar.gz``, no leading ``/``, S3's safe characters, at most 1024 characters with the
                prefix, not added before.
            artifact: one archive: ``ModelArtifact.from_build``, ``from_asset`` or ``from_bucket``
                (not ``from_bucket_prefix``). Its source object is read by the copy function only.

        Raises:
            PropsError: every problem with the arguments, in one message, before anything is added.
        """
        problems = self._target_model_problems(target_model)
        if not isinstance(artifact, ModelArtifact):
            problems.append(
                f"artifact must be a ModelArtifact (got {given(artifact)}) — use ModelArtifact.from_build(spec), "
                "ModelArtifact.from_asset('model.tar.gz') or ModelArtifact.from_bucket(bucket, 'key.tar.gz')"
            )
        elif artifact.s3_data_type is not S3DataType.OBJECT:
            problems.append(
                f"artifact must be one archive (got {artifact.description}): a multi-model endpoint loads one "
                "*.tar.gz per TargetModel — use ModelArtifact.from_bucket(bucket, 'key.tar.gz'), from_asset or "
                "from_build"
            )
        raise_if_any("ModelPrefix.add_archive", problems)
        handler = self._copy_handler()
        archive = Construct(self, target_model)
        binding = artifact.bind(archive, handler.role)
        if not binding.is_archive or binding.bucket_name is None or binding.object_key is None:
            raise PropsError(
                f"Invalid ModelPrefix.add_archive props: artifact must bind to one archive whose bucket and key "
                f"are known (got {artifact.description}, bound to {binding.s3_uri!r}) — use ModelArtifact.from_build, "
                "from_asset or from_bucket"
            )
        key = self.key_of(target_model)
        stack = Stack.of(self)
        if (
            stack.resolve(binding.bucket_name) == stack.resolve(self.bucket.bucket_name)
            and binding.object_key == key
        ):
            raise PropsError(
                f"Invalid ModelPrefix.add_archive props: artifact is already at {self.s3_uri}{target_model} — a "
                "copy onto itself would make the app own (and, on removal, delete) it; leave archives copied by "
                "hand out of add_archive (the endpoint reads every key under the prefix)"
            )
        copy = CustomResource(
            archive,
            "Copy",
            service_token=handler.function.function_arn,
            resource_type=RESOURCE_TYPE,
            service_timeout=SERVICE_TIMEOUT,
            properties={
                "SourceBucket": binding.bucket_name,
                "SourceKey": binding.object_key,
                "DestinationBucket": self.bucket.bucket_name,
                "DestinationKey": key,
                # Rendered only when set, so templates without it stay as they were.
                **({"AllowOverwrite": "true"} if self.allow_overwrite else {}),
            },
        )
        # The role's policies (this archive's read grant included) exist before the copy runs.
        copy.node.add_dependency(handler.role)
        self._artifacts[target_model] = artifact
        self._copies[target_model] = copy

    def copy_resource(self, target_model: str) -> CustomResource:
        """Return the custom resource that copies ``target_model`` (for dependencies and tests)."""
        return self._copies[target_model]

    def grant_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` ``s3:GetObject`` on every key under the prefix (and decrypt with the bucket's key).

        What a multi-model endpoint's execution role needs: SageMaker downloads the archive a
        request names, including archives copied in by hand after deploy.
        """
        objects = self.bucket.arn_for_objects(f"{self.prefix}*")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=[objects])
        if self.bucket.encryption_key is not None:
            self.bucket.encryption_key.grant_decrypt(grantee)
        self._acknowledge_prefix(
            grantee,
            objects,
            "A multi-model endpoint loads any archive under its prefix, including ones added after deploy; the "
            "read is confined to that prefix.",
        )
        return grant

    def grant_put_archives(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant ``grantee`` ``s3:PutObject`` under the prefix: SageMaker's "add a model by copying it".

        Also ``kms:GenerateDataKey`` and ``kms:Decrypt`` on the bucket's customer-managed key, if any
        (S3 encrypts each part with a data key; a multipart upload decrypts them to complete).
        """
        objects = self.bucket.arn_for_objects(f"{self.prefix}*")
        grant = iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"], resource_arns=[objects])
        if self.bucket.encryption_key is not None:
            self.bucket.encryption_key.grant(grantee, *_KMS_WRITE)
        self._acknowledge_prefix(
            grantee,
            objects,
            "Adding a model to a multi-model endpoint is copying a new archive under its prefix; the write is "
            "confined to that prefix.",
        )
        return grant

    # --- internals --------------------------------------------------------------------------

    def _target_model_problems(self, target_model: Any) -> list[str]:
        example = " such as 'resnet_pt_v0.tar.gz'"
        problems = check_str("target_model", target_model, example=example)
        if problems:
            return problems
        if Token.is_unresolved(target_model):
            return [
                f"target_model must be known at synth (got the token {target_model!r}) — pass a str{example}"
            ]
        fix = "e.g. target_model='resnet_pt_v0.tar.gz'"
        if target_model.startswith("/"):
            problems.append(
                f"target_model must not start with '/' (got {target_model!r}): it is the key under the prefix "
                f"{self.prefix!r} — use target_model={target_model.lstrip('/')!r}"
            )
        if not target_model.endswith(_ARCHIVE_SUFFIX) or target_model.rsplit("/", 1)[-1] == _ARCHIVE_SUFFIX:
            stem = target_model.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0] or "model"
            problems.append(
                f"target_model must name a .tar.gz archive (got {target_model!r}): SageMaker's multi-model endpoints "
                f"load gzip tar archives — use target_model={stem + _ARCHIVE_SUFFIX!r}"
            )
        if "//" in target_model.lstrip("/") or any(p in (".", "..") for p in target_model.split("/")):
            problems.append(
                f"target_model must not have empty, '.' or '..' segments (got {target_model!r}) — {fix}"
            )
        if not SAFE_KEY.match(target_model):
            bad = "".join(sorted({ch for ch in target_model if not SAFE_KEY.match(ch)}))
            problems.append(
                f"target_model may hold only {SAFE_KEY_TEXT} (got {target_model!r}, with {bad!r}) — replace them, {fix}"
            )
        key_length = len(self.prefix) + len(target_model)
        if key_length > MAX_KEY_LENGTH:
            problems.append(
                f"target_model is too long (got {len(target_model)} characters): with the prefix {self.prefix!r} the key "
                f"has {key_length} and S3 allows {MAX_KEY_LENGTH} — shorten it to "
                f"{MAX_KEY_LENGTH - len(self.prefix)} characters or fewer"
            )
        if target_model in self._artifacts:
            problems.append(
                f"target_model {target_model!r} was added already (each key holds one archive) — give this archive "
                "its own name, e.g. with a version suffix: 'resnet_pt_v1.tar.gz'"
            )
        return problems

    def _copy_handler(self) -> _CopyHandler:
        if self._handler is None:
            handler = _CopyHandler.of(self)
            objects = self.bucket.arn_for_objects(f"{self.prefix}*")
            # Put the copies, abort a failed multipart copy, read the owner tag, delete what it wrote:
            # under this prefix only. Delete must cover keys no longer in the template (a removed
            # or renamed archive), hence the prefix rather than the current keys.
            handler.role.add_to_principal_policy(
                iam.PolicyStatement(
                    actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject", "s3:DeleteObject"],
                    resources=[objects],
                )
            )
            if self.bucket.encryption_key is not None:
                self.bucket.encryption_key.grant(handler.role, *_KMS_WRITE)
            self._acknowledge_prefix(
                handler.role,
                objects,
                "The copy function writes the archives' keys under the prefix and deletes the ones removed from "
                "the app (keys no longer in the template); confined to that prefix.",
            )
            self._handler = handler
        return self._handler

    def _acknowledge_prefix(self, grantee: iam.IGrantable, objects: str, reason: str) -> None:
        principal = grantee.grant_principal
        if isinstance(principal, Construct):
            acknowledge(principal, f"AwsSolutions-IAM5[Resource::{flattened(principal, objects)}]", reason)
