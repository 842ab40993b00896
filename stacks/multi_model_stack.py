"""Seed 001's system: one ResNet served several ways behind one GPU multi-model endpoint.

Seed 001 (AWS's "Run multiple deep learning models on GPU with Amazon SageMaker multi-model
endpoints") serves one ResNet-50 two ways, TorchScript on ``pytorch_libtorch`` and a TensorRT
engine on ``tensorrt_plan`` (both ``max_batch_size: 128``, the engine with a batch-128 warmup),
as ``resnet_pt_v0.tar.gz`` and ``resnet_trt_v0.tar.gz`` under the prefix ``resnet-mme-gpu/``,
behind one multi-model endpoint of two ``ml.g4dn.4xlarge`` instances that scales 1..5 on
``GPUUtilization`` at 60 %. This stack adds the ONNX path as a third archive,
``resnet_onnx_v0.tar.gz``. All three archives hold the Triton model folder ``resnet/``; clients
pick one with ``invoke_endpoint(..., TargetModel="resnet_pt_v0.tar.gz")``.

The TensorRT engine is built for the endpoint's GPU and Triton image (``EngineTarget``) only where
TensorRT and that GPU are (locally, or in NVIDIA's container with ``docker run --gpus all``).
:data:`TENSORRT_MODES` says what happens elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, CfnOutput, Stack

from constructs import Construct
from model_build.examples import get_example
from model_build.parallel import build_many
from model_build.spec import ModelSpec
from model_build.tensorrt import retarget_engine as retarget_engine  # re-exported: the stacks' name for it
from serving_constructs import DEFAULT_LATENCY_TARGET_MS, InstanceType, ModelArtifact, defaults
from serving_constructs.model_prefix import ModelPrefix
from serving_constructs.multi_model import MultiModelEndpoint

STACK_ID_PREFIX = "TritonMultiModel-"

#: Seed 001's S3 prefix of the archives (``sagemaker_session.upload_data(..., key_prefix="resnet-mme-gpu")``).
SEED_MODEL_PREFIX = "resnet-mme-gpu/"

#: ``TargetModel`` names: seed 001's two archives, and the ONNX path's.
TORCHSCRIPT_TARGET = "resnet_pt_v0.tar.gz"
TENSORRT_TARGET = "resnet_trt_v0.tar.gz"
ONNX_TARGET = "resnet_onnx_v0.tar.gz"

TENSORRT_MODES: dict[str, str] = {
    "auto": (
        f"serve the engine as {TENSORRT_TARGET} when it can be built here (or is in the build cache); "
        "otherwise leave it out with a warning that says why and how to include it"
    ),
    "on": "serve the engine; fail before any build when it cannot be built here, saying what is missing",
    "off": f"leave {TENSORRT_TARGET} out",
    "rehearsal": (
        f"put the ONNX twin in the {TENSORRT_TARGET} slot, for a local rehearsal only (the bundled Triton "
        "has no TensorRT backend); the stack warns loudly that it is a substitute"
    ),
}
"""What the ``tensorrt`` prop (context key ``mme_tensorrt``) may be, and what each value does."""

#: The ``tensorrt`` value that substitutes the ONNX twin for the engine.
REHEARSAL = "rehearsal"

WARNING_PREFIX = "triton-iac:multiModel"


@dataclass(frozen=True)
class ModelSet:
    """One ResNet served three ways: example names of ``model_build.examples``.

    Attributes:
        torchscript: The TorchScript spec (``resnet_pt_v0.tar.gz``).
        tensorrt: The TensorRT spec (``resnet_trt_v0.tar.gz``).
        onnx: The ONNX spec (``resnet_onnx_v0.tar.gz``; also the rehearsal twin of the engine).
        description: One line for help texts.
    """

    torchscript: str
    tensorrt: str
    onnx: str
    description: str


MODEL_SETS: dict[str, ModelSet] = {
    "resnet50": ModelSet(
        "resnet50-pt", "resnet50-trt", "resnet50-onnx", "seed 001's ResNet-50 (FP32 3x224x224 -> 1000), ~100 MB each"
    ),
    "resnet-tiny": ModelSet(
        "resnet-tiny-pt",
        "resnet-tiny-trt",
        "resnet-tiny-onnx",
        "the same three on resnet-tiny (3x64x64 -> 1000), seconds to build: tests and the demo",
    ),
}
"""The model sets a stack can serve (context key ``mme_models``)."""

DEFAULT_MODEL_SET = "resnet50"


def multi_model_stack_id(model_set: str = DEFAULT_MODEL_SET) -> str:
    """Return the stack id (and CloudFormation stack name) of the multi-model stack serving ``model_set``."""
    return STACK_ID_PREFIX + model_set.replace("_", "-")


def engine_build_problem(
    spec: ModelSpec, *, cache_dir: str | os.PathLike[str] | None = None, environment: Any = None
) -> str | None:
    """Return why the engine of ``spec`` can be neither taken from the build cache nor built here; None when it can.

    Args:
        spec: A ``backend="tensorrt"`` spec with its ``tensorrt_target``.
        cache_dir: The build cache. Defaults to ``model_build``'s default.
        environment: What this machine offers (``model_build.tensorrt.BuildEnvironment``). Defaults to
            probing it (``nvidia-smi``, ``import tensorrt``, ``docker info``).

    The problem ends with the command that builds this very engine on a machine that can (into that
    machine's build cache; synthesize there, or copy the cache entry).
    """
    from model_build import cache
    from model_build.tensorrt import (
        TensorRTUnavailableError,
        plan_engine_build,
        probe_build_environment,
    )

    if cache.lookup(cache.resolve_cache_dir(cache_dir), spec.inputs_hash()) is not None:
        return None
    elsewhere = f"python -m model_build build --example {spec.name}"
    target = spec.tensorrt_target
    if target is not None and get_example(spec.name) != spec:
        # Retargeted to another instance type or image: the example's own build is another engine.
        elsewhere = (
            'python -c "from model_build.examples import get_example; from model_build.pipeline import build; '
            "from model_build.tensorrt import retarget_engine; build(retarget_engine(get_example("
            f"{spec.name!r}), instance_type={target.instance_type!r}, triton_version={target.triton_version!r}))\""
        )
    try:
        plan_engine_build(
            target,
            probe_build_environment() if environment is None else environment,
            elsewhere=elsewhere,
        )
    except TensorRTUnavailableError as error:
        return str(error)
    return None


@dataclass(frozen=True)
class _ArchivePlan:
    """What a stack's props resolve to before anything is built (one place for the stack and the app).

    Attributes:
        archives: ``TargetModel`` name -> the spec whose build it holds.
        instance_type: The endpoint's instance type (the engine's target).
        engine: The TensorRT spec, retargeted to the endpoint.
        onnx: The ONNX spec (also the rehearsal twin of the engine).
        engine_left_out: Why the engine is left out (``tensorrt="auto"`` where it cannot be built); None otherwise.
    """

    archives: dict[str, ModelSpec]
    instance_type: str
    engine: ModelSpec
    onnx: ModelSpec
    engine_left_out: str | None

    @property
    def specs(self) -> tuple[ModelSpec, ...]:
        """The specs to build, each once (the rehearsal's ONNX twin fills two slots)."""
        return tuple({spec.name: spec for spec in self.archives.values()}.values())


def _plan_archives(
    models: str,
    tensorrt: str,
    instance_type: str | None,
    cache_dir: str | os.PathLike[str] | None,
    build_environment: Any,
) -> _ArchivePlan:
    if models not in MODEL_SETS:
        raise ValueError(f"models must be one of {', '.join(MODEL_SETS)} (got {models!r})")
    if tensorrt not in TENSORRT_MODES:
        raise ValueError(f"tensorrt must be one of {', '.join(TENSORRT_MODES)} (got {tensorrt!r})")
    chosen = MODEL_SETS[models]
    instance = defaults.multi_model_instance_type_name() if instance_type is None else instance_type
    engine = retarget_engine(
        get_example(chosen.tensorrt), instance_type=instance, triton_version=defaults.triton_version()
    )
    onnx = get_example(chosen.onnx)
    archives: dict[str, ModelSpec] = {TORCHSCRIPT_TARGET: get_example(chosen.torchscript), ONNX_TARGET: onnx}
    left_out = None
    if tensorrt == REHEARSAL:
        archives[TENSORRT_TARGET] = onnx
    elif tensorrt != "off":
        problem = engine_build_problem(engine, cache_dir=cache_dir, environment=build_environment)
        if problem is None:
            archives[TENSORRT_TARGET] = engine
        elif tensorrt == "on":
            from model_build.tensorrt import TensorRTUnavailableError

            raise TensorRTUnavailableError(problem)
        else:
            left_out = problem
    return _ArchivePlan(archives, instance, engine, onnx, left_out)


class MultiModelInferenceStack(Stack):
    """Seed 001: one ResNet as TorchScript, a TensorRT engine and ONNX behind one GPU multi-model endpoint.

    Args:
        scope: the parent (the app).
        construct_id: the stack id (see :func:`multi_model_stack_id`).
        models: a :data:`MODEL_SETS` name. Defaults to ``"resnet50"`` (seed 001's ResNet-50, seeded
            weights); ``"resnet-tiny"`` builds in seconds.
        tensorrt: one of :data:`TENSORRT_MODES`. Defaults to ``"auto"``.
        instance_type: the single-GPU instance type. Defaults to ``ml.g4dn.4xlarge`` (seed 001;
            ``defaults.multi_model_instance_type_name()``). The engine is built for its GPU.
        initial_instance_count: instances at creation. Defaults to 2 (seed 001;
            ``defaults.multi_model_initial_instance_count()``).
        max_capacity: most instances the ``GPUUtilization`` tracking (60 %, min 1, cooldowns 600 s in /
            200 s out: seed 001) starts. Defaults to 5 (seed 001; ``defaults.multi_model_max_capacity()``).
        cache_dir: the model build cache. Defaults to ``model_build``'s default.
        build_environment: what this machine offers for the engine build
            (``model_build.tensorrt.BuildEnvironment``). Defaults to probing it.
        **kwargs: further ``Stack`` props (env, description, ...).

    Raises:
        ValueError: an unknown model set or TensorRT mode.
        model_build.tensorrt.TensorRTUnavailableError: ``tensorrt="on"`` and the engine cannot be built
            here (raised before any model is built).
    """

    @classmethod
    def planned_specs(
        cls,
        *,
        models: str = DEFAULT_MODEL_SET,
        tensorrt: str = "auto",
        instance_type: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        build_environment: Any = None,
        **other_props: Any,
    ) -> tuple[ModelSpec, ...]:
        """Return the models a stack with these props builds, without building them (each once).

        The constructor decides its archives with the same function, so an app can build every
        stack's models at once (``model_build.parallel.build_many``) before composing the stacks.
        With ``tensorrt="auto"`` the engine is planned only when it is in the build cache or can be
        built here (the same probe as the constructor's).

        Args:
            models: as the constructor's.
            tensorrt: as the constructor's.
            instance_type: as the constructor's.
            cache_dir: as the constructor's.
            build_environment: as the constructor's.
            **other_props: the constructor's other props, accepted so that one set of props serves
                both calls; they do not change what is built.

        Raises:
            ValueError: an unknown model set or TensorRT mode.
            model_build.tensorrt.TensorRTUnavailableError: ``tensorrt="on"`` and the engine cannot be
                built here.
        """
        del other_props
        return _plan_archives(models, tensorrt, instance_type, cache_dir, build_environment).specs

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        models: str = DEFAULT_MODEL_SET,
        tensorrt: str = "auto",
        instance_type: str | None = None,
        initial_instance_count: int | None = None,
        max_capacity: int | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        build_environment: Any = None,
        **kwargs: Any,
    ) -> None:
        plan = _plan_archives(models, tensorrt, instance_type, cache_dir, build_environment)
        super().__init__(scope, construct_id, **kwargs)
        instance, engine, onnx, archives = plan.instance_type, plan.engine, plan.onnx, plan.archives
        if plan.engine_left_out is not None:
            Annotations.of(self).add_warning_v2(
                f"{WARNING_PREFIX}:tensorrtLeftOut",
                f"{TENSORRT_TARGET} (the TensorRT engine of {engine.name}, for {instance} and Triton "
                f"{defaults.triton_version()}) is left out of this endpoint: {plan.engine_left_out.rstrip('.')}. To "
                "include it, synthesize where the engine can be built (or with its build in the model cache) with "
                f"-c mme_tensorrt=on; -c mme_tensorrt={REHEARSAL} puts the ONNX twin in its slot for a "
                "local rehearsal; -c mme_tensorrt=off silences this warning.",
            )
        # Built before the constructs bind them (a cache hit then), so a cold build runs the models side
        # by side on every core (an app that built every stack's planned_specs at once has them already).
        build_many(plan.specs, cache_dir=cache_dir)

        prefix = ModelPrefix(self, "ModelPrefix", prefix=SEED_MODEL_PREFIX)
        endpoint = MultiModelEndpoint(
            self,
            "Endpoint",
            instance_type=InstanceType.of(instance),
            initial_instance_count=initial_instance_count,
            model_prefix=prefix,
            models={
                target: ModelArtifact.from_build(spec, cache_dir=cache_dir) for target, spec in archives.items()
            },
        )
        endpoint.scale_on_gpu_utilization(max_capacity=max_capacity)
        # The recommended alarms (errors and latency roll a deployment back; model-load waits and the
        # cache-hit ratio) and a dashboard. No tuning profile here: the project's default latency target.
        endpoint.add_monitoring(alarms=True, latency_target_ms=DEFAULT_LATENCY_TARGET_MS)
        endpoint.add_dashboard()
        if tensorrt == REHEARSAL:
            Annotations.of(endpoint).add_warning_v2(
                f"{WARNING_PREFIX}:tensorrtRehearsalSubstitute",
                f"REHEARSAL SUBSTITUTE, NOT A TENSORRT ENGINE: {TENSORRT_TARGET} holds {onnx.name}, the ONNX twin "
                f"(platform onnxruntime_onnx), so that the local rehearsal (whose Triton has no TensorRT backend) "
                f"can serve the slot. Do not deploy this to AWS as seed 001's system; synthesize with "
                "-c mme_tensorrt=on where the engine can be built.",
            )

        self.endpoint = endpoint
        self.model_prefix = prefix
        self.archives: Mapping[str, ModelSpec] = dict(sorted(archives.items()))
        """``TargetModel`` name -> the spec whose build it holds."""
        CfnOutput(
            self,
            "EndpointName",
            value=endpoint.endpoint_name,
            description="Pass to sagemaker-runtime InvokeEndpoint with TargetModel",
        )
        CfnOutput(self, "EndpointConfigName", value=endpoint.endpoint_config_name)
        CfnOutput(self, "ModelDataUrl", value=prefix.s3_uri, description="Copy more <name>.tar.gz archives here")
        CfnOutput(
            self,
            "TargetModels",
            value=",".join(self.archives),
            description="The TargetModel names this app put under the prefix",
        )
