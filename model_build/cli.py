"""Command line: ``python -m model_build build ...`` and ``python -m model_build list-examples``.

Exit codes: 0 success, 1 a build stage failed (export, verification, TensorRT), 2 bad input
(unknown example, invalid options, missing file) with the validation message and no traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from model_build.backends import BUILDABLE
from model_build.examples import EXAMPLE_DESCRIPTIONS, EXAMPLES, get_example
from model_build.sources import OnnxFile
from model_build.spec import INSTANCE_KINDS, DynamicBatching, ModelSpec


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m model_build",
        description="Build a verified Triton model repository archive (model.tar.gz) from PyTorch or ONNX.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list-examples", help="List the named example models.")
    b = sub.add_parser(
        "build",
        help="Build (or reuse from the cache) one model archive.",
        description="Build a model archive and write DIR/<name>.tar.gz and DIR/<name>.manifest.json. "
        "Options given override the example's defaults.",
    )
    src = b.add_mutually_exclusive_group(required=True)
    src.add_argument("--example", metavar="NAME", help=f"named example: {', '.join(EXAMPLES)}")
    src.add_argument(
        "--onnx", metavar="FILE", type=Path, help="an existing ONNX model (batch dimension first)"
    )
    b.add_argument("--name", help="Triton model name (required with --onnx; renames an example)")
    b.add_argument(
        "--output-dir",
        metavar="DIR",
        type=Path,
        required=True,
        help="where to write the archive and manifest",
    )
    b.add_argument(
        "--max-batch-size", type=int, metavar="N", help="Triton max_batch_size (default: example's, or 8)"
    )
    b.add_argument(
        "--preferred-batch-size",
        type=int,
        action="append",
        metavar="N",
        help="enable dynamic batching with this preferred batch size (repeatable)",
    )
    b.add_argument(
        "--max-queue-delay-us",
        type=int,
        metavar="US",
        help="enable dynamic batching with this max queue delay in microseconds",
    )
    b.add_argument("--instance-count", type=int, metavar="N", help="model instances per device (default 1)")
    b.add_argument("--instance-kind", choices=INSTANCE_KINDS, help="instance group kind (default KIND_GPU)")
    b.add_argument(
        "--warmup-batch-size",
        type=int,
        action="append",
        metavar="N",
        help="add a model_warmup entry for this batch size (repeatable)",
    )
    b.add_argument("--opset", type=int, help="ONNX opset of the export (default 17)")
    b.add_argument(
        "--backend", choices=BUILDABLE, help="onnxruntime (model.onnx, default) or tensorrt (model.plan)"
    )
    b.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="build cache folder (default: $MODEL_BUILD_CACHE_DIR or ./.model-build-cache)",
    )
    b.add_argument(
        "--no-progress", action="store_true", help="do not show per-stage progress and the summary"
    )
    return parser


def _spec_from_args(args: argparse.Namespace) -> ModelSpec:
    if args.example is not None:
        spec = get_example(args.example)
    else:
        if not args.name:
            raise ValueError("--name is required with --onnx (the Triton model name)")
        spec = ModelSpec(name=args.name, source=OnnxFile(args.onnx))
    t = spec.triton
    triton_changes: dict[str, object] = {}
    if args.max_batch_size is not None:
        triton_changes["max_batch_size"] = args.max_batch_size
    if args.preferred_batch_size is not None or args.max_queue_delay_us is not None:
        db = t.dynamic_batching or DynamicBatching()
        triton_changes["dynamic_batching"] = DynamicBatching(
            preferred_batch_sizes=tuple(args.preferred_batch_size or db.preferred_batch_sizes),
            max_queue_delay_microseconds=(
                args.max_queue_delay_us
                if args.max_queue_delay_us is not None
                else db.max_queue_delay_microseconds
            ),
        )
    if args.instance_count is not None:
        triton_changes["instance_count"] = args.instance_count
    if args.instance_kind is not None:
        triton_changes["instance_kind"] = args.instance_kind
    if args.warmup_batch_size is not None:
        triton_changes["warmup_batch_sizes"] = tuple(args.warmup_batch_size)
    changes: dict[str, object] = {"triton": dataclasses.replace(t, **triton_changes)}  # type: ignore[arg-type]
    if args.name is not None:
        changes["name"] = args.name
    if args.opset is not None:
        changes["opset"] = args.opset
    if args.backend is not None:
        changes["backend"] = args.backend
    return dataclasses.replace(spec, **changes)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "list-examples":
        for name in EXAMPLES:
            print(f"{name:12s} {EXAMPLE_DESCRIPTIONS.get(name, '')}")
        return 0
    try:
        spec = _spec_from_args(args)
        spec.validate()
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from model_build.pipeline import build

    try:
        result = build(spec, cache_dir=args.cache_dir, progress=not args.no_progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:  # ExportError, VerificationError, TensorRT errors
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    archive = args.output_dir / f"{spec.name}.tar.gz"
    manifest = args.output_dir / f"{spec.name}.manifest.json"
    shutil.copyfile(result.archive_path, archive)
    shutil.copyfile(result.manifest_path, manifest)
    print(f"{archive} ({'cached' if result.cached else 'built'}, inputs hash {result.inputs_hash[:12]})")
    print(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main())
