"""The tuning profile: measured Triton settings and fleet sizing, as a small versioned JSON file.

``python -m tuning matrix`` measures configurations of one model on a real Triton server and
writes the cheapest one that meets the latency target as ``profile.json``. The constructs
accept a :class:`TuningProfile`, so the deployed ``config.pbtxt`` (through
:meth:`TuningProfile.apply_to`), the endpoint's initial instance count and the
``SageMakerVariantInvocationsPerInstance`` target-tracking value come from measurement.

Hardware. A profile records what it was measured on (:class:`MeasuredHardware`: the GPU model
and count, or the CPU model and cores). Figures measured on one accelerator say nothing exact
about another, so sizing an instance type whose accelerator differs from the measured one is an
error (:meth:`TuningProfile.check_instance_type`, :func:`match_hardware`) unless the user states
how to translate (:class:`HardwareTranslation`: from which accelerator to which, by what factor,
and why); the derived figures then say so. The same accelerator in a different count is scaled
per accelerator (one H100 measured, ``ml.p5.48xlarge`` has eight: 8 x the measured rate per
instance), and that assumption is stated too.

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

Schema versions: 2 adds ``hardware`` and ``hardware_translation``. A version-1 profile is still
read: its hardware is derived from ``provenance.machine`` (``"...; GPU: 1 x NVIDIA H100 80GB
HBM3"``) and ``provenance.notes`` (which executor ran), and ``hardware.derived_from`` says so.
Only a version-1 profile whose hardware cannot be derived is refused, with the fix.

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

from model_build.checks import is_int, is_number
from model_build.hardware import (
    ACCELERATOR_MODELS,
    AcceleratorModel,
    InstanceHardware,
    accelerator_named,
    hardware_of,
    parse_instance_type,
)
from model_build.spec import DynamicBatching, ModelSpec
from model_build.user_errors import UserError

SCHEMA_VERSION = 2
"""Written by this version. Bumped on any incompatible change."""

READABLE_SCHEMA_VERSIONS = (1, 2)
"""Versions :meth:`TuningProfile.from_dict` reads (1 is upgraded on reading)."""

CPU = "CPU"
"""The name a translation uses for a CPU-only measurement or instance type."""

TRANSLATION_SYNTAX = "FROM -> TO x FACTOR: REASON"
"""How a translation is written on a command line or in a context value."""

DEFAULT_SAFETY_FACTOR = 0.7
"""Share of the measured capacity a scaling target plans on unless told otherwise (why 0.7: the module docstring)."""

PROFILE_PERCENTILES = (50, 90, 99)
"""The latency percentiles a profile records and a latency target may apply to."""

SEED_LATENCY_TARGET_MS = 500.0
"""Seed 000's latency bound, 500 ms: the tuning matrix's default criterion, and the latency SLO the
stacks' p99 ModelLatency alarm uses when no tuning profile gives ``latency_target_ms``."""

DEFAULT_LATENCY_PERCENTILE = 99.0
"""The percentile a latency target applies to unless told otherwise: stricter than Inference Recommender's
common P95, because p99 is what a ``ModelLatency`` alarm on the maximum statistic approaches."""

HARDWARE_KINDS = ("cpu", "gpu", "inferentia", "trainium")

_KNOWN_ACCELERATORS = {model.name for model in ACCELERATOR_MODELS}


class ProfileError(UserError):
    """A profile failed validation, or does not fit what it is applied to; the message names the field and the fix."""


# --------------------------------------------------------------------------- hardware
def resolve_accelerator(text: str) -> str | None:
    """Return the canonical name for ``text`` (``"h100"`` → ``"NVIDIA H100"``, ``"cpu"`` → ``"CPU"``), or None."""
    if text.strip().lower() in {"cpu", "cpu only"}:
        return CPU
    model = accelerator_named(text)
    return None if model is None else model.name


