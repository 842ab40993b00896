"""Opinionated defaults, as pure functions, in one place.

Every construct in this package applies its defaults through these functions (with ``is None``
checks), so a reader finds every default behaviour here and a test can pin them.
"""

from __future__ import annotations

# The Triton DLC release used when none is given. Pinned rather than "newest in the installed SDK
# data": a default that moves when the sagemaker SDK is upgraded would silently replace every
# endpoint on the next deploy. 26.05 is the newest release the pinned SDK lists.
_TRITON_VERSION = "26.05"

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
