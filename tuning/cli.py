"""Command line: ``python -m tuning matrix`` and ``python -m tuning load``.

``matrix --smoke`` is the quick CPU matrix ``make bench-smoke`` runs (tiny BERT, a few
seconds per configuration); ``matrix --full`` runs the full sweep, on the GPU with the torch
executor in fp16 when one is present. Both print the results folder as their last line.

``load`` drives any target (a Triton SageMaker URL, a KServe URL, or an endpoint through
boto3, e.g. the local data plane) with a fixed-concurrency sweep or Inference
Recommender's phased traffic, and prints JSON.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import sys
from collections.abc import Sequence
from pathlib import Path

DEFAULT_RESULTS = Path("bench/results")


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x.strip())


def _criteria_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target-per-minute", type=float, default=30_000, help="load to size for (seed: 30000)")
    parser.add_argument("--latency-ms", type=float, default=500.0, help="latency target (seed: 500)")
    parser.add_argument("--percentile", type=float, default=99.0, choices=(50.0, 90.0, 99.0))
    parser.add_argument("--safety-factor", type=float, default=0.7, help="share of measured capacity to plan on")


def _matrix(args: argparse.Namespace) -> int:
    from model_build.examples import get_example
    from model_build.export import write_torchscript
    from model_build.local_serving import gpu_present
    from tuning.matrix import (
        MatrixPlan,
        config_only_preparer,
        full_configurations,
        run_matrix,
        smoke_configurations,
    )
    from tuning.recommend import Criteria

    gpu = gpu_present() and not args.cpu
    model = args.model or ("bert-base" if args.full and gpu else "bert-tiny")
    spec = get_example(model)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else DEFAULT_RESULTS / stamp
    out.mkdir(parents=True, exist_ok=True)
    criteria = Criteria(
        target_per_minute=args.target_per_minute,
        latency_target_ms=args.latency_ms,
        latency_percentile=args.percentile,
        safety_factor=args.safety_factor,
    )
    concurrencies: tuple[int, ...]
    if args.full:
        configurations = full_configurations(spec.triton)
        concurrencies = (32, 128, 256, 512) if gpu else (1, 2, 4, 8, 16, 32)
        duration, warmup, processes = 8.0, 2.0, (8 if gpu else 1)
    else:
        configurations = smoke_configurations(spec.triton)
        concurrencies, duration, warmup, processes = (1, 4, 16), 2.0, 0.5, 1
    if args.configs:
        wanted = set(args.configs.split(","))
        configurations = [c for c in configurations if c.name in wanted]
    plan = MatrixPlan(
        spec=spec,
        configurations=tuple(configurations),
        concurrencies=_ints(args.concurrency) if args.concurrency else concurrencies,
        duration_s=args.duration or duration,
        warmup_s=args.warmup if args.warmup is not None else warmup,
        processes=args.processes or processes,
        encoding=args.encoding,
        executor="torch" if gpu else "onnxruntime",
        instance_kind="KIND_GPU" if gpu else "KIND_CPU",
        precision="fp16" if gpu else None,
        instance_type=args.instance_type,
        criteria=criteria,
    )
    prepare = None
    if gpu:
        # The GPU run serves TorchScript in fp16: trace once, write configs only (no ONNX export).
        script = out / "work" / f"{spec.name}.pt"
        inputs, outputs = write_torchscript(spec, script, device="cuda", half=True)
        plan = dataclasses.replace(plan, torchscript={spec.name: str(script)})
        prepare = config_only_preparer(inputs, outputs)
    print(
        f"tuning matrix: {spec.name}, {len(plan.configurations)} configurations, concurrency {list(plan.concurrencies)}, "
        f"{plan.executor} on {'GPU' if gpu else 'CPU'}",
        flush=True,
    )
    result = run_matrix(plan, out, cache_dir=args.cache_dir, prepare=prepare, log=lambda m: print(m, flush=True))
    if result.profile is not None:
        print(f"recommended: {result.profile.configuration} ({result.profile.initial_instance_count} x {result.profile.instance_type})")
    else:
        print("recommended: none met the target")
    print(out.resolve())
    return 0


def _load(args: argparse.Namespace) -> int:
    from triton_runtime.kserve import Route, TensorSpec, encode, sample_inputs
    from tuning.loadgen import Phase, StoppingConditions, probe, run_fixed, run_phased
    from tuning.transports import Boto3Transport, HttpTransport, Transport

    specs = []
    for item in args.inputs.split(","):
        name, datatype, dims = item.split(":")
        specs.append(TensorSpec(name, datatype, tuple(int(d) for d in dims.split("x"))))
    route: Route = "kserve" if args.kserve_model else "sagemaker"
    payload = encode(
        sample_inputs(specs, args.batch_size),
        encoding=args.encoding,
        route=route,
        outputs=args.outputs.split(",") if args.outputs else (),
    )
    transport: Transport
    if args.endpoint_name:
        if args.encoding == "binary" and route == "kserve":
            raise SystemExit("boto3 cannot send the KServe binary header; use the sagemaker route")
        transport = Boto3Transport(args.endpoint_name, args.endpoint_url, args.region)
    elif args.kserve_model:
        transport = HttpTransport.kserve(args.url, args.kserve_model)
    else:
        transport = HttpTransport.sagemaker(args.url)
    probe(transport, payload)
    if args.phased:
        phased = run_phased(
            transport,
            payload,
            phase=Phase(args.initial_users, args.spawn_rate, args.duration),
            stopping=StoppingConditions(args.max_invocations, args.latency_ms, args.percentile, args.window),
            processes=args.processes,
            max_users=args.max_users,
        )
        print(json.dumps(phased.to_dict(), indent=2))
        return 0
    results = [
        run_fixed(
            transport,
            payload,
            concurrency=c,
            duration_s=args.duration,
            warmup_s=args.warmup,
            processes=args.processes,
            triton_http_url=args.stats_url,
            model=args.stats_model,
        ).to_dict()
        for c in _ints(args.concurrency)
    ]
    print(json.dumps(results, indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the ``python -m tuning`` argument parser."""
    parser = argparse.ArgumentParser(prog="python -m tuning", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    matrix = commands.add_parser("matrix", help="measure seed 000's configurations and recommend one")
    size = matrix.add_mutually_exclusive_group(required=True)
    size.add_argument("--smoke", action="store_true", help="quick CPU matrix (tiny BERT, < 5 minutes on 2 cores)")
    size.add_argument("--full", action="store_true", help="full sweep (GPU + torch fp16 when present)")
    matrix.add_argument("--model", default=None, help="model_build example (default: bert-tiny; bert-base for --full on GPU)")
    matrix.add_argument("--configs", default=None, help="comma-separated subset of configuration names")
    matrix.add_argument("--concurrency", default=None, help="comma-separated levels, e.g. 1,4,16")
    matrix.add_argument("--duration", type=float, default=None, help="measured seconds per level")
    matrix.add_argument("--warmup", type=float, default=None, help="discarded seconds per level")
    matrix.add_argument("--processes", type=int, default=None, help="client worker processes")
    matrix.add_argument("--encoding", choices=("binary", "json"), default="binary")
    matrix.add_argument("--instance-type", default="ml.g4dn.xlarge", help="instance type one server stands for")
    matrix.add_argument("--cpu", action="store_true", help="ignore a GPU (onnxruntime on CPU)")
    matrix.add_argument("--out", default=None, help="results folder (default: bench/results/<UTC timestamp>)")
    matrix.add_argument("--cache-dir", default=None, help="model_build cache (default: .model-build-cache)")
    _criteria_args(matrix)
    matrix.set_defaults(func=_matrix)

    load = commands.add_parser("load", help="load-test one target (fixed concurrency or phased)")
    target = load.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="Triton SageMaker base URL (posts to /invocations) or KServe base URL")
    target.add_argument("--endpoint-name", help="SageMaker endpoint, through boto3 invoke_endpoint")
    load.add_argument("--endpoint-url", default=None, help="sagemaker-runtime URL override (the local data plane)")
    load.add_argument("--region", default="us-east-1")
    load.add_argument("--kserve-model", default=None, help="post to <url>/v2/models/<model>/infer instead")
    load.add_argument("--inputs", default="input_ids:INT64:128,attention_mask:INT64:128", help="name:DATATYPE:dims (dims like 3x224x224)")
    load.add_argument("--outputs", default="logits")
    load.add_argument("--batch-size", type=int, default=1)
    load.add_argument("--encoding", choices=("binary", "json"), default="binary")
    load.add_argument("--concurrency", default="1,4,16")
    load.add_argument("--duration", type=float, default=10.0, help="window per level, or the phase duration")
    load.add_argument("--warmup", type=float, default=2.0)
    load.add_argument("--processes", type=int, default=1)
    load.add_argument("--stats-url", default=None, help="Triton KServe URL for /v2/models/<m>/stats")
    load.add_argument("--stats-model", default=None)
    load.add_argument("--phased", action="store_true", help="Inference Recommender PHASES traffic")
    load.add_argument("--initial-users", type=int, default=2)
    load.add_argument("--spawn-rate", type=float, default=2.0, help="users added per minute")
    load.add_argument("--max-users", type=int, default=None)
    load.add_argument("--max-invocations", type=float, default=30_000, help="stop at this many invocations per minute")
    load.add_argument("--latency-ms", type=float, default=500.0, help="stop above this latency percentile")
    load.add_argument("--percentile", type=float, default=95.0)
    load.add_argument("--window", type=float, default=10.0, help="rolling window for the stopping conditions")
    load.set_defaults(func=_load)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
