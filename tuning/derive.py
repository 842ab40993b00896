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
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from tuning.pricing import PriceTable

SEED_TARGET_INVOCATIONS_PER_MINUTE = 30_000
SEED_LATENCY_TARGET_MS = 500.0

# ceil() of a quotient that is an integer up to float error (30000 / 500.0000001) must
# not add an instance.
_EPS = 1e-9


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
    capacity = per_instance_per_minute
    if safety_factor != 1.0:
        # Planned capacity is the scaling target, which is whole invocations per minute
        # (model_build.profile.TuningProfile.scaling_target); same rounding, same count.
        capacity = max(1, math.floor(per_instance_per_minute * safety_factor))
    return max(1, math.ceil(target_per_minute / capacity - _EPS))


@dataclass(frozen=True)
class Sizing:
    """One row of the derived table.

    Attributes:
        configuration: Configuration name (``db``, ``ig-db``…).
        instance_type: SageMaker instance type the measurement stands for.
        invocations_per_minute_per_instance: Measured sustainable rate of one instance.
        target_per_minute: Load the fleet is sized for.
        instances: Instances needed (seed's "initial instance count").
        hourly_price: Price of one instance-hour.
        cost_per_hour: ``instances * hourly_price``.
        cost_per_million_at_target: Fleet cost per 1M inferences when serving exactly the target.
        cost_per_million_at_capacity: Instance cost per 1M inferences when fully loaded.
    """

    configuration: str
    instance_type: str
    invocations_per_minute_per_instance: float
    target_per_minute: float
    instances: int
    hourly_price: float
    cost_per_hour: float
    cost_per_million_at_target: float
    cost_per_million_at_capacity: float

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return asdict(self)


def size(
    configuration: str,
    instance_type: str,
    per_instance_per_minute: float,
    prices: PriceTable,
    *,
    target_per_minute: float = SEED_TARGET_INVOCATIONS_PER_MINUTE,
    safety_factor: float = 1.0,
) -> Sizing:
    """Size a fleet of ``instance_type`` for ``target_per_minute`` (seed 000's arithmetic).

    Args:
        configuration: Configuration name.
        instance_type: Instance type the per-instance rate was measured on (or stands for).
        per_instance_per_minute: Sustainable invocations per minute of one instance.
        prices: Price table.
        target_per_minute: Target load.
        safety_factor: Share of measured capacity to plan on; 1.0 reproduces the seed's table.
    """
    count = instances_needed(target_per_minute, per_instance_per_minute, safety_factor)
    price = prices.hourly(instance_type)
    per_hour = count * price
    return Sizing(
        configuration=configuration,
        instance_type=instance_type,
        invocations_per_minute_per_instance=per_instance_per_minute,
        target_per_minute=target_per_minute,
        instances=count,
        hourly_price=price,
        cost_per_hour=per_hour,
        cost_per_million_at_target=per_hour / (target_per_minute * 60.0 / 1e6),
        cost_per_million_at_capacity=price / (per_instance_per_minute * 60.0 / 1e6),
    )
