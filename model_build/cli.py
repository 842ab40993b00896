"""Command line: ``python -m model_build build|check|list-examples``.

``build`` takes one model: a spec file (``--spec model.toml``, see :mod:`model_build.spec_file`),
a named example (``--example bert-tiny``) or an ONNX file (``--onnx model.onnx --name m``);
the other flags override the file's or the example's values. ``check`` validates the same
input without building anything. Every flag, path, the output and cache folders and the model
file itself are checked before any stage runs, and every problem is reported at once.

Exit codes: 0 success; 1 a build stage failed (the factory raised, export, verification,
TensorRT); 2 bad input, as one line on stderr without a traceback (``--debug`` or
``TRITON_IAC_DEBUG=1`` shows it). ``build`` writes ``DIR/<name>.tar.gz`` and
``DIR/<name>.manifest.json`` together or not at all.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from model_build.backends import BUILDABLE
from model_build.cache import cache_dir_problem
from model_build.dtypes import ONNX_TO_TRITON
from model_build.examples import EXAMPLE_DESCRIPTIONS, EXAMPLES
from model_build.sources import OnnxFile
from model_build.spec import INSTANCE_KINDS, NAME_PATTERN, DynamicBatching, ModelSpec, spec_problems
from model_build.spec_file import SpecFileError, format_problems, load_spec_file
from model_build.user_errors import (
    DEBUG_ENV,
    UsageErrorParser,
    UserError,
    debug_enabled,
    did_you_mean,
    path_argument,
    run_cli,
    writable_folder_problem,
)

PROG = "python -m model_build"

# The spec key each override flag sets (the flag is its dest with dashes: max_batch_size ->
# --max-batch-size), so that a problem about that key names the flag instead.
_FLAG_SPEC_KEYS: dict[str, str] = {
    "name": "name",
    "max_batch_size": "triton.max_batch_size",
    "preferred_batch_size": "triton.dynamic_batching.preferred_batch_sizes",
    "max_queue_delay_us": "triton.dynamic_batching.max_queue_delay_microseconds",
    "instance_count": "triton.instance_count",
    "instance_kind": "triton.instance_kind",
    "warmup_batch_size": "triton.warmup_batch_sizes",
    "opset": "opset",
    "backend": "backend",
}


def _parser() -> argparse.ArgumentParser:
    debug = UsageErrorParser(add_help=False)
    debug.add_argument(
        "--debug", action="store_true", help=f"show the traceback of an error (like {DEBUG_ENV}=1)"
    )
    model = UsageErrorParser(add_help=False)
    src = model.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--spec", metavar="FILE", type=path_argument, help="a model spec file (model.toml; see docs/your-model.md)"
    )
    src.add_argument("--example", metavar="NAME", help=f"named example: {', '.join(EXAMPLES)}")
    src.add_argument(
        "--onnx", metavar="FILE", type=path_argument, help="an existing ONNX model (batch dimension first)"
    )
    model.add_argument("--name", help="Triton model name (required with --onnx; renames a spec or example)")
    model.add_argument(
        "--max-batch-size", type=int, metavar="N", help="Triton max_batch_size (default: the spec's, or 8)"
    )
    model.add_argument(
        "--preferred-batch-size",
        type=int,
        action="append",
        metavar="N",
        help="enable dynamic batching with this preferred batch size (repeatable)",
    )
    model.add_argument(
        "--max-queue-delay-us",
        type=int,
        metavar="US",
        help="enable dynamic batching with this max queue delay in microseconds",
    )
    model.add_argument("--instance-count", type=int, metavar="N", help="model instances per device (default 1)")
    model.add_argument("--instance-kind", choices=INSTANCE_KINDS, help="instance group kind (default KIND_GPU)")
    model.add_argument(
        "--warmup-batch-size",
        type=int,
        action="append",
        metavar="N",
        help="add a model_warmup entry for this batch size (repeatable)",
    )
    model.add_argument("--opset", type=int, help="ONNX opset of the export (default 17)")
    model.add_argument(
        "--backend", choices=BUILDABLE, help="onnxruntime (model.onnx, default), tensorrt (model.plan), pytorch (TorchScript model.pt) or neuron (Inferentia; needs [neuron_target] in a spec file and the Neuron SDK)"
    )
    model.add_argument(
        "--cache-dir",
        type=path_argument,
        metavar="DIR",
        help="build cache folder (default: $MODEL_BUILD_CACHE_DIR or ./.model-build-cache)",
    )

    parser = UsageErrorParser(
        prog=PROG,
        description="Build a verified Triton model repository archive (model.tar.gz) from PyTorch or ONNX.",
        parents=[debug],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list-examples", help="List the named example models.", parents=[debug])
    b = sub.add_parser(
        "build",
        parents=[model, debug],
        help="Build (or reuse from the cache) one model archive.",
        description="Build a model archive and write DIR/<name>.tar.gz and DIR/<name>.manifest.json "
        "(both or neither). Options given override the spec file's or the example's values.",
    )
    b.add_argument(
        "--output-dir",
        metavar="DIR",
        type=path_argument,
        required=True,
        help="where to write the archive and manifest (created if missing)",
    )
    b.add_argument(
        "--no-progress", action="store_true", help="do not show per-stage progress and the summary"
    )
    c = sub.add_parser(
        "check",
        parents=[model, debug],
        help="Validate a model (spec, model file, folders) without building anything.",
        description="Check everything build would check, print what would be built and whether the "
        "cache already holds it, and exit 0 (valid) or 2 (the problems). Imports neither torch nor "
        "the factory's module.",
    )
    c.add_argument("--output-dir", metavar="DIR", type=path_argument, help="also check this output folder")
    # Named in "the following arguments are required: {list-examples,build,check}".
    sub.metavar = "{" + ",".join(sub.choices) + "}"
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code (bad input: 2 and one line on stderr)."""
    args = list(sys.argv[1:] if argv is None else argv)
    with _debug_env("--debug" in args):
        return run_cli(_run, args, prog=PROG)


