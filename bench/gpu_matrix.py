"""Seed 000's tuning matrix on a GPU: BERT-base, torch fp16 in Triton's python backend.

Runs ``base``, ``db``, ``ig``, ``ig-db`` and the sweep of :func:`tuning.matrix.full_configurations`
through the same path as ``python -m tuning matrix`` (TritonOptions -> the production
``config.pbtxt`` from ``model_build.triton_config`` -> ``make_local_repository(executor="torch",
precision="fp16")`` -> the real ``tritonserver``), driven at high concurrency by several client
processes with binary payloads. For every configuration it prints req/s, p50/p99, Triton's mean
batch, GPU utilization, client CPU, and achieved sequences/s as a share of the FLOP bound; then
the recommended configuration's throughput divided by base's, all measured in this one run.

FLOP bound: ``peak dense fp16 FLOP/s / FLOPs per sequence``. FLOPs per sequence come from
``bench/model_ceiling.py``'s ``bert_flops_per_sequence`` (2 FLOPs per multiply-add; per layer the
Q/K/V/output projections ``8*s*h^2``, the FFN ``4*s*h*i`` and attention ``4*s^2*h``; embeddings,
norms, softmax and the head are < 1 % and left out): 22.4 GFLOP for BERT-base at seq 128 — about
2 x parameters x tokens plus the attention terms. The peak is NVIDIA's datasheet dense fp16/bf16
tensor-core figure for the detected GPU (H100 SXM / H200: 989.4 TFLOP/s), printed with the result;
``--peak-tflops`` overrides it.

The model is BERT-base from ``transformers.BertConfig`` with seeded random weights, exported on
the GPU in fp16 with ``torch.export`` (dynamic batch axis; ``--export torchscript`` traces instead).
The ``*-compiled`` configurations ``torch.compile`` that program inside each model instance at load
time. The GPU machine has no network: ``--wheel`` unpacks Triton from a carried ``nvidia_pytriton``
wheel for this interpreter, and ``tritonclient`` / ``python-rapidjson`` (for the config protobufs)
come as carried wheels installed with ``pip --target`` onto ``PYTHONPATH``.

Usage (GPU machine, repository root)::

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/py/*.whl
    PYTHONPATH=/tmp/site python3 bench/gpu_matrix.py OUT_DIR \
        --wheel .whl/nvidia_pytriton-0.7.0-py3-none-manylinux_2_35_x86_64.whl \
        [--configs base,db,ig,ig-db,ig-db-compiled] [--concurrency 64,256,512] [--duration 6]
        [--warmup 2] [--processes 8] [--encoding binary] [--latency-ms 500] [--max-batch-size 128]

Writes OUT_DIR/report.md (with a FLOP-bound section), the PNG charts, results.json, profile.json
and gpu_summary.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent


def _setup_paths() -> None:
    for path in (str(ROOT), str(BENCH)):
        if path not in sys.path:
            sys.path.insert(0, path)
    # Spawned client processes re-import the project from PYTHONPATH.
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])


def _gpu_name() -> str:
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return ""
    out = subprocess.run([smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, check=False)
    return out.stdout.strip().splitlines()[0] if out.stdout.strip() else ""


def _peak_tflops(gpu: str, override: float | None) -> tuple[float | None, str]:
    from model_ceiling import DENSE_FP16_PEAK_TFLOPS

    if override:
        return override, "--peak-tflops"
    for key, value in DENSE_FP16_PEAK_TFLOPS.items():
        if key in gpu:
            return value, f"datasheet dense fp16 for {key}"
    return None, "unknown GPU"


def _model_file(args: argparse.Namespace, spec: Any, work: Path) -> tuple[Path, tuple[Any, ...], tuple[Any, ...]]:
    """Write the model the torch executor serves: a torch.export program (compilable) or TorchScript."""
    from model_build.export import write_exported_program, write_torchscript

    if args.export == "pt2":
        path = work / "bert-base.pt2"
        inputs, outputs = write_exported_program(spec, path, device="cuda", half=True)
    else:
        path = work / "bert-base.pt"
        inputs, outputs = write_torchscript(spec, path, device="cuda", half=True)
    return path, inputs, outputs


def main() -> int:
    """Run the GPU matrix and print its summary."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--wheel", default=None, help="nvidia_pytriton 0.7.0 wheel to unpack into .triton for this Python")
    ap.add_argument("--configs", default=None, help="comma-separated configuration names (default: all)")
    ap.add_argument("--export", choices=("pt2", "torchscript"), default="pt2",
                    help="serve a torch.export program (default; needed by the compiled configurations) or TorchScript")
    ap.add_argument("--compile-mode", default="default", help="torch.compile mode of the *-compiled configurations")
    ap.add_argument("--compile-buckets", default="",
                    help="pad batches of the *-compiled configurations to these sizes and compile each statically "
                         "(e.g. 32,64,128); default: one dynamic-batch compile")
    ap.add_argument("--concurrency", default="64,256,512")
    ap.add_argument("--request-batch", type=int, default=1, help="sequences per request (default 1)")
    ap.add_argument("--sagemaker-threads", type=int, default=None, help="tritonserver --sagemaker-thread-count")
    ap.add_argument("--duration", type=float, default=6.0)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--processes", type=int, default=8)
    ap.add_argument("--encoding", choices=("binary", "json"), default="binary")
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--max-batch-size", type=int, default=128)
    ap.add_argument("--peak-tflops", type=float, default=None, help="override the datasheet dense fp16 peak")
    ap.add_argument("--instance-type", default=None, help="default: one with the measured GPU (per-GPU pricing)")
    # Defaults: tuning.recommend.Criteria's (seed 000's 500 ms and 30,000/min, the profile's safety factor).
    ap.add_argument("--latency-ms", type=float, default=None)
    ap.add_argument("--target-per-minute", type=float, default=None)
    ap.add_argument("--safety-factor", type=float, default=None)
    args = ap.parse_args()
    _setup_paths()
    started = time.monotonic()

    from model_ceiling import bert_flops_per_sequence

    from model_build.sources import TransformersConfig
    from model_build.spec import ModelSpec, TritonOptions
    from triton_runtime import server as triton_mod
    from tuning.matrix import (
        Configuration,
        MatrixPlan,
        config_only_preparer,
        full_configurations,
        run_matrix,
        sweep_configuration,
    )
    from tuning.recommend import Criteria

    if args.wheel:
        installation = triton_mod.install(ROOT / ".triton", wheel=Path(args.wheel), python_executable=sys.executable)
        print(f"triton: {installation.binary} (stub for Python {installation.stub_python})", flush=True)
    out = Path(args.out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)

    spec = ModelSpec(
        name="bert-base",
        source=TransformersConfig(
            architecture="bert-sequence-classification",
            config={
                "vocab_size": 30522,
                "hidden_size": args.hidden,
                "num_hidden_layers": args.layers,
                "num_attention_heads": args.heads,
                "intermediate_size": 4 * args.hidden,
                "max_position_embeddings": 512,
                "num_labels": 2,
            },
            seed=0,
            sequence_length=args.seq,
        ),
        triton=TritonOptions(max_batch_size=args.max_batch_size),
    )
    model_file, inputs, outputs = _model_file(args, spec, out / "work")
    model_note = f"transformers BertForSequenceClassification (seeded random weights), fp16, {args.export}"
    print(f"model: {model_note}; {model_file.stat().st_size / 1e6:.0f} MB", flush=True)

    configurations = full_configurations(spec.triton)
    if args.export == "pt2":
        # The same knobs, with the model torch.compile-d inside the server (one dynamic-batch compile
        # per instance, done at load time).
        for instances in (1, 2, 3, 4):
            base = sweep_configuration(spec.triton, instances=instances)
            buckets = tuple(int(b) for b in args.compile_buckets.split(",") if b)
            configurations.append(
                Configuration(
                    f"{base.name}-compiled", base.triton, compile_mode=args.compile_mode, batch_buckets=buckets
                )
            )
    if args.configs:
        wanted = args.configs.split(",")
        known = {c.name: c for c in configurations}
        missing = [w for w in wanted if w not in known]
        if missing:
            raise SystemExit(f"unknown configuration(s) {missing}; known: {', '.join(known)}")
        configurations = [known[w] for w in wanted]
    plan = MatrixPlan(
        spec=spec,
        configurations=tuple(configurations),
        concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
        duration_s=args.duration,
        warmup_s=args.warmup,
        processes=args.processes,
        encoding=args.encoding,
        executor="torch",
        instance_kind="KIND_GPU",
        precision="fp16",
        torchscript={spec.name: str(model_file)},
        instance_type=args.instance_type,
        criteria=Criteria(
            **{
                field: value
                for field, value in (
                    ("target_per_minute", args.target_per_minute),
                    ("latency_target_ms", args.latency_ms),
                    ("safety_factor", args.safety_factor),
                )
                if value is not None
            }
        ),
        sequence_length=args.seq,
        request_batch_size=args.request_batch,
        server_args=(f"--sagemaker-thread-count={args.sagemaker_threads}",) if args.sagemaker_threads else (),
    )
    result = run_matrix(plan, out, prepare=config_only_preparer(inputs, outputs), log=lambda m: print(m, flush=True))

    gpu = _gpu_name()
    peak, peak_source = _peak_tflops(gpu, args.peak_tflops)
    flops = bert_flops_per_sequence(args.layers, args.hidden, args.seq)
    bound = peak * 1e12 / flops if peak else None
    rows = []
    for a in result.assessments:
        point = a.point or a.peak
        if point is None:
            continue
        lat = point.latency
        seq_s = point.inferences_per_s
        rows.append(
            {
                "configuration": a.candidate.name,
                "meets_target": a.meets,
                "concurrency": point.concurrency,
                "req_per_s": lat.throughput_rps,
                "p50_ms": lat.p50_ms,
                "p99_ms": lat.p99_ms,
                "errors": lat.errors,
                "triton_mean_batch": point.triton.mean_batch_size if point.triton else None,
                "gpu_util_percent": point.gpu_util_percent,
                "client_cpu_percent_of_machine": point.client_cpu.percent_of_machine if point.client_cpu else None,
                "sequences_per_s": seq_s,
                "of_flop_bound": seq_s / bound if bound else None,
            }
        )
    base = next((r for r in rows if r["configuration"] == "base"), None)
    chosen = result.chosen.candidate.name if result.chosen else None
    chosen_row = next((r for r in rows if r["configuration"] == chosen), None)
    ratio = chosen_row["req_per_s"] / base["req_per_s"] if base and chosen_row and base["req_per_s"] else None

    def f(v: Any, spec_: str) -> str:
        return "n/a" if v is None else format(v, spec_)

    lines = [
        f"GPU: {gpu or 'none found'}; peak {f(peak, '.1f')} TFLOP/s ({peak_source}); "
        f"{flops / 1e9:.2f} GFLOP/sequence (L={args.layers} H={args.hidden} seq={args.seq}); "
        f"FLOP bound {f(bound, ',.0f')} sequences/s",
        f"model: {model_note}; {args.encoding} payloads, {args.request_batch} sequence(s) per request; "
        f"{args.processes} client processes",
        "",
        "| configuration | concurrency | req/s | sequences/s | p50 ms | p99 ms | errors | Triton mean batch | GPU util % | client CPU % | of FLOP bound |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['configuration']}{'' if r['meets_target'] else ' (misses target)'} | {r['concurrency']} "
            f"| {r['req_per_s']:,.0f} | {r['sequences_per_s']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} "
            f"| {f(r['triton_mean_batch'], '.1f')} | {f(r['gpu_util_percent'], '.0f')} "
            f"| {f(r['client_cpu_percent_of_machine'], '.0f')} | {f(r['of_flop_bound'], '.1%')} |"
        )
    ratio_text = "n/a (base not measured)" if ratio is None else f"{ratio:.2f}x"
    lines += ["", f"recommended: {chosen}; its throughput / base's = {ratio_text} (same run)"]
    text = "\n".join(lines)
    print(text, flush=True)
    with (out / "report.md").open("a") as report:
        report.write("\n## GPU: throughput against the FLOP bound\n\n" + text + "\n")
    summary = {
        "gpu": gpu,
        "peak_tflops": peak,
        "peak_source": peak_source,
        "gflop_per_sequence": flops / 1e9,
        "flop_bound_sequences_per_s": bound,
        "model": model_note,
        "rows": rows,
        "recommended": chosen,
        "recommended_over_base": ratio,
        "profile": result.profile.to_dict() if result.profile else None,
        "wall_s": time.monotonic() - started,
        "plan": {
            "configurations": [c.name for c in plan.configurations],
            "concurrencies": list(plan.concurrencies),
            "duration_s": plan.duration_s,
            "warmup_s": plan.warmup_s,
            "processes": plan.processes,
            "encoding": plan.encoding,
            "request_batch_size": plan.request_batch_size,
            "server_args": list(plan.server_args),
        },
    }
    (out / "gpu_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
