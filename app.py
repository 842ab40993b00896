#!/usr/bin/env python3
"""The CDK app: the only place that reads CDK context and composes the stacks.

Context keys (``cdk synth -c key=value``; ``cdk.json`` sets ``model`` and the capacity range):

- ``model``: what to deploy, one stack per model: a built-in example name (``bert-tiny``,
  ``bert-large`` reproduces seed 000, ...) or the path of a model spec file (``model.toml``,
  see docs/your-model.md); several separated by commas. Defaults to ``bert-tiny``.
- ``profile``: path of a tuning profile (``profile.json`` from ``python -m tuning matrix``), or
  several separated by commas; each applies to the model it was measured for. It sets the Triton
  batching and instance groups, and the defaults of the next three keys. Defaults to none:
  seed 000's tuned settings for the built-in examples, the spec file's own settings otherwise.
- ``instance_type``: SageMaker instance type. Defaults to the profile's, else ``ml.g4dn.xlarge``.
- ``instance_count``: initial instance count, >= 1. Defaults to the profile's, else 1.
- ``invocations_per_instance``: target invocations per instance per minute, >= 1. Defaults to the
  profile's, else 624.
- ``hardware_translation``: how to carry a profile's figures to an instance type with another
  accelerator, ``"FROM -> TO x FACTOR: REASON"`` (e.g. ``"H100 -> T4 x 0.1: bert-base measured on
  both"``). Defaults to none: a profile sizes only instance types with the accelerator it was measured
  on (any count of it), and anything else is refused.
- ``min_capacity``: autoscaling minimum, >= 1 (real-time endpoints cannot scale to zero).
  Defaults to 1.
- ``max_capacity``: autoscaling maximum, >= ``min_capacity``. Defaults to 4.
- ``async_model``: the model of seed 002's asynchronous stack (``TritonAsync-<model>``: S3 output
  and failure paths, SNS success and error topics, scale to zero and back): an example name or a
  model spec file. Defaults to ``pegasus-tiny``; ``none`` leaves the stack out.
- ``async_instance_type``: its SageMaker instance type. Defaults to ``ml.g4dn.xlarge``.
- ``async_max_capacity``: most instances its autoscaling starts, >= 1 (the fewest is 0). Defaults to
  5 (seed 002).
- ``mme_models``: the models of seed 001's multi-model stack (``TritonMultiModel-<set>``: one ResNet as
  TorchScript, a TensorRT engine and ONNX, ``resnet_pt_v0.tar.gz``/``resnet_trt_v0.tar.gz``/
  ``resnet_onnx_v0.tar.gz`` under ``resnet-mme-gpu/``, on one GPU multi-model endpoint): ``resnet50``
  (seed 001's ResNet-50) or ``resnet-tiny`` (the same three, built in seconds: tests and the demo).
  Defaults to ``resnet50``; ``none`` leaves the stack out.
- ``mme_tensorrt``: what becomes of its TensorRT engine, which builds only where TensorRT and the
  target GPU are: ``auto`` (serve it when it can be built here or is in the build cache, else leave
  it out with a warning saying why and how to include it), ``on`` (serve it; fail before any build
  when it cannot be built here), ``off`` (leave it out), ``rehearsal`` (put the ONNX twin in its
  slot for a local rehearsal, with a warning that it is a substitute). Defaults to ``auto``.
- ``mme_instance_type``: its single-GPU instance type. Defaults to ``ml.g4dn.4xlarge`` (seed 001).
- ``mme_instance_count``: its initial instance count, >= 1. Defaults to 2 (seed 001).
- ``mme_max_capacity``: most instances its ``GPUUtilization`` scaling (60 %, min 1) starts, >= 1.
  Defaults to 5 (seed 001).
- ``pipeline``: ``true`` composes the CDK Pipelines stack ``TritonServingPipeline`` (docs/pipeline.md)
  instead of the serving stacks: source → synth (``make setup``, ``make test-fast``, ``cdk synth``
  with this context) → ``Staging`` (the serving stacks the keys above describe, each smoke-tested)
  → ``ConfirmPermissionsBroadening`` → manual approval → ``Production``. Needs ``pipeline_source``,
  ``account`` and ``region`` (the pipeline's). Defaults to ``false`` (the serving stacks, deployed
  directly); the ``pipeline_*``, ``staging_account`` and ``production_account`` keys apply only with
  ``true``.
- ``pipeline_source``: the repository the pipeline builds: ``github:OWNER/NAME@BRANCH`` (through the
  CodeStar connection ``pipeline_connection_arn``) or ``codecommit:NAME@BRANCH`` (a CodeCommit
  repository of the pipeline's account); ``@BRANCH`` defaults to ``@main``. No default.
- ``pipeline_connection_arn``: the CodeStar (CodeConnections) connection to GitHub,
  ``arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID``, authorized once in the console (the
  template holds no token). Required with a ``github:`` source, refused with ``codecommit:``.
- ``staging_account`` / ``production_account``: the 12-digit accounts of the ``Staging`` and
  ``Production`` stages (bootstrapped with ``--trust`` the pipeline's account, docs/pipeline.md).
  Default to ``account`` (the pipeline's); both stages deploy to ``region``.
- ``pipeline_approval_topic``: the ARN of an SNS topic, in the pipeline's account and region, told
  when production waits for approval or the permissions check finds broadened IAM. Defaults to
  none (the approval waits in the console).
- ``pipeline_tensorrt``: where the pipeline builds the multi-model stack's TensorRT engine: ``off``
  ships the ONNX path (the pipeline synthesizes with ``mme_tensorrt=off``: nothing in it has the
  target GPU, and the synth step's log says so); ``processing-job`` builds the engine on the
  endpoint's GPU family in a SageMaker Processing job before synth (``stacks/pipeline_engines.py``,
  docs/pipeline-engines.md), and the synth serves it (``mme_tensorrt=on``). Defaults to ``off``.
- ``pipeline_tensorrt_image``: with ``processing-job``, the ECR URI of NVIDIA's TensorRT container of
  the serving Triton release mirrored into your account. No default.
- ``examples``: example stacks of the other hosting options (``stacks/examples.py``), to copy:
  ``serverless`` (``ExampleServerless``: bert-tiny built for CPUs on a serverless endpoint, provisioned
  concurrency 1 scaled up to its max concurrency of 10),
  ``shadow-capture`` (``ExampleShadowCapture``: a shadow variant and KMS-encrypted data capture),
  ``multi-container`` (``ExampleMultiContainer``: a serial pipeline and direct invocation), ``byoc``
  (``ExampleByoc``: seed 004's Flask container, built from ``examples/byoc`` by Docker at deploy time),
  ``inferentia`` (``ExampleInferentia``: a Neuron model on ml.inf2); several separated by commas, or
  ``all``. Defaults to ``none``. Not with ``pipeline=true``.
- ``examples_bucket``: the S3 bucket the ``shadow-capture``, ``multi-container`` and ``inferentia``
  examples read their model archives from (each stack's docstring names the keys). Required with
  one of them, refused without. No default.
- ``account`` / ``region``: pin the stacks to an environment (with ``pipeline=true``: the pipeline's,
  and required). Defaults to none: the stacks are
  environment-agnostic (``AWS::Region``/``AWS::AccountId`` resolve at deploy time), so the same
  template deploys anywhere and synthesis does not depend on the AWS configuration of the machine
  that runs it (the CDK CLI sets ``CDK_DEFAULT_REGION=us-east-1`` when none is configured, which is
  why this app does not read it).

A key given with ``-c`` wins over the profile, which wins over the built-in default. Every value is
checked, and every model spec file read and validated, before any model is built. An unknown key is
a warning that names the nearest known one. Bad input ends with one line on stderr and exit status
2 (``TRITON_IAC_DEBUG=1`` shows the traceback).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, App, Environment, Stack, Validations
from cdk_nag import AwsSolutionsChecks

from model_build.aws import is_region
from model_build.examples import EXAMPLES
from model_build.profile import HardwareTranslation, ProfileError, TuningProfile
from model_build.spec import ModelSpec
from model_build.user_errors import UserError, debug_enabled, did_you_mean
from serving_constructs import InstanceType, PropsError, defaults
from stacks.async_stack import AsyncInferenceStack, async_stack_id
from stacks.examples import EXAMPLES as EXAMPLE_STACKS
from stacks.examples import Example
from stacks.multi_model_stack import (
    DEFAULT_MODEL_SET,
    MODEL_SETS,
    TENSORRT_MODES,
    MultiModelInferenceStack,
    multi_model_stack_id,
)
from stacks.pipeline_engines import ENGINE_BUILD_MODES, EngineBuild
from stacks.pipeline_stack import PipelineSource, ServingPipelineStack
from stacks.plans import StackPlan, build_models, planned_specs
from stacks.realtime_stack import RealtimeInferenceStack, realtime_stack_id

#: The ``examples`` value that adds no example stack (the default).
NO_EXAMPLES = "none"

# None: not set here, so the profile's value (if any) or the stack's default applies.
CONTEXT_DEFAULTS: dict[str, Any] = {
    "model": "bert-tiny",
    "profile": None,
    "instance_type": None,
    "instance_count": None,
    "min_capacity": 1,
    "max_capacity": 4,
    "invocations_per_instance": None,
    "hardware_translation": None,
    "async_model": "pegasus-tiny",
    "async_instance_type": None,
    "async_max_capacity": defaults.scale_to_zero_max_capacity(),
    "mme_models": DEFAULT_MODEL_SET,
    "mme_tensorrt": "auto",
    "mme_instance_type": None,
    "mme_instance_count": None,
    "mme_max_capacity": defaults.multi_model_max_capacity(),
    "account": None,
    "region": None,
    "pipeline": None,
    "pipeline_source": None,
    "pipeline_connection_arn": None,
    "staging_account": None,
    "production_account": None,
    "pipeline_approval_topic": None,
    "pipeline_tensorrt": None,
    "pipeline_tensorrt_image": None,
    "examples": NO_EXAMPLES,
    "examples_bucket": None,
}

#: The context keys that apply only with ``pipeline=true``.
PIPELINE_KEYS = (
    "pipeline_source",
    "pipeline_connection_arn",
    "staging_account",
    "production_account",
    "pipeline_approval_topic",
    "pipeline_tensorrt",
    "pipeline_tensorrt_image",
)

#: The id (and CloudFormation stack name) of the pipeline stack.
PIPELINE_STACK_ID = "TritonServingPipeline"


#: The ``async_model`` value that leaves the asynchronous stack out.
NO_ASYNC_MODEL = "none"

#: The ``mme_models`` value that leaves the multi-model stack out.
NO_MULTI_MODEL = "none"

_ACCOUNT = re.compile(r"^\d{12}$")


class ContextError(UserError):
    """A CDK context value is invalid; the message names the key, the value, what is allowed and the fix."""


@dataclass(frozen=True)
class ModelChoice:
    """One model to deploy, resolved from the ``model`` context key.

    Attributes:
        reference: What the user wrote (an example name or a spec file path).
        spec: The model spec.
        example: Whether it is a built-in example (those get seed 000's tuned Triton settings).
    """

    reference: str
    spec: ModelSpec
    example: bool


def _int(key: str, value: Any, minimum: int) -> int:
    # `cdk -c key=5` passes strings; cdk.json passes numbers. Floats and booleans are refused rather
    # than truncated: 2.5 instances is a typo, not a request for 2.
    not_an_integer = ContextError(
        f"context key {key!r} must be an integer >= {minimum} (got {value!r}); pass e.g. -c {key}={max(minimum, 2)}"
    )
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise not_an_integer
    try:
        number = int(value) if isinstance(value, float) else int(str(value).strip(), 10)
    except ValueError:
        raise not_an_integer from None
    if number < minimum:
        raise ContextError(
            f"context key {key!r} must be an integer >= {minimum} (got {number}); pass -c {key}={minimum} or more"
        )
    return number


def _optional_int(key: str, value: Any, minimum: int) -> int | None:
    return None if value is None else _int(key, value, minimum)


def _list(key: str, value: Any) -> list[str]:
    """Split a comma-separated context value (or take a JSON list from cdk.json)."""
    items = [str(v) for v in value] if isinstance(value, list | tuple) else str(value).split(",")
    items = [item.strip() for item in items]
    if not items or any(not item for item in items):
        raise ContextError(
            f"context key {key!r} has an empty entry (got {value!r}); separate several values with commas, "
            f"e.g. -c {key}=a,b"
        )
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        raise ContextError(
            f"context key {key!r} names {', '.join(duplicates)} more than once (got {value!r})"
        )
    return items


def resolve_models(value: Any) -> list[ModelChoice]:
    """Resolve the ``model`` context value: example names and model spec files, all validated.

    Raises:
        ContextError: an entry is neither an example nor a valid spec file (every problem at once),
            or two entries would deploy the same stack.
    """
    from model_build.spec_file import SpecFileError
    from model_build.spec_file import resolve_models as resolve_specs

    references = _list("model", value)
    try:
        specs = resolve_specs(references)
    except SpecFileError as error:
        raise ContextError(f"context key 'model': {error}") from None
    choices = [
        ModelChoice(reference, spec, example=reference in EXAMPLES)
        for reference, spec in zip(references, specs, strict=True)
    ]
    by_stack: dict[str, list[str]] = {}
    for choice in choices:
        by_stack.setdefault(realtime_stack_id(choice.spec.name), []).append(choice.reference)
    for stack, refs in by_stack.items():
        if len(refs) > 1:
            raise ContextError(
                f"context key 'model': {' and '.join(refs)} would both deploy stack {stack} (their model names "
                "differ only in '_' versus '-'); rename one model (its spec file's `name`)"
            )
    return choices


def _profiles(value: Any, models: Sequence[ModelChoice]) -> dict[str, TuningProfile]:
    """Load each profile and match it to the model it was measured for."""
    names = [m.spec.name for m in models]
    profiles: dict[str, TuningProfile] = {}
    for path in _list("profile", value):
        try:
            profile = TuningProfile.load(path)
        except (OSError, ValueError) as error:  # ProfileError, or a file that is missing or not JSON
            raise ContextError(
                f"context key 'profile' must name a valid tuning profile (python -m tuning matrix writes one): {error}"
            ) from None
        if profile.model_name not in names:
            raise ContextError(
                f"context key 'profile': {path} was measured for model {profile.model_name!r}, but context key "
                f"'model' deploys {', '.join(repr(n) for n in names)}; deploy that model too, or pass the profile "
                "measured for this one"
            )
        if profile.model_name in profiles:
            raise ContextError(f"context key 'profile' gives two profiles for model {profile.model_name!r}")
        profiles[profile.model_name] = profile
    return profiles


def _instance_type(value: Any, key: str = "instance_type") -> str | None:
    if value is None:
        return None
    name = str(value).strip()
    try:
        InstanceType.of(name)
    except (PropsError, ValueError, TypeError):
        from model_build.hardware import near_instance_types

        near = near_instance_types(name if name.startswith("ml.") else f"ml.{name}")
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ContextError(
            f"context key {key!r} must be a SageMaker hosting instance type like 'ml.g4dn.xlarge' "
            f"(got {value!r}){hint}"
        ) from None
    return name


def _environment(account: Any, region: Any) -> Environment:
    if account is not None and not _ACCOUNT.match(str(account).strip()):
        raise ContextError(f"context key 'account' must be a 12-digit AWS account id (got {account!r})")
    if region is not None and not is_region(str(region).strip()):
        raise ContextError(f"context key 'region' must be an AWS region like 'us-east-1' (got {region!r})")
    return Environment(
        account=None if account is None else str(account).strip(),
        region=None if region is None else str(region).strip(),
    )


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")
_SOURCE = re.compile(r"^(?P<kind>[a-z]+):(?P<repository>[^@]*)(@(?P<branch>.*))?$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):[A-Za-z0-9_-]{1,256}$")


def _flag(key: str, value: Any) -> bool:
    text = str(value).strip().lower()
    if isinstance(value, bool) or text in _TRUE + _FALSE:
        return value if isinstance(value, bool) else text in _TRUE
    raise ContextError(f"context key {key!r} must be true or false (got {value!r}); pass -c {key}=true")


def _account(key: str, value: Any, default: str) -> str:
    if value is None:
        return default
    if not _ACCOUNT.match(str(value).strip()):
        raise ContextError(
            f"context key {key!r} must be a 12-digit AWS account id (got {value!r}); pass -c {key}=123456789012, "
            "or leave it out to use the pipeline's account ('account')"
        )
    return str(value).strip()


def _pipeline_source(values: Mapping[str, Any]) -> PipelineSource:
    value, connection = values["pipeline_source"], values["pipeline_connection_arn"]
    forms = "github:OWNER/NAME@BRANCH (with -c pipeline_connection_arn=...) or codecommit:NAME@BRANCH"
    if value is None:
        raise ContextError(f"context key 'pipeline_source' is required with pipeline=true; pass -c pipeline_source={forms}")
    match = _SOURCE.match(str(value).strip())
    if match is None or match["kind"] not in ("github", "codecommit"):
        raise ContextError(f"context key 'pipeline_source' must be {forms} (got {value!r})")
    repository, branch = match["repository"], "main" if match["branch"] is None else match["branch"]
    key = "context keys 'pipeline_source' and 'pipeline_connection_arn'"
    try:
        if match["kind"] == "github":
            if connection is None:
                raise ContextError(
                    f"context key 'pipeline_connection_arn' is required with a github: source (got pipeline_source="
                    f"{value!r}); create a connection to GitHub (console: Developer Tools > Connections) and pass "
                    "-c pipeline_connection_arn=arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID"
                )
            return PipelineSource.github(repository=repository, branch=branch, connection_arn=str(connection).strip())
        if connection is not None:
            raise ContextError(
                f"context key 'pipeline_connection_arn' applies only to a github: source (got pipeline_source={value!r}); "
                "drop it, or use -c pipeline_source=github:OWNER/NAME@BRANCH"
            )
        return PipelineSource.codecommit(repository_name=repository, branch=branch)
    except PropsError as error:
        raise ContextError(f"{key}: {error}") from None


def _engine_build(values: Mapping[str, Any]) -> EngineBuild | None:
    """Return the pipeline's TensorRT engine step props (``pipeline_tensorrt``), or None for ``off``."""
    mode = "off" if values["pipeline_tensorrt"] is None else str(values["pipeline_tensorrt"]).strip().lower()
    image = values["pipeline_tensorrt_image"]
    if mode not in ENGINE_BUILD_MODES:
        modes = "; ".join(f"{name!r}: {meaning}" for name, meaning in ENGINE_BUILD_MODES.items())
        raise ContextError(
            f"context key 'pipeline_tensorrt' must be one of {', '.join(ENGINE_BUILD_MODES)} "
            f"(got {values['pipeline_tensorrt']!r}){did_you_mean(mode, list(ENGINE_BUILD_MODES))}; {modes}"
        )
    if mode == "off":
        if image is not None:
            raise ContextError(
                f"context key 'pipeline_tensorrt_image' applies only with pipeline_tensorrt=processing-job (got {image!r}); "
                "pass -c pipeline_tensorrt=processing-job, or drop it"
            )
        return None
    models = str(values["mme_models"]).strip()
    if models.lower() == NO_MULTI_MODEL:
        raise ContextError(
            "context key 'pipeline_tensorrt' is 'processing-job', but 'mme_models' is 'none': no multi-model stack "
            "serves an engine; pass -c mme_models=resnet50 (or resnet-tiny), or -c pipeline_tensorrt=off"
        )
    if image is None:
        raise ContextError(
            "context key 'pipeline_tensorrt_image' is required with pipeline_tensorrt=processing-job: the ECR URI of "
            f"NVIDIA's TensorRT container nvcr.io/nvidia/tensorrt:{defaults.triton_version()}-py3 mirrored into your "
            "account (docs/pipeline-engines.md); pass -c pipeline_tensorrt_image=ACCOUNT.dkr.ecr.REGION.amazonaws.com/..."
        )
    instance_type = values["mme_instance_type"]
    build = EngineBuild(
        image_uri=str(image).strip(),
        models=models,
        instance_type=None if instance_type is None else str(instance_type).strip(),
    )
    problems = build.problems()
    if problems:
        raise ContextError(
            f"context keys 'pipeline_tensorrt_image', 'mme_models' and 'mme_instance_type': {'; '.join(problems)}"
        )
    return build


def _pipeline_settings(values: Mapping[str, Any], env: Environment) -> dict[str, Any] | None:
    """Return the pipeline's settings, or None without ``pipeline=true`` (then no pipeline key may be set)."""
    if not _flag("pipeline", False if values["pipeline"] is None else values["pipeline"]):
        given = [key for key in PIPELINE_KEYS if values[key] is not None]
        if given:
            raise ContextError(
                f"context key {given[0]!r} applies only to the pipeline (got {values[given[0]]!r}); pass -c pipeline=true "
                "too, or drop it"
            )
        return None
    missing = [key for key in ("account", "region") if values[key] is None]
    if missing:
        raise ContextError(
            f"context key {missing[0]!r} is required with pipeline=true: the pipeline's {missing[0]} (cross-account "
            "stages and the bootstrap trust need it); pass -c account=123456789012 -c region=us-east-1"
        )
    assert env.account is not None and env.region is not None
    source = _pipeline_source(values)
    topic = values["pipeline_approval_topic"]
    if topic is not None:
        match = _TOPIC_ARN.match(str(topic).strip())
        if match is None or (match["region"], match["account"]) != (env.region, env.account):
            raise ContextError(
                f"context key 'pipeline_approval_topic' must be the ARN of an SNS topic in the pipeline's account and "
                f"region, arn:aws:sns:{env.region}:{env.account}:NAME (got {topic!r})"
            )
        topic = str(topic).strip()
    tensorrt = _engine_build(values)
    if tensorrt is None and str(values["mme_tensorrt"]).strip().lower() == "on":
        raise ContextError(
            "context key 'mme_tensorrt' is 'on', but 'pipeline_tensorrt' is 'off' (the pipeline ships the ONNX path "
            "and builds no engine); pass -c pipeline_tensorrt=processing-job, or drop -c mme_tensorrt=on"
        )
    return {
        "source": source,
        "staging": Environment(account=_account("staging_account", values["staging_account"], env.account), region=env.region),
        "production": Environment(
            account=_account("production_account", values["production_account"], env.account), region=env.region
        ),
        "approval_topic_arn": topic,
        "tensorrt": tensorrt,
    }


def settings_from_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Return the app's settings from CDK context values (``None`` = not set), all validated.

    Nothing is built here: spec files are read and validated, model files are checked, profiles are
    loaded, and every value is range-checked, so bad input fails before any work starts.

    Raises:
        ContextError: a value is invalid; the message names the context key and the fix.
    """
    values = {
        key: (default if context.get(key) is None else context[key])
        for key, default in CONTEXT_DEFAULTS.items()
    }
    instance_type = _instance_type(values["instance_type"])
    min_capacity = _int("min_capacity", values["min_capacity"], 1)
    max_capacity = _int("max_capacity", values["max_capacity"], 1)
    if max_capacity < min_capacity:
        raise ContextError(
            f"context key 'max_capacity' must be >= 'min_capacity' (got {max_capacity} < {min_capacity}); "
            f"pass -c max_capacity={min_capacity} or more"
        )
    settings: dict[str, Any] = {
        "instance_type": instance_type,
        "initial_instance_count": _optional_int("instance_count", values["instance_count"], 1),
        "min_capacity": min_capacity,
        "max_capacity": max_capacity,
        "invocations_per_instance": _optional_int(
            "invocations_per_instance", values["invocations_per_instance"], 1
        ),
        "env": _environment(values["account"], values["region"]),
    }
    settings["pipeline"] = _pipeline_settings(values, settings["env"])
    if settings["pipeline"] is not None and settings["pipeline"]["tensorrt"] is None:
        # What the pipeline deploys is what its synth step (no GPU, no engine step) can build.
        values["mme_tensorrt"] = "off"
    translation = None
    if values["hardware_translation"] is not None:
        try:
            translation = HardwareTranslation.parse(
                str(values["hardware_translation"]), where="context key 'hardware_translation'"
            )
        except ProfileError as error:
            raise ContextError(str(error)) from None
    models = resolve_models(values["model"])
    profiles = {} if values["profile"] is None else _profiles(values["profile"], models)
    if translation is not None and not profiles:
        raise ContextError(
            "context key 'hardware_translation' only applies with a tuning profile; pass -c profile=... or drop it"
        )
    for choice in models:
        profile = profiles.get(choice.spec.name)
        if profile is not None:
            profile = _profile_for(profile, instance_type, translation)
            profiles[choice.spec.name] = profile
        _check_model_fits(
            choice,
            instance_type or (profile.instance_type if profile is not None else None),
            explicit=instance_type is not None,
        )
    settings["models"] = models
    settings["profiles"] = profiles
    settings["async"] = _async_settings(values)
    settings["multi_model"] = _multi_model_settings(values)
    settings["examples"] = _example_settings(values)
    return settings


_BUCKET_NAME = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def _example_settings(values: Mapping[str, Any]) -> list[tuple[Example, str | None]]:
    """Resolve ``examples`` and ``examples_bucket``: the example stacks to add, each with its bucket."""
    value = values["examples"]
    names = list(EXAMPLE_STACKS) if value == "all" else [] if value == NO_EXAMPLES else _list("examples", value)
    allowed = f"{', '.join(EXAMPLE_STACKS)}, all or {NO_EXAMPLES}"
    for name in names:
        if name not in EXAMPLE_STACKS:
            raise ContextError(
                f"context key 'examples' names {name!r}, which is not an example stack"
                f"{did_you_mean(name, list(EXAMPLE_STACKS))}; allowed: {allowed} (several separated by commas)"
            )
    bucket = values["examples_bucket"]
    needs_bucket = [name for name in names if EXAMPLE_STACKS[name].bucket_prop is not None]
    if bucket is None and needs_bucket:
        raise ContextError(
            f"context key 'examples_bucket' is required with examples={','.join(needs_bucket)}: the S3 bucket "
            "holding those examples' model archives (their stack docstrings name the keys); pass "
            "-c examples_bucket=my-model-bucket"
        )
    if bucket is not None:
        if not needs_bucket:
            readers = ", ".join(name for name, example in EXAMPLE_STACKS.items() if example.bucket_prop is not None)
            raise ContextError(
                f"context key 'examples_bucket' applies only to the examples that read archives from a bucket "
                f"({readers}), and examples is {value!r}; drop it or pass -c examples=... with one of them"
            )
        if not isinstance(bucket, str) or not _BUCKET_NAME.match(bucket):
            raise ContextError(
                f"context key 'examples_bucket' must be an S3 bucket name (3-63 lowercase letters, digits, dots "
                f"and hyphens, starting and ending with a letter or digit; got {bucket!r}); pass e.g. "
                "-c examples_bucket=my-model-bucket"
            )
    if names and values["pipeline"] is not None and _flag("pipeline", values["pipeline"]):
        raise ContextError(
            f"context key 'examples' ({value!r}) does not apply with pipeline=true: the example stacks are for "
            "copying, not the pipeline's stages; synthesize them without pipeline=true, or drop examples"
        )
    return [(EXAMPLE_STACKS[name], bucket if EXAMPLE_STACKS[name].bucket_prop is not None else None) for name in names]


def example_plans(settings: Mapping[str, Any]) -> list[StackPlan]:
    """Return the example stacks (``examples``) the app adds after the serving stacks, in order."""
    return [example.plan(bucket=bucket, env=settings["env"]) for example, bucket in settings["examples"]]


def _async_settings(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return the asynchronous stack's settings, or None when ``async_model`` is ``none``."""
    instance_type = _instance_type(values["async_instance_type"], "async_instance_type")
    max_capacity = _int("async_max_capacity", values["async_max_capacity"], 1)
    reference = str(values["async_model"]).strip()
    if reference.lower() == NO_ASYNC_MODEL:
        return None
    if "," in reference:
        raise ContextError(
            f"context key 'async_model' takes one model (got {values['async_model']!r}); the asynchronous stack "
            "serves one, e.g. -c async_model=pegasus-tiny"
        )
    from model_build.spec_file import SpecFileError
    from model_build.spec_file import resolve_models as resolve_specs

    try:
        (spec,) = resolve_specs([reference])
    except SpecFileError as error:
        raise ContextError(
            f"context key 'async_model': {error} (or -c async_model={NO_ASYNC_MODEL} to leave the stack out)"
        ) from None
    choice = ModelChoice(reference, spec, example=reference in EXAMPLES)
    _check_model_fits(
        choice, instance_type or defaults.instance_type_name(), explicit=True, key="async_instance_type"
    )
    return {"model": choice, "instance_type": instance_type, "max_capacity": max_capacity}


def _multi_model_settings(values: Mapping[str, Any]) -> dict[str, Any] | None:
    """Return seed 001's multi-model stack settings, or None when ``mme_models`` is ``none``.

    With ``mme_tensorrt=on`` the engine's build environment is checked here, before any model is built.
    """
    from serving_constructs.multi_model import multi_model_instance_type_problems

    instance_type = _instance_type(values["mme_instance_type"], "mme_instance_type")
    if instance_type is not None:
        problems = multi_model_instance_type_problems(
            "context key 'mme_instance_type'", InstanceType.of(instance_type)
        )
        if problems:
            raise ContextError("; ".join(problems) + " (pass it as -c mme_instance_type=<type>)")
    count = _optional_int("mme_instance_count", values["mme_instance_count"], 1)
    max_capacity = _int("mme_max_capacity", values["mme_max_capacity"], 1)
    tensorrt = str(values["mme_tensorrt"]).strip().lower()
    if tensorrt not in TENSORRT_MODES:
        modes = "; ".join(f"{mode!r}: {meaning}" for mode, meaning in TENSORRT_MODES.items())
        raise ContextError(
            f"context key 'mme_tensorrt' must be one of {', '.join(TENSORRT_MODES)} (got {values['mme_tensorrt']!r})"
            f"{did_you_mean(tensorrt, list(TENSORRT_MODES))}; {modes}"
        )
    models = str(values["mme_models"]).strip()
    if models.lower() == NO_MULTI_MODEL:
        return None
    if models not in MODEL_SETS:
        sets = "; ".join(f"{name!r}: {model_set.description}" for name, model_set in MODEL_SETS.items())
        raise ContextError(
            f"context key 'mme_models' must name a model set of seed 001's multi-model stack (got {values['mme_models']!r})"
            f"{did_you_mean(models, list(MODEL_SETS))}: {sets}; or -c mme_models={NO_MULTI_MODEL} to leave the stack out"
        )
    if tensorrt == "on":
        from model_build.examples import get_example
        from stacks.multi_model_stack import engine_build_problem, retarget_engine

        engine = retarget_engine(
            get_example(MODEL_SETS[models].tensorrt),
            instance_type=instance_type or defaults.multi_model_instance_type_name(),
            triton_version=defaults.triton_version(),
        )
        problem = engine_build_problem(engine)
        if problem is not None:
            raise ContextError(
                f"context key 'mme_tensorrt' is 'on', but the engine {engine.name} cannot be built here: {problem} "
                "(or pass -c mme_tensorrt=auto to leave it out with a warning)"
            )
    return {
        "models": models,
        "tensorrt": tensorrt,
        "instance_type": instance_type,
        "initial_instance_count": count,
        "max_capacity": max_capacity,
    }


def _profile_for(
    profile: TuningProfile, instance_type: str | None, translation: HardwareTranslation | None
) -> TuningProfile:
    """Check the profile's hardware against the instance type; re-size it for a type given with -c."""
    hint = "-c hardware_translation='{source} -> {target} x FACTOR: REASON'"
    try:
        if instance_type is None or instance_type == profile.instance_type:
            profile.check_instance_type(translation=translation, translation_hint=hint)
            return profile
        # Same accelerator, another size (or a stated translation): the scaling target and the
        # initial count are re-derived from the measured rate for this instance type.
        return profile.for_instance_type(instance_type, translation, translation_hint=hint)
    except ProfileError as error:
        raise ContextError(f"context keys 'profile' and 'instance_type': {error}") from None


def _check_model_fits(
    choice: ModelChoice, instance_type: str | None, *, explicit: bool, key: str = "instance_type"
) -> None:
    """Refuse a model that cannot run on the instance type, naming the context key and the spec file key."""
    if instance_type is None or choice.example:
        return  # the stack places the examples' model instances on the instance type's kind
    from model_build.backends import backend
    from model_build.hardware import hardware_of

    hardware = hardware_of(instance_type)
    source = f"context key {key!r}" if explicit else "the profile's instance_type"
    if choice.spec.triton.instance_kind == "KIND_GPU" and hardware.kind != "gpu":
        raise ContextError(
            f"{source} {instance_type} has no NVIDIA GPU ({hardware.describe()}), but model "
            f"{choice.spec.name!r} ({choice.reference}) places its Triton instances on GPUs "
            f'(triton.instance_kind = "KIND_GPU"); pass a GPU type such as -c {key}=ml.g4dn.xlarge, '
            'or set instance_kind = "KIND_CPU" in the spec file\'s [triton] table'
        )
    if backend(choice.spec.backend).requires_nvidia_gpu and hardware.kind != "gpu":
        raise ContextError(
            f"model {choice.spec.name!r} ({choice.reference}) is a {choice.spec.backend} engine, which runs only "
            f"on NVIDIA GPUs, but {source} {instance_type} has {hardware.describe()}; pass a GPU type such as "
            f"-c {key}=ml.g4dn.xlarge"
        )


def unknown_context_keys(context: Mapping[str, Any]) -> list[str]:
    """Return the warnings for context keys this app does not read (likely typos).

    Keys the CDK itself uses (feature flags ``@aws-cdk/...``, ``aws:cdk:...``, lookups with ``:``) are
    not the user's and are skipped.
    """
    warnings = []
    for key in sorted(context):
        if key in CONTEXT_DEFAULTS or key.startswith(("@", "aws:", "cdk")) or ":" in key:
            continue
        warnings.append(
            f"context key {key!r} is not read by this app and is ignored{did_you_mean(key, list(CONTEXT_DEFAULTS))}; "
            f"known keys: {', '.join(CONTEXT_DEFAULTS)}"
        )
    return warnings


def stack_plans(settings: Mapping[str, Any]) -> list[StackPlan]:
    """Return the stacks the app composes from its settings (:func:`settings_from_context`), in order."""
    plans = []
    for choice in settings["models"]:
        spec: ModelSpec | str = choice.reference if choice.example else choice.spec
        plans.append(
            StackPlan(
                RealtimeInferenceStack,
                realtime_stack_id(choice.spec.name),
                {
                    "model": spec,
                    "profile": settings["profiles"].get(choice.spec.name),
                    "instance_type": settings["instance_type"],
                    "initial_instance_count": settings["initial_instance_count"],
                    "invocations_per_instance": settings["invocations_per_instance"],
                    "min_capacity": settings["min_capacity"],
                    "max_capacity": settings["max_capacity"],
                    "env": settings["env"],
                    # The model's name only: a spec file's path would make the template depend on the checkout.
                    "description": (
                        f"Model {choice.spec.name} on NVIDIA Triton behind an autoscaled SageMaker real-time endpoint"
                    ),
                },
            )
        )
    async_settings = settings["async"]
    if async_settings is not None:
        choice = async_settings["model"]
        plans.append(
            StackPlan(
                AsyncInferenceStack,
                async_stack_id(choice.spec.name),
                {
                    "model": choice.reference if choice.example else choice.spec,
                    "instance_type": async_settings["instance_type"],
                    "max_capacity": async_settings["max_capacity"],
                    "env": settings["env"],
                    "description": (
                        f"Model {choice.spec.name} on NVIDIA Triton behind a SageMaker asynchronous endpoint that "
                        "scales to zero (S3 output and failure paths, SNS success and error topics)"
                    ),
                },
            )
        )
    multi_model = settings["multi_model"]
    if multi_model is not None:
        plans.append(
            StackPlan(
                MultiModelInferenceStack,
                multi_model_stack_id(multi_model["models"]),
                {
                    "models": multi_model["models"],
                    "tensorrt": multi_model["tensorrt"],
                    "instance_type": multi_model["instance_type"],
                    "initial_instance_count": multi_model["initial_instance_count"],
                    "max_capacity": multi_model["max_capacity"],
                    "env": settings["env"],
                    "description": (
                        f"Seed 001: {multi_model['models']} as TorchScript, TensorRT and ONNX behind one SageMaker "
                        "multi-model endpoint on GPU served by NVIDIA Triton, scaled on GPUUtilization"
                    ),
                },
            )
        )
    return plans


def build_app(app: App | None = None) -> App:
    """Compose the app: one real-time stack per model, seed 002's asynchronous stack and seed 001's multi-model stack, checked by cdk-nag.

    Every stack's models are built first, all at once (:func:`build_models`: a cold synth uses
    every core), so the stacks' own builds are cache hits. The stacks are environment-agnostic
    unless the ``account``/``region`` context keys pin them; the process environment is not read.

    Args:
        app: the app to add to. Defaults to a new ``App()`` (context from the CDK CLI).

    Raises:
        ContextError: bad context (before any model is built or stack composed).
    """
    app = App() if app is None else app
    context = app.node.get_all_context()
    settings = settings_from_context({key: context.get(key) for key in CONTEXT_DEFAULTS})
    warnings = unknown_context_keys(context)
    plans = stack_plans(settings)
    examples = example_plans(settings)
    build_models(planned_specs([*plans, *examples]))
    pipeline = settings["pipeline"]
    if pipeline is not None:
        _warn(compose_pipeline(app, settings, plans, context), warnings)
    for plan in plans if pipeline is None else ():
        stack = plan.compose(app)
        if plan.stack_class is RealtimeInferenceStack:
            _warn(stack, warnings)
    for plan in examples:
        plan.compose(app)
    # cdk-nag v3 is a policy-validation plugin: any unacknowledged finding fails synthesis.
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def compose_pipeline(
    app: App, settings: Mapping[str, Any], plans: Sequence[StackPlan], context: Mapping[str, Any]
) -> ServingPipelineStack:
    """Add the pipeline stack (``pipeline=true``) to ``app``: its stages compose ``plans``, whose models are built."""
    pipeline = settings["pipeline"]
    return ServingPipelineStack(
        app,
        PIPELINE_STACK_ID,
        source=pipeline["source"],
        plans=plans,
        synth_context=synth_context(context),
        staging=pipeline["staging"],
        production=pipeline["production"],
        approval_topic_arn=pipeline["approval_topic_arn"],
        tensorrt=pipeline["tensorrt"],
        env=settings["env"],
        description="CDK Pipelines: synth and fast tests, Staging with smoke tests, approval, Production",
    )


def _warn(stack: Stack, warnings: Sequence[str]) -> None:
    for index, warning in enumerate(warnings):
        Annotations.of(stack).add_warning_v2(f"app:unknownContextKey:{index}", warning)


def synth_context(context: Mapping[str, Any]) -> dict[str, str]:
    """Return the app's own context keys that are set, as ``-c key=value`` strings (lists joined by commas).

    The pipeline's synth step runs ``cdk synth`` with them, so the pipeline deploys (and updates
    itself to) what this synthesis composed.
    """
    values = {}
    for key in CONTEXT_DEFAULTS:
        value = context.get(key)
        if value is None:
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(item) for item in value)
        values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def stacks_of(app: App) -> list[Stack]:
    """Return the app's stacks, in the order the ``model`` context key named them."""
    return [child for child in app.node.children if isinstance(child, Stack)]


def main() -> int:
    """Synthesize, reporting bad input as one line on stderr (exit 2) instead of a traceback."""
    try:
        build_app().synth()
    except (UserError, PropsError) as error:
        if debug_enabled():
            raise
        print(f"app.py: error: {error}", file=sys.stderr, flush=True)
        return 2
    except RuntimeError as error:  # a model build failed, or a construct validation at synth
        if debug_enabled():
            raise
        print(
            f"app.py: error: {type(error).__name__}: {error}\n(set TRITON_IAC_DEBUG=1 for the traceback)",
            file=sys.stderr,
            flush=True,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
