"""Command line: ``python -m tuning matrix`` and ``python -m tuning load``.

``matrix --smoke`` is the quick CPU matrix ``make bench-smoke`` runs (tiny BERT, a few
seconds per configuration); ``matrix --full`` runs the full sweep, on the GPU with the torch
executor in fp16 when one is present. Both print the results folder as their last line.
The measured hardware goes into the profile; ``--instance-type`` (default: an instance type
with the measured accelerator) must carry the same accelerator unless ``--translate`` says
how to carry the figures over.

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

from model_build.user_errors import (
    FlagProblems,
    UsageErrorParser,
    UserError,
    did_you_mean,
    parse_whole_number,
    run_cli,
)

PROG = "python -m tuning"
DEFAULT_RESULTS = Path("bench/results")

# SageMaker's CreateEndpoint EndpointName pattern (botocore service model).
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# InvokeEndpoint's request body limit (SERVICE-FACTS: botocore BodyBlob, 6 291 456 bytes).
INVOKE_ENDPOINT_MAX_BODY = 6_291_456
# A request the load generator holds in memory for every worker: refuse what cannot be sensible.
_MAX_DIRECT_BODY = 1 << 30


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


def _check_cache_dir(checks: _Checks, text: str | None) -> Path | None:
    """Return the model_build cache the matrix builds into: the flag's folder, else the default (both checked)."""
    from model_build.cache import cache_dir_problem

    if text is not None and not text.strip():
        checks.add("--cache-dir", text, "is empty; give a folder for the model_build cache, or leave the flag out")
        return None
    path = Path(text).expanduser() if text is not None else None
    problem = cache_dir_problem(path, flag="--cache-dir")
    if problem is not None:
        checks.note(problem)
    return path


