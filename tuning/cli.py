"""Command line: ``python -m tuning matrix``, ``size``, ``compare`` and ``load``.

``matrix --smoke`` is the quick CPU matrix ``make bench-smoke`` runs (tiny BERT, six
configurations: 1 min 52 s on 2 cores from an empty cache, ``bench/reference/cpu-smoke-2core.log``);
``matrix --full`` runs the full sweep, on the GPU with the torch
executor in fp16 when one is present. Both print the results folder as their last line.
The measured hardware goes into the profile; ``--instance-type`` (default: an instance type
with the measured accelerator) must carry the same accelerator unless ``--translate`` says
how to carry the figures over.

``size`` re-derives the cost of a saved profile (``profile.json``) on an instance type and a
price table, with the same arithmetic as the matrix's derived table, and prints JSON: how the
figures in the docs were computed from the reference runs in ``bench/reference/``.

``compare`` sizes two measured profiles of the same model (seed 003: a GPU type and an inf2 type)
for one target load and prints cost per million inferences and p99 side by side
(:mod:`tuning.compare`).

``load`` drives any target (a Triton SageMaker URL, a KServe URL, or an endpoint through
boto3, e.g. the local data plane) with a fixed-concurrency sweep or Inference
Recommender's phased traffic, and prints JSON.

Every flag, path and option is checked before anything is built, served or loaded; bad
input ends in one message per problem (the flag, what was given, what is allowed) and exit
status 2, without a traceback (``TRITON_IAC_DEBUG=1`` shows one).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import itertools
import json
import math
import re
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_build.aws import INVOKE_ENDPOINT_MAX_BODY_BYTES, is_region
from model_build.user_errors import (
    FlagProblems,
    UsageErrorParser,
    UserError,
    did_you_mean,
    parse_number,
    parse_whole_number,
    path_argument,
    run_cli,
)

PROG = "python -m tuning"
DEFAULT_RESULTS = Path("bench/results")

# SageMaker's CreateEndpoint EndpointName pattern (botocore service model).
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
# A request the load generator holds in memory for every worker: refuse what cannot be sensible.
_MAX_DIRECT_BODY = 1 << 30
DEFAULT_REGION = "us-east-1"
"""The region ``load --endpoint-name`` invokes in without ``--region``."""
FIXED_LOAD_CONCURRENCIES = (1, 4, 16)
"""The levels ``load`` runs without ``--concurrency`` or ``--phased``."""
FIXED_LOAD_WARMUP_S = 2.0
"""The seconds ``load`` discards before each level's window without ``--warmup``."""


@dataclasses.dataclass(frozen=True)
class Sweep:
    """The load levels a ``matrix`` run measures each configuration at, unless its flags say otherwise.

    Attributes:
        concurrencies: ``--concurrency``: rising levels; a configuration's sweep stops after the first
            level that misses the latency target.
        duration_s: ``--duration``: the measured window per level.
        warmup_s: ``--warmup``: the discarded lead-in per level.
        processes: ``--processes``: client worker processes.
    """

    concurrencies: tuple[int, ...]
    duration_s: float
    warmup_s: float
    processes: int

    def describe(self) -> str:
        """``"levels 1,4,16, 2 s windows after 0.5 s warmup, 1 client process"``."""
        levels = ",".join(map(str, self.concurrencies))
        return f"levels {levels}, {self.duration_s:g} s windows after {self.warmup_s:g} s warmup, {self.processes} client process(es)"


SMOKE_SWEEP = Sweep((1, 4, 16), 2.0, 0.5, 1)
"""``--smoke``: three levels and short windows, so six configurations fit in minutes on 2 cores."""

FULL_CPU_SWEEP = Sweep((1, 2, 4, 8, 16, 32), 8.0, 2.0, 1)
"""``--full`` on the CPU: levels doubling up to 32, longer windows for steadier percentiles."""

FULL_GPU_SWEEP = Sweep((32, 128, 256, 512), 8.0, 2.0, 8)
"""``--full`` on a GPU: levels high enough to fill dynamic batches of up to 128, and 8 client
processes so the client is not the limit (the H100 reference run's client used 15 % of 16 cores:
``bench/reference/gpu-h100-matrix.md``)."""


