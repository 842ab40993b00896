"""The multi-model part of ``make demo`` (seed 001's system): plain boto3 against the emulator.

Every call here is one a client makes against AWS: ``invoke_endpoint(..., TargetModel=...)`` for
each archive the stack put under the endpoint's S3 prefix (the first call of each loads it: cold;
the next ones are warm), then ``upload_file`` of one more archive to the same prefix — no deploy,
no control-plane call — and an invocation of it, then a TargetModel that is not there. Each answer
is compared with the model's own source (torch), found from the archive's bytes through the build
cache's manifests.

Locally every archive runs in the python backend (the bundled Triton has no libtorch, onnxruntime or
TensorRT backend): the demo prints, per TargetModel, its production platform and what serves it
here; with ``-c mme_tensorrt=rehearsal`` the TensorRT slot holds the ONNX twin, and the demo says so.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_build.aws import parse_s3_uri
from rehearsal.demo import DemoFailure, DeployedEndpoint, compare_outputs, s3_sha256
from rehearsal.reference import (
    ModelReference,
    build_cache_dir,
    find_build_manifest,
    kserve_outputs,
    kserve_request,
)

#: The TargetModel the demo invokes to show SageMaker's answer for an archive that is not there.
UNKNOWN_TARGET_MODEL = "no_such_model_v0.tar.gz"


@dataclass(frozen=True)
class MultiModelSetup:
    """What the demo's client knows about the deployed multi-model endpoint.

    Attributes:
        endpoint_name: The endpoint.
        model_data_url: The container's ``ModelDataUrl`` (the S3 prefix of the archives).
        target_models: The archives under the prefix (``TargetModel`` names), sorted.
    """

    endpoint_name: str
    model_data_url: str
    target_models: tuple[str, ...]

    @property
    def bucket_and_prefix(self) -> tuple[str, str]:
        """``(bucket, prefix)`` of :attr:`model_data_url` (the prefix ends with ``/``)."""
        bucket, prefix = parse_s3_uri(self.model_data_url)
        return bucket, prefix if not prefix or prefix.endswith("/") else prefix + "/"


def is_multi_model(model: Mapping[str, Any]) -> bool:
    """Whether a ``DescribeModel`` answer (or a template's Model properties) is a multi-model container."""
    containers = [model.get("PrimaryContainer") or {}, *(model.get("Containers") or [])]
    return any(c.get("Mode") == "MultiModel" for c in containers)


def prepare(
    clients: Mapping[str, Any], deployed: DeployedEndpoint, outputs: Mapping[str, str], say: Any
) -> MultiModelSetup:
    """Read the endpoint's prefix from its Model and list the archives under it."""
    model = next((m for m in deployed.models.values() if is_multi_model(m)), None)
    if model is None:
        raise DemoFailure(f"endpoint {deployed.endpoint_name} has no Model with Mode MultiModel")
    container = model.get("PrimaryContainer") or model["Containers"][0]
    setup = MultiModelSetup(deployed.endpoint_name, container["ModelDataUrl"], ())
    bucket, prefix = setup.bucket_and_prefix
    listed = clients["s3"].list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    targets = tuple(sorted(o["Key"][len(prefix) :] for o in listed if o["Key"].endswith(".tar.gz")))
    if not targets:
        raise DemoFailure(f"no archive under {setup.model_data_url}: the stack's deploy copied none")
    declared = [t for t in outputs.get("TargetModels", "").split(",") if t]
    if declared and sorted(declared) != list(targets):
        raise DemoFailure(f"the stack declares TargetModels {declared}, the prefix holds {list(targets)}")
    say(f"Mode MultiModel, ModelDataUrl {setup.model_data_url}: {len(targets)} archives {', '.join(targets)}")
    return MultiModelSetup(setup.endpoint_name, setup.model_data_url, targets)


def _reference_of(s3: Any, bucket: str, key: str, spec: Any = None) -> tuple[ModelReference, dict[str, Any]]:
    """Return the source of the archive at ``key`` (found by its sha256 in the build cache) and its manifest.

    Args:
        s3: The emulator's S3 client.
        bucket: The archive's bucket.
        key: The archive's key.
        spec: The archive's ``ModelSpec`` when the caller knows it (a spec file's model); else the
            built-in example the build manifest names.
    """
    from model_build.examples import get_example
    from rehearsal.cdk_cli import PROJECT_ROOT

    sha = s3_sha256(s3, bucket, key)
    cache = build_cache_dir(PROJECT_ROOT)
    manifest = find_build_manifest(sha, cache)
    if manifest is None:
        raise DemoFailure(
            f"s3://{bucket}/{key} (sha256 {sha[:12]}…) is no build in {cache}; run the demo again"
        )
    return ModelReference(
        spec if spec is not None else get_example(manifest["spec"]["name"]), manifest
    ), manifest


def _served_by(plane: Any, endpoint_name: str, target_model: str) -> dict[str, Any]:
    for backend in plane.describe_backends():
        if backend["endpoint"] == endpoint_name:
            for model in backend.get("models", []):
                if model["target_model"] == target_model:
                    return dict(model)
    raise DemoFailure(f"the data plane holds no TargetModel {target_model} for {endpoint_name}")


def _call(
    runtime: Any, setup: MultiModelSetup, target: str, reference: ModelReference, seed: int
) -> tuple[float, float]:
    """One ``invoke_endpoint`` of ``target`` compared with its source; returns (milliseconds, max |Δ|)."""
    inputs = reference.inputs(batch_size=2, seed=seed)
    started = time.monotonic()
    response = runtime.invoke_endpoint(
        EndpointName=setup.endpoint_name,
        ContentType="application/json",
        Body=kserve_request(inputs),
        TargetModel=target,
    )
    elapsed_ms = (time.monotonic() - started) * 1000
    _, worst = compare_outputs(
        f"TargetModel {target}", kserve_outputs(response["Body"].read()), reference, inputs
    )
    return elapsed_ms, worst


def invoke_target_models(
    runtime: Any,
    clients: Mapping[str, Any],
    setup: MultiModelSetup,
    plane: Any,
    say: Any,
    *,
    targets: Sequence[str] | None = None,
    warm_calls: int = 3,
    specs: Mapping[str, Any] | None = None,
) -> dict[str, tuple[float, float]]:
    """Invoke each TargetModel once cold and ``warm_calls`` times warm, each answer compared with torch.

    ``specs`` names the ``ModelSpec`` of TargetModels that are no built-in example (a spec file's model).

    Returns:
        TargetModel → (cold ms, median warm ms).
    """
    bucket, prefix = setup.bucket_and_prefix
    chosen = tuple(targets or setup.target_models)
    say(
        f"{'TargetModel':<26} {'cold ms':>8} {'warm ms':>8}  {'max |Δ|':>8}  production platform → served here by"
    )
    timings = {}
    kinds = set()
    for index, target in enumerate(chosen):
        reference, manifest = _reference_of(clients["s3"], bucket, prefix + target, (specs or {}).get(target))
        kinds.add(reference.kind)
        cold_ms, worst = _call(runtime, setup, target, reference, seed=100 + index)
        warm = [
            _call(runtime, setup, target, reference, seed=200 + index * 10 + i) for i in range(warm_calls)
        ]
        worst = max([worst, *(d for _, d in warm)])
        warm_ms = statistics.median(ms for ms, _ in warm)
        timings[target] = (cold_ms, warm_ms)
        model = _served_by(plane, setup.endpoint_name, target)
        platforms = ", ".join(f"{d}: {p}" for d, p in model["platforms"].items())
        say(f"{target:<26} {cold_ms:8.0f} {warm_ms:8.1f}  {worst:8.1e}  {platforms} → {model['served_by']}")
        if "trt" in target.lower() and "tensorrt_plan" not in model["platforms"].values():
            say(
                f"{'':<26} ↳ REHEARSAL SUBSTITUTE: {target} holds {manifest['spec']['name']}, the ONNX twin of the "
                "TensorRT engine (-c mme_tensorrt=rehearsal); on AWS the slot holds the engine built for the GPU"
            )
        if manifest["spec"].get("backend") == "pytorch" and "ONNX" in model["served_by"]:
            raise DemoFailure(f"{target} is TorchScript but was served by ONNX Runtime: {model['served_by']}")
    say(f"every answer within its spec's tolerance of the model's own source ({', '.join(sorted(kinds))})")
    return timings


def add_archive_without_redeploy(
    runtime: Any,
    clients: Mapping[str, Any],
    setup: MultiModelSetup,
    plane: Any,
    archive: Path,
    target_model: str,
    say: Any,
    *,
    spec: Any,
    warm_calls: int = 3,
) -> dict[str, tuple[float, float]]:
    """Upload ``archive`` (a build of ``spec``) to the prefix as ``target_model`` (an S3 upload, nothing else) and invoke it."""
    bucket, prefix = setup.bucket_and_prefix
    endpoint_before = clients["sagemaker"].describe_endpoint(EndpointName=setup.endpoint_name)
    clients["s3"].upload_file(str(archive), bucket, prefix + target_model)
    say(f"s3 upload {archive} → s3://{bucket}/{prefix}{target_model} (no cdk deploy, no SageMaker call)")
    timings = invoke_target_models(
        runtime,
        clients,
        setup,
        plane,
        say,
        targets=[target_model],
        warm_calls=warm_calls,
        specs={target_model: spec},
    )
    endpoint_after = clients["sagemaker"].describe_endpoint(EndpointName=setup.endpoint_name)
    if endpoint_after["EndpointConfigName"] != endpoint_before["EndpointConfigName"]:
        raise DemoFailure("the endpoint changed configuration while a model was added: that is a redeploy")
    say(
        f"endpoint {setup.endpoint_name} still on {endpoint_after['EndpointConfigName']}: served without a redeploy"
    )
    return timings


def unknown_target_model(runtime: Any, setup: MultiModelSetup, say: Any) -> str:
    """Invoke a TargetModel that is not under the prefix; return SageMaker's error code."""
    from botocore.exceptions import ClientError

    try:
        runtime.invoke_endpoint(
            EndpointName=setup.endpoint_name,
            ContentType="application/json",
            Body=b"{}",
            TargetModel=UNKNOWN_TARGET_MODEL,
        )
    except ClientError as error:
        code = str(error.response["Error"]["Code"])
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        say(f"TargetModel {UNKNOWN_TARGET_MODEL}: {code} ({status}): {error.response['Error']['Message']}")
        if code != "ValidationError":
            raise DemoFailure(
                f"an unknown TargetModel gave {code}, SageMaker gives ValidationError"
            ) from None
        return code
    raise DemoFailure(f"TargetModel {UNKNOWN_TARGET_MODEL} answered, but there is no such archive")


def memory_pressure(runtime: Any, clients: Mapping[str, Any], setup: MultiModelSetup, plane: Any, say: Any) -> None:
    """Take one byte from the variant's model memory: the least recently used model is unloaded, then called again.

    What an instance does when its memory fills: SageMaker unloads the least recently used models
    (``ModelUnloadingTime``), and the next request for one of them is a cache miss that loads it
    again (``ModelCacheHit`` 0, ``ModelLoadingWaitTime``); its answer is compared with torch again.
    """
    (backend,) = [b for b in plane.describe_backends() if b["endpoint"] == setup.endpoint_name and "models" in b]
    budget = max(1, backend["loaded_bytes"] - 1)
    unloaded = plane.limit_multi_model_memory(setup.endpoint_name, budget)
    say(f"model memory {budget / 1024**2:.1f} MiB (1 byte less than what was loaded): unloaded {', '.join(unloaded) or 'nothing'}")
    target = next((t for t in unloaded if t in setup.target_models), None)
    if target is None:
        raise DemoFailure(f"halving the model memory to {budget} bytes unloaded none of {setup.target_models}")
    bucket, prefix = setup.bucket_and_prefix
    reference, _ = _reference_of(clients["s3"], bucket, prefix + target, None)
    elapsed_ms, worst = _call(runtime, setup, target, reference, seed=300)
    say(f"{target} called again: loaded again in {elapsed_ms:.0f} ms (a cache miss), max |Δ| {worst:.1e} from torch")


def say_loaded(plane: Any, endpoint_name: str, say: Any) -> None:
    """Print what the variant's Triton holds: each TargetModel, its loads, warm calls and the budget."""
    for backend in plane.describe_backends():
        if backend["endpoint"] != endpoint_name or "models" not in backend:
            continue
        mib = 1024 * 1024
        say(
            f"backend {endpoint_name}/{backend['variant']}: one Triton {backend['triton_url']}, "
            f"{backend['loaded_bytes'] / mib:.1f} of {backend['memory_budget_bytes'] / mib:.0f} MiB loaded"
        )
        for model in backend["models"]:
            say(
                f"  {model['target_model']:<26} loaded={model['loaded']!s:<5} loads={model['loads']} "
                f"warm calls={model['warm_calls']} unloads={model['unloads']} last load {model['last_load_s']:.2f} s"
            )
