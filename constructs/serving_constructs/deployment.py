"""Deployment guardrails: how SageMaker rolls an endpoint update out, and when it rolls it back.

An endpoint update (a new EndpointConfig: new model, image, instance type, ...) is a deployment.
SageMaker offers two families (SageMaker Developer Guide, "Deployment guardrails"):

* **Blue/green** (``BlueGreenUpdatePolicy``): SageMaker provisions a full second ("green") fleet,
  shifts traffic to it (:meth:`DeploymentPolicy.canary`, :meth:`~DeploymentPolicy.linear` or
  :meth:`~DeploymentPolicy.all_at_once`), watches the rollback alarms for a baking period after
  each step, and rolls all traffic back to the old fleet if one fires.
* **Rolling** (:meth:`DeploymentPolicy.rolling`, ``RollingUpdatePolicy``): SageMaker replaces the
  fleet in batches, baking after each; it needs only one batch of spare capacity, which is why AWS
  names it the fit for large models and large GPU fleets. It is refused on serverless variants and
  on endpoints with several variants.

The alarms come from :meth:`serving_constructs.EndpointBase.add_rollback_alarm` (and
``add_monitoring``). Every range here is SageMaker's (botocore's ``sagemaker`` service model and the
API reference of ``TrafficRoutingConfig``, ``BlueGreenUpdatePolicy``, ``RollingUpdatePolicy``).

**The default** (``deployment=None`` on an endpoint), chosen at synth from the variants:
:func:`default_policy`.

**Where SageMaker does not apply a policy** ("Exclusions" in the Developer Guide): on Inf1
instances and for AWS Marketplace containers it updates all at once with no baking and no alarm
rollback. Endpoints warn at synth for Inf1 variants; a Marketplace container cannot occur here
(those are model packages, and ``TritonModel`` always deploys a Triton image). ``docs/guardrails.md``
has the reasoning and the post-deploy check that catches a silent rollback.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_sagemaker as sagemaker

from serving_constructs._validation import (
    Problems,
    check_duration,
    check_int,
    check_type,
    duration_seconds,
    resolved,
)
from serving_constructs.variant import ProductionVariant, VariantBase

MAX_WAIT_S = 3600
"""``WaitIntervalInSeconds`` and ``TerminationWaitInSeconds``: 0-3600 s."""

MIN_EXECUTION_TIMEOUT_S = 600
MAX_EXECUTION_TIMEOUT_S = 28_800
"""``MaximumExecutionTimeoutInSeconds``: 600-28,800 s, and longer than the waits."""

CANARY_MAX_PERCENT = 50
"""A canary is at most 50 % of the variant's instances."""

LINEAR_PERCENT_RANGE = (10, 50)
"""A linear step is 10-50 % of the variant's instances."""

ROLLING_PERCENT_RANGE = (5, 50)
"""A rolling batch is 5-50 % of the variant's instances."""

DEFAULT_BAKE = 600
"""The default baking time after each traffic step or batch, in seconds (10 minutes).

Long enough for an alarm of two 5-minute periods (the AWS guardrail examples) or five 1-minute
periods to leave OK before the next step: a bake shorter than the alarm's evaluation window rolls
nothing back.
"""

ROLLING_BY_DEFAULT_MIN_INSTANCES = 4
"""The smallest GPU fleet the default rolls out in batches instead of blue/green."""

DEFAULT_ROLLING_BATCH_PERCENT = 25
"""The default rolling batch: a quarter of the fleet (one instance of four)."""


class CapacityUnit(enum.Enum):
    """How a :class:`Capacity` counts (SageMaker's ``CapacitySize.Type``)."""

    INSTANCE_COUNT = "INSTANCE_COUNT"
    CAPACITY_PERCENT = "CAPACITY_PERCENT"