class _Checks(FlagProblems):
    """:class:`model_build.user_errors.FlagProblems` plus the list and URL flags of ``python -m tuning``."""

    def __init__(self, command: str) -> None:
        super().__init__(f"{PROG} {command}")

    def rising_ints(self, flag: str, text: str | None, *, high: int = 100_000) -> tuple[int, ...] | None:
        if text is None:
            return None
        allowed = f"must be comma-separated whole numbers from 1 to {high} in rising order, e.g. 1,4,16"
        try:
            values = tuple(parse_whole_number(x, low=1, high=high) for x in str(text).split(","))
        except ValueError:
            self.add(flag, text, allowed)
            return None
        if any(b <= a for a, b in itertools.pairwise(values)):
            self.add(flag, text, allowed)
            return None
        return values

    def url(self, flag: str, text: str | None) -> str | None:
        if text is None:
            return None
        allowed = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:8080"
        try:
            parts = urllib.parse.urlsplit(text)
            _ = parts.port  # raises ValueError for a port out of range or not a number
        except ValueError:
            self.add(flag, text, allowed)
            return None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            self.add(flag, text, allowed)
            return None
        return text.rstrip("/")

    def results_folder(self, flag: str, text: str) -> Path | None:
        """Return a results folder that can be created and is new or empty (two runs are never mixed)."""
        path = self.folder(flag, text)
        if path is not None and path.is_dir() and any(path.iterdir()):
            self.add(flag, text, "already holds files; give a new or empty folder (results of two runs are never mixed)")
            return None
        return path


# --------------------------------------------------------------------------- matrix
@dataclasses.dataclass
class _MatrixRun:
    plan: Any
    out: Path
    cache_dir: Path | None
    prices: Any
    gpu: bool


def _given(**values: Any) -> dict[str, Any]:
    """Return the keyword arguments whose flag was given (the rest keep the dataclass's documented default)."""
    return {name: value for name, value in values.items() if value is not None}


def _profile_percentile(checks: _Checks, text: str | None) -> float | None:
    """Return ``--percentile`` as one of the percentiles a profile records (50, 90, 99), or None."""
    if text is None:
        return None
    try:
        value: float | None = parse_number(text, low=0, high=100)
    except ValueError:
        value = None
    from model_build.profile import PROFILE_PERCENTILES

    if value not in PROFILE_PERCENTILES:
        checks.add("--percentile", text, "must be 50, 90 or 99 (the percentiles a profile records)")
        return None
    return value


def _check_instance_type(checks: _Checks, text: str | None) -> str | None:
    """Return ``--instance-type`` when SageMaker hosting accepts it (botocore's list), else None with the near matches."""
    from model_build.hardware import hosting_instance_types, near_instance_types, parse_instance_type

    if text is None:
        return None
    try:
        known: tuple[str, ...] | None = hosting_instance_types()
    except ImportError:  # no botocore (a bare GPU machine): only the form can be checked
        known = None
    if known is None:
        if parse_instance_type(text) is None:
            checks.add("--instance-type", text, "must look like ml.<family>.<size>, e.g. ml.g5.xlarge")
            return None
        return text
    if text in known:
        return text
    near = near_instance_types(text.strip().lower())
    checks.add(
        "--instance-type",
        text,
        "is not an instance type SageMaker hosting accepts"
        + (f" (did you mean {', '.join(near)}?)" if near else " (see botocore's ProductionVariantInstanceType list)"),
    )
    return None


def _check_prices(checks: _Checks, path: Path | None) -> Any:
    """Return the price table (``--prices``, else ``tuning/prices.json``), or None with the problem recorded."""
    from tuning.pricing import load_prices

    try:
        return load_prices(path.expanduser() if path is not None else None)
    except UserError as error:
        checks.note(f"--prices: {error}")
        return None


def _check_cache_dir(checks: _Checks, path: Path | None) -> Path | None:
    """Return the model_build cache the matrix builds into: the flag's folder, else the default (both checked)."""
    from model_build.cache import cache_dir_problem

    path = path.expanduser() if path is not None else None
    problem = cache_dir_problem(path, flag="--cache-dir")
    if problem is not None:
        checks.note(problem)
    return path


