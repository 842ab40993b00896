"""Seed 000's derived table: instances needed for a target load, and what they cost.

Seed 000 (§4.2 footnotes [1], [2]; §4.3) sizes every configuration the same way, and its
24 rows reproduce exactly with:

* ``instances = ceil(target_invocations_per_minute / invocations_per_minute_per_instance)``
  (footnote [1]: "the recommended number of instances to use with an auto-scaling policy
  to maintain the workload's throughput"), with the target 30 000 per minute;
* ``cost_per_hour = instances * hourly price`` (footnote [2]);
* ``cost per 1M inferences at the target = cost_per_hour / (target * 60 / 1e6)``
  (the seed's §4.3 divides by 1.8 M inferences per hour).

The cost per million *at capacity* (price ÷ what one instance can serve in an hour) is
added because it ranks configurations without the rounding of the instance count.

Per accelerator. A measurement on one GPU of a family whose instances carry several (one
H100; ``ml.p5.48xlarge`` has eight) is priced per GPU: ``price per GPU-hour = instance price /
GPUs per instance`` and ``GPUs needed = ceil(target / invocations per minute per GPU)``, with
the whole instances a fleet would rent (``ceil(target / (rate per GPU x GPUs per instance))``)
and their cost next to it. :class:`PricingBasis` carries that relation (from
:class:`model_build.profile.HardwareMatch`) and the plain-words statement the report prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from model_build.profile import HardwareMatch, TuningProfile
from tuning.pricing import PriceTable

SEED_TARGET_INVOCATIONS_PER_MINUTE = 30_000


def invocations_per_minute(throughput_rps: float) -> float:
    """Convert requests per second to invocations per minute (one request is one invocation)."""
    return throughput_rps * 60.0


def instances_needed(target_per_minute: float, per_instance_per_minute: float, safety_factor: float = 1.0) -> int:
    """Instances to serve ``target_per_minute`` when each serves ``per_instance_per_minute * safety_factor``.

    Args:
        target_per_minute: Load to serve (seed: 30 000).
        per_instance_per_minute: Measured sustainable invocations per minute of one instance.
        safety_factor: Share of the measured capacity to plan on (1.0 reproduces the seed).

    Raises:
        ValueError: When the capacity or the factor is not positive.
    """
    if per_instance_per_minute <= 0:
        raise ValueError(f"per_instance_per_minute must be > 0 (got {per_instance_per_minute})")
    if not 0 < safety_factor <= 1:
        raise ValueError(f"safety_factor must be in (0, 1] (got {safety_factor})")
    # Planned capacity is the scaling target the profile deploys (whole invocations per minute), and the
    # count is the profile's initial count: the same rounding as the stack, so the table matches it.
    capacity = (
        per_instance_per_minute
        if safety_factor == 1.0
        else TuningProfile.scaling_target(per_instance_per_minute, safety_factor)
    )
    return TuningProfile.initial_count(target_per_minute, capacity)


@dataclass(frozen=True)
class PricingBasis:
    """How one measured server's rate is counted and priced on an instance type.

    Attributes:
        instance_type: The instance type priced.
        unit: What is counted and priced: ``"instance"``, or ``"GPU"``/``"accelerator"`` when an
            instance carries several.
        units_per_instance: Units in one instance (1 when the unit is the instance).
        rate_scale: Rate per unit = measured server rate x ``rate_scale`` (a translation's
            factor over the measured accelerator count; 1 for seed 000's per-instance rows).
        statement: The relation between measurement and instance type, in plain words.
    """

    instance_type: str
    unit: str = "instance"
    units_per_instance: int = 1
    rate_scale: float = 1.0
    statement: str = ""

    @classmethod
    def from_match(cls, match: HardwareMatch) -> PricingBasis:
        """Return the basis :func:`model_build.profile.match_hardware` found for a measurement and an instance type."""
        return cls(
            instance_type=match.instance_type,
            unit=match.unit,
            units_per_instance=match.units_per_instance,
            rate_scale=match.factor / match.measured_units,
            statement=match.statement(),
        )


@dataclass(frozen=True)
class Sizing:
    """One row of the derived table.

    Attributes:
        configuration: Configuration name (``db``, ``ig-db``…).
        instance_type: SageMaker instance type priced.
        unit: What ``units`` counts (``instance`` or ``GPU``; see :class:`PricingBasis`).
        units_per_instance: Units in one instance.
        invocations_per_minute_per_unit: Sustainable rate of one unit.
        invocations_per_minute_per_instance: Sustainable rate of one instance (per unit x units per instance).
        target_per_minute: Load the fleet is sized for.
        units: Units needed (instances when the unit is the instance: seed 000's "initial instance count").
        instances: Whole instances needed.
        hourly_price: Price of one instance-hour; None when the table has no rate.
        unit_price: Price of one unit-hour (``hourly_price / units_per_instance``); None likewise.
        cost_per_hour: ``units * unit_price`` (priced per unit); None without a price.
        instance_cost_per_hour: ``instances * hourly_price``: what renting whole instances costs.
        cost_per_million_at_target: ``cost_per_hour`` per 1M inferences when serving exactly the target.
        cost_per_million_at_capacity: ``unit_price`` per 1M inferences when a unit is fully loaded.
        price_note: The price arithmetic, or why there is no price.
    """

    configuration: str
    instance_type: str
    unit: str
    units_per_instance: int
    invocations_per_minute_per_unit: float
    invocations_per_minute_per_instance: float
    target_per_minute: float
    units: int
    instances: int
    hourly_price: float | None
    unit_price: float | None
    cost_per_hour: float | None
    instance_cost_per_hour: float | None
    cost_per_million_at_target: float | None
    cost_per_million_at_capacity: float | None
    price_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def size(
    configuration: str,
    instance_type: str,
    measured_per_minute: float,
    prices: PriceTable,
    *,
    target_per_minute: float = SEED_TARGET_INVOCATIONS_PER_MINUTE,
    safety_factor: float = 1.0,
    basis: PricingBasis | None = None,
) -> Sizing:
    """Size a fleet of ``instance_type`` for ``target_per_minute`` (seed 000's arithmetic).

    Args:
        configuration: Configuration name.
        instance_type: Instance type to price.
        measured_per_minute: Sustainable invocations per minute of the measured server (of one
            instance of ``instance_type`` when ``basis`` is None, as in seed 000's table).
        prices: Price table; an instance type without a rate gets costs of None and the reason.
        target_per_minute: Target load.
        safety_factor: Share of measured capacity to plan on; 1.0 reproduces the seed's table.
        basis: How the measured server maps onto ``instance_type``. Defaults to one server = one instance.
    """
    basis = basis or PricingBasis(instance_type)
    per_unit = measured_per_minute * basis.rate_scale
    per_instance = per_unit * basis.units_per_instance
    units = instances_needed(target_per_minute, per_unit, safety_factor)
    instances = instances_needed(target_per_minute, per_instance, safety_factor)
    row = prices.price(instance_type)
    if row is None:
        return Sizing(
            configuration, instance_type, basis.unit, basis.units_per_instance, per_unit, per_instance,
            target_per_minute, units, instances, None, None, None, None, None, None,
            prices.missing_reason(instance_type),
        )  # fmt: skip
    price = row.usd_per_hour
    unit_price = price / basis.units_per_instance
    cost = units * unit_price
    note = f"{instance_type} {price:g} {prices.currency}/hour"
    if basis.units_per_instance > 1:
        note += f" / {basis.units_per_instance} {basis.unit}s = {unit_price:.4f} {prices.currency} per {basis.unit}-hour"
    return Sizing(
        configuration=configuration,
        instance_type=instance_type,
        unit=basis.unit,
        units_per_instance=basis.units_per_instance,
        invocations_per_minute_per_unit=per_unit,
        invocations_per_minute_per_instance=per_instance,
        target_per_minute=target_per_minute,
        units=units,
        instances=instances,
        hourly_price=price,
        unit_price=unit_price,
        cost_per_hour=cost,
        instance_cost_per_hour=instances * price,
        cost_per_million_at_target=cost / (target_per_minute * 60.0 / 1e6),
        cost_per_million_at_capacity=unit_price / (per_unit * 60.0 / 1e6),
        price_note=note,
    )


def size_seed_and_planned(
    configuration: str,
    instance_type: str,
    measured_per_minute: float,
    prices: PriceTable,
    *,
    target_per_minute: float,
    safety_factor: float,
    basis: PricingBasis | None = None,
) -> tuple[Sizing, Sizing]:
    """Return seed 000's sizing (safety factor 1, its table's arithmetic) and the planned one (what is deployed).

    Args:
        configuration: Configuration name.
        instance_type: Instance type to price.
        measured_per_minute: Sustainable invocations per minute of the measured server.
        prices: Price table.
        target_per_minute: Target load.
        safety_factor: Share of measured capacity the planned sizing counts on.
        basis: How the measured server maps onto ``instance_type`` (see :func:`size`).
    """
    seed = size(configuration, instance_type, measured_per_minute, prices, target_per_minute=target_per_minute, basis=basis)
    planned = size(
        configuration,
        instance_type,
        measured_per_minute,
        prices,
        target_per_minute=target_per_minute,
        safety_factor=safety_factor,
        basis=basis,
    )
    return seed, planned

