"""Endpoints created straight through the SageMaker API in the emulator, without CDK.

The demo deploys the CDK app; the data plane's tests and benchmarks need endpoints faster than a
deploy, shaped exactly as they want (several weighted variants, an ``AsyncInferenceConfig``, a
scalable target with ``MinCapacity`` 0). :func:`create_triton_endpoint` makes one the way a client
without CDK would: ``CreateModel`` per variant, ``CreateEndpointConfig``, ``CreateEndpoint``, and
``RegisterScalableTarget`` when asked (moto's CloudFormation skips scalable targets, so a deployed
stack's are registered this way too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: An execution role ARN for emulated models (moto does not check it).
EMULATED_ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerExecution"
#: A Triton DLC image URI (informational: the local data plane always runs the bundled Triton).
EMULATED_TRITON_IMAGE = "785573368785.dkr.ecr.us-east-1.amazonaws.com/sagemaker-tritonserver:24.09-py3"
#: The instance type emulated variants use (moto's SageMaker validates it against an old list).
EMULATED_INSTANCE_TYPE = "ml.g4dn.xlarge"


def create_triton_endpoint(
    sagemaker: Any,
    name: str,
    *,
    model_data_url: str,
    triton_model_name: str,
    variants: Mapping[str, float] | None = None,
    instance_count: int = 1,
    async_inference_config: Mapping[str, Any] | None = None,
    autoscaling: Any = None,
    capacity: tuple[int, int] | None = None,
) -> None:
    """Create a Triton endpoint in the emulator: one Model per variant (same artifact), its config, the endpoint.

    Args:
        sagemaker: A boto3 SageMaker client on the emulator.
        name: The endpoint name; the config is ``<name>-config``, the models ``<name>-<variant>``.
        model_data_url: ``s3://bucket/key.tar.gz`` of the model archive.
        triton_model_name: ``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME``.
        variants: Variant name → ``InitialVariantWeight``. Defaults to ``{"AllTraffic": 1.0}``.
        instance_count: ``InitialInstanceCount`` of each variant. Defaults to 1.
        async_inference_config: The config's ``AsyncInferenceConfig``. Defaults to none (real-time).
        autoscaling: A boto3 Application Auto Scaling client, needed with ``capacity``.
        capacity: ``(MinCapacity, MaxCapacity)`` registered for every variant. Defaults to none.
    """
    production_variants = []
    for variant, weight in (variants or {"AllTraffic": 1.0}).items():
        model_name = f"{name}-{variant}"
        sagemaker.create_model(
            ModelName=model_name,
            ExecutionRoleArn=EMULATED_ROLE_ARN,
            PrimaryContainer={
                "Image": EMULATED_TRITON_IMAGE,
                "ModelDataUrl": model_data_url,
                "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": triton_model_name},
            },
        )
        production_variants.append(
            {
                "VariantName": variant,
                "ModelName": model_name,
                "InitialInstanceCount": instance_count,
                "InstanceType": EMULATED_INSTANCE_TYPE,
                "InitialVariantWeight": weight,
            }
        )
    extra = {} if async_inference_config is None else {"AsyncInferenceConfig": dict(async_inference_config)}
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config", ProductionVariants=production_variants, **extra
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")
    if capacity is not None:
        if autoscaling is None:
            raise ValueError("capacity needs an Application Auto Scaling client (autoscaling=)")
        for variant in variants or {"AllTraffic": 1.0}:
            autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker",
                ResourceId=f"endpoint/{name}/variant/{variant}",
                ScalableDimension="sagemaker:variant:DesiredInstanceCount",
                MinCapacity=capacity[0],
                MaxCapacity=capacity[1],
            )
