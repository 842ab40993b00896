"""Nothing lost, at the seed's scale: 10,000 async requests, malformed ones mixed in, Triton killed once.

Seed 002 runs 10,000 requests through an async endpoint. This runs them through the local data plane
(``python -m rehearsal.data_plane``, its own process, as the kept demo runs it) against moto, with
plain boto3 as the client:

1. bert-tiny (built by model_build) on an async endpoint: S3 output and failure paths, success and
   error topics, both delivering to one SQS queue; ``MaxConcurrentInvocationsPerInstance`` 2 (the
   seed's value) x ``--instances`` (5, the seed's MaxCapacity) invocations at a time; the local data
   plane runs one Triton per variant whatever the instance count, so the instances only set how
   many invocations run at once;
2. ``--clients`` threads call ``invoke_endpoint_async`` ``--requests`` times, each with its own
   ``InferenceId``; every ``--malformed-every``-th input is not JSON (it must end in the failure path);
3. once ``--kill-after`` of the requests have ended, the variant's ``tritonserver`` gets SIGKILL;
4. the notifications are drained from the queue (``rehearsal.async_client.NotificationQueue``, the
   client code the demo and the tests use), then the output and failure prefixes are listed.

It prints the throughput (requests ended per second, first call to last notification), the drain
time (last call accepted to last notification), and the counts, keyed by ``InferenceId``: outputs,
failures, notifications, lost (no notification or no object), duplicated (a second notification or
both objects), misrouted (a good input that failed or a malformed one that succeeded). A notification
is one SNS message (its ``MessageId``); the same message received again is SQS's at-least-once
delivery, counted apart. Nothing lost means lost = duplicated = misrouted = 0. Asserts nothing
(benchmarks are not tests); exit status 0 either way. Every flag is checked before anything is
built or started.

    .venv/bin/python bench/bench_async.py [--requests 10000] [--malformed-every 20] [--kill-after 0.5]
        [--clients 8] [--max-concurrency 2] [--instances 5] [--drain-timeout 3600]
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import boto3
import psutil
from botocore.config import Config

from model_build.examples import get_example
from model_build.pipeline import build
from model_build.user_errors import FlagProblems, UsageErrorParser, run_cli
from rehearsal.api_endpoints import create_triton_endpoint
from rehearsal.async_client import NotificationQueue
from rehearsal.cli_args import Stopped, stop_on_signals
from rehearsal.moto_server import MotoServer
from rehearsal.reference import kserve_request, tokenized_inputs

PROG = "bench/bench_async.py"
REPO_ROOT = Path(__file__).resolve().parents[1]
ENDPOINT = "bench-async"
BUCKET = "bench-async-io"
MODELS = "bench-models"


def _parser() -> argparse.ArgumentParser:
    ap = UsageErrorParser(prog=PROG, description=__doc__.split("\n\n", 1)[0])
    ap.add_argument("--requests", default="10000", help="async requests to send, 1-1000000 (default 10000, the seed's)")
    ap.add_argument(
        "--malformed-every", default="20", help="every Nth input is malformed, N >= 2 (default 20: 5 %%)"
    )
    ap.add_argument(
        "--kill-after", default="0.5", help="SIGKILL Triton once this share of requests ended, 0-1 exclusive (default 0.5)"
    )
    ap.add_argument("--clients", default="8", help="client threads calling invoke_endpoint_async, 1-64 (default 8)")
    ap.add_argument(
        "--max-concurrency", default="2", help="MaxConcurrentInvocationsPerInstance, 1-1000 (default 2, the seed's)"
    )
    ap.add_argument(
        "--instances", default="5", help="the variant's InitialInstanceCount, 1-100 (default 5, the seed's MaxCapacity)"
    )
    ap.add_argument("--drain-timeout", default="3600", help="seconds to wait for every notification (default 3600)")
    return ap


def check_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Parse and check every flag before anything is built or started.

    Raises:
        model_build.user_errors.UserError: Every bad flag, named with what was given and what is allowed.
    """
    args = _parser().parse_args(argv)
    checks = FlagProblems(PROG)
    parsed = argparse.Namespace(
        requests=checks.whole_number("--requests", args.requests, high=1_000_000),
        malformed_every=checks.whole_number("--malformed-every", args.malformed_every, low=2),
        kill_after=checks.number("--kill-after", args.kill_after, low=0, high=1, low_open=True),
        clients=checks.whole_number("--clients", args.clients, high=64),
        max_concurrency=checks.whole_number("--max-concurrency", args.max_concurrency, high=1000),
        instances=checks.whole_number("--instances", args.instances, high=100),
        drain_timeout=checks.number("--drain-timeout", args.drain_timeout, low=0, low_open=True),
    )
    if parsed.kill_after == 1:
        checks.add("--kill-after", args.kill_after, "must be below 1: Triton is killed while requests remain")
    checks.raise_if_any()
    return parsed


