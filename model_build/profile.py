"""The tuning profile: measured Triton settings and fleet sizing, as a small versioned JSON file.

``python -m tuning matrix`` measures configurations of one model on a real Triton server and
writes the cheapest one that meets the latency target as ``profile.json``. The constructs
accept a :class:`TuningProfile`, so the deployed ``config.pbtxt`` (through
:meth:`TuningProfile.apply_to`), the endpoint's initial instance count and the
``SageMakerVariantInvocationsPerInstance`` target-tracking value come from measurement.

Safety factor: the scaling target follows the SageMaker developer guide's load-testing
formula (https://docs.aws.amazon.com/sagemaker/latest/dg/endpoint-scaling-loadtest.html):
``SageMakerVariantInvocationsPerInstance = MAX_RPS * SAFETY_FACTOR * 60``, rounded down.
The guide suggests *starting* tests at 0.5 for a MAX_RPS read where latency begins to
rise. Our MAX_RPS is already the highest rate whose latency percentile meets the target
(at or below the knee), so the default is 0.7: 30 % headroom for what target tracking does
not see — instances above the fleet average, spikes inside CloudWatch's one-minute
periods, and the minutes a scale-out takes — and for the benchmark being a best case (one
payload, a warm server). Lower it for spiky traffic or slow-starting models. The initial
instance count is ``ceil(target invocations per minute / invocations_per_instance_target)``,
i.e. where the policy settles, so a new endpoint does not scale out the moment it takes
traffic. (Seed 000's own table uses ``ceil(target / measured)``, a factor of 1.0.)

This module imports nothing heavy: ``cdk synth`` reads profiles.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build.spec import DynamicBatching, ModelSpec

SCHEMA_VERSION = 1
"""Bumped on any incompatible change; :meth:`TuningProfile.load` refuses other versions."""

_INSTANCE_TYPE = re.compile(r"^ml\.[a-z0-9]+\.[a-z0-9]+$")


class ProfileError(ValueError):
    """A profile failed validation; the message names every offending field."""


@dataclass(frozen=True, kw_only=True)
class MeasuredFigures:
    """What the chosen configuration achieved in the benchmark.

    Attributes:
        throughput_rps: Requests per second of one server at the chosen concurrency.
        invocations_per_minute: ``throughput_rps * 60``: sustainable invocations per minute per instance.
        p50_ms: Median client latency.
        p90_ms: 90th percentile client latency.
        p99_ms: 99th percentile client latency.
        concurrency: In-flight requests at that point.
        error_rate: Failed over all requests.
        mean_batch_size: Triton's inferences per execution (``None`` when not read).
        requests: Successful requests in the measured window.
    """

    throughput_rps: float
    invocations_per_minute: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    concurrency: int
    error_rate: float = 0.0
    mean_batch_size: float | None = None
    requests: int = 0


@dataclass(frozen=True, kw_only=True)
class Provenance:
    """Where and how the figures were measured.

    Attributes:
        machine: Host description (CPU model / GPU name).
        date: ISO-8601 UTC timestamp of the run.
        tool_versions: Package → version (triton, torch, onnxruntime, the project…).
        command: The command line that produced the profile.
        notes: Free text (executor, payload encoding, client processes).
    """

    machine: str
    date: str
    tool_versions: dict[str, str] = field(default_factory=dict)
    command: str = ""
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class TuningProfile:
    """A measured recommendation for serving one model.

    Attributes:
        schema_version: Format version (:data:`SCHEMA_VERSION`).
        model_name: The model the profile was measured for (must match ``ModelSpec.name``).
        configuration: Configuration name in the matrix (``db``, ``ig-db``, ``db-p16-d100``…).
        instance_type: SageMaker instance type the figures stand for.
        max_batch_size: Triton ``max_batch_size``.
        dynamic_batching: Whether Triton's dynamic batcher is on.
        preferred_batch_sizes: ``dynamic_batching.preferred_batch_size`` (empty: Triton's default).
        max_queue_delay_microseconds: ``dynamic_batching.max_queue_delay_microseconds``.
        instance_count: Triton ``instance_group`` count (model instances per GPU).
        initial_instance_count: Endpoint instances to start with.
        invocations_per_instance_target: Target for ``SageMakerVariantInvocationsPerInstance``
            (invocations per minute per instance).
        safety_factor: Share of measured capacity the target plans on, in (0, 1].
        target_invocations_per_minute: The load the fleet was sized for (seed 000: 30 000).
        latency_target_ms: Latency the configuration had to meet (seed 000: 500).
        latency_percentile: Percentile the target applies to (50, 90 or 99).
        measured: The figures behind the recommendation.
        provenance: Machine, date, tool versions.
    """

    schema_version: int = SCHEMA_VERSION
    model_name: str
    configuration: str
    instance_type: str
    max_batch_size: int
    dynamic_batching: bool
    preferred_batch_sizes: tuple[int, ...] = ()
    max_queue_delay_microseconds: int = 0
    instance_count: int = 1
    initial_instance_count: int
    invocations_per_instance_target: int
    safety_factor: float = 0.7
    target_invocations_per_minute: float
    latency_target_ms: float
    latency_percentile: float = 99.0
    measured: MeasuredFigures
    provenance: Provenance

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ProfileError("Invalid TuningProfile: " + "; ".join(problems))

    # ----------------------------------------------------------------- construction
    @staticmethod
    def scaling_target(invocations_per_minute: float, safety_factor: float) -> int:
        """``floor(measured * safety_factor)``, at least 1: the target-tracking value."""
        return max(1, math.floor(invocations_per_minute * safety_factor))

    @staticmethod
    def initial_count(target_invocations_per_minute: float, invocations_per_instance_target: int) -> int:
        """``ceil(target load / per-instance target)``, at least 1: where target tracking settles."""
        return max(1, math.ceil(target_invocations_per_minute / invocations_per_instance_target - 1e-9))

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """Stable, indented JSON (keys in field order)."""
        return json.dumps(dataclasses.asdict(self), indent=2) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically (temp file + rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        tmp.write_text(self.to_json())
        os.replace(tmp, target)
        return target

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningProfile:
        """Validate and build a profile from parsed JSON.

        Raises:
            ProfileError: Listing every unknown, missing or invalid field by name.
        """
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise ProfileError(f"Invalid TuningProfile: expected a JSON object (got {type(data).__name__})")
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ProfileError(
                f"Invalid TuningProfile: schema_version must be {SCHEMA_VERSION} (got {version!r}); "
                "re-run `python -m tuning matrix` to write a current profile"
            )
        top = _check_keys("", data, cls, problems)
        measured = _nested(data, "measured", MeasuredFigures, problems)
        provenance = _nested(data, "provenance", Provenance, problems)
        if problems:
            raise ProfileError("Invalid TuningProfile: " + "; ".join(problems))
        top["preferred_batch_sizes"] = tuple(top.get("preferred_batch_sizes", ()))
        try:
            return cls(
                **top,
                measured=MeasuredFigures(**measured),
                provenance=Provenance(**{**provenance, "tool_versions": dict(provenance.get("tool_versions", {}))}),
            )
        except TypeError as error:  # a wrong type that slipped past the checks
            raise ProfileError(f"Invalid TuningProfile: {error}") from None

    @classmethod
    def from_json(cls, text: str) -> TuningProfile:
        """Parse and validate JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ProfileError(f"Invalid TuningProfile: not JSON ({error})") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TuningProfile:
        """Read and validate a profile file.

        Raises:
            ProfileError: The file's path and every problem.
        """
        try:
            return cls.from_json(Path(path).read_text())
        except ProfileError as error:
            raise ProfileError(f"{path}: {error}") from None

    # ----------------------------------------------------------------- use
    def apply_to(self, spec: ModelSpec) -> ModelSpec:
        """Return ``spec`` with this profile's Triton options (batching, instance group).

        Only the measured knobs change; the instance kind, warmup and TensorRT options stay.

        Raises:
            ProfileError: When the profile was measured for another model.
        """
        if spec.name != self.model_name:
            raise ProfileError(
                f"TuningProfile.model_name {self.model_name!r} does not match ModelSpec.name {spec.name!r}; "
                "use the profile measured for this model"
            )
        batching = (
            DynamicBatching(
                preferred_batch_sizes=tuple(self.preferred_batch_sizes),
                max_queue_delay_microseconds=self.max_queue_delay_microseconds,
            )
            if self.dynamic_batching
            else None
        )
        triton = dataclasses.replace(
            spec.triton,
            max_batch_size=self.max_batch_size,
            dynamic_batching=batching,
            instance_count=self.instance_count,
        )
        return dataclasses.replace(spec, triton=triton)


# --------------------------------------------------------------------------- validation
def _check_keys(prefix: str, data: Mapping[str, Any], cls: type, problems: list[str]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls)}
    nested = {"measured", "provenance"}
    for key in sorted(set(data) - set(fields)):
        problems.append(f"{prefix}{key} is not a known field (known: {', '.join(fields)})")
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in data:
            problems.append(f"{prefix}{name} is required")
    return {k: v for k, v in data.items() if k in fields and k not in nested}