@contextlib.contextmanager
def _debug_env(enabled: bool) -> Iterator[None]:
    if not enabled or debug_enabled():
        yield
        return
    os.environ[DEBUG_ENV] = "1"
    try:
        yield
    finally:
        os.environ.pop(DEBUG_ENV, None)


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "list-examples":
        for name in EXAMPLES:
            print(f"{name:12s} {EXAMPLE_DESCRIPTIONS.get(name, '')}")
        return 0
    spec = _checked_spec(args)
    if args.command == "check":
        return _check(spec, args)
    return _build(spec, args)


def _checked_spec(args: argparse.Namespace) -> ModelSpec:
    """Return the spec the flags describe, after checking every flag, path and folder.

    Raises:
        UserError: Every problem at once, each naming its flag, spec-file key or file.
    """
    flag_problems: list[str] = []
    file_problems: list[str] = []
    spec: ModelSpec | None = None
    labels: dict[str, str] = {}
    if args.spec is not None:
        try:
            spec = load_spec_file(args.spec, validate=False)
        except SpecFileError as exc:
            flag_problems.append(f"--spec {exc}")
    elif args.example is not None:
        from model_build.examples import get_example

        if args.example not in EXAMPLES:
            flag_problems.append(
                f"--example {args.example!r} is not an example{did_you_mean(args.example, list(EXAMPLES))}; "
                f"choose one of {', '.join(EXAMPLES)} (`{PROG} list-examples`), or give --spec model.toml"
            )
        else:
            spec = get_example(args.example)
    else:
        labels["source.path"] = "--onnx"
        if not args.name:
            stem = "".join(c if c.isalnum() or c in "_-" else "_" for c in args.onnx.stem).lstrip("_-") or "model"
            flag_problems.append(
                f"--name is required with --onnx (the Triton model name, also the endpoint's model); "
                f"add e.g. --name {stem if NAME_PATTERN.match(stem) else 'my_model'}"
            )
        spec = ModelSpec(name=args.name or "model", source=OnnxFile(args.onnx))
    if spec is not None:
        spec = _with_overrides(spec, args)
        for dest, spec_key in _FLAG_SPEC_KEYS.items():
            if getattr(args, dest) is not None:
                labels[spec_key] = "--" + dest.replace("_", "-")
        for problem in spec_problems(spec):
            key = problem.split(" ", 1)[0]
            if key in labels:
                flag_problems.append(labels[key] + problem[len(key) :])
            else:
                file_problems.append(problem)
    output_dir = getattr(args, "output_dir", None)
    if output_dir is not None:
        flag_problems.extend(_output_problems(output_dir, spec))
    cache_problem = cache_dir_problem(args.cache_dir, flag="--cache-dir")
    if cache_problem:
        flag_problems.append(cache_problem)
    problems = list(flag_problems)
    if file_problems:
        where = f"--spec {args.spec}" if args.spec is not None else f"--example {args.example}"
        problems.append(format_problems(where, file_problems))
    if problems:
        raise UserError("; ".join(problems))
    assert spec is not None
    return spec


def _with_overrides(spec: ModelSpec, args: argparse.Namespace) -> ModelSpec:
    t = spec.triton
    triton_changes: dict[str, Any] = {}
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
    changes: dict[str, Any] = {"triton": dataclasses.replace(t, **triton_changes)}
    if args.name is not None:
        changes["name"] = args.name
    if args.opset is not None:
        changes["opset"] = args.opset
    if args.backend is not None:
        changes["backend"] = args.backend
    return dataclasses.replace(spec, **changes)


def _output_problems(output_dir: Path, spec: ModelSpec | None) -> list[str]:
    problem = writable_folder_problem(output_dir, "--output-dir")
    if problem:
        return [problem]
    if spec is None or not NAME_PATTERN.match(spec.name):
        return []
    return [
        f"--output-dir {str(output_dir)!r} holds a folder named {target.name!r} where the build writes a "
        "file; remove it or choose another --output-dir"
        for target in _outputs(output_dir, spec.name)
        if target.is_dir()
    ]


