"""Bring your own container: seed 004's nginx + gunicorn + Flask server behind a real-time endpoint.

A stack to copy: the image is built from ``examples/byoc/`` by ``cdk deploy`` (a Docker image
asset in the bootstrap ECR repository; the build needs Docker where you deploy from), the model
data is a ``model.tar.gz`` (``python examples/byoc/make_model_archive.py`` writes the example's
ONNX classifier), and a ``RealtimeEndpoint`` serves it on a CPU instance.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from aws_cdk import CfnOutput, Stack

from constructs import Construct
from model_build.cache import resolve_cache_dir
from model_build.spec import ModelSpec
from serving_constructs import (
    ContainerImage,
    ContainerModel,
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    RealtimeEndpoint,
)

EXAMPLE_DIRECTORY = Path(__file__).resolve().parent.parent / "examples" / "byoc"
"""The example server: Dockerfile, nginx.conf, serve, wsgi.py, predictor.py."""

DEFAULT_INSTANCE_TYPE = "ml.m5.xlarge"
"""The example's instance type: the ONNX Runtime CPU server needs no GPU (seed 004 deploys on ml.m5.xlarge)."""


def example_model_archive(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the example's ``model.tar.gz`` (``examples/byoc/make_model_archive.py``) to the build cache; return it.

    The archive's bytes are the same on every run (fixed weights, mtimes and owners), so its asset
    hash is too.

    Args:
        cache_dir: the build cache. Defaults to ``model_build``'s (``.model-build-cache``).
    """
    script = EXAMPLE_DIRECTORY / "make_model_archive.py"
    loader = importlib.util.spec_from_file_location("byoc_make_model_archive", script)
    assert loader is not None and loader.loader is not None
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    path: Path = module.write_archive(resolve_cache_dir(cache_dir) / "examples" / "byoc")
    return path


class ByocExampleStack(Stack):
    """One container model of your own behind a real-time endpoint.

    Args:
        scope: the parent construct.
        id: the stack id.
        model_archive: the ``model.tar.gz`` SageMaker extracts to ``/opt/ml/model``. Defaults to the
            example's ONNX classifier (:func:`example_model_archive`, written to the build cache).
        directory: the folder the image is built from. Defaults to ``examples/byoc``.
        instance_type: the instance type. Defaults to ``ml.m5.xlarge``.
        instance_count: the instances. Defaults to 1.
        **kwargs: passed to ``Stack`` (``env``, ``synthesizer``, ...).
    """

    @staticmethod
    def planned_specs(**props: object) -> tuple[ModelSpec, ...]:
        """Return the models the stack builds: none (its model data is not built by ``model_build``)."""
        return ()

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        model_archive: str | os.PathLike[str] | None = None,
        directory: str | os.PathLike[str] = EXAMPLE_DIRECTORY,
        instance_type: str = DEFAULT_INSTANCE_TYPE,
        instance_count: int = 1,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        self.model = ContainerModel(
            self,
            "Model",
            image=ContainerImage.from_asset(directory),
            model_data=ModelArtifact.from_asset(example_model_archive() if model_archive is None else model_archive),
            environment={"MODEL_SERVER_WORKERS": "2"},
        )
        self.endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            variants=[
                ProductionVariant(
                    model=self.model,
                    instance_type=InstanceType.of(instance_type),
                    initial_instance_count=instance_count,
                )
            ],
        )
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
