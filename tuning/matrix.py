"""Seed 000's tuning matrix on a real Triton server.

For one model, every configuration (``base``, ``db``, ``ig``, ``ig-db`` and a sweep of
preferred batch sizes, queue delays and instance counts) goes through the same path the
stack deploys: ``TritonOptions`` → :func:`model_build.pipeline.build` (the production
``config.pbtxt``) → :func:`model_build.local_serving.make_local_repository` (the python
backend twin the bundled Triton can run) → :class:`triton_runtime.server.TritonServer`. Each
configuration gets a fresh server on the same machine, one after the other in one run, and
is driven through the SageMaker protocol (``POST /invocations``) at rising concurrency
until its latency target is exceeded (saturation).

Seed 000 §3.5 names the configurations: ``db`` is ``dynamic_batching {}`` (Triton's
default: the largest batch available, no delay), ``ig`` is ``instance_group [{count: 2}]``.
The sweep adds the §3.2 example (preferred 16, 100 µs) and neighbours.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from model_build.profile import (
    HardwareMatch,
    HardwareTranslation,
    MeasuredHardware,
    Provenance,
    TuningProfile,
    match_hardware,
)
from model_build.spec import DynamicBatching, ModelSpec, TritonOptions
from model_build.user_errors import UserError
from triton_runtime.kserve import Encoding, Payload, TensorSpec, encode, sample_inputs
from tuning.derive import PricingBasis
from tuning.loadgen import LoadResult, probe, run_fixed
from tuning.pricing import PriceTable, load_prices
from tuning.recommend import (
    Assessment,
    Candidate,
    Criteria,
    NoConfigurationMeetsTargetError,
    assess,
    recommend,
    to_profile,
)
from tuning.report import render_charts, render_markdown
from tuning.transports import HttpTransport


@dataclass(frozen=True)
class Configuration:
    """A named set of Triton options to measure.

    Attributes:
        name: Short name (``base``, ``db``, ``ig-db``, ``db-p16-d100``, ``ig3-db``).
        triton: The options; everything else about the model stays as in its spec.
        compile_mode: ``torch.compile`` mode for the torch executor's ``.pt2`` program (see
            :func:`model_build.local_serving.local_config`). Defaults to none (eager).
        batch_buckets: Pad batches to these sizes (torch executor). Defaults to none.
    """

    name: str
    triton: TritonOptions
    compile_mode: str | None = None
    batch_buckets: tuple[int, ...] = ()


def _with(base: TritonOptions, *, batching: DynamicBatching | None, instances: int) -> TritonOptions:
    return dataclasses.replace(base, dynamic_batching=batching, instance_count=instances)


def seed_configurations(base: TritonOptions) -> list[Configuration]:
    """Return seed 000 §3.5's four configurations, derived from a spec's options."""
    return [
        Configuration("base", _with(base, batching=None, instances=1)),
        Configuration("db", _with(base, batching=DynamicBatching(), instances=1)),
        Configuration("ig", _with(base, batching=None, instances=2)),
        Configuration("ig-db", _with(base, batching=DynamicBatching(), instances=2)),
    ]


def sweep_configuration(
    base: TritonOptions, *, instances: int = 1, preferred: Sequence[int] = (), delay_us: int = 0
) -> Configuration:
    """Return a dynamic-batching configuration named after its knobs (``ig3-db-p16-d100``).

    Preferred sizes above ``max_batch_size`` are dropped (Triton would refuse the config).
    """
    sizes = tuple(s for s in preferred if s <= base.max_batch_size)
    name = ("db" if instances == 1 else ("ig-db" if instances == 2 else f"ig{instances}-db"))
    if sizes:
        name += "-p" + "_".join(str(s) for s in sizes)
    if delay_us:
        name += f"-d{delay_us}"
    batching = DynamicBatching(preferred_batch_sizes=sizes, max_queue_delay_microseconds=delay_us)
    return Configuration(name, _with(base, batching=batching, instances=instances))


def smoke_configurations(base: TritonOptions) -> list[Configuration]:
    """Return the four seed configurations plus two sweep points: quick enough for CI on 2 cores."""
    return [
        *seed_configurations(base),
        sweep_configuration(base, preferred=(16,), delay_us=100),  # seed 000 §3.2's example values
        sweep_configuration(base, instances=2, preferred=(8,), delay_us=1000),
    ]


def full_configurations(base: TritonOptions) -> list[Configuration]:
    """Return the seed configurations plus a one-knob-at-a-time sweep around dynamic batching."""
    return [
        *seed_configurations(base),
        sweep_configuration(base, preferred=(16,), delay_us=100),
        sweep_configuration(base, preferred=(32,), delay_us=500),
        sweep_configuration(base, delay_us=1000),
        sweep_configuration(base, instances=2, preferred=(16,), delay_us=100),
        sweep_configuration(base, instances=3),
        sweep_configuration(base, instances=4),
    ]


@dataclass(frozen=True)
class MatrixPlan:
    """What to measure and how.

    Attributes:
        spec: The model (its Triton options are the starting point of every configuration).
        configurations: Configurations to measure, in order.
        concurrencies: Concurrency levels per configuration, rising; the sweep stops after
            the first level that misses the latency target.
        duration_s: Measured window per level.
        warmup_s: Discarded lead-in per level.
        processes: Client worker processes.
        encoding: ``binary`` (KServe binary tensor extension) or ``json``.
        executor: What the python backend runs: ``onnxruntime`` (``model.onnx``) or ``torch``.
        instance_kind: ``KIND_CPU``/``KIND_GPU`` for the local variant; ``None``: GPU when present.
        precision: ``fp16`` for the torch executor, else ``None``.
        torchscript: Model name → TorchScript (``.pt``) or ``torch.export`` (``.pt2``) file for
            ``executor="torch"``.
        instance_type: SageMaker instance type to size and price. Defaults to one with the
            measured accelerator (:func:`default_instance_type`); an instance type with another
            accelerator needs ``translation``.
        criteria: Latency target, load target, safety factor.
        sequence_length: Substitute for variable input dimensions.
        request_batch_size: Items per request (seed 000's "larger batched payloads"); throughput is
            reported per request and per item. Defaults to 1, one sequence per invocation.
        server_args: Extra ``tritonserver`` flags (e.g. ``--sagemaker-thread-count=16``).
        hardware: What the measurement runs on. Defaults to this machine's GPUs (``nvidia-smi``)
            when the plan serves on the GPU, else its CPU (:func:`detect_hardware`).
        translation: How to carry the figures to ``instance_type``'s accelerator when it is not
            the measured one (the user's statement). Defaults to none.
    """

    spec: ModelSpec
    configurations: tuple[Configuration, ...]
    concurrencies: tuple[int, ...] = (1, 4, 16)
    duration_s: float = 3.0
    warmup_s: float = 1.0
    processes: int = 1
    encoding: Encoding = "binary"
    executor: str = "onnxruntime"
    instance_kind: str | None = None
    precision: str | None = None
    torchscript: dict[str, str] | None = None
    instance_type: str | None = None
    criteria: Criteria = field(default_factory=Criteria)
    sequence_length: int = 128
    request_batch_size: int = 1
    server_args: tuple[str, ...] = ()
    hardware: MeasuredHardware | None = None
    translation: HardwareTranslation | None = None

    def serves_on_gpu(self) -> bool:
        """Whether the measured server runs the model on the GPU."""
        if self.instance_kind is not None:
            return self.instance_kind == "KIND_GPU"
        from model_build.local_serving import gpu_present

        return gpu_present()


@dataclass
class MatrixResult:
    """Everything a run produced.

    Attributes:
        out_dir: The results folder.
        assessments: One per configuration, in plan order.
        chosen: The recommended configuration (``None`` when none met the target).
        profile: The written profile (``None`` likewise).
        meta: Run description (machine, versions, payload, client).
    """

    out_dir: Path
    assessments: list[Assessment]
    chosen: Assessment | None
    profile: TuningProfile | None
    meta: dict[str, Any] = field(default_factory=dict)


def input_specs(manifest: dict[str, Any], sequence_length: int = 128) -> list[TensorSpec]:
    """Input tensors from a build manifest, variable dimensions set to ``sequence_length``."""
    return [
        TensorSpec(
            name=i["name"],
            datatype=i["dtype"],
            shape=tuple(sequence_length if d < 0 else int(d) for d in i["dims"]),
        )
        for i in manifest["inputs"]
    ]


def make_payload(
    manifest: dict[str, Any], encoding: Encoding, sequence_length: int = 128, batch_size: int = 1
) -> Payload:
    """One request of ``batch_size`` items for the model in ``manifest``, outputs in the same encoding."""
    arrays = sample_inputs(input_specs(manifest, sequence_length), batch_size)
    return encode(arrays, encoding=encoding, route="sagemaker", outputs=[o["name"] for o in manifest["outputs"]])


def _check_probe(outputs: dict[str, Any], manifest: dict[str, Any], batch_size: int = 1) -> None:
    for out in manifest["outputs"]:
        got = outputs.get(out["name"])
        expected = (batch_size, *[int(d) for d in out["dims"]])
        if got is None or (all(d >= 0 for d in expected) and tuple(got.shape) != expected):
            raise RuntimeError(
                f"probe: output {out['name']!r} came back as {None if got is None else got.shape}, expected {expected}"
            )
        if not bool(np.isfinite(got).all()):
            raise RuntimeError(f"probe: output {out['name']!r} has non-finite values")


Preparer = Callable[[ModelSpec, Path], tuple[Path, dict[str, Any]]]
"""Turns a spec into a production repository and a manifest (``inputs``/``outputs`` lists)."""


def pipeline_preparer(cache_dir: str | os.PathLike[str] | None = None) -> Preparer:
    """Prepare with the full build (export, verify, config, repository) through :func:`model_build.pipeline.build`."""

    def prepare(spec: ModelSpec, work_dir: Path) -> tuple[Path, dict[str, Any]]:
        from model_build.pipeline import build

        built = build(spec, cache_dir=cache_dir)
        return built.repository_dir, built.manifest

    return prepare


def config_only_preparer(inputs: Sequence[Any], outputs: Sequence[Any]) -> Preparer:
    """Only the production ``config.pbtxt`` (same :func:`model_build.triton_config.build_config`).

    For the torch executor the served model is a TorchScript file passed separately, so
    exporting ONNX (minutes and gigabytes for large models) would be wasted; the config
    the stack deploys is still the one measured.

    Args:
        inputs: :class:`model_build.sources.TensorSpec` inputs, without the batch dimension.
        outputs: Output tensor specs likewise.
    """

    def prepare(spec: ModelSpec, work_dir: Path) -> tuple[Path, dict[str, Any]]:
        from model_build.repository import MODEL_VERSION
        from model_build.triton_config import build_config, write_config

        spec.validate()
        root = work_dir / f"production-{spec.name}-{spec.inputs_hash()[:12]}"
        model_dir = root / spec.name
        (model_dir / MODEL_VERSION).mkdir(parents=True, exist_ok=True)
        write_config(build_config(spec, tuple(inputs), tuple(outputs)), model_dir / "config.pbtxt")
        manifest = {"inputs": [t.to_dict() for t in inputs], "outputs": [t.to_dict() for t in outputs]}
        return root, manifest

    return prepare


def measure_configuration(
    plan: MatrixPlan,
    configuration: Configuration,
    work_dir: Path,
    *,
    prepare: Preparer,
    log: Callable[[str], None] = print,
) -> Candidate:
    """Build, serve and load-test one configuration; return its points."""
    from model_build.local_serving import make_local_repository
    from triton_runtime.server import TritonServer

    spec = dataclasses.replace(plan.spec, triton=configuration.triton)
    repository, manifest = prepare(spec, work_dir)
    local = make_local_repository(
        repository,
        work_dir / f"repo-{configuration.name}",
        executor=plan.executor,
        instance_kind=plan.instance_kind,
        precision=plan.precision,
        torchscript=plan.torchscript,
        compile_mode=configuration.compile_mode,
        batch_buckets=configuration.batch_buckets,
    )
    payload = make_payload(manifest, plan.encoding, plan.sequence_length, plan.request_batch_size)
    points: list[LoadResult] = []
    # A compiled model compiles while Triton loads it: allow for that before calling the start failed.
    startup_timeout = 900 if configuration.compile_mode else 120
    with TritonServer(
        local,
        default_model=spec.name,
        log_path=work_dir / f"triton-{configuration.name}.log",
        startup_timeout=startup_timeout,
        extra_args=plan.server_args,
    ) as server:
        transport = HttpTransport.sagemaker(server.sagemaker_url)
        _check_probe(probe(transport, payload), manifest, plan.request_batch_size)
        for concurrency in plan.concurrencies:
            result = run_fixed(
                transport,
                payload,
                concurrency=concurrency,
                duration_s=plan.duration_s,
                warmup_s=plan.warmup_s,
                processes=plan.processes,
                triton_http_url=server.http_url,
                model=spec.name,
            )
            points.append(result)
            lat = result.latency
            mean_batch = result.triton.mean_batch_size if result.triton else math.nan
            log(
                f"  {configuration.name:<16} c={concurrency:<4} {lat.throughput_rps:9.1f} req/s "
                f"p50 {lat.p50_ms:7.1f} ms p99 {lat.p99_ms:7.1f} ms errors {lat.errors} batch {mean_batch:5.2f}"
            )
            if lat.count and lat.percentile_ms(plan.criteria.latency_percentile) > plan.criteria.latency_target_ms:
                break  # closed loop: more users only add queueing from here
    return Candidate(configuration.name, configuration.triton, plan.instance_type or "", tuple(points))


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _cpu_model() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def _gpu_names() -> list[str]:
    """Names of the GPUs this process may use: ``nvidia-smi``'s list, narrowed by ``CUDA_VISIBLE_DEVICES``."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return []
    try:
        listed = subprocess.run(
            [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.split("\n")
    except Exception:
        return []
    names = [g.strip() for g in listed if g.strip()]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        ids = [v.strip() for v in visible.split(",") if v.strip()]
        if all(i.isdigit() for i in ids):
            names = [names[int(i)] for i in ids if int(i) < len(names)]
        else:  # GPU UUIDs: the count is what is visible, the model the first listed
            names = names[: len(ids)]
    return names


def detect_hardware(use_gpu: bool) -> MeasuredHardware:
    """Return what a measurement on this machine runs on: its GPUs when ``use_gpu``, else its CPU.

    Raises:
        UserError: ``use_gpu`` but ``nvidia-smi`` names no GPU (the fix: ``--cpu``, or a driver).
    """
    cpu, cores = _cpu_model(), os.cpu_count()
    if not use_gpu:
        return MeasuredHardware.cpu(cpu, cores)
    names = _gpu_names()
    if not names:
        raise UserError(
            "the matrix would serve on the GPU, but no GPU is visible (nvidia-smi lists none, or "
            f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r} hides them), so the measured hardware "
            "cannot be recorded. Fix: make nvidia-smi list the GPU, or measure on the CPU with --cpu"
        )
    device = names[0] if len(set(names)) == 1 else " + ".join(sorted(set(names)))
    return MeasuredHardware.gpu(device, len(names), cpu_model=cpu, cpu_cores=cores)


def describe_machine() -> str:
    """CPU model and core count, plus GPU names when nvidia-smi answers."""
    text = f"{_cpu_model()} ({os.cpu_count()} cores)"
    names = _gpu_names()
    if names:
        text += f"; GPU: {len(names)} x {names[0]}"
    return text


DEFAULT_CPU_INSTANCE_TYPE = "ml.c5.xlarge"
"""What a CPU measurement is sized as by default (CPU only, priced in ``prices.json``)."""


def default_instance_type(hardware: MeasuredHardware, prices: PriceTable) -> str:
    """Return the instance type a measurement is sized for when ``--instance-type`` is not given.

    A CPU measurement: :data:`DEFAULT_CPU_INSTANCE_TYPE`. An accelerator: among the hosting
    instance types that carry it, a priced one with the measured count, else the priced one
    with the lowest price per accelerator (one H100 → ``ml.p5.48xlarge``, priced per GPU), else
    the first that carries it (unpriced: costs are n/a).

    Raises:
        UserError: The measured accelerator is not known to :mod:`model_build.hardware`.
    """
    if hardware.kind == "cpu":
        return DEFAULT_CPU_INSTANCE_TYPE
    from model_build.hardware import hardware_of, hosting_types_with

    model = hardware.model()
    candidates: list[str] = []
    if model is not None:
        try:
            candidates = list(hosting_types_with(model))
        except ImportError:  # no botocore (a bare GPU machine): the types the price table names
            named = [t for t in (*prices.rows, *prices.not_priced) if "*" not in t]
            candidates = [t for t in named if hardware_of(t).accelerator == model]
    if not candidates:
        raise UserError(
            f"--instance-type is required: the measurement runs on {hardware.describe()}, and no SageMaker "
            "instance type this project knows carries it. Fix: give --instance-type and state how to carry the "
            'figures there with --translate "<measured> -> <target> x FACTOR: REASON"'
        )

    def count(t: str) -> int:
        return hardware_of(t).count or 1

    priced = [t for t in candidates if prices.price(t) is not None]
    same = [t for t in priced if count(t) == hardware.accelerator_count]
    if same:
        return min(same, key=prices.hourly)
    if priced:
        return min(priced, key=lambda t: (prices.hourly(t) / count(t), count(t)))
    return min(candidates, key=lambda t: abs(count(t) - hardware.accelerator_count))


def plan_sizing(plan: MatrixPlan, prices: PriceTable) -> tuple[MatrixPlan, HardwareMatch]:
    """Resolve the plan's hardware and instance type and check they fit, before any work starts.

    Returns:
        The plan with ``hardware`` and ``instance_type`` filled in, and how the measurement
        carries to that instance type.

    Raises:
        UserError: (or :class:`model_build.profile.ProfileError`) The instance type's accelerator
            differs from the measured one without a translation, or the translation does not fit.
    """
    hardware = plan.hardware or detect_hardware(plan.serves_on_gpu())
    instance_type = plan.instance_type or default_instance_type(hardware, prices)
    match = match_hardware(
        hardware,
        instance_type,
        plan.translation,
        subject="this run measures",
        translation_hint='--translate "{source} -> {target} x FACTOR: REASON"',
    )
    return dataclasses.replace(plan, hardware=hardware, instance_type=instance_type), match


def tool_versions() -> dict[str, str]:
    """Versions that change the figures."""
    from triton_runtime.server import PYTRITON_VERSION

    versions = {
        "python": platform.python_version(),
        "tritonserver": f"nvidia-pytriton {PYTRITON_VERSION} (Triton 2.51)",
    }
    for dist in ("torch", "onnxruntime", "numpy", "aiohttp", "transformers", "triton-sagemaker-iac"):
        versions[dist] = _version(dist)
    return versions


def run_matrix(
    plan: MatrixPlan,
    out_dir: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    prepare: Preparer | None = None,
    prices: PriceTable | None = None,
    log: Callable[[str], None] = print,
) -> MatrixResult:
    """Measure every configuration of ``plan``, recommend one, and write the report.

    Writes into ``out_dir``: ``report.md``, the PNG charts, ``results.json`` (every point)
    and ``profile.json`` (when a configuration met the target), plus the Triton logs and
    local repositories under ``work/``. The hardware and the instance type are resolved and
    checked against each other (:func:`plan_sizing`) before anything is built or written.

    Args:
        plan: What to measure.
        out_dir: Results folder (created).
        cache_dir: model_build cache for the default preparer.
        prepare: How a spec becomes a production repository; defaults to the full pipeline build.
        prices: Price table; defaults to ``tuning/prices.json``.
        log: Progress output.

    Raises:
        UserError: The instance type does not fit the measured hardware (nothing was started).
    """
    prices = prices or load_prices()
    plan, match = plan_sizing(plan, prices)
    assert plan.hardware is not None
    basis = PricingBasis.from_match(match)
    out = Path(out_dir)
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    log(f"sizing: {basis.statement}")
    candidates = []
    for configuration in plan.configurations:
        log(f"[{configuration.name}] building and serving ({plan.executor}, {plan.encoding} payloads)")
        candidates.append(
            measure_configuration(plan, configuration, work, prepare=prepare or pipeline_preparer(cache_dir), log=log)
        )
    assessments = assess(candidates, plan.criteria, prices, basis)
    machine = describe_machine()
    meta: dict[str, Any] = {
        "model": plan.spec.name,
        "date": date,
        "machine": machine,
        "server": f"tritonserver 2.51 python backend ({plan.executor}"
        + (f", {plan.precision}" if plan.precision else "")
        + "), one server per configuration, SageMaker /invocations",
        "payload": f"KServe v2 {plan.encoding}, batch {plan.request_batch_size} per request",
        "client": f"{plan.processes} process(es) x asyncio/aiohttp keep-alive; {plan.warmup_s:g} s warmup + "
        f"{plan.duration_s:g} s window per concurrency level",
        "instance_type": match.instance_type,
        "hardware": dataclasses.asdict(plan.hardware),
        "hardware_translation": dataclasses.asdict(match.translation) if match.translation else None,
        "sizing": basis.statement,
        "tool_versions": tool_versions(),
        "notes": [],
    }
    for a in assessments:
        for p in a.candidate.points:
            if p.client_cpu is not None and p.client_cpu.percent_of_machine > 80:
                meta["notes"].append(
                    f"{a.candidate.name} at concurrency {p.concurrency}: the client used "
                    f"{p.client_cpu.percent_of_machine:.0f} % of the machine's CPU; that point may be client-bound."
                )
                break
    for a in assessments:
        pts = a.candidate.points
        # A sweep that ended because the levels ran out, with throughput still climbing, has not
        # found the saturation point: the sustainable rate (and so the sizing) is a lower bound.
        if (
            len(pts) >= 2
            and len(pts) == len(plan.concurrencies)
            and a.point is pts[-1]
            and pts[-1].latency.throughput_rps > 1.05 * pts[-2].latency.throughput_rps
        ):
            meta["notes"].append(
                f"{a.candidate.name}: throughput still rose {pts[-1].latency.throughput_rps / pts[-2].latency.throughput_rps:.2f}x "
                f"at the highest concurrency ({pts[-1].concurrency}); not saturated, so its capacity is a lower bound "
                "(measure higher concurrency)."
            )
    chosen: Assessment | None
    profile: TuningProfile | None = None
    try:
        chosen = recommend(assessments, plan.criteria)
    except NoConfigurationMeetsTargetError as error:
        chosen = None
        meta["notes"].append(str(error))
    if chosen is not None:
        profile = to_profile(
            chosen,
            model_name=plan.spec.name,
            criteria=plan.criteria,
            provenance=Provenance(
                machine=machine,
                date=date,
                tool_versions=meta["tool_versions"],
                command=" ".join([os.path.basename(sys.executable), *sys.argv]),
                notes=f"{meta['server']}; {meta['payload']}; {meta['client']}",
            ),
            hardware=plan.hardware,
            match=match,
        )
        profile.check_instance_type()  # the written profile sizes what it says it sizes
        profile.apply_to(plan.spec).validate()  # the profile must produce a deployable spec
        profile.save(out / "profile.json")
    charts = render_charts(out, assessments, plan.criteria, prices)
    (out / "report.md").write_text(
        render_markdown(
            assessments, criteria=plan.criteria, prices=prices, profile=profile, meta=meta, charts=charts, basis=basis
        )
    )
    results = {
        "meta": meta,
        "criteria": dataclasses.asdict(plan.criteria),
        "prices": {
            "instance_type": match.instance_type,
            "citation": prices.citation(match.instance_type),
            "usd_per_hour": prices.prices.get(match.instance_type),
            "file": str(prices.path),
        },
        "configurations": [
            {
                **a.to_dict(),
                "triton": dataclasses.asdict(a.candidate.triton),
                "points": [p.to_dict() for p in a.candidate.points],
            }
            for a in assessments
        ],
        "recommended": chosen.candidate.name if chosen else None,
    }
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    return MatrixResult(out, assessments, chosen, profile, meta)