def _outputs(output_dir: Path, name: str) -> tuple[Path, Path]:
    return output_dir / f"{name}.tar.gz", output_dir / f"{name}.manifest.json"


def _check(spec: ModelSpec, args: argparse.Namespace) -> int:
    from model_build import cache

    root = cache.resolve_cache_dir(args.cache_dir)
    inputs_hash = spec.inputs_hash()
    hit = cache.lookup(root, inputs_hash)
    source = spec.source.describe()
    print(f"model        {spec.name} (backend {spec.backend}, max_batch_size {spec.triton.max_batch_size})")
    print(f"source       {source.get('kind')} {source.get('path') or source.get('target') or source.get('architecture') or ''}")
    if isinstance(spec.source, OnnxFile):
        from model_build.model_files import sniff

        summary = sniff(Path(spec.source.path)).onnx
        if summary is not None:
            for kind, tensors in (("input", summary.inputs), ("output", summary.outputs)):
                for t in tensors:
                    dims = ", ".join("batch" if i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(t.dims))
                    dtype = ONNX_TO_TRITON.get(t.elem_type or 0, "?")
                    print(f"{kind:12s} {t.name} [{dims}] {dtype}")
    declared = getattr(spec.source, "inputs", ())
    if not isinstance(spec.source, OnnxFile) and declared:
        for t in declared:
            print(f"{'input':12s} {t.name} [batch, {', '.join('?' if d < 0 else str(d) for d in t.dims)}] {t.dtype}")
        for name in getattr(spec.source, "output_names", ()) or ("output",):
            print(f"{'output':12s} {name}")
    print(f"inputs hash  {inputs_hash}")
    print(f"cache        {'hit: ' + str(hit) if hit is not None else 'not built yet: ' + str(root)}")
    if args.output_dir is not None:
        print(f"output       {args.output_dir} (writable)")
    print("ok: valid, nothing was built")
    return 0


def _build(spec: ModelSpec, args: argparse.Namespace) -> int:
    from model_build.export import ExportError
    from model_build.pipeline import build
    from model_build.sources import SourceLoadError
    from model_build.tensorrt import TensorRTBuildError, TensorRTUnavailableError
    from model_build.triton_config import ConfigMismatchError
    from model_build.verify import VerificationError

    failures = (
        SourceLoadError,
        ExportError,
        VerificationError,
        TensorRTUnavailableError,
        TensorRTBuildError,
        ConfigMismatchError,
        OSError,
    )
    if spec.backend == "neuron" and spec.neuron_target is not None and getattr(args, "spec", None) is not None:
        from model_build.neuron import precheck_neuron_compile

        # Before the cache is touched, and with this spec file in the command to run where the SDK is.
        precheck_neuron_compile(spec.neuron_target, name=spec.name, spec_file=str(args.spec))
    try:
        result = build(spec, cache_dir=args.cache_dir, progress=not args.no_progress)
        archive, manifest = _publish(result.archive_path, result.manifest_path, args.output_dir, spec.name)
    except failures as exc:
        if debug_enabled():
            raise
        hint = ""
        if isinstance(exc, VerificationError):
            hint = (
                "; if the difference is acceptable, raise the spec's tolerance (atol/rtol, or "
                "tolerance.per_output.<output>)"
            )
        print(f"{PROG} build: error: {spec.name}: {type(exc).__name__}: {exc}{hint}", file=sys.stderr, flush=True)
        return 1
    print(f"{archive} ({'cached' if result.cached else 'built'}, inputs hash {result.inputs_hash[:12]})")
    print(manifest)
    return 0


def _publish(archive: Path, manifest: Path, output_dir: Path, name: str) -> tuple[Path, Path]:
    """Copy the archive and manifest into ``output_dir``: both land, or neither (old files stay).

    Both are staged in a temp folder inside ``output_dir`` (same file system), the files they
    replace are moved aside, then each is renamed into place; any failure restores what was
    there and removes folders this call created.
    """
    created = output_dir
    while not created.parent.exists() and created.parent != created:
        created = created.parent
    made = not created.exists()
    output_dir.mkdir(parents=True, exist_ok=True)
    targets = _outputs(output_dir, name)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=output_dir))
    placed: list[Path] = []
    moved_aside: list[tuple[Path, Path]] = []
    try:
        for source, target in zip((archive, manifest), targets, strict=True):
            shutil.copyfile(source, staging / target.name)
        for target in targets:
            if target.exists():
                aside = staging / f"old-{target.name}"
                os.replace(target, aside)
                moved_aside.append((aside, target))
        for target in targets:
            os.replace(staging / target.name, target)
            placed.append(target)
    except BaseException:
        for target in placed:
            target.unlink(missing_ok=True)
        for aside, target in moved_aside:
            os.replace(aside, target)
        shutil.rmtree(staging, ignore_errors=True)
        if made:
            shutil.rmtree(created, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return targets


if __name__ == "__main__":
    sys.exit(main())
