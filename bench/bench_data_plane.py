"""The local data plane against the Triton behind it, side by side in one run.

Same model (bert-tiny, built by model_build), same payload, same load generator
(``tuning.loadgen.run_fixed``), same Triton process: each measurement point runs the load once
straight at Triton's SageMaker port and once through the data plane (``python -m
rehearsal.data_plane``, in its own process, as the kept demo runs it), back to back, in alternating
order, ``--repeats`` times. Two transports:

* ``http``: aiohttp keep-alive POSTs (``tuning.transports.HttpTransport``) to ``<triton>/invocations``
  and to ``<plane>/endpoints/<name>/invocations``;
* ``boto3``: ``sagemaker-runtime`` ``invoke_endpoint`` (``tuning.transports.Boto3Transport``) through
  the data plane, and the same boto3 client sent straight to Triton (a botocore ``before-send`` hook
  rewrites the URL to ``/invocations``), so both sides pay boto3's own cost.

Per transport and concurrency it prints the throughput ratio (plane / direct) and the added p50
and p99 (plane - direct; medians over the repeats of each pair, with the spread), the CPU each
process spent per request (what limits the ratio on a small machine), and the share of the
machine's CPU other processes used meanwhile (noise the run could not avoid). Goal: ratio >= 0.90 and added
p50 <= 1 ms. It also times ``DescribeEndpoint`` against the emulator once: what every call paid when the
data plane read the endpoint per call, before it kept a routing table. Prints and writes JSON; asserts
nothing (benchmarks are not tests). Every flag is checked before anything is built or started.

    .venv/bin/python bench/bench_data_plane.py [--duration 3] [--warmup 1] [--repeats 5] [--concurrency 1 4 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psutil
import requests

from model_build.examples import get_example
from model_build.pipeline import build
from model_build.user_errors import FlagProblems, UsageErrorParser, run_cli, writable_folder_problem
from rehearsal.api_endpoints import create_triton_endpoint
from rehearsal.cli_args import Stopped, stop_on_signals
from rehearsal.moto_server import MotoServer
from tuning.loadgen import LoadResult, probe, run_fixed
from tuning.matrix import make_payload
from tuning.transports import Boto3Transport, HttpTransport

REPO_ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = "bench-bert"
BUCKET = "bench-models"
KEY = "bert-tiny/model.tar.gz"
GOAL_RATIO = 0.90
GOAL_ADDED_P50_MS = 1.0
DESCRIBE_CALLS = 200
"""DescribeEndpoint calls timed once per run (about a second against moto)."""


@dataclass(frozen=True)
class DirectBoto3Transport:
    """boto3's ``invoke_endpoint`` sent straight to a container's ``/invocations`` (no data plane).

    The client is an ordinary ``sagemaker-runtime`` client; a ``before-send`` hook swaps the URL
    (``/endpoints/<name>/invocations`` → ``<container>/invocations``) after signing, so the client
    side costs exactly what it costs through the data plane.
    """

    boto3: Boto3Transport
    container_url: str

    def open(self, concurrency: int) -> Any:
        client = self.boto3.open(concurrency)
        target = f"{self.container_url.rstrip('/')}/invocations"

        def rewrite(request: Any, **_: Any) -> None:
            request.url = target

        # tuning's boto3 client keeps its botocore client in `_client`.
        client._client.meta.events.register(  # type: ignore[attr-defined]
            "before-send.sagemaker-runtime.InvokeEndpoint", rewrite
        )
        return client

    def describe(self) -> str:
        return f"invoke_endpoint straight to {self.container_url}"


class CpuMeter:
    """CPU seconds spent by named processes between two reads.

    Args:
        pids: Name → (pid, whether its children count too). Triton counts its python backend stubs;
            the client and the data plane count themselves only (their children are other rows).
    """

    def __init__(self, pids: dict[str, tuple[int, bool]]) -> None:
        self.procs = {name: (psutil.Process(pid), tree) for name, (pid, tree) in pids.items()}

    def read(self) -> dict[str, float]:
        busy = psutil.cpu_times()
        out = {"machine": busy.user + busy.system + busy.nice + getattr(busy, "irq", 0.0) + getattr(busy, "softirq", 0.0)}
        for name, (proc, tree) in self.procs.items():
            total = 0.0
            for p in [proc, *(proc.children(recursive=True) if tree else [])]:
                try:
                    t = p.cpu_times()
                    total += t.user + t.system
                except psutil.NoSuchProcess:
                    pass
            out[name] = total
        return out


def measure(transport: Any, payload: Any, concurrency: int, args: argparse.Namespace, meter: CpuMeter) -> dict[str, Any]:
    before = meter.read()
    result: LoadResult = run_fixed(
        transport,
        payload,
        concurrency=concurrency,
        duration_s=args.duration,
        warmup_s=args.warmup,
        processes=args.processes,
        sample_gpu=False,
    )
    after = meter.read()
    lat = result.latency
    count = max(1, lat.count)
    # CPU over warm-up + window, per request completed in the window (an estimate: same rate).
    scale = args.duration / (args.duration + args.warmup)
    spent = {name: after[name] - before[name] for name in after}
    machine = spent.pop("machine")
    cpu_ms = {name: seconds * 1000.0 * scale / count for name, seconds in spent.items()}
    # CPU the rest of the machine used meanwhile (other users): noise this run could not avoid.
    others = max(0.0, machine - sum(spent.values())) / (args.duration + args.warmup) / (psutil.cpu_count() or 1)
    return {
        "others_cpu_share": others,
        "rps": lat.throughput_rps,
        "p50_ms": lat.p50_ms,
        "p99_ms": lat.p99_ms,
        "count": lat.count,
        "errors": lat.errors,
        "error_examples": result.error_examples[:3],
        "cpu_ms_per_request": cpu_ms,
    }


def measure_describe_endpoint(sagemaker: Any, meter: CpuMeter, calls: int = DESCRIBE_CALLS) -> dict[str, Any]:
    """Time ``DescribeEndpoint`` against the emulator: what every invocation paid before the routing table.

    The data plane used to ask the emulator for the endpoint on every call; it now reads it once per
    refresh pass. This is that per-call read, measured in the same run (latency and the emulator's CPU).
    """
    before = meter.read()
    latencies = []
    for _ in range(calls):
        started = time.perf_counter()
        sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        latencies.append((time.perf_counter() - started) * 1000.0)
    after = meter.read()
    return {
        "calls": calls,
        "p50_ms": statistics.median(latencies),
        "moto_cpu_ms_per_call": (after["moto"] - before["moto"]) * 1000.0 / calls,
        "client_cpu_ms_per_call": (after["client"] - before["client"]) * 1000.0 / calls,
    }


def start_data_plane(moto_url: str, refresh_interval: float) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehearsal.data_plane", moto_url, "--refresh-interval", str(refresh_interval)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"the data plane exited with {proc.wait()}")
    return proc, json.loads(line)["endpoint_url"]


def summarize(direct: list[dict[str, Any]], plane: list[dict[str, Any]]) -> dict[str, Any]:
    ratios = [p["rps"] / d["rps"] if d["rps"] else 0.0 for d, p in zip(direct, plane, strict=True)]
    added50 = [p["p50_ms"] - d["p50_ms"] for d, p in zip(direct, plane, strict=True)]
    added99 = [p["p99_ms"] - d["p99_ms"] for d, p in zip(direct, plane, strict=True)]

    def cpu(runs: list[dict[str, Any]]) -> dict[str, float]:
        names = runs[0]["cpu_ms_per_request"]
        return {n: statistics.median(r["cpu_ms_per_request"][n] for r in runs) for n in names}

    cpu_direct, cpu_plane = cpu(direct), cpu(plane)
    return {
        # What the throughput ratio would be if CPU were the only limit: the CPU all the processes spend
        # per call straight to Triton over the CPU they spend per call through the data plane.
        "cpu_bound_ratio": sum(cpu_direct.values()) / sum(cpu_plane.values()),
        "direct_rps": statistics.median(d["rps"] for d in direct),
        "plane_rps": statistics.median(p["rps"] for p in plane),
        "ratio": statistics.median(ratios),
        "ratio_range": [min(ratios), max(ratios)],
        "direct_p50_ms": statistics.median(d["p50_ms"] for d in direct),
        "added_p50_ms": statistics.median(added50),
        "added_p50_range": [min(added50), max(added50)],
        "added_p99_ms": statistics.median(added99),
        "added_p99_range": [min(added99), max(added99)],
        "errors": sum(r["errors"] for r in direct + plane),
        "others_cpu_share": statistics.median(r["others_cpu_share"] for r in direct + plane),
        "cpu_ms_per_request_direct": cpu_direct,
        "cpu_ms_per_request_plane": cpu_plane,
    }


PROG = "bench/bench_data_plane.py"


def _parser() -> UsageErrorParser:
    ap = UsageErrorParser(prog=PROG, description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--duration", default="3", help="measured seconds per run, > 0 (default 3)")
    ap.add_argument("--warmup", default="1", help="discarded seconds per run, >= 0 (default 1)")
    ap.add_argument("--repeats", default="5", help="runs per side and point, alternating, >= 1 (default 5)")
    ap.add_argument("--concurrency", nargs="+", default=["1", "4", "16"], help="clients per point (default 1 4 16)")
    ap.add_argument("--transports", nargs="+", choices=["http", "boto3"], default=["http", "boto3"])
    ap.add_argument("--encoding", choices=["json", "binary"], default="binary")
    ap.add_argument("--processes", default="1", help="load generator processes, >= 1 (default 1)")
    ap.add_argument(
        "--out",
        default=str(REPO_ROOT / "bench" / "results" / "data_plane.json"),
        help="the JSON report (default bench/results/data_plane.json)",
    )
    return ap


def check_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and check every flag before anything is built or started.

    Raises:
        model_build.user_errors.UserError: Every bad flag, named with what was given and what is allowed.
    """
    args = _parser().parse_args(argv)
    checks = FlagProblems(PROG)
    duration = checks.number("--duration", args.duration, low=0, low_open=True)
    warmup = checks.number("--warmup", args.warmup, low=0)
    repeats = checks.whole_number("--repeats", args.repeats)
    concurrency = [checks.whole_number("--concurrency", c) for c in args.concurrency]
    processes = checks.whole_number("--processes", args.processes)
    out = Path(args.out).expanduser()
    if not args.out.strip() or out.is_dir():
        checks.add("--out", args.out, "must be the path of the JSON report to write, e.g. bench/results/data_plane.json")
    elif problem := writable_folder_problem(out.parent, "the folder of --out"):
        checks.note(problem)
    checks.raise_if_any()
    return argparse.Namespace(
        duration=duration,
        warmup=warmup,
        repeats=repeats,
        concurrency=concurrency,
        transports=args.transports,
        encoding=args.encoding,
        processes=processes,
        out=out,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Check every flag, then run the benchmark; SIGINT, SIGTERM and SIGHUP stop every server it started."""
    args = check_args(argv)
    # SIGTERM and SIGHUP unwind like Ctrl-C, so moto, the data plane and Triton are stopped on any stop.
    try:
        with stop_on_signals():
            return _run(args)
    except Stopped as stopped:
        print(f"stopped by {stopped}", file=sys.stderr)
        return stopped.exit_status


def _run(args: argparse.Namespace) -> int:
    spec = get_example("bert-tiny")
    built = build(spec)
    payload = make_payload(built.manifest, args.encoding)
    print(
        f"bert-tiny, {args.encoding} payload of {len(payload.body)} bytes; {args.repeats} x {args.duration:g} s "
        f"(+{args.warmup:g} s warm-up) per side and point; {psutil.cpu_count()} CPUs ({platform.processor() or platform.machine()})",
        flush=True,
    )
    report: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}, "points": []}
    with MotoServer() as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(built.archive_path), BUCKET, KEY)
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        create_triton_endpoint(sagemaker, ENDPOINT, model_data_url=f"s3://{BUCKET}/{KEY}", triton_model_name=built.name)
        plane_proc, plane_url = start_data_plane(moto.endpoint_url, 1.0)
        try:
            boto = Boto3Transport(ENDPOINT, endpoint_url=plane_url, aws_access_key_id="testing", aws_secret_access_key="testing")
            probe(boto, payload)  # starts Triton behind the data plane
            backend = requests.get(f"{plane_url}/local/backends", timeout=10).json()[0]
            triton_url = backend["triton_url"]
            moto_pid = next(p.pid for p in psutil.Process().children() if "moto.server" in " ".join(p.cmdline()))
            meter = CpuMeter(
                {
                    "client": (os.getpid(), False),
                    "plane": (plane_proc.pid, False),
                    "triton": (backend["triton_pid"], True),
                    "moto": (moto_pid, False),
                }
            )
            report["describe_endpoint"] = measure_describe_endpoint(sagemaker, meter)
            d = report["describe_endpoint"]
            print(
                f"  DescribeEndpoint against the emulator (what each call paid before the routing table): "
                f"p50 {d['p50_ms']:.2f} ms, emulator CPU {d['moto_cpu_ms_per_call']:.2f} ms per call",
                flush=True,
            )
            sides: dict[str, tuple[Any, Any]] = {
                "http": (HttpTransport.sagemaker(triton_url), HttpTransport(f"{plane_url}/endpoints/{ENDPOINT}/invocations")),
                "boto3": (DirectBoto3Transport(boto, triton_url), boto),
            }
            for name in args.transports:
                direct_t, plane_t = sides[name]
                probe(direct_t, payload)
                for concurrency in args.concurrency:
                    direct: list[dict[str, Any]] = []
                    plane: list[dict[str, Any]] = []
                    for repeat in range(args.repeats):
                        order = [("direct", direct_t), ("plane", plane_t)]
                        if repeat % 2:
                            order.reverse()  # ABBA: drift on the machine hits both sides alike
                        for side, transport in order:
                            (direct if side == "direct" else plane).append(measure(transport, payload, concurrency, args, meter))
                    point = {"transport": name, "concurrency": concurrency, **summarize(direct, plane), "direct": direct, "plane": plane}
                    report["points"].append(point)
                    print_point(point)
        finally:
            plane_proc.terminate()
            plane_proc.wait(timeout=60)
    print_table(report["points"])
    d = report["describe_endpoint"]
    print(f"DescribeEndpoint (per call before the routing table): p50 {d['p50_ms']:.2f} ms, "
          f"emulator CPU {d['moto_cpu_ms_per_call']:.2f} ms")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print(f"\nwritten: {args.out}")
    return 0


def print_point(p: dict[str, Any]) -> None:
    cpu_d, cpu_p = p["cpu_ms_per_request_direct"], p["cpu_ms_per_request_plane"]
    print(
        f"  {p['transport']:>5} c={p['concurrency']:<3} direct {p['direct_rps']:7.1f}/s  plane {p['plane_rps']:7.1f}/s  "
        f"ratio {p['ratio']:.2f} [{p['ratio_range'][0]:.2f}-{p['ratio_range'][1]:.2f}]  "
        f"+p50 {p['added_p50_ms']:+.2f} ms  +p99 {p['added_p99_ms']:+.2f} ms  errors {p['errors']}  "
        f"others {p['others_cpu_share']:.0%}  "
        f"cpu ms/req direct: " + " ".join(f"{k} {v:.2f}" for k, v in cpu_d.items())
        + " | plane: " + " ".join(f"{k} {v:.2f}" for k, v in cpu_p.items()),
        flush=True,
    )


def print_table(points: list[dict[str, Any]]) -> None:
    print("\nLocal data plane vs direct Triton (medians over repeats; goal: ratio >= 0.90, added p50 <= 1 ms)")
    print("plane cpu: the data plane's CPU per call; cpu-bound: the ratio if CPU were the only limit (all")
    print("processes' CPU per call, direct over through the plane); others: machine CPU used by other processes")
    print(f"{'transport':>9} {'c':>3} {'direct/s':>9} {'plane/s':>9} {'ratio':>6} {'range':>11} {'direct p50':>10} "
          f"{'+p50 ms':>8} {'+p99 ms':>8} {'plane cpu':>9} {'cpu-bound':>9} {'others':>6} {'goal':>5}")
    for p in points:
        plane_cpu = p["cpu_ms_per_request_plane"]["plane"]
        ok = p["ratio"] >= GOAL_RATIO and p["added_p50_ms"] <= GOAL_ADDED_P50_MS
        print(
            f"{p['transport']:>9} {p['concurrency']:>3} {p['direct_rps']:9.1f} {p['plane_rps']:9.1f} {p['ratio']:6.2f} "
            f"{p['ratio_range'][0]:5.2f}-{p['ratio_range'][1]:<5.2f} {p['direct_p50_ms']:10.2f} "
            f"{p['added_p50_ms']:8.2f} {p['added_p99_ms']:8.2f} {plane_cpu:7.2f}ms {p['cpu_bound_ratio']:9.2f} "
            f"{p['others_cpu_share']:6.0%} "
            f"{'met' if ok else 'MISS':>5}"
        )


if __name__ == "__main__":
    raise SystemExit(run_cli(main, prog=PROG))