def main(argv: Sequence[str] | None = None) -> int:
    """Check every flag, then run; SIGINT, SIGTERM and SIGHUP stop every server it started."""
    args = check_args(argv)
    try:
        with stop_on_signals():
            return _run(args)
    except Stopped as stopped:
        print(f"stopped by {stopped}", file=sys.stderr)
        return stopped.exit_status


def _local(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as answer:
        return json.loads(answer.read())


def _s3_names(s3: Any, prefix: str) -> collections.Counter[str]:
    names: collections.Counter[str] = collections.Counter()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
        for item in page.get("Contents", []):
            names[item["Key"].rsplit("/", 1)[1].removesuffix("-error.out").removesuffix(".out")] += 1
    return names


def _run(args: argparse.Namespace) -> int:
    spec = get_example("bert-tiny")
    built = build(spec)
    n = args.requests
    ids = [f"req-{i:06d}" for i in range(n)]
    malformed = {ids[i] for i in range(args.malformed_every - 1, n, args.malformed_every)}
    print(
        f"{n} async requests to bert-tiny ({len(malformed)} malformed), {args.clients} client threads, "
        f"MaxConcurrentInvocationsPerInstance {args.max_concurrency} x {args.instances} instances "
        f"(one local Triton serves them all), Triton SIGKILLed after {args.kill_after:.0%} ended; "
        f"{psutil.cpu_count()} CPUs ({platform.processor() or platform.machine()})",
        flush=True,
    )
    with MotoServer() as moto, tempfile.TemporaryDirectory(prefix="bench-async-") as work:
        kw = moto.boto3_kwargs()
        pool_config = Config(max_pool_connections=max(16, args.clients * 2), retries={"max_attempts": 3})
        s3 = boto3.client("s3", **kw, config=pool_config)
        sns, sqs, sm = (boto3.client(s, **kw, config=pool_config) for s in ("sns", "sqs", "sagemaker"))
        s3.create_bucket(Bucket=MODELS)
        s3.upload_file(str(built.archive_path), MODELS, "bert-tiny/model.tar.gz")
        s3.create_bucket(Bucket=BUCKET)
        topics = [sns.create_topic(Name=f"bench-{kind}")["TopicArn"] for kind in ("success", "error")]
        queue = NotificationQueue.create(sqs, sns, "bench-notifications", topics)
        create_triton_endpoint(
            sm,
            ENDPOINT,
            model_data_url=f"s3://{MODELS}/bert-tiny/model.tar.gz",
            triton_model_name=spec.name,
            instance_count=args.instances,
            async_inference_config={
                "OutputConfig": {
                    "S3OutputPath": f"s3://{BUCKET}/output",
                    "S3FailurePath": f"s3://{BUCKET}/failure",
                    "NotificationConfig": {"SuccessTopic": topics[0], "ErrorTopic": topics[1]},
                },
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": args.max_concurrency},
            },
        )
        # Inputs are shared by many requests (each request still reads its input from S3 itself).
        s3.put_object(Bucket=BUCKET, Key="input/good.json", Body=kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=1)))
        s3.put_object(Bucket=BUCKET, Key="input/malformed.json", Body=b"{this is not json")

        plane = subprocess.Popen(
            [sys.executable, "-m", "rehearsal.data_plane", moto.endpoint_url, "--work-dir", str(Path(work) / "plane")],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=open(Path(work) / "plane.log", "w"),  # noqa: SIM115 - closed with the folder
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            assert plane.stdout is not None
            line = plane.stdout.readline()
            if not line:
                raise RuntimeError(f"the data plane exited with {plane.wait()}; log {work}/plane.log")
            plane_url = json.loads(line)["endpoint_url"]
            return _load(args, ids, malformed, plane_url, plane, moto, s3, queue, work)
        finally:
            plane.send_signal(signal.SIGTERM)
            try:
                plane.wait(60)
            except subprocess.TimeoutExpired:
                plane.kill()
                plane.wait()


def _load(
    args: argparse.Namespace,
    ids: list[str],
    malformed: set[str],
    plane_url: str,
    plane: subprocess.Popen[str],
    moto: MotoServer,
    s3: Any,
    queue: NotificationQueue,
    work: str,
) -> int:
    n = len(ids)
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=plane_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(max_pool_connections=args.clients * 2, retries={"max_attempts": 1}),
    )
    # queue.received: InferenceId -> its notifications, one per distinct SNS MessageId. Two for one request
    # are a duplicate the data plane published; the same SNS message received twice is SQS's at-least-once
    # delivery (a consumer dedupes by MessageId), counted apart in queue.redelivered.
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            queue.poll()

    def send(inference_id: str) -> str | None:
        try:
            return str(
                runtime.invoke_endpoint_async(
                    EndpointName=ENDPOINT,
                    InputLocation=bad if inference_id in malformed else good,
                    ContentType="application/json",
                    InferenceId=inference_id,
                )["InferenceId"]
            )
        except Exception as exc:  # counted as refused: it never entered the queue
            print(f"  {inference_id} refused: {exc}", flush=True)
            return None

    good = f"s3://{BUCKET}/input/good.json"
    bad = f"s3://{BUCKET}/input/malformed.json"
    drainers = [threading.Thread(target=drain, daemon=True)]  # one: moto's SQS hands a message to two concurrent receivers
    for thread in drainers:
        thread.start()
    killed: dict[str, Any] = {}

    def killer() -> None:
        while not done.is_set():
            ended = n - len(queue.missing(ids))
            if ended >= args.kill_after * n:
                backends = _local(f"{plane_url}/local/backends")
                plane_queue = next(
                    q for q in _local(f"{plane_url}/local/async-queues")["queues"] if q["endpoint"] == ENDPOINT
                )
                pid = backends[0]["triton_pid"]
                if pid:
                    os.kill(pid, signal.SIGKILL)
                    killed.update(at=time.monotonic(), ended=ended, pid=pid, backlog=plane_queue["ApproximateBacklogSize"])
                    print(f"  SIGKILL Triton (pid {pid}) with {ended} ended and a backlog of {killed['backlog']}", flush=True)
                    return
            time.sleep(0.05)

    kill_thread = threading.Thread(target=killer, daemon=True)
    cpu_before = _cpu(plane, moto)
    started = time.monotonic()
    kill_thread.start()
    with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
        accepted = [i for i in pool.map(send, ids) if i is not None]
    accepted_at = time.monotonic()
    print(f"  {len(accepted)} accepted in {accepted_at - started:.1f} s ({len(accepted) / (accepted_at - started):.0f}/s)", flush=True)
    deadline = accepted_at + args.drain_timeout
    while time.monotonic() < deadline and queue.missing(accepted):
        time.sleep(0.5)
    time.sleep(3)  # anything still arriving (a duplicate would) is counted too
    done.set()
    for thread in drainers:
        thread.join(10)
    cpu_after = _cpu(plane, moto)
    received = {i: list(notes) for i, notes in queue.received.items()}  # the drainer has stopped
    finished = max((note.received_at for notes in received.values() for note in notes), default=started)
    outputs, failures = _s3_names(s3, "output/"), _s3_names(s3, "failure/")
    stats = _local(f"{plane_url}/local/async-queues")
    backends = _local(f"{plane_url}/local/backends")

    # SNS MessageId -> invocationStatus, per request
    published = {i: {note.message_id: note.body["invocationStatus"] for note in received.get(i, [])} for i in accepted}
    lost = [i for i in accepted if not published[i] or (i not in outputs and i not in failures)]
    duplicated = [
        i for i in accepted if len(published[i]) > 1 or outputs[i] > 1 or failures[i] > 1 or (i in outputs and i in failures)
    ]
    misrouted = [
        i
        for i in accepted
        if (i in malformed and (i in outputs or "Completed" in published[i].values()))
        or (i not in malformed and (i in failures or "Failed" in published[i].values()))
    ]
    statuses = collections.Counter(s for i in accepted for s in published[i].values())
    print(f"throughput: {len(accepted) / (finished - started):.1f} requests ended/s ({finished - started:.1f} s first call to last notification)")
    print(f"drain time: {finished - accepted_at:.1f} s (last call accepted to last notification)")
    if killed:
        print(
            f"kill: Triton SIGKILLed at {killed['at'] - started:.1f} s with {killed['ended']} ended and "
            f"{killed['backlog']} queued or running; restarts {backends[0]['restarts']}"
        )
    else:
        print("kill: Triton was never killed (the run ended before --kill-after was reached)")
    print(
        f"counts: requests {n}, accepted {len(accepted)}, outputs {sum(outputs.values())}, failures {sum(failures.values())}, "
        f"notifications {sum(len(v) for v in published.values())} ({statuses['Completed']} Completed, {statuses['Failed']} Failed; "
        f"{queue.redelivered} more received again by SQS's at-least-once delivery), malformed sent {len(malformed)}"
    )
    print(f"lost {len(lost)}, duplicated {len(duplicated)}, misrouted {len(misrouted)}" + (f"; e.g. {(lost + duplicated + misrouted)[:5]}" if lost or duplicated or misrouted else ""))
    plane_queue = next(q for q in stats["queues"] if q["endpoint"] == ENDPOINT)
    print(
        f"data plane counters: {json.dumps(plane_queue['variants']['AllTraffic'])}; second ends refused "
        f"{stats['second_ends_refused']}; SNS publishes retried {stats['publish_retries']}"
    )
    warnings = [line.strip() for line in (Path(work) / "plane.log").read_text().splitlines() if "WARNING" in line]
    print(f"data plane warnings: {len(warnings)}" + "".join(f"\n  {w[:300]}" for w in warnings[:8]))
    spent = {k: cpu_after[k] - cpu_before[k] for k in cpu_before}
    print("CPU seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in spent.items()) + f" (wall {finished - started:.0f} s)")
    print("NOTHING LOST" if not (lost or duplicated or misrouted) and killed else "CHECK THE COUNTS ABOVE")
    return 0


def _cpu(plane: subprocess.Popen[str], moto: MotoServer) -> dict[str, float]:
    """CPU seconds so far of the data plane, its Triton servers (live ones), moto, and this process."""

    def total(proc: psutil.Process) -> float:
        try:
            t = proc.cpu_times()
            return float(t.user + t.system + t.children_user + t.children_system)
        except psutil.Error:
            return 0.0

    me = psutil.Process()
    moto_procs = [p for p in me.children() if "moto.server" in " ".join(p.cmdline())]
    plane_proc = psutil.Process(plane.pid)
    tritons = [p for p in plane_proc.children(recursive=True)]
    plane_own = plane_proc.cpu_times()
    return {
        "data plane": float(plane_own.user + plane_own.system),
        # Live servers, plus what the data plane reaped (the killed one).
        "Triton": sum(total(p) for p in tritons) + float(plane_own.children_user + plane_own.children_system),
        "moto": sum(total(p) for p in moto_procs),
        "client": float(me.cpu_times().user + me.cpu_times().system),
    }


if __name__ == "__main__":
    raise SystemExit(run_cli(main, prog=PROG))
