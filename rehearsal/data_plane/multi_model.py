"""Multi-model endpoints (``Mode: MultiModel``): one Triton, many archives under one S3 prefix.

What SageMaker does for a multi-model endpoint, and what :class:`MultiModelBackend` does locally:

* the container starts with no model (``SAGEMAKER_MULTI_MODEL=true``, explicit model control);
* the first ``InvokeEndpoint`` with a ``TargetModel`` downloads ``<ModelDataUrl prefix><TargetModel>``
  from the emulator's S3, extracts it (``model.tar.gz`` → one Triton model directory, an ensemble
  and its steps, or ``config.pbtxt`` at the archive root), and loads it with Triton's SageMaker
  ``POST /models {model_name, url}`` sending the ``X-Amzn-SageMaker-Target-Model`` header, so Triton
  registers the model directory under the TargetModel's name: two archives that both hold
  ``resnet/`` are two models (``triton-inference-server/server`` ``src/sagemaker_server.cc``,
  ``SageMakerMMELoadModel``);
* later calls are warm (``/models/<name>/invoke``); the archive stays on disk after an unload (the
  instance's model cache), so a reload skips the download;
* under a memory budget the least recently used models are unloaded (``DELETE /models/<name>``)
  before another is loaded, and a load that Triton answers 507 (its out-of-memory answer) unloads
  one more and tries again;
* an archive added to the prefix later is served on its first call, with no redeploy.

The bundled Triton has only the python backend, so each archive is served through its local twin
(:func:`model_build.local_serving.make_local_repository`): ``onnxruntime_onnx`` models run ONNX
Runtime on the same ``model.onnx``, ``pytorch_libtorch`` models run the same TorchScript
``model.pt`` with torch; every load logs which twin stands in for the production backend, and
:meth:`MultiModelBackend.describe` lists it per TargetModel. A ``tensorrt_plan`` engine cannot run
here (no TensorRT, and an engine runs only on the GPU it was built for): its load fails with a
``ModelError`` that says so.

Errors, as SageMaker runtime gives them (codes from botocore's ``sagemaker-runtime`` model:
``ValidationError`` 400, ``ModelError`` 424, ``ModelNotReadyException`` 429):

* no ``TargetModel`` on a multi-model endpoint: ``ValidationError`` "Request <id> is missing a
  target model header." (AWS's wording as users report it: ``aws/sagemaker-tensorflow-serving-container#166``);
* ``TargetModel`` on a single-model endpoint: ``ValidationError`` (in :mod:`~rehearsal.data_plane.backends`);
* no object at the prefix for the ``TargetModel``: ``ValidationError`` "Failed to download model data
  (bucket: …, key: …) …" (AWS's wording as users report it; not in the API reference);
* an archive that is not a gzip tar of a Triton model: ``ValidationError`` (a local choice: what
  SageMaker answers was not found in a public source);
* a model Triton fails to load: ``ModelError`` with ``OriginalStatusCode`` Triton's answer (400;
  507 when nothing is left to unload) and its message;
* a load still running after 60 s: ``ModelNotReadyException`` (the load goes on; retry), as the
  developer guide's "Invoke a Multi-Model Endpoint" describes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import re
import shutil
import tarfile
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model_build.aws import parse_s3_uri
from rehearsal.data_plane.backends import (
    BACKENDS,
    DEFAULT_MODEL_ENV,
    INVOCATION_TIMEOUT_S,
    ContainerBackend,
    Invocation,
    InvocationResult,
    safe_extract,
)
from rehearsal.data_plane.container_client import ContainerClient
from rehearsal.data_plane.errors import RuntimeApiError, validation_error
from rehearsal.data_plane.routing import ControlPlane, VariantRoute

log = logging.getLogger(__name__)

#: The models a multi-model variant keeps loaded, by default: 2 GiB of model files. Each model counts
#: the size of its local twin's files (a stand-in for the GPU memory it takes on SageMaker); the
#: least recently used models are unloaded before a load would exceed it.
DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES = 2 * 1024**3
#: botocore's ``TargetModelHeader``: 1-1024 printable characters, not starting with a space.
_TARGET_MODEL_RE = re.compile(r"\A\S[ -~\u00a0-\uffff]*\Z")
_TARGET_MODEL_MAX = 1024
# S3 error codes of a missing object or bucket.
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
# Triton's answer to a load that ran out of memory (the MME contract's "insufficient memory").
_INSUFFICIENT_MEMORY = 507

#: What stands in, locally, for each production platform.
TWIN_NOTES = {
    "onnxruntime_onnx": "ONNX Runtime on the archive's model.onnx in Triton's python backend "
    "(stands in for the onnxruntime backend the bundled Triton lacks)",
    "pytorch_libtorch": "torch running the archive's TorchScript model.pt in Triton's python backend "
    "(stands in for the libtorch backend the bundled Triton lacks)",
    "ensemble": "Triton's ensemble scheduler, unchanged",
}


@dataclass
class TargetModel:
    """One archive of the prefix, as the variant's container holds it.

    Attributes:
        target_model: The ``TargetModel`` (the archive's key under the prefix).
        s3_url: ``s3://bucket/<prefix><TargetModel>``.
        name: The name it is loaded under (``POST /models``'s ``model_name``, a hash as SageMaker uses).
        folder: Its private folder (the archive, what it extracts to, the local twin).
        repository: The local twin (the ``url`` given to ``POST /models``).
        size_bytes: The twin's files, counted against the memory budget.
        platforms: Triton platform (or backend) of each model directory, by directory name.
        note: What serves it locally instead of the production backend.
        loaded: Whether Triton holds it now.
        pinned: Calls being forwarded to it right now (it is never unloaded under them).
        loads: Loads into Triton (the first one cold, later ones after an unload).
        unloads: Unloads (least recently used, to make room).
        warm_calls: Calls that found it loaded (SageMaker's ``ModelCacheHit``).
        last_load_s: Seconds the last load took (download and twin included when they ran).
        last_used: ``time.monotonic()`` of its last call.
    """

    target_model: str
    s3_url: str
    name: str
    folder: Path
    repository: Path
    size_bytes: int
    platforms: Mapping[str, str]
    note: str
    loaded: bool = False
    pinned: int = 0
    loads: int = 0
    unloads: int = 0
    warm_calls: int = 0
    last_load_s: float = 0.0
    last_used: float = field(default_factory=time.monotonic)

    def describe(self) -> dict[str, Any]:
        """Return a JSON-able summary."""
        return {
            "target_model": self.target_model,
            "name": self.name,
            "loaded": self.loaded,
            "size_bytes": self.size_bytes,
            "platforms": dict(self.platforms),
            "served_by": self.note,
            "loads": self.loads,
            "unloads": self.unloads,
            "warm_calls": self.warm_calls,
            "last_load_s": round(self.last_load_s, 3),
        }


class MultiModelBackend(ContainerBackend):
    """A multi-model variant: one Triton in SageMaker's multi-model mode, models loaded on demand.

    Args:
        endpoint_name: For error messages and log-group names.
        config_name: The endpoint config the variant belongs to.
        variant: The variant (its ``ModelDataUrl`` is the S3 prefix of the archives).
        control_plane: Where the archives come from.
        work_dir: A private directory (one folder per TargetModel, and ``triton.log``).
        server_options: Extra :class:`triton_runtime.server.TritonServer` keyword arguments.
        memory_budget_bytes: The loaded models' budget (see :data:`DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES`).
        load_wait_s: How long a call waits for its model's load before ``ModelNotReadyException``.
            Defaults to 60 s (SageMaker's).
    """

    mode = "MultiModel"

    def __init__(
        self,
        endpoint_name: str,
        config_name: str,
        variant: VariantRoute,
        control_plane: ControlPlane,
        work_dir: Path,
        server_options: Mapping[str, Any] | None = None,
        *,
        memory_budget_bytes: int = DEFAULT_MULTI_MODEL_MEMORY_BUDGET_BYTES,
        load_wait_s: float = INVOCATION_TIMEOUT_S,
    ) -> None:
        super().__init__(endpoint_name, config_name, variant, control_plane, work_dir, server_options)
        self.memory_budget_bytes = memory_budget_bytes
        self.load_wait_s = load_wait_s
        #: TargetModel → state, least recently used first.
        self.models: collections.OrderedDict[str, TargetModel] = collections.OrderedDict()
        self._loading: dict[str, asyncio.Task[TargetModel]] = {}
        self._models_lock = asyncio.Lock()  # one load or unload at a time

    # -- what the serving mode adds ---------------------------------------------------------

    def check(self, invocation: Invocation) -> None:
        """Require a well-formed ``TargetModel`` (AWS's wording when it is missing)."""
        target = invocation.target_model
        if target is None:
            raise validation_error(f"Request {invocation.request_id} is missing a target model header.")
        if len(target) > _TARGET_MODEL_MAX or not _TARGET_MODEL_RE.match(target):
            raise validation_error(
                f"Value {target[:100]!r} at 'targetModel' failed to satisfy constraint: Member must have length "
                f"less than or equal to {_TARGET_MODEL_MAX} and match pattern \\A\\S[\\p{{Print}}]*\\z"
            )

    def server_kwargs(self) -> dict[str, Any]:
        """SageMaker's multi-model mode: ``SAGEMAKER_MULTI_MODEL=true``, explicit model control."""
        return {"multi_model": True}

    def container_environment(self) -> dict[str, str]:
        """Return the Model's environment without ``SAGEMAKER_TRITON_DEFAULT_MODEL_NAME`` (ignored in MME mode)."""
        env = super().container_environment()
        env.pop(DEFAULT_MODEL_ENV, None)
        return env

    def _prepare(self) -> tuple[Path, str | None]:
        """Start from an empty repository (SageMaker's ``serve`` uses a dummy ``/tmp/sagemaker``)."""
        empty = self._work_dir / "empty-repository"
        empty.mkdir(parents=True, exist_ok=True)
        return empty, None

    async def _launch(self) -> None:
        # A new container holds no model; the archives stay on disk (the instance's model cache).
        for model in self.models.values():
            model.loaded = False
            model.pinned = 0
        await super()._launch()

    async def invoke(self, client: ContainerClient, invocation: Invocation) -> InvocationResult:
        """Load ``TargetModel`` if needed (cold), then forward the call to it (warm).

        Raises:
            RuntimeApiError: ``ValidationError`` (no or malformed TargetModel, no such archive, a
                corrupt archive); ``ModelError`` (the model failed to load, or answered an error);
                ``ModelNotReadyException`` (the load takes longer than ``load_wait_s``).
        """
        self.check(invocation)
        self.in_flight += 1
        try:
            if self._server is None:
                await self.ensure_started()
            target = invocation.target_model or ""
            cached = self.models.get(target)
            hit = cached is not None and cached.loaded
            waited = time.perf_counter()
            try:
                model = await self.load(target)
            finally:
                self._record("ModelCacheHit", int(hit))
                if not hit:
                    self._record_duration("ModelLoadingWaitTime", time.perf_counter() - waited)
            model.pinned += 1  # no await since the load: it cannot have been unloaded meanwhile
            try:
                return await super().invoke(client, invocation)
            finally:
                model.pinned -= 1
                model.last_used = time.monotonic()
        finally:
            self.in_flight -= 1

    async def container_path(self, invocation: Invocation) -> str:
        """Return ``/models/<name>/invoke`` of the TargetModel (loading it when needed)."""
        model = self.models.get(invocation.target_model or "")
        if model is None or not model.loaded:  # :meth:`invoke` loaded (and counted) it already
            model = await self.load(invocation.target_model or "")
        return f"/models/{model.name}/invoke"

    def loaded_model_count(self) -> int | None:
        """Return the TargetModels Triton holds now; None while no Triton runs."""
        if self._server is None:
            return None
        return sum(1 for m in list(self.models.values()) if m.loaded)

    def describe(self) -> dict[str, Any]:
        """Return the memory budget, what is loaded, and each TargetModel seen."""
        # Read from other threads (LocalDataPlane.describe_backends) while the loop may add a model.
        for _ in range(10):
            try:
                models = list(self.models.values())
                break
            except RuntimeError:  # the dict changed size during the copy: read it again
                continue
        else:
            models = []
        return {
            "memory_budget_bytes": self.memory_budget_bytes,
            "loaded_bytes": sum(m.size_bytes for m in models if m.loaded),
            "models": [m.describe() for m in models],
        }

    # -- metrics (SageMaker's, per variant: never per model) ---------------------------------

    def _record(self, metric_name: str, value: float) -> None:
        if self.metrics is not None:
            self.metrics.record(metric_name, value, endpoint=self.endpoint_name, variant=self.variant.name)

    def _record_duration(self, metric_name: str, seconds: float) -> None:
        if self.metrics is not None:
            self.metrics.record_duration(metric_name, seconds, endpoint=self.endpoint_name, variant=self.variant.name)

    # -- loading ----------------------------------------------------------------------------

    @property
    def loaded_bytes(self) -> int:
        """The loaded models' sizes, counted against the budget."""
        return sum(m.size_bytes for m in self.models.values() if m.loaded)

    async def load(self, target_model: str) -> TargetModel:
        """Return the loaded TargetModel, loading it first when it is not (concurrent callers share one load).

        Raises:
            RuntimeApiError: See :meth:`invoke`.
        """
        model = self.models.get(target_model)
        if model is not None and model.loaded:
            model.warm_calls += 1
            self.models.move_to_end(target_model)
            return model
        task = self._loading.get(target_model)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._load_locked(target_model))
            self._loading[target_model] = task
            task.add_done_callback(lambda done: self._load_done(target_model, done))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.load_wait_s)
        except TimeoutError:
            raise RuntimeApiError(
                "ModelNotReadyException",
                429,
                f"Model {target_model} of endpoint {self.endpoint_name} is still being downloaded or loaded "
                f"(for more than {self.load_wait_s:g} s); retry the request.",
            ) from None

    def _load_done(self, target_model: str, task: asyncio.Task[TargetModel]) -> None:
        if self._loading.get(target_model) is task:
            del self._loading[target_model]
        if not task.cancelled():
            task.exception()  # retrieved here too: a caller that timed out never reads it

    async def _load_locked(self, target_model: str) -> TargetModel:
        async with self._models_lock:
            started = time.monotonic()
            model = self.models.get(target_model)
            if model is None:
                # Not kept on failure: the next call downloads again (the archive may have been fixed).
                fetching = time.perf_counter()
                model = await asyncio.to_thread(self._fetch, target_model)
                self._record_duration("ModelDownloadingTime", time.perf_counter() - fetching)
                self.models[target_model] = model
            if not model.loaded:
                await self._make_room(model.size_bytes, keep=target_model)
                loading = time.perf_counter()
                await self._load_into_triton(model)
                self._record_duration("ModelLoadingTime", time.perf_counter() - loading)
                model.last_load_s = time.monotonic() - started
                log.info(
                    "endpoint %s/%s: loaded TargetModel %s (%s) in %.2f s, served by %s",
                    self.endpoint_name,
                    self.variant.name,
                    target_model,
                    ", ".join(f"{d}: {p}" for d, p in model.platforms.items()),
                    model.last_load_s,
                    model.note,
                )
            self.models.move_to_end(target_model)
            return model

    async def limit_memory(self, budget_bytes: int) -> list[str]:
        """Lower the memory budget and unload least recently used models until what is loaded fits.

        What an instance does when its memory fills (another model grew, a larger batch): SageMaker
        unloads the least recently used models, and a later request for one loads it again (a cache
        miss). The unloads are timed into ``ModelUnloadingTime`` like any other.

        Returns:
            The TargetModels unloaded, least recently used first.
        """
        async with self._models_lock:
            self.memory_budget_bytes = budget_bytes
            unloaded = []
            while self.loaded_bytes > self.memory_budget_bytes:
                before = {m.target_model for m in self.models.values() if m.loaded}
                if not await self._unload_one(keep=""):
                    break
                unloaded += sorted(before - {m.target_model for m in self.models.values() if m.loaded})
            return unloaded

    async def _make_room(self, size_bytes: int, *, keep: str) -> None:
        """Unload least recently used models until ``size_bytes`` more fit in the budget."""
        while self.loaded_bytes + size_bytes > self.memory_budget_bytes:
            if not await self._unload_one(keep=keep):
                return  # nothing left to unload: load anyway (Triton answers 507 if it does not fit)

    async def _unload_one(self, *, keep: str) -> bool:
        victim = next(
            (m for m in self.models.values() if m.loaded and not m.pinned and m.target_model != keep), None
        )
        if victim is None:
            return False
        started = time.monotonic()
        await asyncio.to_thread(self._server.unload_model, victim.name, target_model=victim.target_model)
        self._record_duration("ModelUnloadingTime", time.monotonic() - started)
        victim.loaded = False
        victim.unloads += 1
        log.info(
            "endpoint %s/%s: unloaded TargetModel %s (least recently used; %d of %d bytes loaded) in %.2f s",
            self.endpoint_name,
            self.variant.name,
            victim.target_model,
            self.loaded_bytes,
            self.memory_budget_bytes,
            time.monotonic() - started,
        )
        return True

    async def _load_into_triton(self, model: TargetModel) -> None:
        import requests

        server = self._server
        while True:
            try:
                await asyncio.to_thread(
                    server.load_model, model.name, model.repository, target_model=model.target_model
                )
            except requests.HTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 500
                text = exc.response.text if exc.response is not None else str(exc)
                if status == _INSUFFICIENT_MEMORY and await self._unload_one(keep=model.target_model):
                    continue  # SageMaker unloads a model and retries on 507
                # Unregister what Triton may have registered, so a later call can load it again.
                with contextlib.suppress(requests.RequestException):
                    await asyncio.to_thread(server.unload_model, model.name, target_model=model.target_model)
                raise self._error(status, _triton_error(text)) from None
            except requests.RequestException as exc:
                raise self._error(
                    500, f"The container did not answer the load of {model.target_model}: {exc}"
                ) from None
            model.loaded = True
            model.loads += 1
            return

    # -- the archive (blocking; runs in a worker thread) -------------------------------------

    def _fetch(self, target_model: str) -> TargetModel:
        """Download, extract and twin one archive of the prefix.

        Raises:
            RuntimeApiError: ``ValidationError`` (no such object, not a model archive);
                ``ModelError`` (a model this machine cannot serve).
        """
        from botocore.exceptions import ClientError

        bucket, prefix = parse_s3_uri(self.variant.model_data_url)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        key = prefix + target_model
        digest = hashlib.sha256(target_model.encode("utf-8")).hexdigest()[:32]
        folder = self._work_dir / "models" / digest
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        archive = folder / "model.tar.gz"
        try:
            self._control_plane.s3.download_file(bucket, key, str(archive))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            shutil.rmtree(folder, ignore_errors=True)
            if code in _MISSING_CODES:
                raise validation_error(
                    f"Failed to download model data(bucket: {bucket}, key: {key}). Please ensure that there is an "
                    "object located at the URL and that the role passed to CreateModel has permissions to download "
                    "the model."
                ) from None
            raise
        try:
            repository, platforms = self._extract(archive, folder / "archive", target_model)
            if "tensorrt_plan" in platforms.values():
                engines = ", ".join(d for d, p in platforms.items() if p == "tensorrt_plan")
                raise self._error(
                    400,
                    f"load failed for model '{target_model}': {engines} is a TensorRT engine (platform tensorrt_plan), "
                    "which cannot run on this machine: the bundled Triton has no TensorRT backend, and an engine runs "
                    "only on the GPU and TensorRT version it was built for. Rehearse the same model from its ONNX or "
                    "TorchScript archive locally; the engine runs on the endpoint's GPU instance.",
                )
            from model_build.local_serving import make_local_repository

            try:
                # Each model by its own platform: TorchScript through torch, ONNX through ONNX Runtime.
                twin = make_local_repository(repository, folder / "local")
            except ValueError as exc:
                raise self._error(400, f"load failed for model '{target_model}': {exc}") from None
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        archive.unlink()  # extracted; the twin links to the extracted files
        size = sum(p.stat().st_size for p in twin.rglob("*") if p.is_file())
        notes = sorted({TWIN_NOTES.get(p, f"the python backend (platform {p})") for p in platforms.values()})
        return TargetModel(
            target_model=target_model,
            s3_url=f"s3://{bucket}/{key}",
            name=digest,
            folder=folder,
            repository=twin,
            size_bytes=size,
            platforms=platforms,
            note="; ".join(notes),
        )

    def _extract(self, archive: Path, dest: Path, target_model: str) -> tuple[Path, dict[str, str]]:
        """Extract the archive as SageMaker does (into ``.../model``); return the repository and platforms.

        The archive holds model directories (``resnet/config.pbtxt``) or one model at its root
        (``config.pbtxt``); in the second case the repository is the extraction's parent, whose one
        directory ``model/`` is the model, as Triton's SageMaker front end reads it.
        """
        from model_build.triton_config import parse_config

        extracted = dest / "model"
        try:
            safe_extract(archive, extracted)
        except (tarfile.TarError, EOFError, zlib.error, ValueError, OSError) as exc:
            raise self._corrupt(
                target_model, f"it cannot be extracted ({type(exc).__name__}: {exc})"
            ) from None
        repository = dest if (extracted / "config.pbtxt").is_file() else extracted
        configs = sorted(repository.glob("*/config.pbtxt"))
        if not configs:
            found = sorted(p.name for p in extracted.iterdir())[:10]
            raise self._corrupt(target_model, f"it holds no Triton model directory (found {found})")
        platforms = {}
        for config_path in configs:
            try:
                config = parse_config(config_path.read_text(encoding="utf-8"))
            except Exception as exc:  # a protobuf text-format error, or bytes that are not text
                raise self._corrupt(
                    target_model, f"{config_path.parent.name}/config.pbtxt cannot be parsed ({exc})"
                ) from None
            platforms[config_path.parent.name] = config.platform or config.backend or "unknown"
        return repository, platforms

    def _corrupt(self, target_model: str, reason: str) -> RuntimeApiError:
        return validation_error(
            f"Failed to extract model data archive {target_model} of endpoint {self.endpoint_name}: {reason}. "
            "A multi-model archive is a gzip-compressed tar holding one Triton model directory "
            "(<model>/config.pbtxt and <model>/1/<model file>), an ensemble with its steps, or config.pbtxt at its "
            "root; rebuild it with `python -m model_build build`."
        )


def _triton_error(text: str) -> str:
    """Triton's ``{"error": ...}`` answer as its message (the text as is when it is not JSON)."""
    import json

    try:
        return str(json.loads(text)["error"]).strip()
    except (ValueError, KeyError, TypeError):
        return text.strip()


BACKENDS[MultiModelBackend.mode] = MultiModelBackend
