"""Opinionated defaults, as pure functions, in one place.

Every construct in this package applies its defaults through these functions (with ``is None``
checks), so a reader finds every default behaviour here and a test can pin them.
"""

from __future__ import annotations

import math

from aws_cdk import Duration

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


# --- startup timeouts from the archive's size (SERVICE-FACTS.md section 6, pain 10) -------------

#: ProductionVariant's ModelDataDownloadTimeoutInSeconds and
#: ContainerStartupHealthCheckTimeoutInSeconds: 60-3600 s (botocore's SageMaker service model).
_TIMEOUT_MAX_S = 3600
#: No archive gets less than ten minutes for either step: what a small model needs with room for
#: a slow instance start, so a known size never shortens what a deploy had before.
_TIMEOUT_FLOOR_S = 600
#: Assumed rates, deliberately pessimistic (a timeout that is too long costs only a slower failure;
#: one too short fails a deploy that would have worked): SageMaker downloads the archive from S3
#: and un-gzips it on the instance, and gzip decompression runs on one core (tens of MB/s on the
#: small instances that serve single models), so 10 MiB/s for download plus extraction; Triton
#: then reads every model file and loads it onto the GPU (ONNX Runtime / TensorRT session
#: creation, a copy to device memory): 20 MiB/s of archive.
_DOWNLOAD_BYTES_PER_S = 10 * 1024**2
_LOAD_BYTES_PER_S = 20 * 1024**2
#: Fixed time before the size matters: the container's start and Triton's own start (300 s).
_STARTUP_BASE_S = 300


def _whole_minutes(seconds: float) -> int:
    return min(_TIMEOUT_MAX_S, max(_TIMEOUT_FLOOR_S, 60 * math.ceil(seconds / 60)))


def startup_timeouts(archive_bytes: int) -> tuple[Duration, Duration]:
    """Return ``(model_data_download_timeout, container_startup_health_check_timeout)`` for an archive.

    Used by ``ProductionVariant`` when the model archive's size is known at synth
    (``ModelArtifact.size_bytes``: ``from_build``, ``from_asset``) and the variant sets neither
    timeout itself; explicit values win. A large model's first deploy fails when SageMaker's
    default timeouts end before the model is downloaded or loaded (TF provider PR #39090,
    aws/amazon-sagemaker-examples#3432), so the timeouts grow with the archive:

    * download and extraction: 300 s + the archive at 10 MiB/s;
    * container startup health check: 300 s (container and Triton start) + the archive at 20 MiB/s
      (Triton reads the files and loads them onto the GPU);

    each rounded up to whole minutes, at least 600 s and at most 3600 s (the API's maximum). A
    5 GiB archive gets 840 s to download and 600 s to pass ``/ping``; an archive above about
    32 GiB reaches the 3600 s cap for download, where only a smaller archive (or an uncompressed
    ``from_bucket_prefix`` model, which needs no extraction) helps. The rates are assumptions,
    deliberately pessimistic: a timeout that is too long only delays a failure; one too short
    fails a deploy that would have worked.

    Args:
        archive_bytes: the size of ``model.tar.gz`` in bytes, >= 0.

    Raises:
        ValueError: ``archive_bytes`` is negative or not an int.
    """
    if isinstance(archive_bytes, bool) or not isinstance(archive_bytes, int) or archive_bytes < 0:
        raise ValueError(f"archive_bytes must be an int >= 0 (got {archive_bytes!r})")
    download = _whole_minutes(_STARTUP_BASE_S + archive_bytes / _DOWNLOAD_BYTES_PER_S)
    startup = _whole_minutes(_STARTUP_BASE_S + archive_bytes / _LOAD_BYTES_PER_S)
    return Duration.seconds(download), Duration.seconds(startup)


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
