"""Seed 003's comparison: the same model sized on two hardware kinds (a GPU type and an inf2 type).

``python -m tuning compare --profile gpu.json --profile inf2.json`` sizes each measured profile on
an instance type with its measured accelerator (the same arithmetic as ``python -m tuning size``,
:func:`tuning.derive.size_seed_and_planned`) for one target load, and sets the cost per million
inferences and the measured p99 side by side, with the change from the first to the second.

The reference line is seed 003 (ByteDance moving models from G4dn/NVIDIA T4 to Inf1): **up to 60 %
lower inference cost and up to 25 % lower latency** (p99 200 → 150 ms on a face-detection model;
``shared/seeds/003-bytedance-inferentia.md`` §1, §4). Those were inf1 figures for ByteDance's models;
this command compares *your* two measurements.

Figures for an Inferentia type must come from a run on Inferentia hardware: a profile whose
``hardware.kind`` is ``"inferentia"`` (recorded at measurement time), never figures carried over
from a GPU by a ``hardware_translation``. Nothing in this repository measures on Inferentia (no
such hardware here); the inf2 profile is the user's, from a load test of a real inf2 endpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SEED_003_COST_CHANGE = -0.60
"""Seed 003: "up to 60 % lower inference cost" (Inf1 vs G4dn/T4)."""
SEED_003_P99_CHANGE = -0.25
"""Seed 003: p99 200 ms → 150 ms (-25 %) on the face-detection model."""
SEED_003_REFERENCE = (
    "seed 003 (ByteDance, inf1 vs g4dn/T4, their models): cost -60 %, p99 -25 % (200 -> 150 ms)"
)


@dataclass(frozen=True)
class CompareSide:
    """One profile sized on one instance type.

    Attributes:
        profile: The profile file.
        model_name: The profile's model.
        configuration: Its configuration.
        hardware: What it was measured on.
        instance_type: The instance type sized.
        sizing: How the measured figures map onto it.
        instances: Whole instances for the target.
        hourly_price: One instance-hour (USD); None without a price.
        cost_per_million_at_target: Fleet cost per 1M inferences at the target load.
        cost_per_million_at_capacity: Cost per 1M inferences of a fully loaded unit.
        p99_ms: The measured p99 latency at the profile's operating point.
        price: The price's citation.
    """

    profile: str
    model_name: str
    configuration: str
    hardware: str
    instance_type: str
    sizing: str
    instances: int
    hourly_price: float | None
    cost_per_million_at_target: float | None
    cost_per_million_at_capacity: float | None
    p99_ms: float
    price: str


@dataclass(frozen=True)
class Comparison:
    """Two sides and the changes from the first to the second (``-0.6`` is 60 % less)."""

    target_per_minute: float
    safety_factor: float
    first: CompareSide
    second: CompareSide

    @property
    def same_model(self) -> bool:
        """Whether both profiles name the same model."""
        return self.first.model_name == self.second.model_name

    def changes(self) -> dict[str, float | None]:
        """Relative change second vs first per figure; None where a figure is missing or zero."""
        return {
            key: _change(getattr(self.first, key), getattr(self.second, key))
            for key in ("cost_per_million_at_target", "cost_per_million_at_capacity", "p99_ms")
        }

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as JSON-able data."""
        return {
            "target_per_minute": self.target_per_minute,
            "safety_factor": self.safety_factor,
            "same_model": self.same_model,
            "first": asdict(self.first),
            "second": asdict(self.second),
            "change_second_vs_first": self.changes(),
            "reference": {
                "cost_change": SEED_003_COST_CHANGE,
                "p99_change": SEED_003_P99_CHANGE,
                "text": SEED_003_REFERENCE,
            },
        }

    def table(self) -> str:
        """Return the side-by-side text table."""
        a, b = self.first, self.second
        changes = self.changes()
        rows = [
            ("", "first", "second", "change"),
            ("profile", a.profile, b.profile, ""),
            ("model / configuration", f"{a.model_name} / {a.configuration}", f"{b.model_name} / {b.configuration}", ""),
            ("measured on", a.hardware, b.hardware, ""),
            ("instance type", a.instance_type, b.instance_type, ""),
            ("instances for target", str(a.instances), str(b.instances), ""),
            ("USD per instance-hour", _money(a.hourly_price), _money(b.hourly_price), ""),
            (
                "USD per 1M at target",
                _money(a.cost_per_million_at_target),
                _money(b.cost_per_million_at_target),
                _percent(changes["cost_per_million_at_target"]),
            ),
            (
                "USD per 1M at capacity",
                _money(a.cost_per_million_at_capacity),
                _money(b.cost_per_million_at_capacity),
                _percent(changes["cost_per_million_at_capacity"]),
            ),
            ("p99 ms (measured)", f"{a.p99_ms:g}", f"{b.p99_ms:g}", _percent(changes["p99_ms"])),
            ("reference", "", "", SEED_003_REFERENCE),
        ]
        widths = [max(len(r[i]) for r in rows[:-1]) for i in range(4)]
        lines = [
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows[:-1]
        ]
        lines.append(f"{'reference'.ljust(widths[0])}  {SEED_003_REFERENCE}")
        lines.append(
            f"target {self.target_per_minute:g} invocations/minute, safety factor {self.safety_factor:g}; "
            f"p99 is each profile's measured client p99, not re-measured"
        )
        if not self.same_model:
            lines.append(
                f"note: the profiles are of different models ({a.model_name!r}, {b.model_name!r}); compare the "
                "same model built for each target"
            )
        return "\n".join(lines)


def _change(first: float | None, second: float | None) -> float | None:
    if first is None or second is None or first == 0:
        return None
    return second / first - 1.0


def _money(value: float | None) -> str:
    return "no price" if value is None else f"{value:.4g}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:+.1f} %"


def inferentia_problem(instance_type: str, hardware: Any, translated: bool) -> str | None:
    """Return why a profile may not size an Inferentia ``instance_type``: its figures were not measured on Inferentia."""
    from model_build.hardware import hardware_of

    if hardware_of(instance_type).kind != "inferentia":
        return None
    if hardware.kind == "inferentia" and not translated:
        return None
    how = "carried over by a hardware_translation" if translated else f"measured on {hardware.describe()}"
    return (
        f"sizes {instance_type} (Inferentia) with figures {how}; an Inferentia comparison needs a profile "
        "measured on Inferentia hardware (hardware.kind 'inferentia', no hardware_translation) — load-test a "
        "real inf2 endpoint and record its profile (docs/tuning.md, 'Comparing a GPU type with inf2')"
    )