@dataclass(frozen=True, kw_only=True)
class MeasuredHardware:
    """What a profile's figures were measured on.

    Attributes:
        kind: ``"gpu"`` or ``"cpu"`` (``"inferentia"``/``"trainium"`` for measurements on those).
        accelerator: Canonical accelerator name (``"NVIDIA H100"``, see :mod:`model_build.hardware`);
            None for a CPU measurement, or for an accelerator this project does not know (then
            ``device_name`` says what it was).
        accelerator_count: Accelerators the measured server used; 0 for a CPU measurement.
        device_name: The accelerator as the driver reported it (``"NVIDIA H100 80GB HBM3"``).
        cpu_model: The host CPU (``/proc/cpuinfo`` model name).
        cpu_cores: Logical CPUs of the host (``os.cpu_count()``).
        derived_from: Empty when recorded at measurement time; otherwise how it was derived (a
            schema-1 profile's ``provenance.machine``).
    """

    kind: str
    accelerator: str | None = None
    accelerator_count: int = 0
    device_name: str = ""
    cpu_model: str = ""
    cpu_cores: int | None = None
    derived_from: str = ""

    def __post_init__(self) -> None:
        problems = _hardware_problems(self, "hardware.")
        if problems:
            raise ProfileError("Invalid MeasuredHardware: " + "; ".join(problems))

    @classmethod
    def gpu(
        cls, device_name: str, count: int, *, cpu_model: str = "", cpu_cores: int | None = None, derived_from: str = ""
    ) -> MeasuredHardware:
        """Describe a GPU measurement; ``device_name`` as ``nvidia-smi`` reports it, resolved to a known model where possible."""
        model = accelerator_named(device_name)
        return cls(
            kind="gpu" if model is None else model.kind,
            accelerator=None if model is None else model.name,
            accelerator_count=count,
            device_name=device_name,
            cpu_model=cpu_model,
            cpu_cores=cpu_cores,
            derived_from=derived_from,
        )

    @classmethod
    def cpu(cls, cpu_model: str, cpu_cores: int | None, *, derived_from: str = "") -> MeasuredHardware:
        """Describe a CPU-only measurement."""
        return cls(kind="cpu", cpu_model=cpu_model, cpu_cores=cpu_cores, derived_from=derived_from)

    @property
    def units(self) -> int:
        """Accelerators measured, or 1 for a CPU measurement (the whole server)."""
        return self.accelerator_count if self.kind != "cpu" else 1

    def name(self) -> str:
        """Return the name a translation's ``from`` must give: the accelerator, the reported device, or ``CPU``."""
        if self.kind == "cpu":
            return CPU
        return self.accelerator or self.device_name

    def model(self) -> AcceleratorModel | None:
        """Return the :class:`model_build.hardware.AcceleratorModel`, or None (CPU, or not known)."""
        return None if self.accelerator is None else accelerator_named(self.accelerator)

    def describe(self) -> str:
        """``"1 x NVIDIA H100 (reported as 'NVIDIA H100 80GB HBM3')"`` or ``"CPU only (Intel Xeon, 2 cores)"``."""
        if self.kind == "cpu":
            cores = f", {self.cpu_cores} cores" if self.cpu_cores else ""
            return f"CPU only ({self.cpu_model or 'model not recorded'}{cores})"
        name = self.accelerator or f"{self.device_name} (not known to model_build.hardware)"
        reported = (
            f" (reported as {self.device_name!r})"
            if self.accelerator and self.device_name and self.device_name != self.accelerator
            else ""
        )
        return f"{self.accelerator_count} x {name}{reported}"


def _hardware_problems(h: MeasuredHardware, prefix: str) -> list[str]:
    problems: list[str] = []
    if h.kind not in HARDWARE_KINDS:
        problems.append(f"{prefix}kind must be one of {', '.join(HARDWARE_KINDS)} (got {h.kind!r})")
        return problems
    for name in ("device_name", "cpu_model", "derived_from"):
        if not isinstance(getattr(h, name), str):
            problems.append(f"{prefix}{name} must be a string (got {getattr(h, name)!r})")
    if h.cpu_cores is not None and not (is_int(h.cpu_cores) and h.cpu_cores >= 1):
        problems.append(f"{prefix}cpu_cores must be null or an integer >= 1 (got {h.cpu_cores!r})")
    if h.kind == "cpu":
        if h.accelerator is not None or h.accelerator_count != 0:
            problems.append(
                f"{prefix}a cpu measurement has no accelerator (got accelerator {h.accelerator!r}, "
                f"accelerator_count {h.accelerator_count!r}); use kind 'gpu' for a GPU measurement"
            )
        return problems
    if not (is_int(h.accelerator_count) and h.accelerator_count >= 1):
        problems.append(
            f"{prefix}accelerator_count must be an integer >= 1 for kind {h.kind!r} (got {h.accelerator_count!r})"
        )
    if h.accelerator is None:
        if not (isinstance(h.device_name, str) and h.device_name.strip()):
            problems.append(f"{prefix}accelerator or device_name must name the {h.kind} (got neither)")
    elif h.accelerator not in _KNOWN_ACCELERATORS:
        canonical = resolve_accelerator(h.accelerator) if isinstance(h.accelerator, str) else None
        hint = f" (did you mean {canonical!r}?)" if canonical and canonical != CPU else ""
        problems.append(
            f"{prefix}accelerator must be one of {', '.join(sorted(_KNOWN_ACCELERATORS))} or null with "
            f"device_name set (got {h.accelerator!r}){hint}"
        )
    else:
        model = accelerator_named(h.accelerator)
        if model is not None and model.kind != h.kind:
            problems.append(f"{prefix}kind must be {model.kind!r} for {h.accelerator} (got {h.kind!r})")
    return problems


