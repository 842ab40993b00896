"""Build many models at once: cache hits at once in this process, misses in a process pool.

:func:`build_many` is what an app with many models (a multi-model endpoint of 100 archives) calls
before synthesis: every spec is validated first, cache hits return without importing torch
(:func:`model_build.pipeline.build` reads the manifest only), and the misses build side by side in
worker processes, one model per worker, so a cold build uses every core. Each worker runs the
same :func:`~model_build.pipeline.build`, so entries are written atomically under the same
per-hash lock as a single build, and a later ``ModelArtifact.from_build`` is a cache hit.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from model_build import cache
from model_build.pipeline import BuildResult, build
from model_build.spec import ModelSpec
from model_build.user_errors import UserError


def build_many(
    specs: Sequence[ModelSpec],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    workers: int | None = None,
) -> dict[str, BuildResult]:
    """Build (or take from the cache) every model in ``specs``; misses build in parallel.

    Args:
        specs: the models, with unique names.
        cache_dir: the build cache. Defaults to ``$MODEL_BUILD_CACHE_DIR`` or ``./.model-build-cache``.
        workers: how many models build at once. Defaults to ``os.cpu_count()``; never more than
            the number of misses. 1 builds in this process.

    Returns:
        ``spec.name`` -> its :class:`~model_build.pipeline.BuildResult`, in the order of ``specs``.

    Raises:
        model_build.user_errors.UserError: before any build: a spec is not a ``ModelSpec``, two
            share a name, ``workers`` is not a positive int, the cache folder is unusable, or a spec
            is invalid (``ModelSpecError``); during the builds: the first model that failed, named,
            with its error (the models still building finish, the rest are not started).
    """
    specs = list(specs)
    _check(specs, workers)
    for spec in specs:
        spec.validate()
    problem = cache.cache_dir_problem(cache_dir)
    if problem:
        raise UserError(problem)
    root = cache.resolve_cache_dir(cache_dir)
    results: dict[str, BuildResult] = {}
    misses: list[ModelSpec] = []
    for spec in specs:
        if cache.lookup(root, spec.inputs_hash()) is not None:
            results[spec.name] = build(spec, cache_dir=root)
        else:
            misses.append(spec)
    count = min(workers if workers is not None else (os.cpu_count() or 1), len(misses))
    if count == 1:
        for spec in misses:
            results[spec.name] = _named(spec.name, lambda spec=spec: build(spec, cache_dir=root))
    elif count > 1:
        results.update(_build_in_pool(misses, root, count))
    return {spec.name: results[spec.name] for spec in specs}


def _check(specs: list[Any], workers: Any) -> None:
    problems = [
        f"specs[{index}] must be a ModelSpec (got {type(spec).__name__}) — use model_build.examples.get_example(...) "
        "or model_build.spec_file.resolve_model(...)"
        for index, spec in enumerate(specs)
        if not isinstance(spec, ModelSpec)
    ]
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        problems.append(f"workers must be an int >= 1 or None for one per CPU (got {workers!r})")
    if not problems:
        seen: dict[str, int] = {}
        for index, spec in enumerate(specs):
            if spec.name in seen:
                problems.append(
                    f"specs[{index}] and specs[{seen[spec.name]}] are both named {spec.name!r} — results are keyed by "
                    "name: give each model its own name"
                )
            seen.setdefault(spec.name, index)
    if problems:
        raise UserError("Invalid build_many arguments: " + "; ".join(problems))


def _named(name: str, work: Any) -> BuildResult:
    try:
        return work()  # type: ignore[no-any-return]
    except UserError as error:
        raise UserError(f"building model {name!r} failed: {error}") from error


def _limit_threads(threads: int) -> None:
    """Worker initializer: the CPUs split between the workers (torch and ONNX Runtime read these)."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


def _build_one(spec: ModelSpec, root: str) -> tuple[BuildResult | None, str | None]:
    """Worker: build one model; return (result, None) or (None, the error as text).

    The error travels as text: exceptions with their own constructors do not always unpickle.
    """
    try:
        return build(spec, cache_dir=root), None
    except Exception as error:
        return None, f"{type(error).__name__}: {error}" if not isinstance(error, UserError) else str(error)


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Keep spawned workers from running the parent's main script.

    A ``spawn`` worker re-runs ``__main__`` (as ``__mp_main__``) to find pickled objects; a CDK
    ``app.py`` without an ``if __name__ == "__main__"`` guard would synthesize the app in every
    worker. The workers only need ``model_build`` and the specs' own modules, so the main
    module's path and spec are hidden while the pool runs.
    """
    main = sys.modules.get("__main__")
    saved: dict[str, Any] = {
        name: main.__dict__[name]
        for name in ("__file__", "__spec__")
        if main is not None and name in main.__dict__
    }
    try:
        if main is not None:
            main.__dict__.pop("__file__", None)
            main.__dict__["__spec__"] = None
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _build_in_pool(misses: list[ModelSpec], root: Any, count: int) -> dict[str, BuildResult]:
    # spawn, not fork: the parent may hold the jsii kernel's pipes and threads (cdk synth).
    context = multiprocessing.get_context("spawn")
    results: dict[str, BuildResult] = {}
    threads = max(1, (os.cpu_count() or 1) // count)
    with (
        _main_module_hidden(),
        ProcessPoolExecutor(
            max_workers=count, mp_context=context, initializer=_limit_threads, initargs=(threads,)
        ) as pool,
    ):
        futures: dict[Future[tuple[BuildResult | None, str | None]], str] = {
            pool.submit(_build_one, spec, str(root)): spec.name for spec in misses
        }
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                name = futures[future]
                try:
                    result, error = future.result()
                except BrokenProcessPool as broken:
                    error = f"its worker process died ({broken}); build it alone to see why: python -m model_build build ..."
                    result = None
                if error is not None or result is None:
                    for other in pending:
                        other.cancel()
                    raise UserError(f"building model {name!r} failed: {error}")
                results[name] = result
    return results
