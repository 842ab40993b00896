"""Example: a Neuron-compiled model on an Inferentia2 real-time endpoint (seed 003), a stack to copy.

Seed 003 moved models from GPUs (g4dn/T4) to Inferentia for up to 60 % lower cost and 25 % lower p99.
This stack is the serving half: a :class:`~serving_constructs.NeuronModel` in the newest inf2 Neuron
DLC the installed sagemaker SDK lists, with the Neuron runtime settings as typed props (weights
shared between the model's copies on several NeuronCores, the seed's fix for a large model that
fails to load), behind an autoscaled :class:`~serving_constructs.RealtimeEndpoint` on ml.inf2.
The artifact comes from the Neuron compile stage (its ``neuron.json`` says the target): an
artifact compiled for the other generation, or an ml.g*/CPU instance type, is refused at synth.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_s3 as s3

from constructs import Construct
from model_build.spec import ModelSpec
from serving_constructs import (
    InstanceType,
    ModelArtifact,
    NeuronImage,
    NeuronModel,
    NeuronRuntime,
    ProductionVariant,
    RealtimeEndpoint,
)

#: The archive's key in ``bucket_name`` when none is given.
DEFAULT_KEY = "bert-neuron/model.tar.gz"
#: The model's name in the archive when none is given.
DEFAULT_MODEL_NAME = "bert"


class InferentiaExampleStack(Stack):
    """A Neuron model on ml.inf2 behind an autoscaled real-time endpoint.

    Args:
        scope: the parent construct.
        id: the stack id.
        bucket_name: the bucket holding the compiled model archive.
        key: the archive's object key. Defaults to ``"bert-neuron/model.tar.gz"``.
        model_name: the model's name in the archive. Defaults to ``"bert"``.
        neuron_manifest: the compile stage's ``neuron.json`` for the archive. Defaults to an inf2
            build (``{"target": "inf2"}``); pass the real one so the target is checked.
        instance_type: the Inferentia type. Defaults to ``ml.inf2.xlarge`` (1 Inferentia2, 2 NeuronCores).
        runtime: the Neuron runtime settings. Defaults to shared weights across NeuronCores
            (``NEURON_RT_MULTI_INSTANCE_SHARED_WEIGHTS=1``).
        image: the Neuron image. Defaults to ``NeuronImage.for_region(target=<manifest target>)``.
        initial_instance_count: instances at creation, also the scaling floor. Defaults to 2 (two AZs).
        max_capacity: the scaling ceiling. Defaults to 4.
        invocations_per_instance_per_minute: the scaling target, from a profile measured on the
            Inferentia type (``python -m tuning``; seed 003 gives no figure to reuse). Defaults to
            none: the variant is scalable but gets no policy until you measure one.
        **kwargs: passed to ``Stack`` (env, description, ...).
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
        bucket_name: str,
        key: str = DEFAULT_KEY,
        model_name: str = DEFAULT_MODEL_NAME,
        neuron_manifest: Mapping[str, Any] | None = None,
        instance_type: InstanceType = InstanceType.ML_INF2_XLARGE,
        runtime: NeuronRuntime | None = None,
        image: NeuronImage | None = None,
        initial_instance_count: int = 2,
        max_capacity: int = 4,
        invocations_per_instance_per_minute: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        bucket = s3.Bucket.from_bucket_name(self, "ModelsBucket", bucket_name)
        manifest = {"target": "inf2"} if neuron_manifest is None else neuron_manifest
        model = NeuronModel(
            self,
            "Model",
            artifact=ModelArtifact.from_bucket(bucket, key, model_name=model_name),
            image=image,
            runtime=NeuronRuntime(multi_instance_shared_weights=True) if runtime is None else runtime,
            neuron_manifest=manifest,
        )
        endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            variants=[
                ProductionVariant(
                    model=model, instance_type=instance_type, initial_instance_count=initial_instance_count
                )
            ],
        )
        scaling = endpoint.auto_scale_instance_count(
            min_capacity=initial_instance_count, max_capacity=max_capacity
        )
        if invocations_per_instance_per_minute is not None:
            scaling.scale_on_invocations(
                "Invocations", invocations_per_instance_per_minute=invocations_per_instance_per_minute
            )
        self.model = model
        self.endpoint = endpoint
        CfnOutput(self, "EndpointName", value=endpoint.endpoint_name)