@dataclass(frozen=True)
class Capacity:
    """A part of a variant's fleet: a canary, a linear step or a rolling batch. Use the factories.

    Args:
        unit: instances or percent of the variant's instance count.
        value: the number of instances, or the percent.
    """

    unit: CapacityUnit
    value: int

    @staticmethod
    def instances(count: int) -> Capacity:
        """``count`` instances (>= 1). Checked against the variant's instance count at synth.

        Raises:
            PropsError: ``count`` is not an int >= 1.
        """
        problems = Problems("Capacity.instances")
        problems.extend(
            [_with_fix(p, "use Capacity.instances(1) or more") for p in check_int("count", count, 1)]
        )
        problems.raise_if_any()
        return Capacity(CapacityUnit.INSTANCE_COUNT, count)

    @staticmethod
    def percent(value: int) -> Capacity:
        """``value`` percent of the variant's instance count (1-100; SageMaker rounds to instances).

        Raises:
            PropsError: ``value`` is not an int between 1 and 100.
        """
        problems = Problems("Capacity.percent")
        found = check_int("value", value, 1, 100, " %")
        problems.extend([_with_fix(p, "use Capacity.percent(1) to Capacity.percent(100)") for p in found])
        problems.raise_if_any()
        return Capacity(CapacityUnit.CAPACITY_PERCENT, value)

    def percent_of(self, instance_count: int) -> float:
        """Return this capacity as a percent of ``instance_count`` instances."""
        if self.unit is CapacityUnit.CAPACITY_PERCENT:
            return float(self.value)
        return 100.0 * self.value / instance_count

    def render(self) -> sagemaker.CfnEndpoint.CapacitySizeProperty:
        """Return the ``CapacitySize`` property."""
        return sagemaker.CfnEndpoint.CapacitySizeProperty(type=self.unit.value, value=self.value)

    def __str__(self) -> str:
        if self.unit is CapacityUnit.CAPACITY_PERCENT:
            return f"{self.value} %"
        return f"{self.value} instance{'s' if self.value != 1 else ''}"

    def _call(self) -> str:
        if self.unit is CapacityUnit.CAPACITY_PERCENT:
            return f"Capacity.percent({self.value})"
        return f"Capacity.instances({self.value})"


class DeploymentKind(enum.Enum):
    """The traffic-shifting mode: SageMaker's ``TrafficRoutingConfig.Type``, or rolling batches."""

    CANARY = "CANARY"
    LINEAR = "LINEAR"
    ALL_AT_ONCE = "ALL_AT_ONCE"
    ROLLING = "ROLLING"