_GPU_TEXT = re.compile(r"GPU:\s*(\d+)\s*x\s*(.+?)\s*$")
_CPU_TEXT = re.compile(r"^\s*(.*?)\s*\((\d+) cores\)")


def hardware_from_provenance(machine: str, notes: str = "") -> MeasuredHardware | None:
    """Derive the hardware of a schema-1 profile from its free-text provenance, or None.

    ``provenance.machine`` reads ``"<cpu> (<n> cores)"`` plus ``"; GPU: <count> x <name>"`` when
    ``nvidia-smi`` answered. The schema-1 matrix served ONNX Runtime on the CPU and torch on the
    GPU, and ``provenance.notes`` names the executor, so a GPU in the machine text with the
    ONNX Runtime executor is a CPU measurement.
    """
    cpu = _CPU_TEXT.match(machine.split(";")[0])
    cpu_model, cores = (cpu.group(1), int(cpu.group(2))) if cpu else ("", None)
    gpu = _GPU_TEXT.search(machine)
    on_cpu = "python backend (onnxruntime" in notes
    on_gpu = "python backend (torch" in notes
    said = f"schema 1 profile: derived from provenance.machine {machine!r}"
    if gpu is not None and not on_cpu and int(gpu.group(1)) >= 1:
        why = (
            "; the torch executor ran on the GPU (provenance.notes)"
            if on_gpu
            else "; provenance.notes does not name the executor, so the GPU is assumed to have served the model"
        )
        return MeasuredHardware.gpu(
            gpu.group(2), int(gpu.group(1)), cpu_model=cpu_model, cpu_cores=cores, derived_from=said + why
        )
    if cpu is not None and cpu_model:
        why = "; the ONNX Runtime executor ran on the CPU (provenance.notes)" if gpu is not None else ""
        return MeasuredHardware.cpu(cpu_model, cores, derived_from=said + why)
    return None


@dataclass(frozen=True, kw_only=True)
class HardwareTranslation:
    """How figures measured on one accelerator are carried to another, stated by the user.

    Throughput per ``to_accelerator`` = ``factor`` x throughput per ``from_accelerator`` (per
    whole server where either side is ``CPU``). Nothing here is measured: the factor is the
    user's claim, and every table derived through it says so.

    Attributes:
        from_accelerator: What the figures were measured on (``"NVIDIA H100"``, or ``"CPU"``).
        to_accelerator: The accelerator of the instance type to size (``"NVIDIA T4"``, or ``"CPU"``).
        factor: Throughput ratio, > 0.
        reason: Why that factor: a measurement of both, a published ratio; never empty.
    """

    from_accelerator: str
    to_accelerator: str
    factor: float
    reason: str

    def __post_init__(self) -> None:
        problems = _translation_problems(self, "hardware_translation.")
        if problems:
            raise ProfileError("Invalid HardwareTranslation: " + "; ".join(problems))

    @classmethod
    def parse(cls, text: str, *, where: str = "the translation") -> HardwareTranslation:
        """Parse ``"NVIDIA H100 -> NVIDIA T4 x 0.12: bert-base measured on both"`` (:data:`TRANSLATION_SYNTAX`).

        Accelerator names may be short (``H100``, ``T4``, ``CPU``): known names resolve to their
        canonical form.

        Raises:
            ProfileError: Naming ``where``, what was given, the syntax and an example.
        """
        match = re.fullmatch(r"\s*(.+?)\s*->\s*(.+?)\s+[x*]\s*([^\s:]+)\s*:\s*(.*?)\s*", text or "")
        example = '"NVIDIA H100 -> NVIDIA T4 x 0.12: bert-base measured on both, bench/reference/..."'
        if match is None:
            raise ProfileError(f"{where} must read {TRANSLATION_SYNTAX!r} (got {text!r}); for example {example}")
        source, target, factor_text, reason = match.groups()
        try:
            factor = float(factor_text)
        except ValueError:
            raise ProfileError(
                f"{where}: FACTOR must be a number > 0 (got {factor_text!r} in {text!r}); for example {example}"
            ) from None
        try:
            return cls(
                from_accelerator=resolve_accelerator(source) or source,
                to_accelerator=resolve_accelerator(target) or target,
                factor=factor,
                reason=reason,
            )
        except ProfileError as error:
            raise ProfileError(f"{where} ({text!r}): {error}") from None

    def describe(self) -> str:
        """``"NVIDIA H100 -> NVIDIA T4 x 0.12 (why)"``."""
        return f"{self.from_accelerator} -> {self.to_accelerator} x {self.factor:g} ({self.reason})"


def _translation_problems(t: HardwareTranslation, prefix: str) -> list[str]:
    problems: list[str] = []
    for name in ("from_accelerator", "to_accelerator", "reason"):
        value = getattr(t, name)
        if not (isinstance(value, str) and value.strip()):
            problems.append(f"{prefix}{name} must be a non-empty string (got {value!r})")
    if not (_is_number(t.factor) and t.factor > 0):
        problems.append(f"{prefix}factor must be a number > 0 (got {t.factor!r})")
    return problems


