"""Pick the cheapest configuration that meets the latency target and write it as a profile.

For every configuration the matrix measured several concurrency levels. A configuration's
*sustainable* rate is the highest throughput among the levels whose latency percentile
meets the target with no errors: past that point a busier instance only adds queueing.
That rate sizes the fleet two ways:

* the seed's way (``safety_factor = 1``) for the derived table, so its arithmetic can be
  checked against seed 000's rows;
* the deployed way, planning on ``rate * safety_factor`` (see :mod:`model_build.profile`),
  which decides the ranking, because that is what the stack will pay for.

Costs are priced per unit of :class:`tuning.derive.PricingBasis` (per GPU for one GPU of an
8-GPU instance). Ties on cost go to the fewer units, then the higher rate, then the lower
latency; a configuration whose instance type has no price in the table ranks by those alone.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from model_build.profile import (
    DEFAULT_LATENCY_PERCENTILE,
    DEFAULT_SAFETY_FACTOR,
    SEED_LATENCY_TARGET_MS,
    HardwareMatch,
    MeasuredFigures,
    MeasuredHardware,
    Provenance,
    TuningProfile,
)
from model_build.spec import TritonOptions
from tuning.derive import (
    SEED_TARGET_INVOCATIONS_PER_MINUTE,
    PricingBasis,
    Sizing,
    invocations_per_minute,
    size_seed_and_planned,
)
from tuning.loadgen import LoadResult
from tuning.pricing import PriceTable


class NoConfigurationMeetsTargetError(RuntimeError):
    """No measured configuration met the latency target without errors."""


@dataclass(frozen=True)
class Criteria:
    """What "good enough" means.

    Attributes:
        target_per_minute: Load to size for (seed 000: 30 000 invocations per minute).
        latency_target_ms: Latency bound (seed 000: 500 ms).
        latency_percentile: Percentile the bound applies to: 50, 90 or 99. Defaults to 99
            (:data:`model_build.profile.DEFAULT_LATENCY_PERCENTILE`).
        safety_factor: Share of the sustainable rate the scaling target plans on. Defaults to 0.7
            (:data:`model_build.profile.DEFAULT_SAFETY_FACTOR`, which says why).
        max_error_rate: Highest acceptable error rate (0: any error disqualifies).
    """

    target_per_minute: float = SEED_TARGET_INVOCATIONS_PER_MINUTE
    latency_target_ms: float = SEED_LATENCY_TARGET_MS
    latency_percentile: float = DEFAULT_LATENCY_PERCENTILE
    safety_factor: float = DEFAULT_SAFETY_FACTOR
    max_error_rate: float = 0.0


@dataclass(frozen=True)
class Candidate:
    """One configuration's measurements.

    Attributes:
        name: Configuration name (``base``, ``db``…).
        triton: The Triton options it was built with.
        instance_type: Instance type the measurements stand for.
        points: One result per concurrency level.
    """

    name: str
    triton: TritonOptions
    instance_type: str
    points: tuple[LoadResult, ...]


@dataclass
class Assessment:
    """A candidate judged against the criteria.

    Attributes:
        candidate: The configuration.
        point: Its sustainable operating point (``None`` when no level met the target).
        seed_sizing: Seed 000's sizing at that point (safety factor 1).
        planned_sizing: Sizing with the safety factor: what would be deployed.
        reason: Why it does not qualify (empty when it does).
    """

    candidate: Candidate
    point: LoadResult | None
    seed_sizing: Sizing | None
    planned_sizing: Sizing | None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def meets(self) -> bool:
        """Whether some concurrency level met the latency target without errors."""
        return self.point is not None

    @property
    def peak(self) -> LoadResult | None:
        """The highest-throughput point measured, whether or not it met the target."""
        return max(self.candidate.points, key=lambda p: p.latency.throughput_rps, default=None)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {
            "configuration": self.candidate.name,
            "instance_type": self.candidate.instance_type,
            "meets_target": self.meets,
            "reason": self.reason,
            "point": self.point.to_dict() if self.point else None,
            "seed_sizing": self.seed_sizing.to_dict() if self.seed_sizing else None,
            "planned_sizing": self.planned_sizing.to_dict() if self.planned_sizing else None,
        }


def sustainable_point(points: Sequence[LoadResult], criteria: Criteria) -> LoadResult | None:
    """Return the highest-throughput point that meets the latency percentile with acceptable errors."""
    good = [
        p
        for p in points
        if p.latency.count > 0
        and p.latency.error_rate <= criteria.max_error_rate
        and p.latency.percentile_ms(criteria.latency_percentile) <= criteria.latency_target_ms
    ]
    return max(good, key=lambda p: p.latency.throughput_rps, default=None)


def assess(
    candidates: Sequence[Candidate], criteria: Criteria, prices: PriceTable, basis: PricingBasis | None = None
) -> list[Assessment]:
    """Judge every candidate; sizing uses the price of each candidate's instance type.

    Args:
        candidates: The measured configurations.
        criteria: Latency and load targets.
        prices: Price table.
        basis: How one measured server maps onto the instance type (per GPU, translated…).
            Defaults to one server = one instance of the candidate's instance type.
    """
    out: list[Assessment] = []
    for candidate in candidates:
        point = sustainable_point(candidate.points, criteria)
        if point is None:
            worst = min(
                (p.latency.percentile_ms(criteria.latency_percentile) for p in candidate.points if p.latency.count),
                default=math.nan,
            )
            out.append(
                Assessment(
                    candidate,
                    None,
                    None,
                    None,
                    reason=(
                        f"no concurrency level met p{criteria.latency_percentile:g} <= "
                        f"{criteria.latency_target_ms:g} ms without errors (best p{criteria.latency_percentile:g}: {worst:.1f} ms)"
                    ),
                )
            )
            continue
        seed, planned = size_seed_and_planned(
            candidate.name,
            candidate.instance_type,
            invocations_per_minute(point.latency.throughput_rps),
            prices,
            target_per_minute=criteria.target_per_minute,
            safety_factor=criteria.safety_factor,
            basis=basis,
        )
        out.append(Assessment(candidate, point, seed, planned))
    return out


def recommend(assessments: Sequence[Assessment], criteria: Criteria) -> Assessment:
    """Return the cheapest qualifying configuration (planned cost per hour; ties: fewer units, higher rate, lower latency).

    Raises:
        NoConfigurationMeetsTargetError: When none qualifies, with every candidate's reason.
    """
    qualifying = [a for a in assessments if a.meets and a.planned_sizing is not None and a.point is not None]
    if not qualifying:
        reasons = "; ".join(f"{a.candidate.name}: {a.reason}" for a in assessments)
        raise NoConfigurationMeetsTargetError(
            f"no configuration meets p{criteria.latency_percentile:g} <= {criteria.latency_target_ms:g} ms: {reasons}"
        )

    def key(a: Assessment) -> tuple[float, float, float, float]:
        assert a.planned_sizing is not None and a.point is not None
        cost = a.planned_sizing.cost_per_hour
        return (
            math.inf if cost is None else round(cost, 6),
            a.planned_sizing.units,
            -a.planned_sizing.invocations_per_minute_per_unit,
            a.point.latency.percentile_ms(criteria.latency_percentile),
        )

    return min(qualifying, key=key)


def to_profile(
    chosen: Assessment,
    *,
    model_name: str,
    criteria: Criteria,
    provenance: Provenance,
    hardware: MeasuredHardware,
    match: HardwareMatch,
) -> TuningProfile:
    """Write the chosen assessment as a :class:`TuningProfile`.

    Args:
        chosen: The recommended configuration.
        model_name: The model measured.
        criteria: The targets it met.
        provenance: Machine, date, versions.
        hardware: What it was measured on.
        match: How the measurement carries to the instance type sized (its scale sets the
            per-instance scaling target; its translation, if any, is recorded).
    """
    if chosen.point is None or chosen.planned_sizing is None:
        raise ValueError(f"configuration {chosen.candidate.name!r} did not meet the target: {chosen.reason}")
    point = chosen.point
    lat = point.latency
    ipm = invocations_per_minute(lat.throughput_rps)
    target = TuningProfile.scaling_target(ipm * match.scale, criteria.safety_factor)
    triton = chosen.candidate.triton
    batching = triton.dynamic_batching
    mean_batch = point.triton.mean_batch_size if point.triton is not None else None
    return TuningProfile(
        model_name=model_name,
        configuration=chosen.candidate.name,
        instance_type=match.instance_type,
        max_batch_size=triton.max_batch_size,
        dynamic_batching=batching is not None,
        preferred_batch_sizes=tuple(batching.preferred_batch_sizes) if batching else (),
        max_queue_delay_microseconds=batching.max_queue_delay_microseconds if batching else 0,
        instance_count=triton.instance_count,
        initial_instance_count=TuningProfile.initial_count(criteria.target_per_minute, target),
        invocations_per_instance_target=target,
        safety_factor=criteria.safety_factor,
        target_invocations_per_minute=criteria.target_per_minute,
        latency_target_ms=criteria.latency_target_ms,
        latency_percentile=criteria.latency_percentile,
        measured=MeasuredFigures(
            throughput_rps=round(lat.throughput_rps, 3),
            invocations_per_minute=ipm,
            p50_ms=round(lat.p50_ms, 3),
            p90_ms=round(lat.p90_ms, 3),
            p99_ms=round(lat.p99_ms, 3),
            concurrency=point.concurrency,
            error_rate=lat.error_rate,
            mean_batch_size=round(mean_batch, 3) if mean_batch is not None and math.isfinite(mean_batch) else None,
            requests=lat.count,
        ),
        provenance=provenance,
        hardware=hardware,
        hardware_translation=match.translation,
    )