@dataclass(frozen=True)
class DeploymentPolicy:
    """How an endpoint update rolls out (immutable; build one with a factory).

    Use :meth:`canary`, :meth:`linear`, :meth:`all_at_once` or :meth:`rolling`; pass it as an
    endpoint's ``deployment``. Every factory validates SageMaker's ranges at once; the parts that
    depend on the variants (a canary of 1 instance on a 1-instance variant is 100 %, rolling on a
    multi-variant endpoint) are checked at synth.

    Args:
        kind: the traffic-shifting mode.
        bake_s: the baking time after each step or batch, in seconds.
        size: the canary, the linear step or the rolling batch (None for all-at-once).
        termination_wait_s: blue/green only: how long the old fleet stays after the shift.
        max_execution_timeout_s: the whole deployment's time limit (None: SageMaker's).
        rollback_max_batch: rolling only: the batch of a rollback (None: SageMaker's, 100 %).
    """

    kind: DeploymentKind
    bake_s: int
    size: Capacity | None = None
    termination_wait_s: int | None = None
    max_execution_timeout_s: int | None = None
    rollback_max_batch: Capacity | None = None

    # --- factories --------------------------------------------------------------------------

    @staticmethod
    def canary(
        *,
        size: Capacity | None = None,
        bake: Duration | None = None,
        termination_wait: Duration | None = None,
        max_execution_timeout: Duration | None = None,
    ) -> DeploymentPolicy:
        """Blue/green: shift ``size`` to the new fleet, bake, then shift the rest.

        Args:
            size: the canary, at most 50 % of each variant's instances. Defaults to 1 instance
                (so each variant needs >= 2 instances).
            bake: the baking time after each shift, 0-3600 s. Defaults to 10 minutes.
            termination_wait: how long the old fleet stays after the shift, 0-3600 s. Defaults
                to 0 (SageMaker's default; GPU instances are billed while they wait).
            max_execution_timeout: the deployment's time limit, 600-28,800 s and longer than
                ``bake`` + ``termination_wait``. Defaults to SageMaker's.

        Raises:
            PropsError: every value out of range, in one message.
        """
        chosen = Capacity.instances(1) if size is None else size
        problems = Problems("DeploymentPolicy.canary")
        problems.extend(_capacity_problems("size", chosen, (1, CANARY_MAX_PERCENT)))
        policy = _blue_green(
            problems, DeploymentKind.CANARY, chosen, bake, termination_wait, max_execution_timeout
        )
        return policy

    @staticmethod
    def linear(
        *,
        step: Capacity,
        bake: Duration | None = None,
        termination_wait: Duration | None = None,
        max_execution_timeout: Duration | None = None,
    ) -> DeploymentPolicy:
        """Blue/green: shift ``step`` at a time to the new fleet, baking after each step.

        Args:
            step: each step, 10-50 % of each variant's instances (``Capacity.percent(25)``:
                four steps).
            bake: the baking time after each step, 0-3600 s. Defaults to 10 minutes.
            termination_wait: how long the old fleet stays after the shift, 0-3600 s. Defaults to 0.
            max_execution_timeout: the deployment's time limit, 600-28,800 s and longer than
                ``bake`` + ``termination_wait``. Defaults to SageMaker's.

        Raises:
            PropsError: every value out of range, in one message.
        """
        problems = Problems("DeploymentPolicy.linear")
        problems.extend(_capacity_problems("step", step, LINEAR_PERCENT_RANGE, required=True))
        return _blue_green(
            problems, DeploymentKind.LINEAR, step, bake, termination_wait, max_execution_timeout
        )

    @staticmethod
    def all_at_once(
        *,
        bake: Duration | None = None,
        termination_wait: Duration | None = None,
        max_execution_timeout: Duration | None = None,
    ) -> DeploymentPolicy:
        """Blue/green: shift all traffic to the new fleet at once, then bake (rollback still works).

        Args:
            bake: the baking time after the shift, 0-3600 s. Defaults to 10 minutes.
            termination_wait: how long the old fleet stays after the shift, 0-3600 s. Defaults to 0.
            max_execution_timeout: the deployment's time limit, 600-28,800 s and longer than
                ``bake`` + ``termination_wait``. Defaults to SageMaker's.

        Raises:
            PropsError: every value out of range, in one message.
        """
        problems = Problems("DeploymentPolicy.all_at_once")
        return _blue_green(
            problems, DeploymentKind.ALL_AT_ONCE, None, bake, termination_wait, max_execution_timeout
        )

    @staticmethod
    def rolling(
        *,
        max_batch: Capacity | None = None,
        bake: Duration | None = None,
        rollback_max_batch: Capacity | None = None,
        max_execution_timeout: Duration | None = None,
    ) -> DeploymentPolicy:
        """Replace the fleet in batches of ``max_batch``, baking after each (one batch of spare capacity).

        Refused on serverless variants and on endpoints with several variants (SageMaker does not
        roll those).

        Args:
            max_batch: each batch, 5-50 % of the variant's instances. Defaults to 25 %.
            bake: the baking time after each batch, 0-3600 s. Defaults to 10 minutes.
            rollback_max_batch: the batch a rollback restores the old fleet in (1-100 % or
                instances). Defaults to SageMaker's: the whole fleet at once.
            max_execution_timeout: the deployment's time limit, 600-28,800 s and longer than
                ``bake``. Defaults to SageMaker's.

        Raises:
            PropsError: every value out of range, in one message.
        """
        chosen = Capacity.percent(DEFAULT_ROLLING_BATCH_PERCENT) if max_batch is None else max_batch
        problems = Problems("DeploymentPolicy.rolling")
        problems.extend(_capacity_problems("max_batch", chosen, ROLLING_PERCENT_RANGE))
        problems.extend(
            _capacity_problems("rollback_max_batch", rollback_max_batch, (1, 100), required=False)
        )
        bake_s = _wait_seconds("bake", bake, DEFAULT_BAKE, problems)
        timeout_s = _timeout_seconds(max_execution_timeout, bake_s, 0, problems)
        problems.raise_if_any()
        return DeploymentPolicy(
            kind=DeploymentKind.ROLLING,
            bake_s=bake_s,
            size=chosen,
            max_execution_timeout_s=timeout_s,
            rollback_max_batch=rollback_max_batch,
        )

    # --- use ----------------------------------------------------------------------------------

    @property
    def bake(self) -> Duration:
        """The baking time after each step or batch."""
        return Duration.seconds(self.bake_s)

    @property
    def is_rolling(self) -> bool:
        """Whether this is a rolling update (else blue/green)."""
        return self.kind is DeploymentKind.ROLLING

    def render(self, rollback: sagemaker.CfnEndpoint.AutoRollbackConfigProperty | None) -> Any:
        """Return the ``DeploymentConfig`` property with ``rollback`` as its ``AutoRollbackConfiguration``."""
        if self.is_rolling:
            assert self.size is not None
            rolling = sagemaker.CfnEndpoint.RollingUpdatePolicyProperty(
                maximum_batch_size=self.size.render(),
                wait_interval_in_seconds=self.bake_s,
                maximum_execution_timeout_in_seconds=self.max_execution_timeout_s,
                rollback_maximum_batch_size=None
                if self.rollback_max_batch is None
                else self.rollback_max_batch.render(),
            )
            return sagemaker.CfnEndpoint.DeploymentConfigProperty(
                rolling_update_policy=rolling, auto_rollback_configuration=rollback
            )
        routing = sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
            type=self.kind.value,
            wait_interval_in_seconds=self.bake_s,
            canary_size=self.size.render() if self.kind is DeploymentKind.CANARY and self.size else None,
            linear_step_size=self.size.render() if self.kind is DeploymentKind.LINEAR and self.size else None,
        )
        blue_green = sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=self.termination_wait_s,
            maximum_execution_timeout_in_seconds=self.max_execution_timeout_s,
        )
        return sagemaker.CfnEndpoint.DeploymentConfigProperty(
            blue_green_update_policy=blue_green, auto_rollback_configuration=rollback
        )

    def problems_for(
        self, variants: Sequence[VariantBase], min_counts: Mapping[str, int], *, endpoint: str
    ) -> list[str]:
        """Return what SageMaker would refuse about this policy on these variants.

        Args:
            variants: the endpoint's production variants.
            min_counts: the fewest instances each autoscaled variant may run (its ``min_capacity``).
            endpoint: the endpoint as messages name it (its kind and path).
        """
        problems: list[str] = []
        call = self._call()
        if self.is_rolling and len(variants) > 1:
            names = ", ".join(repr(v.variant_name) for v in variants)
            problems.append(
                f"deployment {call} cannot update {endpoint}: it has {len(variants)} variants ({names}) and "
                "SageMaker rolls only single-variant endpoints — use DeploymentPolicy.canary(...) or "
                "DeploymentPolicy.linear(...) (blue/green), or keep one variant"
            )
        for variant in variants:
            if not isinstance(variant, ProductionVariant):
                if self.is_rolling:
                    problems.append(
                        f"deployment {call} cannot update the serverless variant {variant.variant_name!r} of "
                        f"{endpoint}: SageMaker does not roll serverless variants — use "
                        "DeploymentPolicy.all_at_once(...) (blue/green)"
                    )
                continue
            problems.extend(self._capacity_fit(variant, min_counts.get(variant.variant_name), call))
        return problems

    def _capacity_fit(self, variant: ProductionVariant, min_count: int | None, call: str) -> list[str]:
        if self.size is None or self.size.unit is not CapacityUnit.INSTANCE_COUNT:
            return []
        field, (low, high) = {
            DeploymentKind.CANARY: ("size", (0, CANARY_MAX_PERCENT)),
            DeploymentKind.LINEAR: ("step", LINEAR_PERCENT_RANGE),
            DeploymentKind.ROLLING: ("max_batch", ROLLING_PERCENT_RANGE),
        }[self.kind]
        counts = [("initial_instance_count", variant.initial_instance_count)]
        if min_count is not None:
            counts.append(("min_capacity", min_count))
        for source, count in counts:
            if not resolved(count) or count < 1:
                continue
            share = self.size.percent_of(count)
            if low <= share <= high:
                continue
            fitting = [n for n in range(1, count + 1) if low <= 100.0 * n / count <= high]
            fix = (
                f"use Capacity.instances({fitting[0]})" + (f" to {fitting[-1]}" if len(fitting) > 1 else "")
                if fitting
                else f"use Capacity.percent({high}) or run more instances"
            )
            if self.kind is DeploymentKind.CANARY and not fitting:
                fix = "use DeploymentPolicy.all_at_once(...) (a 1-instance variant has no canary) or run >= 2 instances"
            problems = [
                f"deployment {call}: {field} {self.size} is {share:.0f} % of variant {variant.variant_name!r} "
                f"({count} instance{'s' if count != 1 else ''}, its {source}), but SageMaker allows "
                f"{_percent_range(low, high)} — {fix}"
            ]
            return problems
        return []

    def _call(self) -> str:
        """Return the factory call as a message shows it, e.g. ``DeploymentPolicy.canary(size=Capacity.instances(1))``."""
        name = self.kind.value.lower()
        if self.size is None:
            return f"DeploymentPolicy.{name}(...)"
        field = {
            DeploymentKind.CANARY: "size",
            DeploymentKind.LINEAR: "step",
            DeploymentKind.ROLLING: "max_batch",
        }
        return f"DeploymentPolicy.{name}({field[self.kind]}={self.size._call()})"


