"""The matrix report: markdown tables and PNG charts, like seed 000's figures.

Charts are drawn with matplotlib's Agg backend (no display needed). Every figure in the
report is measured in the same run; ratios are against ``base`` from that run.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from model_build.profile import TuningProfile
from tuning.derive import PricingBasis
from tuning.loadgen import LoadResult
from tuning.pricing import PriceTable
from tuning.recommend import Assessment, Criteria

CHARTS = ("throughput.png", "cost.png", "latency.png", "sweep.png")


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def _rule(head: str) -> str:
    return "|" + "|".join(["---"] * (head.count("|") - 1)) + "|"


def _options(a: Assessment) -> tuple[str, str, str]:
    t = a.candidate.triton
    db = t.dynamic_batching
    if db is None:
        batching = "no"
    else:
        sizes = ",".join(str(s) for s in db.preferred_batch_sizes) or "default"
        batching = f"pref {sizes}, {db.max_queue_delay_microseconds} us"
    return str(t.max_batch_size), batching, str(t.instance_count)


def _shown_point(a: Assessment) -> LoadResult | None:
    return a.point if a.point is not None else a.peak


def _base_rate(assessments: Sequence[Assessment]) -> float | None:
    for a in assessments:
        if a.candidate.name == "base":
            point = _shown_point(a)
            return point.latency.throughput_rps if point else None
    return None


def measured_table(assessments: Sequence[Assessment], criteria: Criteria) -> str:
    """One row per configuration at its sustainable point (or its peak when none qualified)."""
    pct = f"p{criteria.latency_percentile:g}"
    head = (
        "| configuration | max batch | dynamic batching | Triton model instances | concurrency | req/s | vs base "
        "| p50 ms | p90 ms | p99 ms | errors | Triton mean batch | queue ms | compute ms | GPU util % "
        f"| client CPU % of machine | meets {pct} <= {criteria.latency_target_ms:g} ms |"
    )
    rows = [head, _rule(head)]
    base = _base_rate(assessments)
    for a in assessments:
        point = _shown_point(a)
        mbs, batching, instances = _options(a)
        if point is None:
            rows.append(f"| {a.candidate.name} | {mbs} | {batching} | {instances} |" + " n/a |" * 12 + " no |")
            continue
        lat = point.latency
        tri = point.triton
        ratio = f"{lat.throughput_rps / base:.2f}x" if base else "n/a"
        cpu = point.client_cpu.percent_of_machine if point.client_cpu else None
        rows.append(
            f"| {a.candidate.name} | {mbs} | {batching} | {instances} | {point.concurrency} "
            f"| {_fmt(lat.throughput_rps)} | {ratio} | {_fmt(lat.p50_ms)} | {_fmt(lat.p90_ms)} | {_fmt(lat.p99_ms)} "
            f"| {lat.errors} | {_fmt(tri.mean_batch_size if tri else None, 2)} | {_fmt(tri.queue_ms if tri else None, 2)} "
            f"| {_fmt(tri.compute_ms if tri else None, 2)} | {_fmt(point.gpu_util_percent)} | {_fmt(cpu)} "
            f"| {'yes' if a.meets else 'no'} |"
        )
    return "\n".join(rows)


def _unit(basis: PricingBasis | None) -> str:
    return "instance" if basis is None else basis.unit


def _money(value: float | None, currency: str, digits: int = 2) -> str:
    return "n/a" if value is None else f"{_fmt(value, digits)} {currency}"


def derived_table(
    assessments: Sequence[Assessment], criteria: Criteria, prices: PriceTable, basis: PricingBasis | None = None
) -> str:
    """Seed 000's derived columns: rate, units needed, cost; plus the planned sizing.

    Priced per unit of ``basis`` (per GPU when an instance has several and one was measured),
    with the whole instances a fleet rents next to it; costs are n/a for an unpriced type.
    """
    unit = _unit(basis)
    units = f"{unit}s"
    whole = basis is not None and basis.units_per_instance > 1
    head = (
        f"| configuration | instance type | invocations/min/{unit} | {units} (seed formula) | cost/hour "
        f"| cost per 1M at target | cost per 1M at capacity | {units} (safety {criteria.safety_factor:g}) "
        "| planned cost/hour |" + (" whole instances (planned) | their cost/hour |" if whole else "")
    )
    rows = [head, _rule(head)]
    cur = prices.currency
    for a in assessments:
        s, p = a.seed_sizing, a.planned_sizing
        if s is None or p is None:
            rows.append(f"| {a.candidate.name} | {a.candidate.instance_type} |" + " n/a |" * (9 if whole else 7))
            continue
        row = (
            f"| {a.candidate.name} | {s.instance_type} | {_fmt(s.invocations_per_minute_per_unit, 0)} | {s.units} "
            f"| {_money(s.cost_per_hour, cur)} | {_money(s.cost_per_million_at_target, cur)} "
            f"| {_money(s.cost_per_million_at_capacity, cur, 4)} | {p.units} | {_money(p.cost_per_hour, cur)} |"
        )
        if whole:
            row += f" {p.instances} | {_money(p.instance_cost_per_hour, cur)} |"
        rows.append(row)
    return "\n".join(rows)


def sweep_table(assessments: Sequence[Assessment]) -> str:
    """Every measured point: the saturation curve of each configuration."""
    head = "| configuration | concurrency | req/s | p50 ms | p99 ms | errors | Triton mean batch | client CPU % of machine |"
    rows = [head, _rule(head)]
    for a in assessments:
        for p in a.candidate.points:
            tri = p.triton
            cpu = p.client_cpu.percent_of_machine if p.client_cpu else None
            rows.append(
                f"| {a.candidate.name} | {p.concurrency} | {_fmt(p.latency.throughput_rps)} | {_fmt(p.latency.p50_ms)} "
                f"| {_fmt(p.latency.p99_ms)} | {p.latency.errors} | {_fmt(tri.mean_batch_size if tri else None, 2)} | {_fmt(cpu)} |"
            )
    return "\n".join(rows)


def render_markdown(
    assessments: Sequence[Assessment],
    *,
    criteria: Criteria,
    prices: PriceTable,
    profile: TuningProfile | None,
    meta: Mapping[str, Any],
    charts: Sequence[str] = CHARTS,
    basis: PricingBasis | None = None,
) -> str:
    """Render the whole ``report.md``."""
    instance_type = (
        basis.instance_type
        if basis is not None
        else str(meta.get("instance_type") or next((a.candidate.instance_type for a in assessments), "?"))
    )
    sample = next((a.seed_sizing for a in assessments if a.seed_sizing is not None), None)
    lines = [
        f"# Tuning matrix: {meta.get('model', '?')}",
        "",
        f"- Date: {meta.get('date', '?')}; machine: {meta.get('machine', '?')}",
        f"- Server: {meta.get('server', '?')}; payload: {meta.get('payload', '?')}; client: {meta.get('client', '?')}",
        f"- Target: {criteria.target_per_minute:,.0f} invocations/min at p{criteria.latency_percentile:g} <= "
        f"{criteria.latency_target_ms:g} ms; sized and priced as {instance_type}",
        f"- Hardware: {basis.statement if basis is not None else 'not recorded'}",
        f"- Price: {prices.citation(instance_type)}",
    ]
    if sample is not None and sample.price_note and sample.unit_price is not None and sample.units_per_instance > 1:
        lines.append(f"- Priced per {sample.unit}: {sample.price_note}")
    lines += [
        "",
        "## Measured (each configuration at its sustainable point: the highest throughput meeting the target)",
        "",
        measured_table(assessments, criteria),
        "",
        f"## Derived (seed 000 section 4.3: {_unit(basis)}s = ceil(target / invocations per minute per {_unit(basis)}))",
        "",
        derived_table(assessments, criteria, prices, basis),
        "",
        "## Recommendation",
        "",
    ]
    if profile is None:
        lines.append("No configuration met the target; no profile was written.")
    else:
        lines += [
            f"`{profile.configuration}`: max_batch_size {profile.max_batch_size}, dynamic batching "
            f"{'on' if profile.dynamic_batching else 'off'}"
            + (
                f" (preferred {list(profile.preferred_batch_sizes) or 'default'}, max queue delay "
                f"{profile.max_queue_delay_microseconds} us)"
                if profile.dynamic_batching
                else ""
            )
            + f", {profile.instance_count} Triton model instance(s) "
            + ("per GPU" if profile.hardware.kind == "gpu" else "on the CPU" if profile.hardware.kind == "cpu" else "per device")
            + f"; {profile.initial_instance_count} x "
            f"{profile.instance_type}, scaling target {profile.invocations_per_instance_target} invocations/min/instance "
            f"(measured {profile.measured.invocations_per_minute:,.0f}"
            + (f" x {basis.units_per_instance * basis.rate_scale:g} per instance" if basis and basis.units_per_instance * basis.rate_scale != 1 else "")
            + f" x safety factor {profile.safety_factor:g}). Measured on {profile.hardware.describe()}.",
            "",
            "Written to `profile.json` (model_build.profile.TuningProfile).",
        ]
    lines += ["", "## Saturation sweep (every measured point)", "", sweep_table(assessments), "", "## Charts", ""]
    lines += [f"![{Path(c).stem}]({c})" for c in charts]
    notes = meta.get("notes")
    if notes:
        lines += ["", "## Notes", "", *[f"- {n}" for n in notes]]
    return "\n".join(lines) + "\n"


def render_charts(out_dir: Path, assessments: Sequence[Assessment], criteria: Criteria, prices: PriceTable) -> list[str]:
    """Draw the PNG charts into ``out_dir``; return their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [a.candidate.name for a in assessments]
    colors = ["tab:green" if a.meets else "tab:gray" for a in assessments]
    shown = [_shown_point(a) for a in assessments]
    base = _base_rate(assessments)

    # Throughput per configuration, ratio to base on each bar (seed 000's "throughput" figure).
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4))
    rates = [p.latency.throughput_rps if p else 0.0 for p in shown]
    bars = ax.bar(names, rates, color=colors)
    for bar, rate in zip(bars, rates, strict=True):
        label = f"{rate:,.0f}" + (f"\n{rate / base:.2f}x" if base else "")
        ax.annotate(label, (bar.get_x() + bar.get_width() / 2, bar.get_height()), ha="center", va="bottom", fontsize=8)
    ax.set_ylim(0, max(rates, default=0.0) * 1.2 or 1.0)  # room for the labels
    ax.set_ylabel("requests/s (one server)")
    ax.set_title("Sustainable throughput per configuration (green: meets latency target)")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out_dir / "throughput.png", dpi=110)
    plt.close(fig)

    # Cost per hour of the fleet for the target, and cost per 1M inferences.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(max(8, 2 * len(names)), 4))
    per_hour = [(a.seed_sizing.cost_per_hour or 0.0) if a.seed_sizing else 0.0 for a in assessments]
    per_million = [(a.seed_sizing.cost_per_million_at_target or 0.0) if a.seed_sizing else 0.0 for a in assessments]
    priced = any(a.seed_sizing is not None and a.seed_sizing.cost_per_hour is not None for a in assessments)
    ax1.bar(names, per_hour, color=colors)
    ax1.set_ylabel(f"{prices.currency}/hour for {criteria.target_per_minute:,.0f} invocations/min")
    ax1.set_title("Fleet cost per hour (seed formula)" if priced else "No price for this instance type: costs n/a")
    ax2.bar(names, per_million, color=colors)
    ax2.set_ylabel(f"{prices.currency} per 1M inferences at target")
    ax2.set_title("Cost per 1M inferences")
    for ax in (ax1, ax2):
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out_dir / "cost.png", dpi=110)
    plt.close(fig)

    # Latency distribution at the shown point of each configuration.
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names)), 4))
    data = [p.latencies_ms if p is not None and p.latencies_ms.size else [math.nan] for p in shown]
    ax.boxplot(data, tick_labels=names, whis=(1, 99), showfliers=False)
    ax.axhline(criteria.latency_target_ms, color="tab:red", linestyle="--", linewidth=1, label="latency target")
    ax.set_yscale("log")
    ax.set_ylabel("latency ms (box: quartiles, whiskers: p1-p99)")
    ax.set_title("Latency distribution at each configuration's sustainable point")
    ax.legend(loc="upper right", fontsize=8)
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    fig.savefig(out_dir / "latency.png", dpi=110)
    plt.close(fig)

    # Saturation curves: throughput and p99 against concurrency.
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for a in assessments:
        pts = sorted(a.candidate.points, key=lambda p: p.concurrency)
        xs = [p.concurrency for p in pts]
        ax1.plot(xs, [p.latency.throughput_rps for p in pts], marker="o", label=a.candidate.name)
        ax2.plot(xs, [p.latency.p99_ms for p in pts], marker="o", label=a.candidate.name)
    ax1.set_xscale("log", base=2)
    ax2.set_xscale("log", base=2)
    ax1.set_xlabel("concurrency (requests in flight)")
    ax2.set_xlabel("concurrency (requests in flight)")
    ax1.set_ylabel("requests/s")
    ax2.set_ylabel("p99 latency ms")
    ax2.axhline(criteria.latency_target_ms, color="tab:red", linestyle="--", linewidth=1)
    ax1.set_title("Throughput vs concurrency")
    ax2.set_title("p99 latency vs concurrency")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out_dir / "sweep.png", dpi=110)
    plt.close(fig)
    return list(CHARTS)