def _nested(data: Mapping[str, Any], key: str, cls: type, problems: list[str]) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{key} must be an object (got {type(value).__name__})")
        return {}
    return _check_keys(f"{key}.", value, cls, problems)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problems(p: TuningProfile) -> list[str]:
    problems: list[str] = []

    def need(ok: bool, message: str) -> None:
        if not ok:
            problems.append(message)

    need(p.schema_version == SCHEMA_VERSION, f"schema_version must be {SCHEMA_VERSION} (got {p.schema_version!r})")
    for name in ("model_name", "configuration"):
        value = getattr(p, name)
        need(isinstance(value, str) and bool(value), f"{name} must be a non-empty string (got {value!r})")
    need(
        isinstance(p.instance_type, str) and bool(_INSTANCE_TYPE.match(p.instance_type)),
        f"instance_type must look like 'ml.g4dn.xlarge' (got {p.instance_type!r})",
    )
    for name in ("max_batch_size", "instance_count", "initial_instance_count", "invocations_per_instance_target"):
        value = getattr(p, name)
        need(_is_int(value) and value >= 1, f"{name} must be an integer >= 1 (got {value!r})")
    need(isinstance(p.dynamic_batching, bool), f"dynamic_batching must be true or false (got {p.dynamic_batching!r})")
    sizes = p.preferred_batch_sizes
    if not isinstance(sizes, (tuple, list)) or not all(_is_int(s) and s >= 1 for s in sizes):
        problems.append(f"preferred_batch_sizes must be a list of integers >= 1 (got {sizes!r})")
    elif _is_int(p.max_batch_size) and any(s > p.max_batch_size for s in sizes):
        problems.append(
            f"preferred_batch_sizes must each be <= max_batch_size {p.max_batch_size} (got {list(sizes)})"
        )
    delay = p.max_queue_delay_microseconds
    need(_is_int(delay) and delay >= 0, f"max_queue_delay_microseconds must be an integer >= 0 (got {delay!r})")
    if not p.dynamic_batching and (sizes or delay):
        problems.append(
            "preferred_batch_sizes and max_queue_delay_microseconds need dynamic_batching true "
            f"(got sizes {list(sizes) if isinstance(sizes, (list, tuple)) else sizes!r}, delay {delay!r})"
        )
    need(
        _is_number(p.safety_factor) and 0 < p.safety_factor <= 1,
        f"safety_factor must be a number in (0, 1] (got {p.safety_factor!r})",
    )
    for name in ("target_invocations_per_minute", "latency_target_ms"):
        value = getattr(p, name)
        need(_is_number(value) and value > 0, f"{name} must be a number > 0 (got {value!r})")
    need(
        p.latency_percentile in (50, 90, 99),
        f"latency_percentile must be 50, 90 or 99 (got {p.latency_percentile!r})",
    )
    m = p.measured
    if not isinstance(m, MeasuredFigures):
        problems.append(f"measured must be MeasuredFigures (got {type(m).__name__})")
    else:
        for name in ("throughput_rps", "invocations_per_minute", "p50_ms", "p90_ms", "p99_ms"):
            value = getattr(m, name)
            need(_is_number(value) and value >= 0, f"measured.{name} must be a number >= 0 (got {value!r})")
        need(_is_int(m.concurrency) and m.concurrency >= 1, f"measured.concurrency must be an integer >= 1 (got {m.concurrency!r})")
        need(
            _is_number(m.error_rate) and 0 <= m.error_rate <= 1,
            f"measured.error_rate must be in [0, 1] (got {m.error_rate!r})",
        )
        need(
            m.mean_batch_size is None or (_is_number(m.mean_batch_size) and m.mean_batch_size > 0),
            f"measured.mean_batch_size must be null or > 0 (got {m.mean_batch_size!r})",
        )
        need(_is_int(m.requests) and m.requests >= 0, f"measured.requests must be an integer >= 0 (got {m.requests!r})")
        if all(_is_number(v) for v in (m.p50_ms, m.p90_ms, m.p99_ms)):
            need(
                m.p50_ms <= m.p90_ms <= m.p99_ms,
                f"measured percentiles must not decrease (got p50 {m.p50_ms}, p90 {m.p90_ms}, p99 {m.p99_ms})",
            )
        if _is_number(m.invocations_per_minute) and _is_number(p.safety_factor) and _is_int(p.invocations_per_instance_target):
            expected = TuningProfile.scaling_target(m.invocations_per_minute, p.safety_factor)
            need(
                p.invocations_per_instance_target <= max(1, math.floor(m.invocations_per_minute)),
                "invocations_per_instance_target must not exceed the measured invocations_per_minute "
                f"({p.invocations_per_instance_target} > {m.invocations_per_minute:.1f}); the expected value is {expected}",
            )
    v = p.provenance
    if not isinstance(v, Provenance):
        problems.append(f"provenance must be Provenance (got {type(v).__name__})")
    else:
        need(isinstance(v.machine, str) and bool(v.machine), f"provenance.machine must be a non-empty string (got {v.machine!r})")
        need(isinstance(v.date, str) and bool(v.date), f"provenance.date must be a non-empty string (got {v.date!r})")
        need(
            isinstance(v.tool_versions, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.tool_versions.items()),
            "provenance.tool_versions must map names to version strings",
        )
    return problems
