"""The CDK asset of a built model: ``model.tar.gz`` uploaded by ``cdk deploy``.

Importing this module does not import torch: on a cache hit ``build`` only reads the
manifest, so ``cdk synth`` of an app whose models are cached stays fast.
"""

from __future__ import annotations

import os

from aws_cdk import AssetHashType
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from model_build.pipeline import build
from model_build.spec import ModelSpec

# The SageMaker Triton container loads this model from the extracted archive.
DEFAULT_MODEL_ENV_VAR = "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"


def triton_model_name(spec: ModelSpec) -> str:
    """Return the Triton model name (the archive's top-level folder) of a spec: ``spec.triton_model_name``."""
    return spec.triton_model_name


def triton_container_env(spec: ModelSpec) -> dict[str, str]:
    """Return the container environment that makes SageMaker's Triton serve this model."""
    return {DEFAULT_MODEL_ENV_VAR: triton_model_name(spec)}


def model_asset(
    scope: Construct,
    id: str,
    spec: ModelSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
) -> s3_assets.Asset:
    """Build (or reuse from the cache) a model and wrap its ``model.tar.gz`` as an S3 asset.

    The custom asset hash is ``spec.inputs_hash()`` (``AssetHashType.CUSTOM``; CDK stores
    its sha256 as ``asset.asset_hash``), so the asset, and every resource that references it,
    changes exactly when the model's inputs change — and ``cdk synth`` never re-hashes the
    archive's bytes.

    Args:
        scope: Construct scope.
        id: Construct id.
        spec: The model to build.
        cache_dir: Build cache folder. Defaults to ``$MODEL_BUILD_CACHE_DIR`` or ``./.model-build-cache``.
    """
    result = build(spec, cache_dir=cache_dir)
    return s3_assets.Asset(
        scope,
        id,
        path=str(result.archive_path),
        asset_hash=result.inputs_hash,
        asset_hash_type=AssetHashType.CUSTOM,
    )