def _check_matrix(args: argparse.Namespace) -> _MatrixRun:
    from model_build.examples import EXAMPLES, get_example
    from model_build.local_serving import gpu_present
    from model_build.profile import HardwareTranslation, ProfileError
    from tuning.matrix import MatrixPlan, full_configurations, plan_sizing, smoke_configurations
    from tuning.recommend import Criteria

    checks = _Checks("matrix")
    gpu = gpu_present() and not args.cpu
    model = args.model if args.model is not None else ("bert-base" if args.full and gpu else "bert-tiny")
    spec = None
    if model not in EXAMPLES:
        checks.add("--model", model, f"must be one of the model_build examples: {', '.join(EXAMPLES)}{did_you_mean(model, list(EXAMPLES))}")
    else:
        spec = get_example(model)
    concurrencies = checks.rising_ints("--concurrency", args.concurrency)
    duration = checks.number("--duration", args.duration, low=0, high=3600, low_open=True)
    warmup = checks.number("--warmup", args.warmup, low=0, high=3600)
    processes = checks.whole_number("--processes", args.processes, low=1, high=256)
    target = checks.number("--target-per-minute", args.target_per_minute, low=0, low_open=True)
    latency = checks.number("--latency-ms", args.latency_ms, low=0, low_open=True)
    percentile = _profile_percentile(checks, args.percentile)
    safety = checks.number("--safety-factor", args.safety_factor, low=0, high=1, low_open=True)
    configurations = []
    if spec is not None:
        configurations = (full_configurations if args.full else smoke_configurations)(spec.triton)
        if args.configs is not None:
            known = {c.name: c for c in configurations}
            wanted = [w.strip() for w in args.configs.split(",")]
            unknown = [w for w in wanted if w not in known]
            duplicates = sorted({w for w in wanted if wanted.count(w) > 1})
            set_name = "--full" if args.full else "--smoke"
            if unknown or not wanted:
                hints = "".join(did_you_mean(w, list(known)) for w in unknown if w)
                checks.add(
                    "--configs",
                    args.configs,
                    f"unknown configuration(s) {', '.join(repr(w) for w in unknown)}{hints}; known for {set_name}: {', '.join(known)}",
                )
            elif duplicates:
                checks.add("--configs", args.configs, f"names {', '.join(duplicates)} more than once; list each configuration once")
            else:
                configurations = [known[w] for w in wanted]
    instance_type = _check_instance_type(checks, args.instance_type)
    translation = None
    if args.translate is not None:
        try:
            translation = HardwareTranslation.parse(args.translate, where="--translate")
        except ProfileError as error:
            checks.note(str(error))
    prices = _check_prices(checks, args.prices)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = checks.results_folder("--out", str(args.out) if args.out is not None else str(DEFAULT_RESULTS / stamp))
    cache_dir = _check_cache_dir(checks, args.cache_dir)
    checks.raise_if_any()
    assert spec is not None and out is not None and prices is not None
    sweep = (FULL_GPU_SWEEP if gpu else FULL_CPU_SWEEP) if args.full else SMOKE_SWEEP
    plan = MatrixPlan(
        spec=spec,
        configurations=tuple(configurations),
        concurrencies=concurrencies or sweep.concurrencies,
        duration_s=duration if duration is not None else sweep.duration_s,
        warmup_s=warmup if warmup is not None else sweep.warmup_s,
        processes=processes or sweep.processes,
        encoding=args.encoding,
        executor="torch" if gpu else "onnxruntime",
        instance_kind="KIND_GPU" if gpu else "KIND_CPU",
        precision="fp16" if gpu else None,
        instance_type=instance_type,
        criteria=Criteria(**_given(
            target_per_minute=target, latency_target_ms=latency, latency_percentile=percentile, safety_factor=safety
        )),
        translation=translation,
    )
    try:
        plan, _ = plan_sizing(plan, prices)
    except UserError as error:  # the message names the fix; a default instance type's says --instance-type itself
        checks.note(f"--instance-type: {error}" if args.instance_type is not None else str(error))
    checks.raise_if_any()
    return _MatrixRun(plan, out, cache_dir, prices, gpu)


def _matrix(args: argparse.Namespace) -> int:
    run = _check_matrix(args)
    from model_build.export import write_torchscript
    from tuning.matrix import config_only_preparer, run_matrix

    plan, out = run.plan, run.out
    out.mkdir(parents=True, exist_ok=True)
    prepare = None
    if run.gpu:
        # The GPU run serves TorchScript in fp16: trace once, write configs only (no ONNX export).
        script = out / "work" / f"{plan.spec.name}.pt"
        inputs, outputs = write_torchscript(plan.spec, script, device="cuda", half=True)
        plan = dataclasses.replace(plan, torchscript={plan.spec.name: str(script)})
        prepare = config_only_preparer(inputs, outputs)
    print(
        f"tuning matrix: {plan.spec.name}, {len(plan.configurations)} configurations, concurrency {list(plan.concurrencies)}, "
        f"{plan.executor} on {'GPU' if run.gpu else 'CPU'}; sized as {plan.instance_type}",
        flush=True,
    )
    result = run_matrix(
        plan, out, cache_dir=run.cache_dir, prepare=prepare, prices=run.prices, log=lambda m: print(m, flush=True)
    )
    if result.profile is not None:
        print(f"recommended: {result.profile.configuration} ({result.profile.initial_instance_count} x {result.profile.instance_type})")
    else:
        print("recommended: none met the target")
    print(out.resolve())
    return 0