@dataclass(frozen=True)
class HardwareMatch:
    """How measured figures carry to one instance type (the result of :func:`match_hardware`).

    Attributes:
        instance_type: The instance type being sized.
        instance: Its accelerators (:func:`model_build.hardware.hardware_of`).
        measured: What the figures were measured on.
        translation: The user's translation, when the accelerators differ.
    """

    instance_type: str
    instance: InstanceHardware
    measured: MeasuredHardware
    translation: HardwareTranslation | None = None

    @property
    def measured_units(self) -> int:
        """Accelerators measured (1 for a CPU measurement: the whole server)."""
        return self.measured.units

    @property
    def units_per_instance(self) -> int:
        """Accelerators per instance (1 for a CPU instance type: the whole instance)."""
        return self.instance.count if self.instance.kind != "cpu" and self.instance.count else 1

    @property
    def factor(self) -> float:
        """The translation factor, 1 without a translation."""
        return 1.0 if self.translation is None else float(self.translation.factor)

    @property
    def scale(self) -> float:
        """One instance's capacity over the measured server's: ``units_per_instance / measured_units * factor``."""
        return self.units_per_instance / self.measured_units * self.factor

    @property
    def unit(self) -> str:
        """What is priced and counted: ``"instance"``, or ``"GPU"``/``"accelerator"`` when an instance has several."""
        if self.units_per_instance == 1:
            return "instance"
        return "GPU" if self.instance.kind == "gpu" else "accelerator"

    def statement(self) -> str:
        """Say how the measurement relates to the instance type, in plain words (for reports)."""
        measured = f"Measured on {self.measured.describe()}"
        target = f"{self.instance_type} has {self.instance.describe()}"
        if self.translation is not None:
            t = self.translation
            text = (
                f"{measured}; {target}, a different accelerator. Translated as the user stated: "
                f"{t.from_accelerator} -> {t.to_accelerator} x {t.factor:g}, because: {t.reason}. "
                f"Every figure for {self.instance_type} below is an estimate through that factor, "
                f"not a measurement on {t.to_accelerator}."
            )
        elif self.measured.kind == "cpu":
            text = (
                f"{measured}; {self.instance_type} is CPU only. The CPU model and core count are not compared "
                "and the figures are not scaled: one measured server stands for one instance."
            )
        else:
            text = f"{measured}; {target}: the same accelerator."
        if self.units_per_instance != self.measured_units:
            text += (
                f" One instance counts as {self.units_per_instance}/{self.measured_units} = "
                f"{self.units_per_instance / self.measured_units:g} x the measured server, assuming Triton's instance "
                f"group runs on every {self.unit} and nothing else (CPU, network, the SageMaker front end) "
                "limits first; that scaling is not measured."
            )
        return text