def _check_matrix(args: argparse.Namespace) -> _MatrixRun:
    from model_build.examples import EXAMPLES, get_example
    from model_build.hardware import hosting_instance_types, near_instance_types, parse_instance_type
    from model_build.local_serving import gpu_present
    from model_build.profile import HardwareTranslation, ProfileError
    from tuning.matrix import MatrixPlan, full_configurations, plan_sizing, smoke_configurations
    from tuning.pricing import load_prices
    from tuning.recommend import Criteria

    checks = _Checks("matrix")
    gpu = gpu_present() and not args.cpu
    model = args.model or ("bert-base" if args.full and gpu else "bert-tiny")
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
    percentile = checks.number("--percentile", args.percentile, low=0, high=100)
    if percentile is not None and percentile not in (50, 90, 99):
        checks.add("--percentile", args.percentile, "must be 50, 90 or 99 (the percentiles a profile records)")
        percentile = None
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
    instance_type = args.instance_type
    try:
        known_types: tuple[str, ...] | None = hosting_instance_types()
    except ImportError:  # no botocore (a bare GPU machine): only the form can be checked
        known_types = None
    if instance_type is not None and known_types is None and parse_instance_type(instance_type) is None:
        checks.add("--instance-type", instance_type, "must look like ml.<family>.<size>, e.g. ml.g5.xlarge")
        instance_type = None
    elif instance_type is not None and known_types is not None and instance_type not in known_types:
        near = near_instance_types(instance_type)
        checks.add(
            "--instance-type",
            instance_type,
            "is not an instance type SageMaker hosting accepts"
            + (f" (did you mean {', '.join(near)}?)" if near else " (see botocore's ProductionVariantInstanceType list)"),
        )
        instance_type = None
    translation = None
    if args.translate is not None:
        try:
            translation = HardwareTranslation.parse(args.translate, where="--translate")
        except ProfileError as error:
            checks.note(str(error))
    try:
        prices = load_prices(args.prices)
    except UserError as error:
        checks.note(f"--prices: {error}")
        prices = None
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = checks.results_folder("--out", args.out if args.out is not None else str(DEFAULT_RESULTS / stamp))
    cache_dir = _check_cache_dir(checks, args.cache_dir)
    checks.raise_if_any()
    assert spec is not None and out is not None and prices is not None
    full = bool(args.full)
    defaults = (
        ((32, 128, 256, 512) if gpu else (1, 2, 4, 8, 16, 32), 8.0, 2.0, 8 if gpu else 1)
        if full
        else ((1, 4, 16), 2.0, 0.5, 1)
    )
    plan = MatrixPlan(
        spec=spec,
        configurations=tuple(configurations),
        concurrencies=concurrencies or defaults[0],
        duration_s=duration if duration is not None else defaults[1],
        warmup_s=warmup if warmup is not None else defaults[2],
        processes=processes or defaults[3],
        encoding=args.encoding,
        executor="torch" if gpu else "onnxruntime",
        instance_kind="KIND_GPU" if gpu else "KIND_CPU",
        precision="fp16" if gpu else None,
        instance_type=instance_type,
        criteria=Criteria(
            target_per_minute=target if target is not None else 30_000,
            latency_target_ms=latency if latency is not None else 500.0,
            latency_percentile=percentile if percentile is not None else 99.0,
            safety_factor=safety if safety is not None else 0.7,
        ),
        translation=translation,
    )
    try:
        plan, _ = plan_sizing(plan, prices)
    except UserError as error:
        flag = "--instance-type" if args.instance_type else "--instance-type (default " + str(plan.instance_type) + ")"
        checks.note(f"{flag}: {error}")
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
    if not _REGION.match(region):
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
    region = args.region or "us-east-1"
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
        limit = INVOKE_ENDPOINT_MAX_BODY if args.endpoint_name is not None else _MAX_DIRECT_BODY
        if parsed[1] > limit:
            what = "invoke_endpoint's 6 MB request limit" if args.endpoint_name is not None else "1 GiB per request"
            checks.add("--inputs", args.inputs, f"make a request of {parsed[1]:,} bytes at --batch-size {batch_size}, over {what}; use smaller dims or batch")
    duration = checks.number("--duration", args.duration, low=0, high=86_400, low_open=True)
    processes = checks.whole_number("--processes", args.processes, low=1, high=256)
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
    if max_users is not None and max_users < (initial or 2):
        checks.add("--max-users", args.max_users, f"must be >= --initial-users ({initial or 2})")
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
    from tuning.loadgen import Phase, StoppingConditions, probe, run_fixed, run_phased
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
            phase=Phase(initial or 2, spawn if spawn is not None else 2.0, duration),
            stopping=StoppingConditions(
                max_invocations if max_invocations is not None else 30_000,
                latency if latency is not None else 500.0,
                percentile if percentile is not None else 95.0,
                window if window is not None else min(10.0, duration),
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
            warmup_s=warmup if warmup is not None else 2.0,
            processes=processes,
            triton_http_url=stats_url,
            model=args.stats_model,
        ).to_dict()
        for c in (concurrencies or (1, 4, 16))
    ]
    print(json.dumps(results, indent=2))
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """Build the ``python -m tuning`` argument parser (values are checked by the commands, all at once)."""
    parser = UsageErrorParser(prog=PROG, description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, parser_class=UsageErrorParser)

    matrix = commands.add_parser("matrix", help="measure seed 000's configurations and recommend one")
    size = matrix.add_mutually_exclusive_group(required=True)
    size.add_argument("--smoke", action="store_true", help="quick CPU matrix (tiny BERT, < 5 minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="full sweep (GPU + torch fp16 when present)")
    matrix.add_argument("--model", default=None, help="model_build example (default: bert-tiny; bert-base for --full on GPU)")
    matrix.add_argument("--configs", default=None, help="comma-separated subset of configuration names")
    matrix.add_argument("--concurrency", default=None, help="comma-separated rising levels, e.g. 1,4,16")
    matrix.add_argument("--duration", default=None, help="measured seconds per level, > 0")
    matrix.add_argument("--warmup", default=None, help="discarded seconds per level, >= 0")
    matrix.add_argument("--processes", default=None, help="client worker processes, >= 1")
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
    matrix.add_argument("--out", default=None, help="new results folder (default: bench/results/<UTC timestamp>)")
    matrix.add_argument("--cache-dir", default=None, help="model_build cache (default: .model-build-cache)")
    matrix.add_argument("--prices", default=None, help="price table (default: tuning/prices.json)")
    matrix.add_argument("--target-per-minute", default=None, help="load to size for, > 0 (seed: 30000)")
    matrix.add_argument("--latency-ms", default=None, help="latency target, > 0 (seed: 500)")
    matrix.add_argument("--percentile", default=None, help="percentile the target applies to: 50, 90 or 99 (default 99)")
    matrix.add_argument("--safety-factor", default=None, help="share of measured capacity to plan on, in (0, 1] (default 0.7)")
    matrix.set_defaults(func=_matrix)

    load = commands.add_parser("load", help="load-test one target (fixed concurrency or phased)")
    target = load.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="Triton SageMaker base URL (posts to /invocations) or KServe base URL")
    target.add_argument("--endpoint-name", help="SageMaker endpoint, through boto3 invoke_endpoint")
    load.add_argument("--endpoint-url", default=None, help="sagemaker-runtime URL override (the local data plane)")
    load.add_argument("--region", default=None, help="AWS region for --endpoint-name (default us-east-1)")
    load.add_argument("--kserve-model", default=None, help="post to <url>/v2/models/<model>/infer instead")
    load.add_argument("--inputs", default="input_ids:INT64:128,attention_mask:INT64:128", help="name:DATATYPE:dims (dims like 3x224x224)")
    load.add_argument("--outputs", default="logits")
    load.add_argument("--batch-size", default="1")
    load.add_argument("--encoding", choices=("binary", "json"), default="binary")
    load.add_argument("--concurrency", default=None, help="fixed-concurrency levels (default 1,4,16)")
    load.add_argument("--duration", default="10", help="window per level, or the phase duration (seconds)")
    load.add_argument("--warmup", default=None, help="discarded seconds per level (default 2)")
    load.add_argument("--processes", default="1")
    load.add_argument("--stats-url", default=None, help="Triton KServe URL for /v2/models/<m>/stats")
    load.add_argument("--stats-model", default=None)
    load.add_argument("--phased", action="store_true", help="Inference Recommender PHASES traffic")
    load.add_argument("--initial-users", default=None, help="users at the start (default 2)")
    load.add_argument("--spawn-rate", default=None, help="users added per minute (default 2)")
    load.add_argument("--max-users", default=None)
    load.add_argument("--max-invocations", default=None, help="stop at this many invocations per minute (default 30000)")
    load.add_argument("--latency-ms", default=None, help="stop above this latency percentile (default 500)")
    load.add_argument("--percentile", default=None, help="percentile for --latency-ms, in (0, 100] (default 95)")
    load.add_argument("--window", default=None, help="rolling window for the stopping conditions (default 10 s)")
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