# --------------------------------------------------------------------------- size
def _size(args: argparse.Namespace) -> int:
    from model_build.profile import HardwareTranslation, ProfileError, TuningProfile
    from tuning.derive import PricingBasis, size_seed_and_planned

    checks = _Checks("size")
    profile = None
    try:
        profile = TuningProfile.load(args.profile.expanduser())
    except ProfileError as error:
        checks.note(f"--profile {error}")
    instance_type = _check_instance_type(checks, args.instance_type)
    translation = None
    if args.translate is not None:
        try:
            translation = HardwareTranslation.parse(args.translate, where="--translate")
        except ProfileError as error:
            checks.note(str(error))
    prices = _check_prices(checks, args.prices)
    target = checks.number("--target-per-minute", args.target_per_minute, low=0, low_open=True)
    safety = checks.number("--safety-factor", args.safety_factor, low=0, high=1, low_open=True)
    if profile is not None and (instance_type is not None or args.instance_type is None):
        try:
            match = profile.check_instance_type(
                instance_type, translation, translation_hint='--translate "{source} -> {target} x FACTOR: REASON"'
            )
        except ProfileError as error:
            checks.note(
                f"--instance-type: {error}"
                if instance_type is not None
                else f"--profile (sized as its own instance_type; --instance-type sizes another): {error}"
            )
    checks.raise_if_any()
    assert profile is not None and prices is not None
    target = target if target is not None else profile.target_invocations_per_minute
    safety = safety if safety is not None else profile.safety_factor
    measured = profile.measured.invocations_per_minute
    seed, planned = size_seed_and_planned(
        profile.configuration,
        match.instance_type,
        measured,
        prices,
        target_per_minute=target,
        safety_factor=safety,
        basis=PricingBasis.from_match(match),
    )
    scaling_target = TuningProfile.scaling_target(measured * match.scale, safety)
    report = {
        "profile": str(args.profile),
        "model_name": profile.model_name,
        "configuration": profile.configuration,
        "measured": {
            "hardware": profile.hardware.describe(),
            "hardware_derived_from": profile.hardware.derived_from or None,
            "invocations_per_minute": measured,
        },
        "instance_type": match.instance_type,
        "sizing": match.statement(),
        "price": prices.citation(match.instance_type),
        "target_per_minute": target,
        "safety_factor": safety,
        "seed_formula": seed.to_dict(),
        "planned": planned.to_dict(),
        "invocations_per_instance_target": scaling_target,
        "initial_instance_count": TuningProfile.initial_count(target, scaling_target),
    }
    print(json.dumps(report, indent=2))
    return 0


# --------------------------------------------------------------------------- compare
def _compare(args: argparse.Namespace) -> int:
    from model_build.profile import ProfileError, TuningProfile
    from tuning.compare import CompareSide, Comparison, inferentia_problem
    from tuning.derive import PricingBasis, size_seed_and_planned

    checks = _Checks("compare")
    paths = list(args.profile)
    if len(paths) != 2:
        checks.add(
            "--profile",
            [str(p) for p in paths],
            "give exactly two profiles, the GPU one first: --profile gpu.json --profile inf2.json",
        )
    types = list(args.instance_type or [])
    if types and len(types) != len(paths):
        checks.add(
            "--instance-type",
            types,
            f"give none (each profile's own instance_type) or one per --profile, in the same order ({len(paths)})",
        )
    profiles: list[Any] = []
    for path in paths:
        try:
            profiles.append(TuningProfile.load(path.expanduser()))
        except ProfileError as error:
            checks.note(f"--profile {error}")
            profiles.append(None)
    checked_types = [_check_instance_type(checks, t) for t in types] if len(types) == len(paths) else []
    prices = _check_prices(checks, args.prices)
    target = checks.number("--target-per-minute", args.target_per_minute, low=0, low_open=True)
    safety = checks.number("--safety-factor", args.safety_factor, low=0, high=1, low_open=True)
    matches: list[Any] = []
    for i, profile in enumerate(profiles):
        if profile is None or (checked_types and checked_types[i] is None) or len(paths) != 2:
            continue
        instance_type = checked_types[i] if checked_types else None
        flag = f"--profile {paths[i]}" + ("" if instance_type is None else f" with --instance-type {instance_type}")
        try:
            match = profile.check_instance_type(instance_type)
        except ProfileError as error:
            checks.note(f"{flag}: {error}")
            continue
        problem = inferentia_problem(match.instance_type, profile.hardware, match.translation is not None)
        if problem is not None:
            checks.note(f"{flag}: {problem}")
            continue
        matches.append(match)
    checks.raise_if_any()
    assert prices is not None and len(matches) == 2
    first_profile = profiles[0]
    target = target if target is not None else first_profile.target_invocations_per_minute
    safety = safety if safety is not None else first_profile.safety_factor
    sides = []
    for path, profile, match in zip(paths, profiles, matches, strict=True):
        _, planned = size_seed_and_planned(
            profile.configuration,
            match.instance_type,
            profile.measured.invocations_per_minute,
            prices,
            target_per_minute=target,
            safety_factor=safety,
            basis=PricingBasis.from_match(match),
        )
        sides.append(
            CompareSide(
                profile=str(path),
                model_name=profile.model_name,
                configuration=profile.configuration,
                hardware=profile.hardware.describe(),
                instance_type=match.instance_type,
                sizing=match.statement(),
                instances=planned.instances,
                hourly_price=planned.hourly_price,
                cost_per_million_at_target=planned.cost_per_million_at_target,
                cost_per_million_at_capacity=planned.cost_per_million_at_capacity,
                p99_ms=profile.measured.p99_ms,
                price=prices.citation(match.instance_type),
            )
        )
    comparison = Comparison(target_per_minute=target, safety_factor=safety, first=sides[0], second=sides[1])
    print(json.dumps(comparison.to_dict(), indent=2) if args.json else comparison.table())
    return 0