def match_hardware(
    measured: MeasuredHardware,
    instance_type: str,
    translation: HardwareTranslation | None = None,
    *,
    subject: str = "the figures were measured",
    translation_hint: str | None = None,
) -> HardwareMatch:
    """Check that figures measured on ``measured`` may size ``instance_type``, and how.

    Same accelerator (any count): allowed, scaled per accelerator. CPU measurement on a CPU
    instance type: allowed, unscaled, with that said. Anything else needs ``translation``, whose
    ``from``/``to`` must name exactly the measured accelerator and the instance type's.

    Args:
        measured: The measurement's hardware.
        instance_type: The SageMaker instance type to size.
        translation: The user's translation, if any.
        subject: The start of messages, ending in the verb that precedes " on <hardware>"
            (``"tuning profile bench/x/profile.json was measured"``, ``"this run measures"``).
        translation_hint: How this caller lets a user state a translation, for the fix; ``{source}``
            and ``{target}`` are replaced by the accelerator names. Defaults to naming the profile
            field and ``python -m tuning``'s ``--translate``.

    Raises:
        ProfileError: The accelerators differ without a translation, the translation does not
            fit, or the instance type's accelerator is not known; the message names the
            measured hardware, the instance type's hardware and the fix.
    """
    try:
        instance = hardware_of(instance_type)
    except ValueError as error:
        raise ProfileError(f"{subject} on {measured.describe()}, but {error}") from None
    if not instance.known:
        raise ProfileError(
            f"{subject} on {measured.describe()}, but model_build.hardware does not know the accelerator of "
            f"{instance_type} ({instance.describe()}), so the two cannot be compared. Fix: choose an instance type "
            "this project knows, or add its family to model_build/hardware.py"
        )
    target_name = CPU if instance.kind == "cpu" else (instance.accelerator.name if instance.accelerator else "")
    source_name = measured.name()
    same = (
        source_name == target_name
        if measured.kind != "cpu" or instance.kind != "cpu"
        else True  # CPU to CPU: no accelerator to differ
    )
    if translation is None:
        if same:
            return HardwareMatch(instance_type, instance, measured)
        hint = (
            translation_hint
            or '"hardware_translation" in the profile, or `--translate "{source} -> {target} x FACTOR: REASON"` '
            "for python -m tuning"
        ).format(source=source_name, target=target_name)
        alternatives = _types_with(measured)
        raise ProfileError(
            f"{subject} on {measured.describe()}, but instance type {instance_type} has "
            f"{instance.describe()}: a different accelerator, so the measured figures do not size it. Fix: "
            + (f"size an instance type with {source_name} ({', '.join(alternatives)}), " if alternatives else "")
            + f"measure on {target_name}, or state how to translate — from {source_name} to {target_name}, by what "
            f"factor, and why — with {hint}"
        )
    given_from = resolve_accelerator(translation.from_accelerator) or translation.from_accelerator
    given_to = resolve_accelerator(translation.to_accelerator) or translation.to_accelerator
    problems = []
    if given_from.lower() != source_name.lower():
        problems.append(f"its from_accelerator is {translation.from_accelerator!r}, but the figures were measured on {source_name!r}")
    if given_to.lower() != target_name.lower():
        problems.append(f"its to_accelerator is {translation.to_accelerator!r}, but {instance_type} has {target_name!r}")
    if problems:
        raise ProfileError(
            f"{subject} on {measured.describe()}, and the hardware translation {translation.describe()} does not fit: "
            + "; ".join(problems)
            + f". Fix: state it as {source_name} -> {target_name} x FACTOR: REASON"
        )
    if same and measured.kind != "cpu":
        raise ProfileError(
            f"{subject} on {measured.describe()}, and {instance_type} has the same accelerator: a translation from "
            f"{source_name} to {target_name} is not needed (counts are scaled per accelerator). Fix: drop the translation"
        )
    return HardwareMatch(instance_type, instance, measured, translation)


def _types_with(measured: MeasuredHardware) -> list[str]:
    """Hosting instance types with the measured accelerator, for fixes (empty when none or unknown)."""
    model = measured.model()
    if model is None:
        return []
    try:
        from model_build.hardware import hosting_types_with

        return list(hosting_types_with(model))[:6]
    except Exception:  # botocore absent or its model unreadable: the fix still names the accelerator
        return []


