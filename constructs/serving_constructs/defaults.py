"""Opinionated defaults, as pure functions, in one place.

Every construct in this package applies its defaults through these functions (with ``is None``
checks), so a reader finds every default behaviour here and a test can pin them.
"""

from __future__ import annotations

from model_build.aws import DEFAULT_TRITON_VERSION

# The Triton DLC release used when none is given (pinned; model_build.aws says why). It lives in
# model_build because seed 001's TensorRT examples pin their engines to the same release.
_TRITON_VERSION = DEFAULT_TRITON_VERSION

# Seed 000's benchmark instance: one NVIDIA T4, 4 vCPU, 16 GiB. Seed 000 is AWS's post "Achieve
# hyperscale performance for model serving using NVIDIA Triton Inference Server on Amazon
# SageMaker", https://aws.amazon.com/blogs/machine-learning/achieve-hyperscale-performance-for-model-serving-using-nvidia-triton-inference-server-on-amazon-sagemaker/
_INSTANCE_TYPE = "ml.g4dn.xlarge"

# SageMaker's own default variant name for single-variant endpoints (the SDK's `deploy()` uses it).
_VARIANT_NAME = "AllTraffic"


def triton_version() -> str:
    """Return the SageMaker Triton DLC release used when none is given."""
    return _TRITON_VERSION


def instance_type_name() -> str:
    """Return the instance type name used when a variant names none."""
    return _INSTANCE_TYPE


def variant_name() -> str:
    """Return the production variant name used when none is given."""
    return _VARIANT_NAME


def initial_instance_count() -> int:
    """Return the initial instance count of a variant when none is given.

    One instance: the cheapest thing that works. Production endpoints should run two or more
    (SageMaker spreads instances over Availability Zones); the endpoint warns about one.
    """
    return 1


def initial_variant_weight() -> float:
    """Return the traffic weight of a variant when none is given (equal weights split evenly)."""
    return 1.0


def network_isolation() -> bool:
    """Return whether model containers run without network access when not stated.

    True: the Triton DLC serves from ``/opt/ml/model`` and needs no outbound calls; SageMaker still
    downloads the artifact from S3 on the container's behalf. Turn it off only for models whose
    backends fetch things at run time.
    """
    return True


def scale_in_cooldown_seconds() -> int:
    """Return the scale-in cooldown of target-tracking policies, in seconds.

    300 s: scaling in too fast on a bursty invocation metric drops capacity that the next burst
    needs; GPU instances take minutes to come back (model download + Triton load).
    """
    return 300


def scale_out_cooldown_seconds() -> int:
    """Return the scale-out cooldown of target-tracking policies, in seconds.

    60 s: react quickly to load; Application Auto Scaling already waits for the alarm datapoints.
    """
    return 60


# --- asynchronous endpoints (seed 002, AWS's "Improve high-value research with Hugging Face and
# Amazon SageMaker asynchronous inference endpoints", and AWS's scale-to-zero recipe,
# https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html) ---------------


def async_output_prefix() -> str:
    """Return the key prefix answers are written under, in the output bucket (``S3OutputPath``)."""
    return "async-inference/output"


def async_failure_prefix() -> str:
    """Return the key prefix failures are written under, in the output bucket (``S3FailurePath``)."""
    return "async-inference/failures"


def async_input_prefix() -> str:
    """Return the key prefix clients upload inputs under, in the output bucket.

    SageMaker reads an input wherever ``InputLocation`` points; the endpoint's execution roles may
    read only under this prefix (and prefixes granted with ``grant_invoke_async``).
    """
    return "async-inference/input"


def backlog_per_instance_target() -> float:
    """Return the ``ApproximateBacklogSizePerInstance`` that backlog target tracking keeps.

    5.0 queued requests per instance: seed 002's value and AWS's recipe.
    """
    return 5.0


def backlog_scale_in_cooldown_seconds() -> int:
    """Return the scale-in cooldown of backlog target tracking, in seconds (120 s, seed 002)."""
    return 120


def backlog_scale_out_cooldown_seconds() -> int:
    """Return the scale-out cooldown of backlog target tracking, in seconds (120 s, seed 002)."""
    return 120


def scale_out_from_zero_cooldown_seconds() -> int:
    """Return the cooldown of the scale-out-from-zero step policy, in seconds (300 s, AWS's recipe)."""
    return 300


def scale_to_zero_max_capacity() -> int:
    """Return the most instances :meth:`AsyncEndpoint.scale_to_zero` allows (5, seed 002)."""
    return 5


# --- multi-model endpoints (seed 001, AWS's "Run multiple deep learning models on GPU with Amazon
# SageMaker multi-model endpoints" and its notebook resnet50_mme_with_gpu.ipynb,
# https://github.com/aws/amazon-sagemaker-examples/blob/1ddf24e4b93538076343dd1b3b5088daf52331f3/multi-model-endpoints/mme-on-gpu/cv/resnet50_mme_with_gpu.ipynb) ---


def multi_model_instance_type_name() -> str:
    """Return the instance type of a multi-model endpoint when none is given.

    ``ml.g4dn.4xlarge``: seed 001's (one NVIDIA T4, 16 vCPU, 64 GiB: host memory and disk for
    many cached models).
    """
    return "ml.g4dn.4xlarge"


def multi_model_initial_instance_count() -> int:
    """Return the initial instance count of a multi-model endpoint when none is given.

    Two: AWS advises at least two instances behind a multi-model endpoint (Availability Zone
    redundancy, and a second cache of loaded models); the endpoint warns about one.
    """
    return 2


def multi_model_gpu_utilization_target() -> float:
    """Return the ``GPUUtilization`` a multi-model endpoint's scaling keeps (60, seed 001)."""
    return 60.0


def multi_model_min_capacity() -> int:
    """Return the fewest instances a multi-model endpoint scales to (1, seed 001)."""
    return 1


def multi_model_max_capacity() -> int:
    """Return the most instances a multi-model endpoint scales to (5, seed 001)."""
    return 5


def multi_model_scale_in_cooldown_seconds() -> int:
    """Return the scale-in cooldown of a multi-model endpoint's scaling, in seconds (600 s, seed 001).

    Longer than a single-model endpoint's: an instance removed takes its cache of loaded models
    with it, and the next instance pays every model's download and load again.
    """
    return 600


def multi_model_scale_out_cooldown_seconds() -> int:
    """Return the scale-out cooldown of a multi-model endpoint's scaling, in seconds (200 s, seed 001)."""
    return 200