# --------------------------------------------------------------------------- load
def _check_credentials(checks: _Checks, region: str) -> None:
    """boto3 would sign every request: find credentials now, not after the first failed call."""
    try:
        import botocore.session
        from botocore.exceptions import BotoCoreError

        session = botocore.session.Session()
        try:
            credentials = session.get_credentials()
        except BotoCoreError as error:
            checks.add("--endpoint-name", "(AWS configuration)", f"boto3 cannot read the AWS configuration: {error}")
            return
    except ImportError:  # pragma: no cover - boto3 is a runtime dependency
        checks.add("--endpoint-name", "(boto3)", "needs boto3; install the project's requirements")
        return
    if credentials is None:
        checks.add(
            "--endpoint-name",
            "(no AWS credentials)",
            "boto3 finds no credentials to sign invoke_endpoint in "
            f"{region}. Fix: `aws configure`, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(any values for the local data plane at --endpoint-url)",
        )


def _check_region(checks: _Checks, region: str) -> bool:
    if not is_region(region):
        checks.add("--region", region, "must be an AWS region code like us-east-1")
        return False
    try:
        import botocore.session

        session = botocore.session.Session()
        known = set()
        for partition in session.get_available_partitions():
            known.update(session.get_available_regions("sagemaker-runtime", partition_name=partition))
    except Exception:  # the list is a convenience; the pattern above already held
        return True
    if known and region not in known:
        checks.add("--region", region, f"is not a region with SageMaker Runtime{did_you_mean(region, sorted(known))}")
        return False
    return True


def _check_inputs(checks: _Checks, text: str, batch_size: int | None) -> tuple[list[Any], int] | None:
    """Parse ``name:DATATYPE:dims`` items; return the specs and the request's size in bytes (binary)."""
    from triton_runtime.kserve import TensorSpec, sample_inputs

    allowed = "must be comma-separated name:DATATYPE:dims items, e.g. input_ids:INT64:128,pixels:FP32:3x224x224"
    specs: list[Any] = []
    size = 0
    names: set[str] = set()
    for item in text.split(","):
        parts = item.strip().split(":")
        if len(parts) != 3 or not parts[0]:
            checks.add("--inputs", text, f"{allowed} ({item.strip()!r} is not one)")
            return None
        name, datatype, dims_text = parts
        try:
            dims = tuple(int(d, 10) for d in dims_text.split("x"))
        except ValueError:
            dims = ()
        if not dims or any(d < 1 for d in dims):
            checks.add("--inputs", text, f"dims of {name!r} must be whole numbers >= 1 joined by x, e.g. 3x224x224 (got {dims_text!r})")
            return None
        if name in names:
            checks.add("--inputs", text, f"names input {name!r} twice; give each input once")
            return None
        names.add(name)
        try:  # the load generator's own datatype check, on one element
            itemsize = next(iter(sample_inputs([TensorSpec(name, datatype, (1,))]).values())).dtype.itemsize
        except ValueError:
            checks.add(
                "--inputs", text, f"datatype {datatype!r} of {name!r} is not a KServe v2 datatype the load generator sends "
                "(BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64)"
            )
            return None
        specs.append(TensorSpec(name, datatype, dims))
        size += itemsize * math.prod(dims) * (batch_size or 1)
    return specs, size