# --------------------------------------------------------------------------- profile
@dataclass(frozen=True, kw_only=True)
class MeasuredFigures:
    """What the chosen configuration achieved in the benchmark (one measured server).

    Attributes:
        throughput_rps: Requests per second of one server at the chosen concurrency.
        invocations_per_minute: ``throughput_rps * 60``: sustainable invocations per minute of the measured server.
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
        machine: Host description (CPU model / GPU name), free text; the structured record is
            :attr:`TuningProfile.hardware`.
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
        instance_type: SageMaker instance type the sizing below is for (its accelerator must be
            the measured one, or ``hardware_translation`` must say how to translate).
        max_batch_size: Triton ``max_batch_size``.
        dynamic_batching: Whether Triton's dynamic batcher is on.
        preferred_batch_sizes: ``dynamic_batching.preferred_batch_size`` (empty: Triton's default).
        max_queue_delay_microseconds: ``dynamic_batching.max_queue_delay_microseconds``.
        instance_count: Triton ``instance_group`` count (model instances per GPU).
        initial_instance_count: Endpoint instances to start with.
        invocations_per_instance_target: Target for ``SageMakerVariantInvocationsPerInstance``
            (invocations per minute per instance of ``instance_type``).
        safety_factor: Share of measured capacity the target plans on, in (0, 1].
        target_invocations_per_minute: The load the fleet was sized for (seed 000: 30 000).
        latency_target_ms: Latency the configuration had to meet (seed 000: 500).
        latency_percentile: Percentile the target applies to (50, 90 or 99).
        measured: The figures behind the recommendation.
        provenance: Machine, date, tool versions.
        hardware: What the figures were measured on.
        hardware_translation: How the figures were carried to ``instance_type``'s accelerator,
            when it is not the measured one. Defaults to none.
        source: The file the profile was loaded from (not serialised), for messages.
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
    safety_factor: float = DEFAULT_SAFETY_FACTOR
    target_invocations_per_minute: float
    latency_target_ms: float
    latency_percentile: float = DEFAULT_LATENCY_PERCENTILE
    measured: MeasuredFigures
    provenance: Provenance
    hardware: MeasuredHardware
    hardware_translation: HardwareTranslation | None = None
    source: str | None = field(default=None, compare=False, repr=False)

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
    def initial_count(target_invocations_per_minute: float, invocations_per_instance_target: float) -> int:
        """``ceil(target load / per-instance target)``, at least 1: where target tracking settles.

        A quotient that is whole up to float error (30000 / 500.0000001) does not add an instance.
        """
        return max(1, math.ceil(target_invocations_per_minute / invocations_per_instance_target - 1e-9))

    # ----------------------------------------------------------------- serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists; ``source`` is left out)."""
        return json.loads(self.to_json())

    def to_json(self) -> str:
        """Stable, indented JSON (keys in field order)."""
        data = dataclasses.asdict(self)
        data.pop("source")
        return json.dumps(data, indent=2) + "\n"

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically (temp file + rename)."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
        tmp.write_text(self.to_json())
        os.replace(tmp, target)
        return target

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str | None = None) -> TuningProfile:
        """Validate and build a profile from parsed JSON; a schema-1 profile is upgraded.

        Raises:
            ProfileError: Listing every unknown, missing or invalid field by name.
        """
        problems: list[str] = []
        if not isinstance(data, Mapping):
            raise ProfileError(f"Invalid TuningProfile: expected a JSON object (got {type(data).__name__})")
        version = data.get("schema_version")
        if isinstance(version, bool) or version not in READABLE_SCHEMA_VERSIONS:
            raise ProfileError(
                f"Invalid TuningProfile: schema_version must be one of {', '.join(map(str, READABLE_SCHEMA_VERSIONS))} "
                f"(got {version!r}); re-run `python -m tuning matrix` to write a current profile"
            )
        data = dict(data)
        if version == 1:
            data = _upgrade_v1(data, problems)
        top = _check_keys("", data, cls, problems)
        measured = _nested(data, "measured", MeasuredFigures, problems)
        provenance = _nested(data, "provenance", Provenance, problems)
        hardware_data = _nested(data, "hardware", MeasuredHardware, problems)
        translation_data = _nested(data, "hardware_translation", HardwareTranslation, problems)
        if problems:
            raise ProfileError("Invalid TuningProfile: " + "; ".join(problems))
        hardware = _build(MeasuredHardware, _normalise_hardware(hardware_data), "hardware.", problems)
        translation = (
            _build(HardwareTranslation, translation_data, "hardware_translation.", problems)
            if data.get("hardware_translation") is not None
            else None
        )
        if problems:
            raise ProfileError("Invalid TuningProfile: " + "; ".join(problems))
        sizes = top.get("preferred_batch_sizes", ())
        top["preferred_batch_sizes"] = tuple(sizes) if isinstance(sizes, list) else sizes  # anything else: named below
        top["schema_version"] = SCHEMA_VERSION
        versions = provenance.get("tool_versions", {})
        try:
            return cls(
                **top,
                measured=MeasuredFigures(**measured),
                provenance=Provenance(
                    **{**provenance, "tool_versions": dict(versions) if isinstance(versions, Mapping) else versions}
                ),
                hardware=hardware,
                hardware_translation=translation,
                source=source,
            )
        except TypeError as error:  # a wrong type that slipped past the checks
            raise ProfileError(f"Invalid TuningProfile: {error}") from None

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None) -> TuningProfile:
        """Parse and validate JSON text."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ProfileError(f"Invalid TuningProfile: not JSON ({error})") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TuningProfile:
        """Read and validate a profile file (a schema-1 file is upgraded in memory, not rewritten).

        Raises:
            ProfileError: The file's path and every problem, or why it could not be read.
        """
        file = Path(path)
        try:
            text = file.read_text()
        except IsADirectoryError:
            raise ProfileError(f"{path}: is a folder; give the profile.json file inside it") from None
        except FileNotFoundError:
            raise ProfileError(f"{path}: no such file; give the profile.json that `python -m tuning matrix` wrote") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ProfileError(f"{path}: cannot be read as text ({error})") from None
        try:
            return cls.from_json(text, source=str(path))
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

    def _subject(self) -> str:
        who = f"tuning profile {self.source}" if self.source else f"the tuning profile for {self.model_name}"
        return f"{who} was measured"

    def check_instance_type(
        self,
        instance_type: str | None = None,
        translation: HardwareTranslation | None = None,
        *,
        translation_hint: str | None = None,
    ) -> HardwareMatch:
        """Check that this profile may size ``instance_type``; return how its figures carry there.

        Args:
            instance_type: The type to size. Defaults to the profile's own ``instance_type``.
            translation: A translation stated by the caller (a command-line flag, a context
                key). Defaults to the profile's ``hardware_translation``.
            translation_hint: How the caller's user states a translation, for the fix; ``{source}``
                and ``{target}`` become the accelerator names (e.g.
                ``"-c hardware_translation='{source} -> {target} x FACTOR: REASON'"``).

        Raises:
            ProfileError: The instance type's accelerator differs from the measured one and no
                translation says how to carry the figures over; the message names this
                profile's file, the measured hardware, the instance type's hardware and the fix.
        """
        return match_hardware(
            self.hardware,
            self.instance_type if instance_type is None else instance_type,
            self.hardware_translation if translation is None else translation,
            subject=self._subject(),
            translation_hint=translation_hint,
        )

    def for_instance_type(
        self,
        instance_type: str,
        translation: HardwareTranslation | None = None,
        *,
        translation_hint: str | None = None,
    ) -> TuningProfile:
        """Return this profile re-sized for ``instance_type`` (same measurement, another instance size).

        ``invocations_per_instance_target`` and ``initial_instance_count`` are recomputed from
        the measured rate: ``floor(measured invocations/min x scale x safety_factor)`` with the
        :class:`HardwareMatch` scale (accelerators per instance over measured accelerators,
        times a translation's factor).

        Raises:
            ProfileError: As :meth:`check_instance_type`.
        """
        match = self.check_instance_type(instance_type, translation, translation_hint=translation_hint)
        target = self.scaling_target(self.measured.invocations_per_minute * match.scale, self.safety_factor)
        return dataclasses.replace(
            self,
            instance_type=instance_type,
            hardware_translation=match.translation,
            invocations_per_instance_target=target,
            initial_instance_count=self.initial_count(self.target_invocations_per_minute, target),
        )


# --------------------------------------------------------------------------- schema 1
def _upgrade_v1(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """Turn a schema-1 dict into a schema-2 one, deriving ``hardware`` from the provenance.

    A hardware that cannot be derived is one more problem in ``problems`` (with the fix), so the
    message still lists every other missing or invalid field.
    """
    if "hardware" in data or "hardware_translation" in data:
        raise ProfileError(
            "Invalid TuningProfile: schema_version 1 has no hardware or hardware_translation field; "
            "set schema_version to 2 if the file records its hardware"
        )
    provenance = data.get("provenance")
    machine = provenance.get("machine", "") if isinstance(provenance, Mapping) else ""
    notes = provenance.get("notes", "") if isinstance(provenance, Mapping) else ""
    hardware = (
        hardware_from_provenance(machine, notes if isinstance(notes, str) else "")
        if isinstance(machine, str)
        else None
    )
    if hardware is None:
        problems.append(
            "this schema_version 1 profile records no hardware, and provenance.machine "
            f"{machine!r} does not name it (expected '<cpu> (<n> cores)' or '...; GPU: <count> x <name>'). Fix: "
            "re-run `python -m tuning matrix`, or set schema_version to 2 and add what it was measured on, e.g. "
            '"hardware": {"kind": "gpu", "accelerator": "NVIDIA T4", "accelerator_count": 1} or '
            '"hardware": {"kind": "cpu", "cpu_model": "...", "cpu_cores": 8}'
        )
        data["hardware"] = None  # reported above; not "hardware is required" as well
        return data
    data["hardware"] = dataclasses.asdict(hardware)
    data["schema_version"] = SCHEMA_VERSION
    return data


def _normalise_hardware(data: dict[str, Any]) -> dict[str, Any]:
    """Accept short accelerator names in a hand-written file (``"H100"`` → ``"NVIDIA H100"``)."""
    accelerator = data.get("accelerator")
    if isinstance(accelerator, str) and accelerator not in _KNOWN_ACCELERATORS:
        canonical = resolve_accelerator(accelerator)
        if canonical is not None and canonical != CPU:
            return {**data, "accelerator": canonical}
    return data


# --------------------------------------------------------------------------- validation
_NESTED = {"measured", "provenance", "hardware", "hardware_translation"}
_NOT_SERIALISED = {"source"}


def _check_keys(prefix: str, data: Mapping[str, Any], cls: type, problems: list[str]) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _NOT_SERIALISED}
    for key in sorted(set(data) - set(fields)):
        problems.append(f"{prefix}{key} is not a known field (known: {', '.join(fields)})")
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in data:
            problems.append(f"{prefix}{name} is required")
    return {k: v for k, v in data.items() if k in fields and k not in _NESTED}


def _nested(data: Mapping[str, Any], key: str, cls: type, problems: list[str]) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        problems.append(f"{key} must be an object (got {type(value).__name__})")
        return {}
    return _check_keys(f"{key}.", value, cls, problems)


def _build(cls: type, values: dict[str, Any], prefix: str, problems: list[str]) -> Any:
    try:
        return cls(**values)
    except ProfileError as error:
        problems.append(str(error).split(": ", 1)[-1])
    except TypeError as error:
        problems.append(f"{prefix.rstrip('.')}: {error}")
    return None


def _is_number(value: Any) -> bool:
    return is_number(value) and math.isfinite(value)


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
        isinstance(p.instance_type, str) and parse_instance_type(p.instance_type) is not None,
        f"instance_type must look like 'ml.g4dn.xlarge' (got {p.instance_type!r})",
    )
    for name in ("max_batch_size", "instance_count", "initial_instance_count", "invocations_per_instance_target"):
        value = getattr(p, name)
        need(is_int(value) and value >= 1, f"{name} must be an integer >= 1 (got {value!r})")
    need(isinstance(p.dynamic_batching, bool), f"dynamic_batching must be true or false (got {p.dynamic_batching!r})")
    sizes = p.preferred_batch_sizes
    if not isinstance(sizes, (tuple, list)) or not all(is_int(s) and s >= 1 for s in sizes):
        problems.append(f"preferred_batch_sizes must be a list of integers >= 1 (got {sizes!r})")
    elif is_int(p.max_batch_size) and any(s > p.max_batch_size for s in sizes):
        problems.append(
            f"preferred_batch_sizes must each be <= max_batch_size {p.max_batch_size} (got {list(sizes)})"
        )
    delay = p.max_queue_delay_microseconds
    need(is_int(delay) and delay >= 0, f"max_queue_delay_microseconds must be an integer >= 0 (got {delay!r})")
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
        p.latency_percentile in PROFILE_PERCENTILES,
        f"latency_percentile must be 50, 90 or 99 (got {p.latency_percentile!r})",
    )
    if not isinstance(p.hardware, MeasuredHardware):
        problems.append(f"hardware must be MeasuredHardware (got {type(p.hardware).__name__})")
    if p.hardware_translation is not None and not isinstance(p.hardware_translation, HardwareTranslation):
        problems.append(
            f"hardware_translation must be HardwareTranslation or null (got {type(p.hardware_translation).__name__})"
        )
    m = p.measured
    if not isinstance(m, MeasuredFigures):
        problems.append(f"measured must be MeasuredFigures (got {type(m).__name__})")
    else:
        for name in ("throughput_rps", "invocations_per_minute", "p50_ms", "p90_ms", "p99_ms"):
            value = getattr(m, name)
            need(_is_number(value) and value >= 0, f"measured.{name} must be a number >= 0 (got {value!r})")
        need(is_int(m.concurrency) and m.concurrency >= 1, f"measured.concurrency must be an integer >= 1 (got {m.concurrency!r})")
        need(
            _is_number(m.error_rate) and 0 <= m.error_rate <= 1,
            f"measured.error_rate must be in [0, 1] (got {m.error_rate!r})",
        )
        need(
            m.mean_batch_size is None or (_is_number(m.mean_batch_size) and m.mean_batch_size > 0),
            f"measured.mean_batch_size must be null or > 0 (got {m.mean_batch_size!r})",
        )
        need(is_int(m.requests) and m.requests >= 0, f"measured.requests must be an integer >= 0 (got {m.requests!r})")
        if all(_is_number(v) for v in (m.p50_ms, m.p90_ms, m.p99_ms)):
            need(
                m.p50_ms <= m.p90_ms <= m.p99_ms,
                f"measured percentiles must not decrease (got p50 {m.p50_ms}, p90 {m.p90_ms}, p99 {m.p99_ms})",
            )
        if (
            _is_number(m.invocations_per_minute)
            and _is_number(p.safety_factor)
            and is_int(p.invocations_per_instance_target)
            and not problems
        ):
            problems += _target_problems(p)
    v = p.provenance
    if not isinstance(v, Provenance):
        problems.append(f"provenance must be Provenance (got {type(v).__name__})")
    else:
        need(isinstance(v.machine, str) and bool(v.machine), f"provenance.machine must be a non-empty string (got {v.machine!r})")
        need(isinstance(v.date, str) and bool(v.date), f"provenance.date must be a non-empty string (got {v.date!r})")
        need(
            isinstance(v.tool_versions, dict) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.tool_versions.items()),
            f"provenance.tool_versions must map names to version strings (got {v.tool_versions!r})",
        )
    return problems


def _target_problems(p: TuningProfile) -> list[str]:
    """Check that the scaling target plans on no more than one instance can do (measured x the hardware scale)."""
    try:
        scale = match_hardware(p.hardware, p.instance_type, p.hardware_translation).scale
    except ProfileError:
        # The measurement does not fit instance_type: check_instance_type reports that where the
        # profile is used; the file itself stays readable.
        return []
    capacity = p.measured.invocations_per_minute * scale
    if p.invocations_per_instance_target <= max(1, math.floor(capacity)):
        return []
    expected = TuningProfile.scaling_target(capacity, p.safety_factor)
    return [
        "invocations_per_instance_target must not exceed what one instance of instance_type can serve "
        f"(measured {p.measured.invocations_per_minute:.1f}/min x {scale:g} = {capacity:.1f}; got "
        f"{p.invocations_per_instance_target}); the expected value is {expected}"
    ]