def default_policy(variants: Sequence[VariantBase], min_counts: Mapping[str, int]) -> DeploymentPolicy:
    """Return the deployment policy an endpoint gets when it passes no ``deployment``.

    Guardrails are on by default; every branch bakes :data:`DEFAULT_BAKE` (10 minutes) and rolls
    back on the endpoint's rollback alarms:

    * **One GPU instance variant of >= 4 instances** (initial count and ``min_capacity``):
      :meth:`DeploymentPolicy.rolling` in batches of 25 %. Blue/green provisions a whole second
      fleet before it shifts a request: 8 more ml.p4d.24xlarge for an 8-instance endpoint, capacity
      that often is not there (the update then fails on InsufficientCapacity) and is billed while
      it bakes. A rolling update needs one batch of spare instances; AWS names it the fit for large
      models and GPU fleets (SageMaker Developer Guide, "Use rolling deployments"). Below 4
      instances a 25 % batch is the canary's single instance anyway, and blue/green's instant
      rollback (the old fleet is still up) is worth the spare fleet. Several variants or serverless
      variants cannot roll, so they take the blue/green branches.
    * **Every instance variant runs >= 2 instances** (initial count and ``min_capacity``):
      :meth:`DeploymentPolicy.canary` of 1 instance, then the rest.
    * **Otherwise** (a 1-instance variant: a canary must be <= 50 % of the fleet, so it has none;
      or serverless variants only, which have no instances to split):
      :meth:`DeploymentPolicy.all_at_once`: the new fleet takes all traffic at once, then bakes,
      and a firing alarm still rolls it back.

    Args:
        variants: the endpoint's production variants.
        min_counts: the ``min_capacity`` of each autoscaled variant, by variant name.
    """
    counts: list[int] = []
    for variant in variants:
        if not isinstance(variant, ProductionVariant):
            continue
        count = variant.initial_instance_count if resolved(variant.initial_instance_count) else 1
        counts.append(min(count, min_counts.get(variant.variant_name, count)))
    if not counts:
        return DeploymentPolicy.all_at_once()
    only = variants[0] if len(variants) == 1 else None
    if (
        isinstance(only, ProductionVariant)
        and only.instance_type.is_gpu
        and counts[0] >= ROLLING_BY_DEFAULT_MIN_INSTANCES
    ):
        return DeploymentPolicy.rolling()
    if min(counts) >= 2:
        return DeploymentPolicy.canary()
    return DeploymentPolicy.all_at_once()


