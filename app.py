#!/usr/bin/env python3
"""The CDK app: the only place that reads CDK context and the environment.

Context keys (``cdk synth -c key=value``; ``cdk.json`` sets ``model`` and the capacity range):

- ``model``: ``model_build.examples`` name. Defaults to ``bert-tiny``; ``bert-large`` reproduces seed 000.
- ``profile``: path of a tuning profile (``profile.json`` from ``python -m tuning matrix``). It sets
  the Triton batching and instance groups, and the defaults of the next three keys. Defaults to
  none: seed 000's tuned settings.
- ``instance_type``: SageMaker instance type. Defaults to the profile's, else ``ml.g4dn.xlarge``.
- ``instance_count``: initial instance count, >= 1. Defaults to the profile's, else 1.
- ``invocations_per_instance``: target invocations per instance per minute, >= 1. Defaults to the
  profile's, else 624.
- ``min_capacity``: autoscaling minimum, >= 1. Defaults to 1.
- ``max_capacity``: autoscaling maximum, >= ``min_capacity``. Defaults to 4.

A key given with ``-c`` wins over the profile, which wins over the built-in default.

Environment: ``CDK_DEFAULT_ACCOUNT`` / ``CDK_DEFAULT_REGION`` (set by the CDK CLI from your
profile); without them the stack is environment-agnostic (the Triton image resolves per region
at deploy time).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from model_build.examples import EXAMPLES
from model_build.profile import TuningProfile
from stacks.realtime_stack import RealtimeInferenceStack

STACK_ID = "TritonRealtimeInference"

# None: not set here, so the profile's value (if any) or the stack's default applies.
CONTEXT_DEFAULTS: dict[str, Any] = {
    "model": "bert-tiny",
    "profile": None,
    "instance_type": None,
    "instance_count": None,
    "min_capacity": 1,
    "max_capacity": 4,
    "invocations_per_instance": None,
}


class ContextError(ValueError):
    """A CDK context value is invalid; the message names the key."""


def _int(key: str, value: Any, minimum: int) -> int:
    # `cdk -c key=5` passes strings; cdk.json passes numbers.
    try:
        number = int(str(value), 10)
    except ValueError:
        raise ContextError(f"context key {key!r} must be an integer >= {minimum} (got {value!r})") from None
    if number < minimum:
        raise ContextError(f"context key {key!r} must be an integer >= {minimum} (got {number})")
    return number


def settings_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Return the stack props from CDK context values (``None`` = not set), validated.

    Raises:
        ContextError: a value is invalid; the message names the context key.
    """
    values = {
        key: (default if context.get(key) is None else context[key])
        for key, default in CONTEXT_DEFAULTS.items()
    }
    model = str(values["model"])
    if model not in EXAMPLES:
        raise ContextError(f"context key 'model' must be one of {', '.join(EXAMPLES)} (got {model!r})")
    profile = None
    if values["profile"] is not None:
        try:
            profile = TuningProfile.load(str(values["profile"]))
        except (OSError, ValueError) as error:  # ProfileError, or a file that is not JSON
            raise ContextError(f"context key 'profile' must name a valid tuning profile: {error}") from None
    instance_type = None if values["instance_type"] is None else str(values["instance_type"])
    if instance_type is not None and (not instance_type.startswith("ml.") or instance_type.count(".") != 2):
        raise ContextError(
            f"context key 'instance_type' must look like 'ml.g4dn.xlarge' (got {instance_type!r})"
        )
    min_capacity = _int("min_capacity", values["min_capacity"], 1)
    max_capacity = _int("max_capacity", values["max_capacity"], 1)
    if max_capacity < min_capacity:
        raise ContextError(
            f"context key 'max_capacity' must be >= 'min_capacity' (got {max_capacity} < {min_capacity})"
        )
    return {
        "model": model,
        "profile": profile,
        "instance_type": instance_type,
        "initial_instance_count": _optional_int("instance_count", values["instance_count"], 1),
        "min_capacity": min_capacity,
        "max_capacity": max_capacity,
        "invocations_per_instance": _optional_int(
            "invocations_per_instance", values["invocations_per_instance"], 1
        ),
    }


def _optional_int(key: str, value: Any, minimum: int) -> int | None:
    return None if value is None else _int(key, value, minimum)


def build_app(app: App | None = None, *, environ: Mapping[str, str] | None = None) -> App:
    """Compose the app: the real-time stack, checked by cdk-nag's AWS Solutions pack.

    Args:
        app: the app to add to. Defaults to a new ``App()`` (context from the CDK CLI).
        environ: the process environment. Defaults to ``os.environ``.
    """
    app = App() if app is None else app
    environ = os.environ if environ is None else environ
    settings = settings_from_context({key: app.node.try_get_context(key) for key in CONTEXT_DEFAULTS})
    RealtimeInferenceStack(
        app,
        STACK_ID,
        env=Environment(account=environ.get("CDK_DEFAULT_ACCOUNT"), region=environ.get("CDK_DEFAULT_REGION")),
        description="Seed 000: a BERT classifier on NVIDIA Triton behind an autoscaled SageMaker real-time endpoint",
        **settings,
    )
    # cdk-nag v3 is a policy-validation plugin: any unacknowledged finding fails synthesis.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


if __name__ == "__main__":
    try:
        cdk_app = build_app()
    except ContextError as error:
        # A bad `-c key=value` is a user error: say which key, without a traceback.
        sys.exit(f"app.py: {error}")
    cdk_app.synth()