def _load(args: argparse.Namespace) -> int:
    from tuning.loadgen import Phase, StoppingConditions

    checks = _Checks("load")
    url = checks.url("--url", args.url)
    endpoint_url = checks.url("--endpoint-url", args.endpoint_url)
    stats_url = checks.url("--stats-url", args.stats_url)
    if args.endpoint_name is not None and not _ENDPOINT_NAME.match(args.endpoint_name):
        checks.add(
            "--endpoint-name", args.endpoint_name, "must be a SageMaker endpoint name: 1-63 letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    if args.endpoint_name is None:
        for flag, value in (("--endpoint-url", args.endpoint_url), ("--region", args.region)):
            if value is not None:
                checks.add(flag, value, "applies only with --endpoint-name (boto3); drop it, or give --endpoint-name instead of --url")
    region = args.region if args.region is not None else DEFAULT_REGION
    region_ok = args.endpoint_name is None or _check_region(checks, region)
    if args.kserve_model is not None and not args.kserve_model.strip():
        checks.add("--kserve-model", args.kserve_model, "must name the model (the <model> in /v2/models/<model>/infer)")
    if args.kserve_model and args.endpoint_name is not None:
        checks.add("--kserve-model", args.kserve_model, "applies only with --url (invoke_endpoint has no KServe route)")
    batch_size = checks.whole_number("--batch-size", args.batch_size, low=1, high=65_536)
    parsed = _check_inputs(checks, args.inputs, batch_size)
    outputs = [o.strip() for o in args.outputs.split(",")] if args.outputs else []
    if any(not o for o in outputs):
        checks.add("--outputs", args.outputs, "must be comma-separated output names, e.g. logits (or empty for all)")
    if parsed is not None:
        limit = INVOKE_ENDPOINT_MAX_BODY_BYTES if args.endpoint_name is not None else _MAX_DIRECT_BODY
        if parsed[1] > limit:
            what = "invoke_endpoint's 6 MB request limit" if args.endpoint_name is not None else "1 GiB per request"
            checks.add("--inputs", args.inputs, f"make a request of {parsed[1]:,} bytes at --batch-size {batch_size}, over {what}; use smaller dims or batch")
    duration = checks.number("--duration", args.duration, low=0, high=86_400, low_open=True)
    processes = checks.whole_number("--processes", args.processes, low=1, high=256)
    if args.stats_model is not None and not args.stats_model.strip():
        checks.add("--stats-model", args.stats_model, "must name the model to read statistics for (the <m> in /v2/models/<m>/stats)")
    if (args.stats_url is None) != (args.stats_model is None):
        flag, value = ("--stats-model", args.stats_model) if args.stats_url is None else ("--stats-url", args.stats_url)
        checks.add(flag, value, "needs both --stats-url and --stats-model (Triton's KServe URL and the model to read statistics for)")
    phase_flags = {
        "--initial-users": args.initial_users, "--spawn-rate": args.spawn_rate, "--max-users": args.max_users,
        "--max-invocations": args.max_invocations, "--latency-ms": args.latency_ms, "--percentile": args.percentile,
        "--window": args.window,
    }  # fmt: skip
    fixed_flags = {"--concurrency": args.concurrency, "--warmup": args.warmup, "--stats-url": args.stats_url}
    stray = phase_flags if not args.phased else fixed_flags
    for flag, value in stray.items():
        if value is not None:
            checks.add(flag, value, "applies only with --phased" if not args.phased else "applies only without --phased (fixed concurrency)")
    concurrencies = checks.rising_ints("--concurrency", args.concurrency) if not args.phased else None
    warmup = checks.number("--warmup", args.warmup, low=0, high=3600) if not args.phased else None
    initial = checks.whole_number("--initial-users", args.initial_users, low=1, high=100_000)
    spawn = checks.number("--spawn-rate", args.spawn_rate, low=0, high=100_000)
    max_users = checks.whole_number("--max-users", args.max_users, low=1, high=100_000)
    if max_users is not None and max_users < (initial or Phase.initial_users):
        checks.add("--max-users", args.max_users, f"must be >= --initial-users ({initial or Phase.initial_users})")
    max_invocations = checks.number("--max-invocations", args.max_invocations, low=0, low_open=True)
    latency = checks.number("--latency-ms", args.latency_ms, low=0, low_open=True)
    percentile = checks.number("--percentile", args.percentile, low=0, high=100, low_open=True)
    window = checks.number("--window", args.window, low=0, high=3600, low_open=True)
    if args.phased and window is not None and duration is not None and window > duration:
        checks.add("--window", args.window, f"must not exceed --duration ({duration:g} s): the conditions need one full window")
    if args.endpoint_name is not None and region_ok and not checks.problems:
        _check_credentials(checks, region)
    checks.raise_if_any()
    assert parsed is not None and duration is not None and processes is not None and batch_size is not None

    import aiohttp

    from triton_runtime.kserve import Route, encode, sample_inputs
    from tuning.loadgen import probe, run_fixed, run_phased
    from tuning.transports import Boto3Transport, HttpTransport, Transport

    route: Route = "kserve" if args.kserve_model else "sagemaker"
    payload = encode(sample_inputs(parsed[0], batch_size), encoding=args.encoding, route=route, outputs=outputs)
    transport: Transport
    if args.endpoint_name:
        transport = Boto3Transport(args.endpoint_name, endpoint_url, region)
    elif args.kserve_model:
        transport = HttpTransport.kserve(url or "", args.kserve_model)
    else:
        transport = HttpTransport.sagemaker(url or "")
    target = f"--endpoint-name {args.endpoint_name}" if args.endpoint_name else f"--url {url}"
    try:
        probe(transport, payload)
    except (RuntimeError, OSError, ValueError, TimeoutError, aiohttp.ClientError) as error:  # answer, connection, body
        raise UserError(
            f"{target}: the first request (one probe before any load) failed: {error}. Fix: check that the target "
            "is up and serves this model, and that --inputs/--outputs match its config (nothing was measured)"
        ) from error
    if args.phased:
        phased = run_phased(
            transport,
            payload,
            phase=Phase(**_given(initial_users=initial, spawn_rate=spawn, duration_s=duration)),
            stopping=StoppingConditions(
                **_given(max_invocations_per_minute=max_invocations, latency_threshold_ms=latency, latency_percentile=percentile),
                # the default window, shortened to fit a shorter phase (the conditions need one full window)
                window_s=window if window is not None else min(StoppingConditions.window_s, duration),
            ),
            processes=processes,
            max_users=max_users,
        )
        print(json.dumps(phased.to_dict(), indent=2))
        return 0
    results = [
        run_fixed(
            transport,
            payload,
            concurrency=c,
            duration_s=duration,
            warmup_s=warmup if warmup is not None else FIXED_LOAD_WARMUP_S,
            processes=processes,
            triton_http_url=stats_url,
            model=args.stats_model,
        ).to_dict()
        for c in (concurrencies or FIXED_LOAD_CONCURRENCIES)
    ]
    print(json.dumps(results, indent=2))
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """Build the ``python -m tuning`` argument parser (values are checked by the commands, all at once)."""
    from tuning.loadgen import Phase, StoppingConditions
    from tuning.recommend import Criteria

    parser = UsageErrorParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=UsageErrorParser)

    matrix = commands.add_parser("matrix", help="measure seed 000's configurations and recommend one")
    size = matrix.add_mutually_exclusive_group(required=True)
    size.add_argument("--smoke", action="store_true", help="quick CPU matrix (tiny BERT, about 2 minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="full sweep (GPU + torch fp16 when present)")
    matrix.add_argument("--model", default=None, help="model_build example (default: bert-tiny; bert-base for --full on GPU)")
    matrix.add_argument("--configs", default=None, help="comma-separated subset of configuration names")
    sweeps = f"--smoke: {SMOKE_SWEEP.describe()}; --full on CPU: {FULL_CPU_SWEEP.describe()}; on GPU: {FULL_GPU_SWEEP.describe()}"
    matrix.add_argument("--concurrency", default=None, help=f"comma-separated rising levels, e.g. 1,4,16 (defaults, {sweeps})")
    matrix.add_argument("--duration", default=None, help="measured seconds per level, > 0 (default: see --concurrency)")
    matrix.add_argument("--warmup", default=None, help="discarded seconds per level, >= 0 (default: see --concurrency)")
    matrix.add_argument("--processes", default=None, help="client worker processes, >= 1 (default: see --concurrency)")
    matrix.add_argument("--encoding", choices=("binary", "json"), default="binary")
    matrix.add_argument(
        "--instance-type",
        default=None,
        help="SageMaker instance type to size and price (default: one with the measured accelerator; "
        "ml.c5.xlarge for a CPU measurement)",
    )
    matrix.add_argument(
        "--translate",
        default=None,
        metavar="'FROM -> TO x FACTOR: REASON'",
        help="size an instance type with another accelerator: from which accelerator to which, by what "
        "throughput factor, and why (recorded in the profile and the report)",
    )
    matrix.add_argument("--cpu", action="store_true", help="ignore a GPU (onnxruntime on CPU)")
    matrix.add_argument(
        "--out", type=path_argument, default=None, help="new results folder (default: bench/results/<UTC timestamp>)"
    )
    matrix.add_argument("--cache-dir", type=path_argument, default=None, help="model_build cache (default: .model-build-cache)")
    matrix.add_argument("--prices", type=path_argument, default=None, help="price table (default: tuning/prices.json)")
    criteria = Criteria()
    matrix.add_argument(
        "--target-per-minute", default=None, help=f"load to size for, > 0 (default {criteria.target_per_minute:g}, seed 000's)"
    )
    matrix.add_argument("--latency-ms", default=None, help=f"latency target, > 0 (default {criteria.latency_target_ms:g}, seed 000's)")
    matrix.add_argument(
        "--percentile", default=None, help=f"percentile the target applies to: 50, 90 or 99 (default {criteria.latency_percentile:g})"
    )
    matrix.add_argument(
        "--safety-factor",
        default=None,
        help=f"share of measured capacity to plan on, in (0, 1] (default {criteria.safety_factor:g}; model_build.profile says why)",
    )
    matrix.set_defaults(func=_matrix)

    sizing = commands.add_parser(
        "size", help="re-derive a saved profile's cost on an instance type and price table (prints JSON)"
    )
    sizing.add_argument(
        "--profile", type=path_argument, required=True, help="the profile.json a matrix run wrote (schema 1 or 2)"
    )
    sizing.add_argument(
        "--instance-type",
        default=None,
        help="instance type to size and price (default: the profile's own); its accelerator must be the measured "
        "one unless --translate says how to carry the figures over",
    )
    sizing.add_argument(
        "--translate",
        default=None,
        metavar="'FROM -> TO x FACTOR: REASON'",
        help="how to carry the figures to another accelerator (default: the profile's own hardware_translation)",
    )
    sizing.add_argument("--prices", type=path_argument, default=None, help="price table (default: tuning/prices.json)")
    sizing.add_argument("--target-per-minute", default=None, help="load to size for, > 0 (default: the profile's)")
    sizing.add_argument(
        "--safety-factor", default=None, help="share of measured capacity to plan on, in (0, 1] (default: the profile's)"
    )
    sizing.set_defaults(func=_size)

    compare = commands.add_parser(
        "compare",
        help="size the same model on two measured profiles (a GPU type and an inf2 type): cost per 1M and p99 side by side",
    )
    compare.add_argument(
        "--profile",
        type=path_argument,
        action="append",
        required=True,
        help="a measured profile.json; give two, the baseline (GPU) first. An Inferentia profile must be measured on "
        "Inferentia hardware",
    )
    compare.add_argument(
        "--instance-type",
        action="append",
        default=None,
        help="instance type to size each profile on, one per --profile in the same order (default: each profile's own)",
    )
    compare.add_argument("--prices", type=path_argument, default=None, help="price table (default: tuning/prices.json)")
    compare.add_argument(
        "--target-per-minute", default=None, help="load to size both for, > 0 (default: the first profile's)"
    )
    compare.add_argument(
        "--safety-factor", default=None, help="share of measured capacity to plan on, in (0, 1] (default: the first profile's)"
    )
    compare.add_argument("--json", action="store_true", help="print JSON instead of the table")
    compare.set_defaults(func=_compare)

    load = commands.add_parser("load", help="load-test one target (fixed concurrency or phased)")
    target = load.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="Triton SageMaker base URL (posts to /invocations) or KServe base URL")
    target.add_argument("--endpoint-name", help="SageMaker endpoint, through boto3 invoke_endpoint")
    load.add_argument("--endpoint-url", default=None, help="sagemaker-runtime URL override (the local data plane)")
    load.add_argument("--region", default=None, help=f"AWS region for --endpoint-name (default {DEFAULT_REGION})")
    load.add_argument("--kserve-model", default=None, help="post to <url>/v2/models/<model>/infer instead")
    load.add_argument("--inputs", default="input_ids:INT64:128,attention_mask:INT64:128", help="name:DATATYPE:dims (dims like 3x224x224)")
    load.add_argument("--outputs", default="logits")
    load.add_argument("--batch-size", default="1")
    load.add_argument("--encoding", choices=("binary", "json"), default="binary")
    load.add_argument(
        "--concurrency", default=None, help=f"fixed-concurrency levels (default {','.join(map(str, FIXED_LOAD_CONCURRENCIES))})"
    )
    load.add_argument("--duration", default="10", help="window per level, or the phase duration (seconds)")
    load.add_argument("--warmup", default=None, help=f"discarded seconds per level (default {FIXED_LOAD_WARMUP_S:g})")
    load.add_argument("--processes", default="1")
    load.add_argument("--stats-url", default=None, help="Triton KServe URL for /v2/models/<m>/stats")
    load.add_argument("--stats-model", default=None, help="the model to read statistics for (with --stats-url)")
    load.add_argument("--phased", action="store_true", help="Inference Recommender PHASES traffic")
    phase, stop = Phase(), StoppingConditions()
    load.add_argument("--initial-users", default=None, help=f"users at the start (default {phase.initial_users})")
    load.add_argument("--spawn-rate", default=None, help=f"users added per minute (default {phase.spawn_rate:g})")
    load.add_argument("--max-users", default=None, help="cap on users (default: no cap)")
    load.add_argument(
        "--max-invocations",
        default=None,
        help=f"stop at this many invocations per minute (default {stop.max_invocations_per_minute:g})",
    )
    load.add_argument(
        "--latency-ms", default=None, help=f"stop above this latency percentile (default {stop.latency_threshold_ms:g})"
    )
    load.add_argument(
        "--percentile", default=None, help=f"percentile for --latency-ms, in (0, 100] (default {stop.latency_percentile:g})"
    )
    load.add_argument(
        "--window",
        default=None,
        help=f"rolling window for the stopping conditions (default {stop.window_s:g} s, or --duration when shorter)",
    )
    load.set_defaults(func=_load)
    return parser


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: bad input gives one message on stderr and exit status 2 (see :func:`model_build.user_errors.run_cli`)."""
    return run_cli(_main, argv, prog=PROG)


if __name__ == "__main__":
    sys.exit(main())
