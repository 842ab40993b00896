"""Seed 002's system: a summarization model on an asynchronous endpoint that scales to zero and back.

Clients upload an input to S3, call ``invoke_endpoint_async`` with its URI, and learn the outcome
from one of two SNS topics (success, error); the answer lands under the endpoint's S3 output path,
a failure under its failure path. With no work queued the variant scales in to zero instances; the
first request that arrives at zero raises ``HasBacklogWithoutCapacity`` and a step policy adds an
instance (AWS's scale-from-zero recipe), after which target tracking on the backlog per instance
takes over.
"""

from __future__ import annotations

import os
from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack

from constructs import Construct
from model_build.examples import get_example
from model_build.spec import ModelSpec
from serving_constructs import (
    DEFAULT_LATENCY_TARGET_MS,
    AsyncEndpoint,
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    TritonModel,
    defaults,
)

STACK_ID_PREFIX = "TritonAsync-"

# Seed 002 (its section 3.1): MaxConcurrentInvocationsPerInstance 2. Its other figures (target
# tracking on ApproximateBacklogSizePerInstance at 5.0, min 0 / max 5 instances, both cooldowns
# 120 s) are AsyncEndpoint.scale_to_zero's defaults (serving_constructs.defaults), used as they are.
SEED_MAX_CONCURRENT_INVOCATIONS = 2

#: The model a stack serves when none is given (seed 002's PEGASUS, small, with seeded weights).
DEFAULT_MODEL = "pegasus-tiny"


def async_stack_id(model_name: str) -> str:
    """Return the stack id (and CloudFormation stack name) of the asynchronous stack serving ``model_name``.

    Named after the model, as the real-time stacks are (``_`` becomes ``-``).
    """
    return STACK_ID_PREFIX + model_name.replace("_", "-")


class AsyncInferenceStack(Stack):
    """A Triton model built by ``model_build``, served by an asynchronous endpoint that scales to zero.

    Args:
        scope: the parent (the app).
        construct_id: the stack id (see :func:`async_stack_id`).
        model: a ``model_build.examples`` name, or a ``ModelSpec``. Defaults to ``"pegasus-tiny"``
            (seed 002's PEGASUS, small and with seeded weights; docs/model_build.md says how to serve
            real weights).
        instance_type: the SageMaker instance type. Defaults to ``"ml.g4dn.xlarge"``
            (``serving_constructs.defaults.instance_type_name()``; seed 002 names none).
        max_concurrent_invocations_per_instance: requests SageMaker sends one instance at a time.
            Defaults to 2 (seed 002).
        backlog_per_instance_target: the ``ApproximateBacklogSizePerInstance`` target tracking
            holds. Defaults to 5.0 (seed 002; ``defaults.backlog_per_instance_target()``).
        max_capacity: most instances autoscaling starts. Defaults to 5 (seed 002;
            ``defaults.scale_to_zero_max_capacity()``); the fewest is 0. Both cooldowns of the
            backlog tracking are ``scale_to_zero``'s defaults, 120 s (seed 002).
        cache_dir: the model build cache. Defaults to ``model_build``'s default.
        **kwargs: further ``Stack`` props (env, description, ...).
    """

    @classmethod
    def planned_specs(cls, *, model: ModelSpec | str = DEFAULT_MODEL, **other_props: Any) -> tuple[ModelSpec, ...]:
        """Return the models a stack with these props builds, without building them.

        The constructor takes its model from here, so an app can build every stack's models at once
        (``model_build.parallel.build_many``) before composing the stacks.

        Args:
            model: as the constructor's.
            **other_props: the constructor's other props, accepted so that one set of props serves
                both calls; they do not change what is built.
        """
        del other_props
        return (get_example(model) if isinstance(model, str) else model,)

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        model: ModelSpec | str = DEFAULT_MODEL,
        instance_type: str | None = None,
        max_concurrent_invocations_per_instance: int = SEED_MAX_CONCURRENT_INVOCATIONS,
        backlog_per_instance_target: float | None = None,
        max_capacity: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        (spec,) = self.planned_specs(model=model)
        instance = InstanceType.of(defaults.instance_type_name() if instance_type is None else instance_type)
        triton_model = TritonModel(
            self, "Model", artifact=ModelArtifact.from_build(spec, cache_dir=cache_dir)
        )
        endpoint = AsyncEndpoint(
            self,
            "Endpoint",
            variants=[
                ProductionVariant(model=triton_model, instance_type=instance, initial_instance_count=1)
            ],
            max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance,
        )
        # The base warns that one instance has no Availability Zone redundancy. An asynchronous
        # endpoint's requests wait in its queue while an instance is replaced, and this one scales
        # 0..max_capacity on its backlog, so the warning does not apply here.
        Annotations.of(endpoint).acknowledge_warning(
            f"serving-constructs:singleInstance:{defaults.variant_name()}",
            "asynchronous endpoint: requests queue while an instance is replaced, and the variant scales 0..max_capacity",
        )
        endpoint.scale_to_zero(
            max_capacity=max_capacity,
            target_backlog_per_instance=backlog_per_instance_target,
        )
        # The recommended alarms (errors and latency roll a deployment back; the queue's oldest
        # request and a backlog without capacity) and a dashboard. No tuning profile here: the
        # latency alarm holds the project default (seed 000's 500 ms).
        endpoint.add_monitoring(alarms=True, latency_target_ms=DEFAULT_LATENCY_TARGET_MS)
        endpoint.add_dashboard()

        self.model = triton_model
        self.endpoint = endpoint
        CfnOutput(
            self,
            "EndpointName",
            value=endpoint.endpoint_name,
            description="Pass to sagemaker-runtime InvokeEndpointAsync",
        )
        CfnOutput(self, "EndpointConfigName", value=endpoint.endpoint_config_name)
        CfnOutput(self, "ModelName", value=triton_model.model_name)
        CfnOutput(
            self, "InputPath", value=endpoint.input_path, description="Upload inputs under this S3 prefix"
        )
        CfnOutput(self, "OutputPath", value=endpoint.output_path, description="Answers land here")
        CfnOutput(self, "FailurePath", value=endpoint.failure_path, description="Failures land here")
        if endpoint.success_topic is not None:
            CfnOutput(self, "SuccessTopicArn", value=endpoint.success_topic.topic_arn)
        if endpoint.error_topic is not None:
            CfnOutput(self, "ErrorTopicArn", value=endpoint.error_topic.topic_arn)
