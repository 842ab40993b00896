"""Where a model's ``model.tar.gz`` comes from, and read access to exactly that object."""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import TYPE_CHECKING

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct

if TYPE_CHECKING:
    from model_build.spec import ModelSpec

# The id of the asset a bound artifact creates inside the model construct (a contract: changing
# it changes the asset's logical id).
_ASSET_ID = "ModelData"


def grant_object_read(bucket: s3.IBucket, key: str, grantee: iam.IGrantable) -> iam.Grant:
    """Grant ``grantee`` ``s3:GetObject`` on exactly ``s3://bucket/key`` (and decrypt if KMS-encrypted).

    Narrower than ``bucket.grant_read(grantee, key)``, which also grants ``s3:GetBucket*`` and
    ``s3:List*`` on the bucket: SageMaker only downloads the object named by ``ModelDataUrl``.
    """
    grant = iam.Grant.add_to_principal(
        grantee=grantee, actions=["s3:GetObject"], resource_arns=[bucket.arn_for_objects(key)]
    )
    if bucket.encryption_key is not None:
        bucket.encryption_key.grant_decrypt(grantee)
    return grant


class ModelArtifact(abc.ABC):
    """A Triton model repository archive (``model.tar.gz``) in S3.

    Use :meth:`from_build` for a model built by ``model_build`` from a spec, :meth:`from_asset` for a
    local archive, or :meth:`from_bucket` for an archive already in S3. Binding returns the S3 URL
    and grants read access to that one object.
    """

    @staticmethod
    def from_build(spec: ModelSpec, *, cache_dir: str | os.PathLike[str] | None = None) -> ModelArtifact:
        """Return the archive ``model_build`` makes from ``spec`` (built or taken from its cache at synth).

        The Triton model name is ``spec.name``; a :class:`TritonModel` uses it as the default model.

        Args:
            spec: the model to build.
            cache_dir: the build cache. Defaults to ``model_build``'s default cache directory.
        """
        return _BuildArtifact(spec, cache_dir)

    @staticmethod
    def from_asset(path: str | Path, *, model_name: str | None = None) -> ModelArtifact:
        """Return a local ``model.tar.gz`` uploaded as a CDK asset.

        Args:
            path: the archive file.
            model_name: the Triton model to serve by default. Defaults to none (the model must name it).
        """
        return _AssetArtifact(Path(path), model_name)

    @staticmethod
    def from_bucket(bucket: s3.IBucket, key: str, *, model_name: str | None = None) -> ModelArtifact:
        """Return an archive already stored at ``s3://<bucket>/<key>``.

        Args:
            bucket: the bucket holding the archive.
            key: the object key of the archive.
            model_name: the Triton model to serve by default. Defaults to none (the model must name it).
        """
        return _BucketArtifact(bucket, key, model_name)

    @property
    def model_name(self) -> str | None:
        """The Triton model name inside the archive, when known."""
        return None

    @property
    def requires_gpu(self) -> bool | None:
        """Whether the Triton config places model instances on GPUs (``KIND_GPU``); None when unknown."""
        return None

    @abc.abstractmethod
    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        """Return the archive's S3 URL for a model in ``scope`` and grant ``grantee`` read of it."""


class _BucketArtifact(ModelArtifact):
    def __init__(self, bucket: s3.IBucket, key: str, model_name: str | None) -> None:
        self.bucket = bucket
        self.key = key
        self._model_name = model_name

    @property
    def model_name(self) -> str | None:
        return self._model_name

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        grant_object_read(self.bucket, self.key, grantee)
        return self.bucket.s3_url_for_object(self.key)


def _bind_asset(asset: s3_assets.Asset, grantee: iam.IGrantable) -> str:
    grant_object_read(asset.bucket, asset.s3_object_key, grantee)
    return asset.s3_object_url


class _AssetArtifact(ModelArtifact):
    def __init__(self, path: Path, model_name: str | None) -> None:
        self.path = path
        self._model_name = model_name

    @property
    def model_name(self) -> str | None:
        return self._model_name

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        return _bind_asset(s3_assets.Asset(scope, _ASSET_ID, path=str(self.path)), grantee)


class _BuildArtifact(ModelArtifact):
    def __init__(self, spec: ModelSpec, cache_dir: str | os.PathLike[str] | None) -> None:
        self.spec = spec
        self.cache_dir = cache_dir

    @property
    def model_name(self) -> str | None:
        from model_build.asset import triton_model_name

        return triton_model_name(self.spec)

    @property
    def requires_gpu(self) -> bool | None:
        return self.spec.triton.instance_kind == "KIND_GPU"

    def bind(self, scope: Construct, grantee: iam.IGrantable) -> str:
        from model_build.asset import model_asset

        return _bind_asset(model_asset(scope, _ASSET_ID, self.spec, cache_dir=self.cache_dir), grantee)
