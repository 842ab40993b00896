"""Chain the stages: load → export → verify → (TensorRT) → config → repository → package.

For ``backend="pytorch"`` the export is a TorchScript trace, verified against eager torch, and
there is no ONNX file. For ``backend="neuron"`` the stages are load → neuron (trace and compile
with torch-neuronx / torch-neuron at the spec's static shapes) → package, the model folder holding
``model.pt`` and ``neuron.json``; without the Neuron SDK the build stops before loading anything
(:func:`model_build.neuron.precheck_neuron_compile`).

:func:`build` returns a :class:`BuildResult` for a :class:`~model_build.spec.ModelSpec`,
from the cache when an entry for ``spec.inputs_hash()`` exists (no torch import then),
otherwise by running every stage into a fresh cache entry written atomically.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from model_build import cache
from model_build.backends import backend
from model_build.spec import BUILD_FORMAT_VERSION, ModelSpec, tool_versions
from model_build.user_errors import UserError

T = TypeVar("T")

EngineBuilder = Callable[..., Any]
"""Builds a TensorRT engine: ``(onnx_path, engine_path, *, inputs, max_batch_size, precision, target,
timing_cache_dir, environment) -> model_build.tensorrt.EngineResult`` (:func:`model_build.tensorrt.build_engine`'s
signature)."""


@dataclass(frozen=True)
class BuildResult:
    """A built (or cached) model artifact.

    Attributes:
        name: Triton model name.
        inputs_hash: ``spec.inputs_hash()``, the cache key and CDK asset hash.
        entry_dir: The cache entry folder.
        archive_path: ``<entry>/model.tar.gz`` (model folder at the top level).
        manifest_path: ``<entry>/manifest.json``.
        manifest: The manifest's content.
        repository_dir: ``<entry>/repository`` (contains ``<name>/config.pbtxt``).
        cached: True when this call found a complete entry and built nothing.
        stage_times: Seconds per stage of this call (``{"cache": ...}`` on a hit).
    """

    name: str
    inputs_hash: str
    entry_dir: Path
    archive_path: Path
    manifest_path: Path
    manifest: dict[str, Any]
    repository_dir: Path
    cached: bool
    stage_times: dict[str, float] = field(default_factory=dict)


def build(
    spec: ModelSpec,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = False,
    engine_builder: EngineBuilder | None = None,
) -> BuildResult:
    """Build a model artifact, or return the cached one.

    Args:
        spec: What to build; validated first.
        cache_dir: Cache folder. Defaults to ``$MODEL_BUILD_CACHE_DIR`` or ``./.model-build-cache``.
        progress: Show a rich status per stage and a summary table on stderr. Defaults to False.
        engine_builder: Builds the TensorRT engine of a ``backend="tensorrt"`` spec, with the keyword
            arguments of :func:`model_build.tensorrt.build_engine`. Defaults to building it here
            (``build_engine``, after :func:`~model_build.tensorrt.precheck_engine_build`);
            :mod:`model_build.engine_job` passes one that builds it in a SageMaker Processing job
            on the target GPU. Every other stage runs here either way, so the cache entry is the
            one a local build writes.

    Raises:
        model_build.spec.ModelSpecError: The spec is invalid (every problem listed; a ``UserError``).
        model_build.user_errors.UserError: The cache folder is a file or not writable.
        model_build.sources.SourceLoadError: The source would not load (its factory raised).
        model_build.export.ExportError: The export failed.
        model_build.verify.VerificationError: The ONNX model disagrees with the source.
        model_build.tensorrt.TensorRTUnavailableError: ``backend="tensorrt"`` and nowhere to build the
            engine here (no TensorRT of the target's version, no fitting GPU, no Docker with GPUs).
    """
    start = time.perf_counter()
    spec.validate()
    problem = cache.cache_dir_problem(cache_dir)
    if problem:
        raise UserError(problem)
    root = cache.resolve_cache_dir(cache_dir)
    inputs_hash = spec.inputs_hash()
    hit = cache.lookup(root, inputs_hash)
    if hit is None:
        with cache.building(root, inputs_hash) as slot:
            if isinstance(slot, cache.EntryBuilder):
                reporter = _Reporter(spec.name, enabled=progress)
                _run_stages(spec, inputs_hash, slot.temp_dir, reporter, engine_builder)
                entry = slot.publish()
                result = _result(spec, inputs_hash, entry, cached=False, stage_times=reporter.times)
                reporter.summary(result)
                return result
            hit = slot
    result = _result(spec, inputs_hash, hit, cached=True, stage_times={"cache": time.perf_counter() - start})
    if progress:
        _Reporter(spec.name, enabled=True).summary(result)
    return result


def _result(
    spec: ModelSpec, inputs_hash: str, entry: Path, *, cached: bool, stage_times: dict[str, float]
) -> BuildResult:
    manifest_path = entry / cache.MANIFEST_NAME
    return BuildResult(
        name=spec.name,
        inputs_hash=inputs_hash,
        entry_dir=entry,
        archive_path=entry / cache.ARCHIVE_NAME,
        manifest_path=manifest_path,
        manifest=json.loads(manifest_path.read_text(encoding="utf-8")),
        repository_dir=entry / cache.REPOSITORY_NAME,
        cached=cached,
        stage_times=stage_times,
    )


def _run_stages(
    spec: ModelSpec, inputs_hash: str, work: Path, reporter: _Reporter, engine_builder: EngineBuilder | None
) -> None:
    # Stage modules import onnx/onnxruntime/torch lazily; import them here, not at module
    # level, so that a cache hit never loads them.
    from model_build.export import export_onnx
    from model_build.repository import write_repository
    from model_build.triton_config import build_config, onnx_io, validate_against_onnx
    from model_build.verify import verification_batch_sizes, verify_onnx

    if spec.backend == "neuron":
        _run_neuron_stages(spec, inputs_hash, work, reporter)
        return
    mbs = spec.triton.max_batch_size
    engine_environment = None
    if spec.backend == "tensorrt" and engine_builder is None:
        from model_build.tensorrt import precheck_engine_build

        # Nowhere to build the engine here is bad input: say so before loading or exporting anything.
        engine_environment = precheck_engine_build(spec)
    loaded = reporter.stage("load", "Loading the source model", spec.source.load)
    if spec.backend == "pytorch":
        _run_torchscript_stages(spec, inputs_hash, work, reporter, loaded)
        return
    onnx_path = work / "export" / "model.onnx"
    exported = reporter.stage(
        "export",
        f"Exporting to ONNX (opset {spec.opset})",
        lambda: export_onnx(loaded, onnx_path, opset=spec.opset, max_batch_size=mbs),
    )
    verification = reporter.stage(
        "verify",
        "Verifying with ONNX Runtime",
        lambda: verify_onnx(onnx_path, loaded, spec.tolerance, batch_sizes=verification_batch_sizes(mbs)),
    )
    inputs, outputs = onnx_io(onnx_path)
    model_file = onnx_path
    engine_manifest = None
    if spec.backend == "tensorrt":
        from model_build.tensorrt import TIMING_CACHE_DIRNAME, build_engine

        make_engine = build_engine if engine_builder is None else engine_builder
        engine = reporter.stage(
            "tensorrt",
            f"Building the TensorRT engine ({spec.tensorrt_precision})",
            lambda: make_engine(
                onnx_path,
                work / "export" / "model.plan",
                inputs=inputs,
                max_batch_size=mbs,
                precision=spec.tensorrt_precision,
                target=spec.tensorrt_target,
                # Timing caches outlive one build: kept in the cache folder, next to the entries.
                timing_cache_dir=work.parent / TIMING_CACHE_DIRNAME,
                environment=engine_environment,
            ),
        )
        model_file = engine.engine_path
        engine_manifest = engine.manifest

    def make_repository() -> Any:
        config = build_config(spec, inputs, outputs)
        validate_against_onnx(config, onnx_path)
        return write_repository(
            work / cache.REPOSITORY_NAME, config, model_file, model_filename=backend(spec.backend).model_filename
        )

    repo = reporter.stage("repository", "Writing the Triton repository", make_repository)
    if engine_manifest is not None:
        from model_build.tensorrt import write_engine_manifest

        # <model>/engine.json, next to config.pbtxt: what the engine was built for, read at synth.
        write_engine_manifest(repo.model_dir, engine_manifest)
    _finish(
        spec,
        inputs_hash,
        work,
        reporter,
        inputs=inputs,
        outputs=outputs,
        exporter=exported.exporter,
        model_path=repo.model_path,
        verification=verification.to_dict(),
        extra=None if engine_manifest is None else {"engine": json.loads(engine_manifest.to_json())},
    )


def _run_neuron_stages(spec: ModelSpec, inputs_hash: str, work: Path, reporter: _Reporter) -> None:
    """``backend="neuron"``: (SDK precheck) → load → neuron compile → package, with ``<model>/neuron.json``."""
    from model_build.neuron import (
        NeuronManifest,
        compile_neuron,
        neuron_compile_call,
        precheck_neuron_compile,
        write_neuron_manifest,
    )
    from model_build.sources import TensorSpec

    target = spec.neuron_target
    assert target is not None  # spec.validate() requires it for backend "neuron"
    # No Neuron SDK here is bad input: say so (with the command to run where it is) before loading anything.
    sdk_version = precheck_neuron_compile(target, name=spec.name)
    loaded = reporter.stage("load", "Loading the source model", spec.source.load)
    call = neuron_compile_call(target, loaded.inputs)
    model_dir = work / cache.REPOSITORY_NAME / spec.triton_model_name
    model_path = reporter.stage(
        "neuron",
        f"Compiling for {target.target} with {call.module}.trace",
        lambda: compile_neuron(loaded, call, model_dir / backend("neuron").model_filename),
    )
    manifest = NeuronManifest.of(call, target, sdk_version)
    write_neuron_manifest(model_dir, manifest)
    _finish(
        spec,
        inputs_hash,
        work,
        reporter,
        inputs=loaded.inputs,
        outputs=tuple(TensorSpec(name, "unknown", ()) for name in loaded.output_names),
        exporter=f"{call.module}.trace",
        model_path=model_path,
        # Comparing the compiled program with eager torch needs the Neuron runtime; not done yet.
        verification={"outputs": [], "skipped": "the Neuron build is not verified against eager torch yet"},
        extra={"neuron": json.loads(manifest.to_json())},
    )


def _run_torchscript_stages(
    spec: ModelSpec, inputs_hash: str, work: Path, reporter: _Reporter, loaded: Any
) -> None:
    """``backend="pytorch"``: trace → verify against eager torch → config → repository → package."""
    from model_build.export import export_torchscript
    from model_build.repository import write_repository
    from model_build.triton_config import build_config
    from model_build.verify import verification_batch_sizes, verify_torchscript

    pt_path = work / "export" / "model.pt"
    traced = reporter.stage("export", "Tracing to TorchScript", lambda: export_torchscript(loaded, pt_path))
    verification = reporter.stage(
        "verify",
        "Verifying the TorchScript trace against eager torch",
        lambda: verify_torchscript(
            pt_path, loaded, spec.tolerance, batch_sizes=verification_batch_sizes(spec.triton.max_batch_size)
        ),
    )
    repo = reporter.stage(
        "repository",
        "Writing the Triton repository",
        lambda: write_repository(
            work / cache.REPOSITORY_NAME,
            build_config(spec, traced.inputs, traced.outputs),
            pt_path,
            model_filename=backend(spec.backend).model_filename,
        ),
    )
    _finish(
        spec,
        inputs_hash,
        work,
        reporter,
        inputs=traced.inputs,
        outputs=traced.outputs,
        exporter="torch.jit.trace",
        model_path=repo.model_path,
        verification=verification.to_dict(),
        # Clients build requests from the source's tensors: say which Triton name each one has.
        extra={"source_tensor_names": traced.source_names},
    )


def _finish(
    spec: ModelSpec,
    inputs_hash: str,
    work: Path,
    reporter: _Reporter,
    *,
    inputs: Any,
    outputs: Any,
    exporter: str,
    model_path: Path,
    verification: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> None:
    """Package the repository, write the manifest (last: it marks the entry complete), drop the scratch export folder."""
    from model_build.package import file_sha256, package_repository

    archive = reporter.stage(
        "package",
        "Packaging model.tar.gz",
        lambda: package_repository(work / cache.REPOSITORY_NAME, work / cache.ARCHIVE_NAME),
    )

    manifest = {
        "format_version": BUILD_FORMAT_VERSION,
        "name": spec.name,
        "triton_model_name": spec.triton_model_name,
        "inputs_hash": inputs_hash,
        "tool_versions": tool_versions(),
        "spec": spec.to_dict(),
        "platform": backend(spec.backend).platform,
        "inputs": [s.to_dict() for s in inputs],
        "outputs": [s.to_dict() for s in outputs],
        "exporter": exporter,
        "model_file": {
            "path": model_path.relative_to(work).as_posix(),
            "size_bytes": model_path.stat().st_size,
            "sha256": file_sha256(model_path),
        },
        "verification": verification,
        "archive": {"file": cache.ARCHIVE_NAME, "size_bytes": archive.size_bytes, "sha256": archive.sha256},
        "stage_seconds": {k: round(v, 4) for k, v in reporter.times.items()},
        **(extra or {}),
    }
    # The export folder is scratch; the repository holds the model file that ships.
    _remove_tree(work / "export")
    # Written last: a manifest marks the entry complete (see model_build.cache).
    (work / cache.MANIFEST_NAME).write_text(
        json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


class _Reporter:
    """Times stages; with ``enabled``, shows a rich status per stage and a summary table."""

    def __init__(self, name: str, *, enabled: bool) -> None:
        self.name = name
        self.enabled = enabled
        self.times: dict[str, float] = {}
        self._console: Any = None
        if enabled:
            from rich.console import Console

            self._console = Console(stderr=True)

    def stage(self, key: str, label: str, func: Callable[[], T]) -> T:
        start = time.perf_counter()
        with self._status(f"[bold]{self.name}[/]: {label}…"):
            value = func()
        self.times[key] = time.perf_counter() - start
        if self._console is not None:
            self._console.print(f"  [green]✓[/] {label} ({self.times[key]:.2f} s)")
        return value

    @contextlib.contextmanager
    def _status(self, text: str) -> Iterator[None]:
        if self._console is None:
            yield
            return
        with self._console.status(text):
            yield

    def summary(self, result: BuildResult) -> None:
        if self._console is None:
            return
        from rich.table import Table

        m = result.manifest
        table = Table(
            title=f"{result.name} ({'cache hit' if result.cached else 'built'}) {result.inputs_hash[:12]}"
        )
        table.add_column("item")
        table.add_column("value", justify="right")
        table.add_row("archive", f"{m['archive']['size_bytes'] / 1e6:.2f} MB")
        table.add_row("model file", f"{m['model_file']['size_bytes'] / 1e6:.2f} MB")
        for out in m["verification"]["outputs"]:
            diff = (
                "no reference"
                if out["max_abs_diff"] is None
                else f"{out['max_abs_diff']:.2e} (atol {out['atol']:g})"
            )
            table.add_row(f"max abs diff {out['name']}", diff)
        for stage, seconds in result.stage_times.items():
            table.add_row(f"{stage} time", f"{seconds:.2f} s")
        self._console.print(table)