# --- helpers ----------------------------------------------------------------------------------


def _blue_green(
    problems: Problems,
    kind: DeploymentKind,
    size: Capacity | None,
    bake: Duration | None,
    termination_wait: Duration | None,
    max_execution_timeout: Duration | None,
) -> DeploymentPolicy:
    bake_s = _wait_seconds("bake", bake, DEFAULT_BAKE, problems)
    termination_s = _wait_seconds("termination_wait", termination_wait, None, problems)
    timeout_s = _timeout_seconds(max_execution_timeout, bake_s, termination_s or 0, problems)
    problems.raise_if_any()
    return DeploymentPolicy(
        kind=kind,
        bake_s=bake_s,
        size=size,
        termination_wait_s=termination_s,
        max_execution_timeout_s=timeout_s,
    )


def _capacity_problems(
    name: str, value: Any, percent_range: tuple[int, int], *, required: bool = True
) -> list[str]:
    if value is None:
        if required:
            return [f"{name} is required (got None) — pass Capacity.percent(n) or Capacity.instances(n)"]
        return []
    problems = check_type(
        name, value, Capacity, f"use Capacity.percent({percent_range[1]}) or Capacity.instances(1)"
    )
    if problems or value.unit is not CapacityUnit.CAPACITY_PERCENT:
        return problems
    low, high = percent_range
    if not low <= value.value <= high:
        return [
            f"{name} must be {_percent_range(low, high)} of the variant's instances (got {value.value} %) "
            f"— use Capacity.percent({min(max(value.value, low), high)})"
        ]
    return []


