"""Asynchronous SageMaker endpoints: S3 in and out, SNS notifications, scale to zero and back.

:class:`AsyncEndpoint` is an endpoint kind of :class:`~serving_constructs.endpoint.EndpointBase`:
its piece is an ``AsyncInferenceConfig`` (output and failure paths in S3, success and error
topics, per-instance concurrency, an output key), a capacity floor of zero instances, the
asynchronous metrics, ``sagemaker:InvokeEndpointAsync``, the execution-role grants the
configuration needs, and AWS's scale-to-zero recipe (:meth:`AsyncEndpoint.scale_to_zero`).

Sources: "Asynchronous inference" and its pages (create, invoke, check predictions, monitor,
autoscale) in the SageMaker Developer Guide,
https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference.html ; the API shapes
``AsyncInferenceConfig``, ``AsyncInferenceOutputConfig``, ``AsyncInferenceNotificationConfig`` and
``InvokeEndpointAsync`` (botocore's service model).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs

from constructs import Construct
from model_build.user_errors import did_you_mean
from serving_constructs import defaults
from serving_constructs._bucket import hardened_bucket, key_prefix_problems
from serving_constructs._nag import acknowledge, flattened
from serving_constructs._validation import (
    Problems,
    PropsError,
    check_bool,
    check_int,
    check_interface,
    check_str,
    given,
    raise_if_any,
    resolved,
)
from serving_constructs.deployment import DeploymentPolicy
from serving_constructs.endpoint import EndpointBase, _lazy
from serving_constructs.metrics import ServingMode
from serving_constructs.scaling import SCALE_TO_ZERO, AsyncScalableInstanceCount
from serving_constructs.variant import ProductionVariant, VariantBase

# AsyncInferenceClientConfig.MaxConcurrentInvocationsPerInstance.
_MAX_CONCURRENCY = (1, 1000)
# An email address, as far as synth can tell (SNS confirms it for real).
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_SUCCESS, _ERROR = "success", "error"
_TOPIC_KINDS = (_SUCCESS, _ERROR)


class IncludeInferenceResponseIn(enum.Enum):
    """Where SageMaker includes the inference response (if <= 128 KB) in the notification."""

    SUCCESS_NOTIFICATION_TOPIC = "SUCCESS_NOTIFICATION_TOPIC"
    """In the success notification."""
    ERROR_NOTIFICATION_TOPIC = "ERROR_NOTIFICATION_TOPIC"
    """In the error notification."""


def _prefix_problems(name: str, value: Any, bucket_name: str | None) -> list[str]:
    """Return the problems with an S3 key prefix (see :func:`serving_constructs._bucket.key_prefix_problems`)."""
    return key_prefix_problems(name, value, bucket_name, example="async-inference/output")


def _overlap_problems(prefixes: Mapping[str, Any]) -> list[str]:
    """Return a problem for each pair of prefixes that are equal or nested (they would share objects)."""
    problems = []
    names = [name for name, value in prefixes.items() if isinstance(value, str) and resolved(value)]
    for index, first in enumerate(names):
        for second in names[index + 1 :]:
            a, b = prefixes[first], prefixes[second]
            if a == b or a.startswith(b + "/") or b.startswith(a + "/"):
                problems.append(
                    f"{first} and {second} must not overlap (got {a!r} and {b!r}): the execution role writes "
                    "answers and failures, clients write inputs, each under its own prefix — give each its own, "
                    f"e.g. {defaults.async_output_prefix()!r}, {defaults.async_failure_prefix()!r} and "
                    f"{defaults.async_input_prefix()!r}"
                )
    return problems


def _response_in_problems(value: Any) -> tuple[list[str], list[IncludeInferenceResponseIn]]:
    """Return the problems with ``include_inference_response_in`` and its items as enum members."""
    name = "include_inference_response_in"
    allowed = [member.value for member in IncludeInferenceResponseIn]
    fix = f"e.g. {name}=[IncludeInferenceResponseIn.SUCCESS_NOTIFICATION_TOPIC]"
    if isinstance(value, str | IncludeInferenceResponseIn):
        shown = value.value if isinstance(value, IncludeInferenceResponseIn) else value
        return [f"{name} must be a list (got {given(shown)}) — wrap it: {name}=[{shown!r}]"], []
    if value is None or isinstance(value, bytes | dict) or not hasattr(value, "__iter__"):
        return [f"{name} must be a list of IncludeInferenceResponseIn (got {given(value)}) — {fix}"], []
    problems, items = [], []
    for index, item in enumerate(value):
        text = item.value if isinstance(item, IncludeInferenceResponseIn) else item
        if not isinstance(text, str) or text not in allowed:
            near = did_you_mean(str(text).upper(), allowed) if isinstance(text, str) else ""
            problems.append(
                f"{name}[{index}] must be one of {', '.join(allowed)} (got {given(item)}){near} — {fix}"
            )
            continue
        member = IncludeInferenceResponseIn(text)
        if member in items:
            problems.append(f"{name} names {text} twice — list each at most once")
            continue
        items.append(member)
    return problems, items


class AsyncEndpoint(EndpointBase):
    """An asynchronous SageMaker endpoint: requests queue, answers land in S3, SNS says when.

    A client uploads its input under :attr:`input_path`, calls ``InvokeEndpointAsync`` with its
    S3 URI, and gets back an ``InferenceId`` and the ``OutputLocation`` under :attr:`output_path`.
    SageMaker queues the request, runs it (at most ``max_concurrent_invocations_per_instance``
    at a time per instance), writes the answer under :attr:`output_path` or the error under
    :attr:`failure_path`, and publishes a notification to :attr:`success_topic` or
    :attr:`error_topic`. An endpoint with an ``AsyncInferenceConfig`` takes asynchronous
    invocations only (``InvokeEndpoint`` is refused), so :meth:`grant_invoke` grants
    ``sagemaker:InvokeEndpointAsync``.

    **Invoke-time settings** (``InvokeEndpointAsync`` parameters, not endpoint properties):
    ``RequestTTLSeconds`` (60-21,600) defaults to **6 hours**: a request still queued after it is
    dropped and counted in ``ExpiredRequests``; ``InvocationTimeoutSeconds`` (1-3,600) defaults to
    **900 seconds**: the time the container has to answer one request. Inputs may be up to 1 GB.

    **Scale to zero and back**: ``scale_to_zero()`` makes the first variant scale between 0 and
    5 instances with AWS's recipe (target tracking on ``ApproximateBacklogSizePerInstance``, and
    an alarm on ``HasBacklogWithoutCapacity`` that adds the first instance). At zero instances a
    new request waits in the queue while an instance starts (minutes on a GPU instance).

    **Updates**: ``AsyncInferenceConfig`` cannot be changed on an existing EndpointConfig
    (CloudFormation replaces it). The EndpointConfig has a generated name, so a change creates a
    new one and SageMaker updates the endpoint to it in place.

    The execution role of each variant's model gets only what the config needs: ``s3:PutObject``
    (and ``s3:AbortMultipartUpload``) under the output and failure prefixes, ``s3:GetObject``
    under the input prefix, ``sns:Publish`` on the two topics, and ``kms:GenerateDataKey`` /
    ``kms:Decrypt`` on the output key and the topics' customer-managed keys (roles passed to
    ``TritonModel`` get the same statements; imported roles are left unchanged).

    Args:
        scope: the parent construct.
        id: the construct id.
        variants: the production variants (instance-based; SageMaker has no serverless
            asynchronous endpoints). Defaults to none; add them with :meth:`add_production_variant`.
        kms_key: the key encrypting the instances' EBS volumes. Defaults to AWS-managed
            encryption. Refused on instance types with local NVMe storage (g4dn, g5, ...).
        output_bucket: the bucket for inputs, answers and failures. Defaults to a new bucket with
            public access blocked, a TLS-only bucket policy, S3-managed encryption (or
            ``output_kms_key``), incomplete multipart uploads removed after 7 days, and the
            ``RETAIN`` removal policy: it holds your results, so deleting the stack leaves it
            (empty and delete it yourself, or pass a bucket with the policy you want).
        output_prefix: the key prefix of answers (``S3OutputPath``). Defaults to
            ``"async-inference/output"``.
        failure_prefix: the key prefix of failures (``S3FailurePath``). Defaults to
            ``"async-inference/failures"``.
        input_prefix: the key prefix clients upload inputs under (the execution roles may read
            there). Defaults to ``"async-inference/input"``.
        success_topic: the SNS topic of success notifications. Defaults to a new topic encrypted
            with the AWS-managed ``alias/aws/sns`` key and a TLS-only topic policy.
        error_topic: the SNS topic of error notifications. Defaults to a new topic like the
            success topic.
        notifications: whether SageMaker publishes notifications. Defaults to True; False means
            no topics and no ``NotificationConfig`` (poll S3 instead).
        include_inference_response_in: the notifications that carry the response itself (when
            it is at most 128 KB). Defaults to none.
        max_concurrent_invocations_per_instance: requests SageMaker sends one instance at a time,
            1-1000. Defaults to a value SageMaker chooses (seed 002 uses 2).
        output_kms_key: the key SageMaker encrypts answers and failures with (``KmsKeyId``); a
            new bucket also uses it as its default encryption. Defaults to the bucket's encryption.
        deployment: how an update rolls out, with rollback on the endpoint's rollback alarms
            (``DeploymentPolicy.canary()``, ``.linear(...)``, ``.all_at_once()``, ``.rolling()``).
            Defaults to guardrails on, chosen at synth from the variants (see
            :func:`serving_constructs.deployment.default_policy` and ``docs/guardrails.md``).

    Raises:
        PropsError: every problem with the props, in one message.
    """

    variant_kinds = (ProductionVariant,)
    capacity_floor = SCALE_TO_ZERO
    serving_modes = frozenset({ServingMode.ASYNC})
    invoke_actions: ClassVar[tuple[str, ...]] = ("sagemaker:InvokeEndpointAsync",)
    scalable_count_type = AsyncScalableInstanceCount

    _async_ready: bool = False

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        variants: Sequence[ProductionVariant] | None = None,
        kms_key: kms.IKey | None = None,
        output_bucket: s3.IBucket | None = None,
        output_prefix: str | None = None,
        failure_prefix: str | None = None,
        input_prefix: str | None = None,
        success_topic: sns.ITopic | None = None,
        error_topic: sns.ITopic | None = None,
        notifications: bool = True,
        include_inference_response_in: Sequence[IncludeInferenceResponseIn | str] = (),
        max_concurrent_invocations_per_instance: int | None = None,
        output_kms_key: kms.IKey | None = None,
        deployment: DeploymentPolicy | None = None,
    ) -> None:
        prefixes = {
            "output_prefix": defaults.async_output_prefix() if output_prefix is None else output_prefix,
            "failure_prefix": defaults.async_failure_prefix() if failure_prefix is None else failure_prefix,
            "input_prefix": defaults.async_input_prefix() if input_prefix is None else input_prefix,
        }
        problems, response_in = self._async_problems(
            prefixes=prefixes,
            output_bucket=output_bucket,
            success_topic=success_topic,
            error_topic=error_topic,
            notifications=notifications,
            include_inference_response_in=include_inference_response_in,
            max_concurrent_invocations_per_instance=max_concurrent_invocations_per_instance,
            output_kms_key=output_kms_key,
        )
        try:
            super().__init__(scope, id, variants=variants, kms_key=kms_key, deployment=deployment)
        except PropsError as error:
            # One message with the base's problems (variants, kms_key) and the asynchronous ones.
            raise PropsError("; ".join([str(error), *problems])) from None
        raise_if_any(type(self).__name__, problems)

        self.output_prefix: str = prefixes["output_prefix"]
        """The key prefix of answers in :attr:`output_bucket`."""
        self.failure_prefix: str = prefixes["failure_prefix"]
        """The key prefix of failures in :attr:`output_bucket`."""
        self.input_prefix: str = prefixes["input_prefix"]
        """The key prefix clients upload inputs under, in :attr:`output_bucket`."""
        self.output_kms_key = output_kms_key
        self.output_bucket: s3.IBucket = (
            self._create_bucket(output_kms_key) if output_bucket is None else output_bucket
        )
        """The bucket of inputs, answers and failures."""
        self.success_topic: sns.ITopic | None = None
        """The success topic (None with ``notifications=False``)."""
        self.error_topic: sns.ITopic | None = None
        """The error topic (None with ``notifications=False``)."""
        if notifications:
            self.success_topic = (
                self._create_topic("SuccessTopic", "success") if success_topic is None else success_topic
            )
            self.error_topic = (
                self._create_topic("ErrorTopic", "error") if error_topic is None else error_topic
            )
        self.include_inference_response_in: tuple[IncludeInferenceResponseIn, ...] = tuple(response_in)
        self.max_concurrent_invocations_per_instance = max_concurrent_invocations_per_instance

        bucket_name = self.output_bucket.bucket_name
        self.output_path: str = f"s3://{bucket_name}/{self.output_prefix}"
        """``S3OutputPath``: answers land under it (``s3://<bucket>/async-inference/output``)."""
        self.failure_path: str = f"s3://{bucket_name}/{self.failure_prefix}"
        """``S3FailurePath``: failures land under it."""
        self.input_path: str = f"s3://{bucket_name}/{self.input_prefix}"
        """Where clients upload inputs (pass ``<input_path>/<key>`` as ``InputLocation``)."""

        self._readable_input_prefixes: list[str] = [self.input_prefix]
        self._granted_models: set[str] = set()
        self._async_ready = True
        for variant in self.variants:
            self._grant_execution(variant)

    # --- validation -------------------------------------------------------------------------

    @staticmethod
    def _async_problems(
        *,
        prefixes: Mapping[str, Any],
        output_bucket: Any,
        success_topic: Any,
        error_topic: Any,
        notifications: Any,
        include_inference_response_in: Any,
        max_concurrent_invocations_per_instance: Any,
        output_kms_key: Any,
    ) -> tuple[list[str], list[IncludeInferenceResponseIn]]:
        problems: list[str] = []
        bucket_problems = check_interface(
            "output_bucket", output_bucket, "s3.IBucket", "bucket_name",
            "use s3.Bucket(...) or s3.Bucket.from_bucket_name(...), or omit it for a new bucket", optional=True,
        )  # fmt: skip
        problems += bucket_problems
        bucket_name = output_bucket.bucket_name if output_bucket is not None and not bucket_problems else None
        prefix_problems = [
            problem
            for name, value in prefixes.items()
            for problem in _prefix_problems(name, value, bucket_name)
        ]
        problems += prefix_problems
        if not prefix_problems:
            problems += _overlap_problems(prefixes)
        for name, topic in (("success_topic", success_topic), ("error_topic", error_topic)):
            problems += check_interface(
                name, topic, "sns.ITopic", "topic_arn",
                "use sns.Topic(...) or sns.Topic.from_topic_arn(...), or omit it for a new topic", optional=True,
            )  # fmt: skip
        problems += check_bool("notifications", notifications, optional=False)
        response_problems, response_in = _response_in_problems(include_inference_response_in)
        problems += response_problems
        if notifications is False:
            for name, value in (("success_topic", success_topic), ("error_topic", error_topic)):
                if value is not None:
                    problems.append(
                        f"{name} is given but notifications=False (no NotificationConfig, so SageMaker would "
                        f"never publish to it) — drop {name}, or drop notifications=False"
                    )
            if response_in:
                listed = ", ".join(member.value for member in response_in)
                problems.append(
                    f"include_inference_response_in is {listed} but notifications=False (there are no "
                    "notifications to include it in) — drop include_inference_response_in, or drop notifications=False"
                )
        low, high = _MAX_CONCURRENCY
        problems += [
            f"{problem} — SageMaker sends each instance {low}-{high} requests at a time; omit it to let "
            "SageMaker choose (seed 002 uses 2)"
            for problem in check_int(
                "max_concurrent_invocations_per_instance", max_concurrent_invocations_per_instance, low, high,
                optional=True,
            )
        ]  # fmt: skip
        problems += check_interface(
            "output_kms_key", output_kms_key, "kms.IKey", "key_arn",
            "use kms.Key(...) or kms.Key.from_key_arn(...)", optional=True,
        )  # fmt: skip
        return problems, response_in

    # --- hooks ------------------------------------------------------------------------------

    def _endpoint_config_properties(self) -> Mapping[str, Any]:
        # Rendered at synth: the base creates the EndpointConfig before this kind's state exists.
        return {"async_inference_config": _lazy(self._render_async_config)}

    def _render_async_config(self) -> sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty:
        notification = None
        if self.success_topic is not None and self.error_topic is not None:
            notification = sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                success_topic=self.success_topic.topic_arn,
                error_topic=self.error_topic.topic_arn,
                include_inference_response_in=[member.value for member in self.include_inference_response_in]
                or None,
            )
        client = None
        if self.max_concurrent_invocations_per_instance is not None:
            client = sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                max_concurrent_invocations_per_instance=self.max_concurrent_invocations_per_instance
            )
        return sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
            output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                s3_output_path=self.output_path,
                s3_failure_path=self.failure_path,
                kms_key_id=None if self.output_kms_key is None else self.output_kms_key.key_arn,
                notification_config=notification,
            ),
            client_config=client,
        )

    def _add_variant(self, variant: VariantBase) -> None:
        super()._add_variant(variant)
        if self._async_ready:
            self._grant_execution(variant)

    # --- resources --------------------------------------------------------------------------

    def _create_bucket(self, key: kms.IKey | None) -> s3.Bucket:
        return hardened_bucket(
            self, "OutputBucket", key=key, holds="inference inputs and results of one endpoint", prop="output_bucket"
        )

    def _create_topic(self, id: str, kind: str) -> sns.Topic:
        return sns.Topic(
            self,
            id,
            display_name=f"Asynchronous inference {kind} notifications",
            enforce_ssl=True,
            # The AWS-managed key's policy admits every principal of the account through SNS, so the
            # execution role needs no KMS statement; a customer-managed key costs a key per topic.
            master_key=kms.Alias.from_alias_name(self, f"{id}Key", "alias/aws/sns"),
        )

    def _keys(self) -> list[kms.IKey]:
        """Return the customer-managed keys answers, failures and inputs are encrypted with."""
        keys: list[kms.IKey] = []
        for key in (self.output_kms_key, self.output_bucket.encryption_key):
            if key is not None and not any(key is k for k in keys):
                keys.append(key)
        return keys

    @staticmethod
    def _customer_managed(key: kms.IKey | None) -> bool:
        alias = getattr(key, "alias_name", None)
        return key is not None and not (isinstance(alias, str) and alias.startswith("alias/aws/"))

    def _object_arns(self, *prefixes: str) -> list[str]:
        return [self.output_bucket.arn_for_objects(f"{prefix}/*") for prefix in prefixes]

    def _acknowledge_prefixes(self, principal: Any, arns: Sequence[str], who: str) -> None:
        """Acknowledge cdk-nag's wildcard finding of each ``<bucket>/<prefix>/*`` on ``principal``'s policy."""
        if not hasattr(principal, "node"):
            return  # not a construct (an imported principal): no policy is written
        for arn in arns:
            acknowledge(
                principal,
                f"AwsSolutions-IAM5[Resource::{flattened(self, arn)}]",
                f"{who} reads or writes objects whose keys SageMaker or the client choose at run time "
                "(inference ids); the wildcard is confined to one key prefix of the endpoint's bucket.",
            )

    def _grant_execution(self, variant: VariantBase) -> None:
        """Grant the variant's execution role what the asynchronous config needs, once per model."""
        model = variant.model
        if model.node.path in self._granted_models:
            return
        self._granted_models.add(model.node.path)
        write = self._object_arns(self.output_prefix, self.failure_prefix)
        read = self._object_arns(*self._readable_input_prefixes)
        iam.Grant.add_to_principal(
            grantee=model, actions=["s3:PutObject", "s3:AbortMultipartUpload"], resource_arns=write
        )
        iam.Grant.add_to_principal(grantee=model, actions=["s3:GetObject"], resource_arns=read)
        topics = [t for t in (self.success_topic, self.error_topic) if t is not None]
        if topics:
            arns = list(dict.fromkeys(t.topic_arn for t in topics))
            iam.Grant.add_to_principal(grantee=model, actions=["sns:Publish"], resource_arns=arns)
        keys = self._keys()
        for topic in topics:
            topic_key = topic.master_key
            if topic_key is not None and self._customer_managed(topic_key):
                keys.append(topic_key)
        key_arns = list(dict.fromkeys(key.key_arn for key in keys))
        if key_arns:
            iam.Grant.add_to_principal(
                grantee=model, actions=["kms:GenerateDataKey", "kms:Decrypt"], resource_arns=key_arns
            )
        self._acknowledge_prefixes(model.grant_principal, write + read, "The execution role")

    # --- access -----------------------------------------------------------------------------

    def grant_invoke_async(self, grantee: iam.IGrantable, *, input_prefix: str | None = None) -> iam.Grant:
        """Grant ``grantee`` what an asynchronous client needs, on this endpoint and its bucket only.

        ``sagemaker:InvokeEndpointAsync`` on this endpoint, ``s3:PutObject`` under the input
        prefix, ``s3:GetObject`` under the output and failure prefixes (to read its result), and
        ``kms:GenerateDataKey`` / ``kms:Decrypt`` on the bucket's or output's customer-managed key.
        The execution roles may read the input prefix too.

        Args:
            grantee: the client (a role, a function, a user).
            input_prefix: the key prefix the client uploads under, in :attr:`output_bucket`.
                Defaults to :attr:`input_prefix`.

        Returns:
            The grant (all statements combined).

        Raises:
            PropsError: every problem with the props, in one message.
        """
        prefix = self.input_prefix if input_prefix is None else input_prefix
        problems = Problems("grant_invoke_async")
        problems.extend(
            check_interface(
                "grantee", grantee, "iam.IGrantable", "grant_principal", "pass a role, a function or a user"
            )
        )
        prefix_problems = _prefix_problems("input_prefix", prefix, self.output_bucket.bucket_name)
        problems.extend(prefix_problems)
        if not prefix_problems:
            problems.extend(
                _overlap_problems(
                    {
                        "output_prefix": self.output_prefix,
                        "failure_prefix": self.failure_prefix,
                        "input_prefix": prefix,
                    }
                )
            )
        problems.raise_if_any()
        if prefix not in self._readable_input_prefixes:
            self._readable_input_prefixes.append(prefix)
            models = {variant.model.node.path: variant.model for variant in self.variants}
            for model in models.values():
                iam.Grant.add_to_principal(
                    grantee=model, actions=["s3:GetObject"], resource_arns=self._object_arns(prefix)
                )
                self._acknowledge_prefixes(
                    model.grant_principal, self._object_arns(prefix), "The execution role"
                )
        grant = self.grant_invoke(grantee)
        put = self._object_arns(prefix)
        get = self._object_arns(self.output_prefix, self.failure_prefix)
        grant = grant.combine(
            iam.Grant.add_to_principal(grantee=grantee, actions=["s3:PutObject"], resource_arns=put)
        ).combine(iam.Grant.add_to_principal(grantee=grantee, actions=["s3:GetObject"], resource_arns=get))
        key_arns = list(dict.fromkeys(key.key_arn for key in self._keys()))
        if key_arns:
            grant = grant.combine(
                iam.Grant.add_to_principal(
                    grantee=grantee, actions=["kms:GenerateDataKey", "kms:Decrypt"], resource_arns=key_arns
                )
            )
        self._acknowledge_prefixes(grantee.grant_principal, put + get, "An asynchronous client")
        return grant

    def _grant_smoke_test_invocation(self, grantee: iam.IGrantable) -> iam.Grant:
        """Grant the check's round trip: :meth:`grant_invoke_async`, and deleting what it wrote and got back.

        ``s3:DeleteObject`` under the input, output and failure prefixes: the check removes its
        input and the answer (or the failure object) once read.
        """
        grant = self.grant_invoke_async(grantee)
        arns = self._object_arns(self.input_prefix, self.output_prefix, self.failure_prefix)
        grant = grant.combine(
            iam.Grant.add_to_principal(grantee=grantee, actions=["s3:DeleteObject"], resource_arns=arns)
        )
        self._acknowledge_prefixes(grantee.grant_principal, arns, "The post-deploy check")
        return grant

    # --- notifications ----------------------------------------------------------------------

    def _topics(self, on: Any, caller: str, problems: Problems) -> list[sns.ITopic]:
        """Return the topics ``on`` names (``"success"``, ``"error"``), recording problems."""
        fix = "e.g. on=('success', 'error') or on=('error',)"
        if isinstance(on, str):
            problems.add(
                f"on must be a list of 'success' and/or 'error' (got {given(on)}) — wrap it: on=({on!r},)"
            )
            return []
        if isinstance(on, bytes | dict) or not hasattr(on, "__iter__"):
            problems.add(f"on must be a list of 'success' and/or 'error' (got {given(on)}) — {fix}")
            return []
        items = list(on)
        if not items:
            problems.add(f"on must name at least one topic (got an empty list) — {fix}")
        kinds: list[str] = []
        for index, item in enumerate(items):
            if item not in _TOPIC_KINDS:
                near = did_you_mean(item, _TOPIC_KINDS) if isinstance(item, str) else ""
                problems.add(f"on[{index}] must be 'success' or 'error' (got {given(item)}){near} — {fix}")
            elif item in kinds:
                problems.add(f"on names {item!r} twice — list each at most once")
            else:
                kinds.append(item)
        if self.success_topic is None or self.error_topic is None:
            problems.add(
                f"{self.node.path} has no topics (created with notifications=False), so {caller} has nothing to "
                "subscribe to — drop notifications=False, or poll output_path instead"
            )
            return []
        return [self.success_topic if kind == _SUCCESS else self.error_topic for kind in kinds]

    def subscribe_queue(
        self, queue: sqs.IQueue, *, on: Sequence[str] = _TOPIC_KINDS, raw_message_delivery: bool = False
    ) -> list[sns.Subscription]:
        """Deliver notifications to an SQS queue (its policy lets the topics send; one subscription per topic).

        Args:
            queue: the queue.
            on: the topics: ``"success"`` and/or ``"error"``. Defaults to both.
            raw_message_delivery: deliver the notification JSON without the SNS envelope. Defaults to False.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("subscribe_queue")
        problems.extend(check_interface("queue", queue, "sqs.IQueue", "queue_arn", "pass an sqs.Queue"))
        problems.extend(check_bool("raw_message_delivery", raw_message_delivery, optional=False))
        topics = self._topics(on, "subscribe_queue", problems)
        problems.raise_if_any()
        return [
            topic.add_subscription(
                subscriptions.SqsSubscription(queue, raw_message_delivery=raw_message_delivery)
            )
            for topic in topics
        ]

    def subscribe_function(
        self, function: lambda_.IFunction, *, on: Sequence[str] = _TOPIC_KINDS
    ) -> list[sns.Subscription]:
        """Invoke a Lambda function with each notification (the function's policy lets the topics invoke it).

        Args:
            function: the function.
            on: the topics: ``"success"`` and/or ``"error"``. Defaults to both.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("subscribe_function")
        problems.extend(
            check_interface(
                "function", function, "lambda_.IFunction", "function_arn", "pass a lambda_.Function"
            )
        )
        topics = self._topics(on, "subscribe_function", problems)
        problems.raise_if_any()
        return [topic.add_subscription(subscriptions.LambdaSubscription(function)) for topic in topics]

    def subscribe_email(
        self, address: str, *, on: Sequence[str] = (_ERROR,), json: bool = False
    ) -> list[sns.Subscription]:
        """Email each notification to ``address`` (SNS asks the address to confirm first).

        Args:
            address: the email address.
            on: the topics: ``"success"`` and/or ``"error"``. Defaults to ``("error",)`` (one
                email per answer is rarely wanted).
            json: send the full notification JSON instead of the message text. Defaults to False.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        problems = Problems("subscribe_email")
        address_problems = check_str("address", address, example=" such as 'ops@example.com'")
        if not address_problems and resolved(address) and not _EMAIL.match(address):
            address_problems.append(
                f"address must be an email address (got {address!r}) — e.g. address='ops@example.com'"
            )
        problems.extend(address_problems)
        problems.extend(check_bool("json", json, optional=False))
        topics = self._topics(on, "subscribe_email", problems)
        problems.raise_if_any()
        return [
            topic.add_subscription(subscriptions.EmailSubscription(address, json=json)) for topic in topics
        ]

    # --- scaling ----------------------------------------------------------------------------

    def auto_scale_instance_count(
        self, variant_name: str | None = None, *, min_capacity: int, max_capacity: int
    ) -> AsyncScalableInstanceCount:
        """Make a variant's instance count scalable; ``min_capacity=0`` lets it scale to zero.

        Add ``scale_on_backlog_size_per_instance(...)`` and ``scale_out_from_zero(...)`` (or use
        :meth:`scale_to_zero`), or any :class:`~serving_constructs.scaling.ScalableInstanceCount`
        policy.

        Args:
            variant_name: the variant. Defaults to the first variant.
            min_capacity: the fewest instances, >= 0.
            max_capacity: the most instances, >= ``min_capacity`` and >= 1.

        Raises:
            PropsError: invalid bounds, an unknown variant, or a variant that already scales.
        """
        scalable = super().auto_scale_instance_count(
            variant_name, min_capacity=min_capacity, max_capacity=max_capacity
        )
        assert isinstance(scalable, AsyncScalableInstanceCount)
        return scalable

    def scale_to_zero(
        self,
        variant_name: str | None = None,
        *,
        max_capacity: int | None = None,
        target_backlog_per_instance: float | None = None,
        scale_in_cooldown: Duration | None = None,
        scale_out_cooldown: Duration | None = None,
        scale_out_from_zero_cooldown: Duration | None = None,
    ) -> AsyncScalableInstanceCount:
        """Scale a variant between zero and ``max_capacity`` instances with AWS's recipe.

        Target tracking on ``ApproximateBacklogSizePerInstance`` (policy ``BacklogPerInstance``)
        scales out with the queue and in to zero when it drains; an alarm on
        ``HasBacklogWithoutCapacity`` and a one-step policy (``ScaleOutFromZero``) add the first
        instance when a request arrives at zero
        (https://docs.aws.amazon.com/sagemaker/latest/dg/async-inference-autoscale.html).
        The defaults are seed 002's.

        Args:
            variant_name: the variant. Defaults to the first variant.
            max_capacity: the most instances, >= 1. Defaults to 5.
            target_backlog_per_instance: queued requests per instance to keep, > 0. Defaults to 5.0.
            scale_in_cooldown: backlog tracking's wait after a scale-in. Defaults to 120 s.
            scale_out_cooldown: backlog tracking's wait after a scale-out. Defaults to 120 s.
            scale_out_from_zero_cooldown: the step policy's cooldown. Defaults to 300 s.

        Returns:
            The scalable instance count, to add more policies or schedules.

        Raises:
            PropsError: every problem with the props, in one message.
        """
        scalable = self.auto_scale_instance_count(
            variant_name,
            min_capacity=0,
            max_capacity=defaults.scale_to_zero_max_capacity() if max_capacity is None else max_capacity,
        )
        scalable.scale_on_backlog_size_per_instance(
            "BacklogPerInstance",
            target_backlog_per_instance=target_backlog_per_instance,
            scale_in_cooldown=scale_in_cooldown,
            scale_out_cooldown=scale_out_cooldown,
        )
        scalable.scale_out_from_zero("ScaleOutFromZero", cooldown=scale_out_from_zero_cooldown)
        return scalable

    # --- metrics ----------------------------------------------------------------------------

    def metric_approximate_backlog_size(self, **props: Any) -> cloudwatch.Metric:
        """Return the requests queued or being processed (``EndpointName`` only, Average)."""
        return self.metric("ApproximateBacklogSize", **props)

    def metric_approximate_backlog_size_per_instance(self, **props: Any) -> cloudwatch.Metric:
        """Return the backlog divided by the instance count, which backlog scaling tracks (``EndpointName`` only, Average)."""
        return self.metric("ApproximateBacklogSizePerInstance", **props)

    def metric_approximate_age_of_oldest_request(self, **props: Any) -> cloudwatch.Metric:
        """Return the age of the oldest queued request, in SECONDS (``EndpointName`` only, Average)."""
        return self.metric("ApproximateAgeOfOldestRequest", **props)

    def metric_has_backlog_without_capacity(self, **props: Any) -> cloudwatch.Metric:
        """Return 1 while requests are queued and no instance runs, else 0 (``EndpointName`` only, Average)."""
        return self.metric("HasBacklogWithoutCapacity", **props)

    def metric_invocations_processed(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the asynchronous requests processed (Sum). Defaults to the first variant."""
        return self.metric("InvocationsProcessed", variant_name=variant_name, **props)

    def metric_invocation_failures(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the asynchronous requests that failed (Sum). Defaults to the first variant."""
        return self.metric("InvocationFailures", variant_name=variant_name, **props)

    def metric_time_in_backlog(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the time a request spent queued, in MILLISECONDS (unit unconfirmed; Average)."""
        return self.metric("TimeInBacklog", variant_name=variant_name, **props)

    def metric_total_processing_time(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the time from queueing to the answer written to S3, in MILLISECONDS (Average)."""
        return self.metric("TotalProcessingTime", variant_name=variant_name, **props)

    def metric_expired_requests(self, *, variant_name: str | None = None, **props: Any) -> cloudwatch.Metric:
        """Return the requests dropped after their ``RequestTTLSeconds`` (default 6 h; Sum)."""
        return self.metric("ExpiredRequests", variant_name=variant_name, **props)

    def metric_notification_failures(
        self, *, variant_name: str | None = None, **props: Any
    ) -> cloudwatch.Metric:
        """Return the SNS notifications SageMaker could not publish (Sum)."""
        return self.metric("NotificationFailures", variant_name=variant_name, **props)
