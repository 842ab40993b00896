"""One model on Triton behind an autoscaled real-time endpoint (seed 000's system for the BERT examples)."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Stack

from constructs import Construct
from model_build.examples import get_example
from model_build.profile import DEFAULT_SAFETY_FACTOR, TuningProfile
from model_build.spec import DynamicBatching, ModelSpec
from serving_constructs import (
    DEFAULT_LATENCY_TARGET_MS,
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    RealtimeEndpoint,
    TritonModel,
    defaults,
)

# Seed 000, table 4.2: pt-ig-db (no TensorRT: dynamic batching + 2 instances per GPU) on
# ml.g4dn.xlarge (the stack's default, serving_constructs.defaults.instance_type_name()) measured
# 892 invocations/min/instance for BERT-large. Our default build is the
# ONNX Runtime path, so that row applies; the target keeps model_build.profile's default safety factor (0.7).
SEED_MEASURED_INVOCATIONS_PER_MINUTE = 892
DEFAULT_INVOCATIONS_PER_INSTANCE = TuningProfile.scaling_target(SEED_MEASURED_INVOCATIONS_PER_MINUTE, DEFAULT_SAFETY_FACTOR)


def seed_tuned_spec(spec: ModelSpec, *, gpu: bool = True) -> ModelSpec:
    """Return ``spec`` with seed 000's tuned Triton settings (its best configuration, ``trt-db-ig``).

    Dynamic batching with a preferred batch of 16 and a 100 µs queue delay, and two model
    instances per GPU (seed 000, section 3.5). ``max_batch_size`` and the rest stay as given.

    Args:
        spec: the model to tune.
        gpu: place the instances on GPUs (``KIND_GPU``); False places them on CPUs. Defaults to True.
    """
    triton = dataclasses.replace(
        spec.triton,
        dynamic_batching=DynamicBatching(preferred_batch_sizes=(16,), max_queue_delay_microseconds=100),
        instance_count=2,
        instance_kind=_instance_kind(gpu),
    )
    return dataclasses.replace(spec, triton=triton)


def tuned_spec(spec: ModelSpec, *, profile: TuningProfile | None = None, gpu: bool = True) -> ModelSpec:
    """Return ``spec`` tuned by a measured ``profile``, or by seed 000's settings without one.

    Args:
        spec: the model to tune.
        profile: a profile measured for this model (``python -m tuning``). Defaults to none
            (seed 000's settings).
        gpu: place the instances on GPUs. Defaults to True.

    Raises:
        ProfileError: the profile was measured for another model.
    """
    if profile is None:
        return seed_tuned_spec(spec, gpu=gpu)
    tuned = profile.apply_to(spec)
    return dataclasses.replace(
        tuned, triton=dataclasses.replace(tuned.triton, instance_kind=_instance_kind(gpu))
    )


def _instance_kind(gpu: bool) -> str:
    return "KIND_GPU" if gpu else "KIND_CPU"


STACK_ID_PREFIX = "TritonRealtime-"

#: The model a stack serves when none is given.
DEFAULT_MODEL = "bert-tiny"


def realtime_stack_id(model_name: str) -> str:
    """Return the stack id (and CloudFormation stack name) of the real-time stack serving ``model_name``.

    One stack per model, named after the model, so adding a model to an app never renames the stacks
    already deployed. CloudFormation stack names allow letters, digits and hyphens: ``_`` becomes ``-``.
    """
    return STACK_ID_PREFIX + model_name.replace("_", "-")


@dataclass(frozen=True)
class _Plan:
    """What a stack's props resolve to before anything is built (one place for the stack and the app)."""

    spec: ModelSpec
    instance: InstanceType
    profile: TuningProfile | None


def _plan(
    model: ModelSpec | str,
    *,
    seed_tuning: bool | None,
    profile: TuningProfile | None,
    instance_type: str | None,
) -> _Plan:
    if instance_type is None:
        instance_type = defaults.instance_type_name() if profile is None else profile.instance_type
    if profile is not None and profile.instance_type != instance_type:
        # Same accelerator, another size: the measured rate is re-derived for this type. Another
        # accelerator is refused (ProfileError) unless the profile states a translation.
        profile = profile.for_instance_type(instance_type)
    instance = InstanceType.of(instance_type)
    base = get_example(model) if isinstance(model, str) else model
    if seed_tuning is None:
        seed_tuning = isinstance(model, str)
    if seed_tuning:
        spec = tuned_spec(base, profile=profile, gpu=instance.is_gpu)
    else:
        spec = base if profile is None else profile.apply_to(base)
    return _Plan(spec=spec, instance=instance, profile=profile)


class RealtimeInferenceStack(Stack):
    """A Triton model built by ``model_build``, served by an autoscaled real-time endpoint.

    Args:
        scope: the parent (the app).
        construct_id: the stack id (see :func:`realtime_stack_id`).
        model: a ``model_build.examples`` name, or a ``ModelSpec`` (e.g. from a model spec file,
            ``model_build.spec_file.load_spec_file``). Defaults to ``"bert-tiny"`` (``"bert-large"``
            reproduces seed 000).
        seed_tuning: apply seed 000's tuned Triton settings (dynamic batching, two instances per
            device, instance kind from the instance type) when no profile is given. Defaults to True
            for an example name (whose options are neutral) and False for a ``ModelSpec`` (whose
            Triton options are the user's and are deployed as declared).
        profile: a tuning profile measured for the model; it sets the Triton batching and instance
            groups, and the defaults of the three props below. Defaults to none.
        instance_type: the SageMaker instance type. Defaults to the profile's, else
            ``"ml.g4dn.xlarge"`` (seed 000).
        initial_instance_count: instances at creation. Defaults to the profile's, else 1.
        invocations_per_instance: the ``SageMakerVariantInvocationsPerInstance`` target (per
            minute). Defaults to the profile's, else 624 (seed 000's 892/min for BERT-large
            without TensorRT, times 0.7).
        min_capacity: fewest instances autoscaling keeps. Defaults to 1.
        max_capacity: most instances autoscaling starts. Defaults to 4.
        cache_dir: the model build cache. Defaults to ``model_build``'s default.
        **kwargs: further ``Stack`` props (env, description, ...).
    """

    @classmethod
    def planned_specs(
        cls,
        *,
        model: ModelSpec | str = DEFAULT_MODEL,
        seed_tuning: bool | None = None,
        profile: TuningProfile | None = None,
        instance_type: str | None = None,
        **other_props: Any,
    ) -> tuple[ModelSpec, ...]:
        """Return the models a stack with these props builds, without building them.

        The constructor derives its model from the same function, so an app can build every
        stack's models at once (``model_build.parallel.build_many``: misses side by side on every
        core) before composing the stacks, whose own builds are then cache hits.

        Args:
            model: as the constructor's.
            seed_tuning: as the constructor's.
            profile: as the constructor's.
            instance_type: as the constructor's.
            **other_props: the constructor's other props, accepted so that one set of props serves
                both calls; they do not change what is built.

        Raises:
            model_build.profile.ProfileError: the profile's accelerator is not the instance type's.
        """
        del other_props
        plan = _plan(model, seed_tuning=seed_tuning, profile=profile, instance_type=instance_type)
        return (plan.spec,)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: ModelSpec | str = DEFAULT_MODEL,
        seed_tuning: bool | None = None,
        profile: TuningProfile | None = None,
        instance_type: str | None = None,
        initial_instance_count: int | None = None,
        invocations_per_instance: int | None = None,
        min_capacity: int = 1,
        max_capacity: int = 4,
        cache_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        plan = _plan(model, seed_tuning=seed_tuning, profile=profile, instance_type=instance_type)
        profile = plan.profile
        if initial_instance_count is None:
            initial_instance_count = 1 if profile is None else profile.initial_instance_count
        if invocations_per_instance is None:
            invocations_per_instance = (
                DEFAULT_INVOCATIONS_PER_INSTANCE
                if profile is None
                else profile.invocations_per_instance_target
            )
        instance = plan.instance
        spec = plan.spec

        triton_model = TritonModel(
            self, "Model", artifact=ModelArtifact.from_build(spec, cache_dir=cache_dir)
        )
        endpoint = RealtimeEndpoint(
            self,
            "Endpoint",
            variants=[
                ProductionVariant(
                    model=triton_model, instance_type=instance, initial_instance_count=initial_instance_count
                )
            ],
        )
        endpoint.auto_scale_instance_count(
            min_capacity=min_capacity, max_capacity=max_capacity
        ).scale_on_invocations(
            "InvocationsScaling", invocations_per_instance_per_minute=invocations_per_instance
        )
        # The recommended alarms (their error and latency alarms roll a deployment back) and a
        # dashboard; the latency alarm holds the profile's SLO, else seed 000's 500 ms.
        endpoint.add_monitoring(
            alarms=True,
            latency_target_ms=DEFAULT_LATENCY_TARGET_MS if profile is None else profile.latency_target_ms,
        )
        endpoint.add_dashboard()

        self.model = triton_model
        self.endpoint = endpoint
        CfnOutput(
            self,
            "EndpointName",
            value=endpoint.endpoint_name,
            description="Pass to sagemaker-runtime InvokeEndpoint",
        )
        CfnOutput(self, "EndpointConfigName", value=endpoint.endpoint_config_name)
        CfnOutput(self, "ModelName", value=triton_model.model_name)
        CfnOutput(
            self,
            "TritonModelName",
            value=triton_model.default_model_name,
            description="The Triton model /invocations serves",
        )
