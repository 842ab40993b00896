"""Example: a small Triton model on a serverless endpoint (copy this stack and change the props).

A CPU build of the model (``KIND_CPU``: serverless endpoints have no GPUs), a ``TritonModel``
without network isolation (serverless refuses it), one ``ServerlessProductionVariant``, optional
provisioned concurrency with target-tracking scaling, and the serverless dashboard segment with
the alarms that apply. Which models qualify: ``serving_constructs.serverless_fit`` (archive
<= 2.5 GB, archive <= half the memory size, a CPU Triton image <= 10 GB). Requests: at most 4 MB
and 60 s each.
"""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ecr as ecr

from constructs import Construct
from model_build.examples import get_example
from model_build.spec import ModelSpec
from serving_constructs import (
    DEFAULT_LATENCY_TARGET_MS,
    ModelArtifact,
    ServerlessEndpoint,
    ServerlessProductionVariant,
    TritonImage,
    TritonModel,
)
from stacks.realtime_stack import seed_tuned_spec

#: The model the example serves when none is given (a 4.4M-parameter BERT: a ~17 MB archive).
DEFAULT_MODEL = "bert-tiny"
#: The example's memory size: 2048 MB, twice a bert-tiny-sized model's needs with room to spare.
DEFAULT_MEMORY_SIZE_IN_MB = 2048
#: The example's max concurrency (SageMaker allows 1-200; the account's regional quota is shared).
DEFAULT_MAX_CONCURRENCY = 10
#: Provisioned-concurrency utilization the example's scaling keeps (half in use, half for bursts).
PROVISIONED_UTILIZATION_TARGET = 0.5


class ServerlessInferenceStack(Stack):
    """A Triton model built by ``model_build`` for CPUs, served by a serverless endpoint.

    Args:
        scope: the parent (the app).
        construct_id: the stack id.
        model: a ``model_build.examples`` name, built for CPUs (:meth:`planned_spec`). Defaults to
            ``"bert-tiny"``.
        artifact: a model archive to serve instead of building ``model`` (e.g.
            ``ModelArtifact.from_asset("model.tar.gz")`` of a CPU model). Defaults to the build.
        memory_size_in_mb: the variant's memory, 1024-6144 in 1024 steps. Defaults to 2048.
        max_concurrency: concurrent invocations, 1-200. Defaults to 10.
        provisioned_concurrency: invocations kept warm (no cold start), 1..``max_concurrency``;
            scaled between 1 and ``max_concurrency`` on its utilization (target 0.5). Defaults to
            none (on demand: the first request after idle time waits for a cold start).
        triton_repository_name: an ECR repository in this account holding a CPU-only Triton image
            (serverless runs images <= 10 GB). Defaults to none: the SageMaker Triton DLC, whose
            size is not checked at synth (the endpoint warns).
        triton_image_tag: the tag in ``triton_repository_name``. Defaults to ``"latest"``.
        cache_dir: the model build cache. Defaults to ``model_build``'s default.
        **kwargs: further ``Stack`` props (env, description, ...).
    """

    @staticmethod
    def planned_spec(model: str = DEFAULT_MODEL) -> ModelSpec:
        """Return the spec the stack builds for ``model``: seed 000's Triton settings on CPUs (``KIND_CPU``)."""
        return seed_tuned_spec(get_example(model), gpu=False)

    @classmethod
    def planned_specs(
        cls, *, model: str = DEFAULT_MODEL, artifact: ModelArtifact | None = None, **props: object
    ) -> tuple[ModelSpec, ...]:
        """Return the models the stack builds: ``model`` for CPUs, or none when ``artifact`` is given."""
        return () if artifact is not None else (cls.planned_spec(model),)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: str = DEFAULT_MODEL,
        artifact: ModelArtifact | None = None,
        memory_size_in_mb: int = DEFAULT_MEMORY_SIZE_IN_MB,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        provisioned_concurrency: int | None = None,
        triton_repository_name: str | None = None,
        triton_image_tag: str = "latest",
        cache_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        image = None
        if triton_repository_name is not None:
            repository = ecr.Repository.from_repository_name(self, "TritonCpu", triton_repository_name)
            image = TritonImage.from_ecr_repository(repository, triton_image_tag)
        triton_model = TritonModel(
            self,
            "Model",
            artifact=artifact
            if artifact is not None
            else ModelArtifact.from_build(self.planned_spec(model), cache_dir=cache_dir),
            image=image,
            network_isolation=False,
        )
        self.endpoint = ServerlessEndpoint(
            self,
            "Endpoint",
            variants=[
                ServerlessProductionVariant(
                    model=triton_model,
                    memory_size_in_mb=memory_size_in_mb,
                    max_concurrency=max_concurrency,
                    provisioned_concurrency=provisioned_concurrency,
                )
            ],
        )
        if provisioned_concurrency is not None:
            self.endpoint.auto_scale_provisioned_concurrency(
                min_capacity=1, max_capacity=max_concurrency
            ).scale_on_utilization("Utilization", target_utilization=PROVISIONED_UTILIZATION_TARGET)
        self.endpoint.add_monitoring(alarms=True, latency_target_ms=DEFAULT_LATENCY_TARGET_MS)
        self.endpoint.add_dashboard()
        CfnOutput(self, "EndpointName", value=self.endpoint.endpoint_name)