def _wait_seconds(name: str, value: Any, default: int | None, problems: Problems) -> Any:
    """Check a wait (0-3600 s) and return it in seconds; ``default`` when None."""
    if value is None:
        return default
    found = check_duration(name, value, 0, MAX_WAIT_S)
    if found:
        problems.extend([_with_fix(p, "use Duration.minutes(...) up to Duration.hours(1)") for p in found])
        return default
    seconds = duration_seconds(value)
    return value.to_seconds() if seconds is None else int(seconds)


def _timeout_seconds(value: Any, bake_s: Any, termination_s: Any, problems: Problems) -> Any:
    """Check ``max_execution_timeout``: 600-28,800 s and longer than the bake plus the termination wait."""
    if value is None:
        return None
    found = check_duration("max_execution_timeout", value, MIN_EXECUTION_TIMEOUT_S, MAX_EXECUTION_TIMEOUT_S)
    if found:
        problems.extend([_with_fix(p, "use Duration.minutes(10) to Duration.hours(8)") for p in found])
        return None
    seconds = duration_seconds(value)
    if seconds is None:
        return value.to_seconds()
    waits = [w for w in (bake_s, termination_s) if isinstance(w, int)]
    total = sum(waits)
    if seconds <= total:
        problems.add(
            f"max_execution_timeout must be longer than the waits it covers, bake + termination_wait = "
            f"{total} s (got {seconds:g} s) — use Duration.seconds({max(total + 1, MIN_EXECUTION_TIMEOUT_S)}) "
            "or more, or shorten the waits"
        )
    return int(seconds)


def _with_fix(problem: str, fix: str) -> str:
    """Add ``fix`` to a range problem (a type problem carries its own fix already)."""
    return problem if " — " in problem else f"{problem} — {fix}"


def _percent_range(low: int, high: int) -> str:
    return f"at most {high} %" if low <= 1 else f"{low}-{high} %"


__all__ = [
    "Capacity",
    "CapacityUnit",
    "DeploymentKind",
    "DeploymentPolicy",
    "default_policy",
]
