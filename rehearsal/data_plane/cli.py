"""``python -m rehearsal.data_plane MOTO_URL``: serve SageMaker runtime for a running emulator.

Prints one JSON line (``{"endpoint_url": ...}``) once it accepts connections, then serves until
SIGINT, SIGTERM or SIGHUP, and stops every Triton server it started before exiting.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import urllib.parse
from collections.abc import Sequence

from model_build.user_errors import UserError, path_argument, run_cli, writable_folder_problem
from rehearsal.cli_args import (
    Parser,
    Stopped,
    check_port_free,
    count,
    loopback_host,
    port,
    seconds,
    stop_on_signals,
)
from rehearsal.data_plane.async_inference import DEFAULT_SCALE_IN_COOLDOWN_S
from rehearsal.data_plane.multi_model import DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES
from rehearsal.data_plane.routing import DEFAULT_REFRESH_INTERVAL_S
from rehearsal.data_plane.serverless import DEFAULT_SERVERLESS_IDLE_S, DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S

PROG = "python -m rehearsal.data_plane"


def _parser() -> Parser:
    parser = Parser(prog=PROG, description="Serve SageMaker runtime's InvokeEndpoint and InvokeEndpointAsync for a running emulator's endpoints.")
    parser.add_argument("control_plane_endpoint_url", metavar="MOTO_URL", help="the emulator (http://localhost:PORT)")
    parser.add_argument("--port", type=port, default=0, help="port to listen on (default: a free one)")
    parser.add_argument("--host", type=loopback_host, default="127.0.0.1", help="loopback address (default: 127.0.0.1)")
    parser.add_argument(
        "--refresh-interval",
        type=seconds(3600),
        default=DEFAULT_REFRESH_INTERVAL_S,
        help=f"seconds between re-reads of the endpoints (default: {DEFAULT_REFRESH_INTERVAL_S:g})",
    )
    parser.add_argument(
        "--scale-in-cooldown",
        type=seconds(86400),
        default=DEFAULT_SCALE_IN_COOLDOWN_S,
        help="idle seconds before an async variant with MinCapacity 0 stops its Triton "
        f"(default: {DEFAULT_SCALE_IN_COOLDOWN_S:g}, the seed's cooldown)",
    )
    parser.add_argument(
        "--multi-model-memory-budget",
        type=count(1024 * 1024),
        default=DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES // 1024**2,
        metavar="MIB",
        help="MiB of model files each multi-model variant keeps loaded; the least recently used models are "
        f"unloaded first (default: {DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES // 1024**2})",
    )
    parser.add_argument(
        "--serverless-idle",
        type=seconds(86400),
        default=DEFAULT_SERVERLESS_IDLE_S,
        help="idle seconds before a serverless variant without provisioned concurrency stops its Triton; the next "
        f"request is a cold start (default: {DEFAULT_SERVERLESS_IDLE_S:g}, a local choice: SageMaker does not say)",
    )
    parser.add_argument(
        "--serverless-invocation-timeout",
        type=seconds(3600),
        default=DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S,
        help="seconds a serverless variant's container has to answer "
        f"(default: {DEFAULT_SERVERLESS_INVOCATION_TIMEOUT_S:g}, SageMaker's)",
    )
    parser.add_argument(
        "--work-dir", type=path_argument, default=None, help="where artifacts go (default: a temporary folder)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Check every flag, then serve until a stop signal; returns the exit status."""
    from rehearsal.data_plane.service import LocalDataPlane, check_control_plane_reachable

    args = _parser().parse_args(argv)
    url = urllib.parse.urlparse(args.control_plane_endpoint_url)
    if url.scheme not in {"http", "https"} or not url.hostname:
        raise UserError(
            f"MOTO_URL {args.control_plane_endpoint_url!r} is not the emulator's URL; give it with its scheme, "
            "like http://localhost:5000 (`python -m rehearsal.demo --keep` prints it)"
        )
    problem = writable_folder_problem(args.work_dir, "--work-dir") if args.work_dir is not None else None
    if problem:
        raise UserError(problem)
    check_port_free("--port", args.port, args.host)
    check_control_plane_reachable(args.control_plane_endpoint_url, label="MOTO_URL")
    plane = LocalDataPlane(
        args.control_plane_endpoint_url,
        host=args.host,
        port=args.port,
        work_dir=args.work_dir,
        refresh_interval_s=args.refresh_interval,
        scale_in_cooldown_s=args.scale_in_cooldown,
        multi_model_memory_budget_bytes=args.multi_model_memory_budget * 1024**2,
        serverless_idle_s=args.serverless_idle,
        serverless_invocation_timeout_s=args.serverless_invocation_timeout,
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with stop_on_signals():
        try:
            with plane:
                print(json.dumps({"endpoint_url": plane.endpoint_url}), flush=True)
                while True:
                    signal.pause()
        except Stopped as stopped:
            print(f"{PROG}: {signal.Signals(stopped.signum).name}: stopped every server", file=sys.stderr, flush=True)
            return stopped.exit_status
    return 0


def cli(argv: Sequence[str] | None = None) -> int:
    """Run :func:`main` with bad input reported in one line (exit status 2)."""
    return run_cli(main, argv, prog=PROG)
