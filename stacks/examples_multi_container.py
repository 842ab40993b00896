"""Example: a serial inference pipeline (preprocessing, then Triton) and a direct-invocation endpoint.

Copy this stack to serve several containers behind one endpoint:

* ``mode="Serial"``: a preprocessing container (here a Triton python-backend model, so the
  image is the same Triton DLC) in front of the model's Triton container. SageMaker sends the
  request to the first container, each container's response to the next one, and returns the
  last one's response.
* ``mode="Direct"``: two models side by side; each request names its container with
  ``invoke_endpoint(..., TargetContainerHostname="...")``.

The archives are read from an existing bucket (``bucket_name``); build and upload them with
``python -m model_build`` first. ``cdk synth -c examples=multi-container -c examples_bucket=...``
adds it to the app (``stacks/examples.py``).
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3 as s3

from constructs import Construct
from model_build.spec import ModelSpec
from serving_constructs import (
    ContainerDefinition,
    InstanceType,
    ModelArtifact,
    MultiContainerModel,
    ProductionVariant,
    RealtimeEndpoint,
)


class MultiContainerExampleStack(Stack):
    """A serial pipeline endpoint and a direct-invocation endpoint over archives in one bucket.

    Args:
        scope: the parent construct.
        id: the stack id.
        bucket_name: the bucket holding the archives. Defaults to ``"my-model-bucket"``.
        preprocess_key: the python-backend preprocessing archive (Triton model ``preprocess``).
            Defaults to ``"pipeline/preprocess.tar.gz"``.
        model_key: the model archive (Triton model ``model``). Defaults to ``"pipeline/model.tar.gz"``.
        other_model_key: the second model of the direct-invocation endpoint (Triton model
            ``other``). Defaults to ``"direct/other.tar.gz"``.
        instance_type: the instance type of both endpoints. Defaults to ``ml.c5.xlarge`` (CPU:
            the example models are ONNX on CPU; a type the local rehearsal's emulator accepts).
        **kwargs: passed to ``Stack``.
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
        bucket_name: str = "my-model-bucket",
        preprocess_key: str = "pipeline/preprocess.tar.gz",
        model_key: str = "pipeline/model.tar.gz",
        other_model_key: str = "direct/other.tar.gz",
        instance_type: str = "ml.c5.xlarge",
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        bucket = s3.Bucket.from_bucket_name(self, "Models", bucket_name)
        preprocess = ContainerDefinition.triton(
            hostname="preprocess",
            artifact=ModelArtifact.from_bucket(bucket, preprocess_key, model_name="preprocess"),
        )
        model = ContainerDefinition.triton(
            hostname="model",
            artifact=ModelArtifact.from_bucket(bucket, model_key, model_name="model"),
        )
        pipeline = MultiContainerModel(self, "Pipeline", containers=[preprocess, model], mode="Serial")
        self.pipeline_endpoint = RealtimeEndpoint(
            self,
            "PipelineEndpoint",
            variants=[ProductionVariant(model=pipeline, instance_type=InstanceType.of(instance_type))],
        )
        other = ContainerDefinition.triton(
            hostname="other",
            artifact=ModelArtifact.from_bucket(bucket, other_model_key, model_name="other"),
        )
        direct = MultiContainerModel(self, "Direct", containers=[model, other], mode="Direct")
        self.direct_endpoint = RealtimeEndpoint(
            self,
            "DirectEndpoint",
            variants=[ProductionVariant(model=direct, instance_type=InstanceType.of(instance_type))],
        )
        CfnOutput(self, "PipelineEndpointName", value=self.pipeline_endpoint.endpoint_name)
        CfnOutput(self, "DirectEndpointName", value=self.direct_endpoint.endpoint_name)
