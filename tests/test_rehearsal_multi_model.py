"""The local data plane's multi-model endpoints: a real Triton in SageMaker's MME mode, archives from moto's S3.

One moto server, one data plane and one multi-model endpoint (one Triton) for the module. The
archives are the cached tiny builds: seed 001's layout on resnet-tiny (an ONNX and a TorchScript
archive that both hold ``resnet/``), plain resnet-tiny (also uploaded later under a second name),
and made here: a corrupt archive, a model whose file is not a model, a TensorRT engine. The endpoint is created with boto3 as a client without CDK
would (``Mode: MultiModel``, ``ModelDataUrl`` a prefix).
"""

from __future__ import annotations

import io
import shutil
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow  # every test uses the module's moto server, data plane and Triton

BUCKET = "mme-models"
PREFIX = "models/"
ENDPOINT = "mme"


@dataclass
class Mme:
    """The module's emulator, data plane, clients, and what each TargetModel should answer like."""

    moto: Any
    plane: Any
    s3: Any
    runtime: Any
    references: dict[str, Any]
    archives: dict[str, Path]
    sizes: dict[str, int]


def _twin_size(repository: Path, tmp: Path) -> int:
    """The bytes the data plane counts for a repository against its budget (its local twin's files)."""
    from model_build.local_serving import make_local_repository

    twin = make_local_repository(repository, tmp / f"twin-{repository.parent.name}-{time.monotonic_ns()}")
    size = sum(p.stat().st_size for p in twin.rglob("*") if p.is_file())
    shutil.rmtree(twin)
    return size


def _pack(repository: Path, archive: Path) -> Path:
    """``model.tar.gz`` of every model directory in ``repository`` (as model_build packs them)."""
    with tarfile.open(archive, "w:gz") as tar:
        for model_dir in sorted(p for p in repository.iterdir() if p.is_dir()):
            tar.add(model_dir, arcname=model_dir.name)
    return archive


@pytest.fixture(scope="module")
def mme(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mme]:
    import boto3
    from botocore.config import Config

    from model_build.examples import get_example
    from model_build.pipeline import build
    from rehearsal.api_endpoints import EMULATED_INSTANCE_TYPE, EMULATED_ROLE_ARN, EMULATED_TRITON_IMAGE
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer
    from rehearsal.reference import ModelReference

    tmp = tmp_path_factory.mktemp("mme")
    # Seed 001's layout: the ONNX and the TorchScript archives both hold the model directory resnet/.
    onnx_spec, torchscript_spec, resnet_spec = (
        get_example(n) for n in ("resnet-tiny-onnx", "resnet-tiny-pt", "resnet-tiny")
    )
    onnx, torchscript, resnet = build(onnx_spec), build(torchscript_spec), build(resnet_spec)
    # A model whose file is not an ONNX model: Triton fails to load it.
    broken_repo = shutil.copytree(resnet.repository_dir, tmp / "broken")
    (broken_repo / resnet.name / "1" / "model.onnx").write_bytes(b"not an onnx model")
    archives = {
        "resnet_onnx_v0.tar.gz": onnx.archive_path,
        "resnet_pt_v0.tar.gz": torchscript.archive_path,
        "resnet_v0.tar.gz": resnet.archive_path,
        "broken.tar.gz": _pack(broken_repo, tmp / "broken.tar.gz"),
    }
    sizes = {
        "onnx": _twin_size(onnx.repository_dir, tmp),
        "pt": _twin_size(torchscript.repository_dir, tmp),
        "resnet": _twin_size(resnet.repository_dir, tmp),
    }
    # Room for the ONNX and TorchScript models with half a resnet-tiny to spare: a third model evicts one.
    budget = sizes["onnx"] + sizes["pt"] + sizes["resnet"] // 2
    resnet_ref = ModelReference(resnet_spec, resnet.manifest)
    references = {
        "resnet_onnx_v0.tar.gz": ModelReference(onnx_spec, onnx.manifest),
        "resnet_pt_v0.tar.gz": ModelReference(torchscript_spec, torchscript.manifest),
        "resnet_v0.tar.gz": resnet_ref,
        "resnet_late.tar.gz": resnet_ref,
    }
    with MotoServer() as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket=BUCKET)
        for name, path in archives.items():
            s3.upload_file(str(path), BUCKET, PREFIX + name)
        s3.put_object(
            Bucket=BUCKET, Key=PREFIX + "corrupt.tar.gz", Body=b"\x1f\x8b\x08 this is not a tarball"
        )
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        sagemaker.create_model(
            ModelName=ENDPOINT,
            ExecutionRoleArn=EMULATED_ROLE_ARN,
            PrimaryContainer={
                "Image": EMULATED_TRITON_IMAGE,
                "Mode": "MultiModel",
                "ModelDataUrl": f"s3://{BUCKET}/{PREFIX}",
                "MultiModelConfig": {"ModelCacheSetting": "Enabled"},
            },
        )
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"{ENDPOINT}-config",
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": ENDPOINT,
                    "InitialInstanceCount": 1,
                    "InstanceType": EMULATED_INSTANCE_TYPE,
                }
            ],
        )
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config")
        with LocalDataPlane(
            moto.endpoint_url, work_dir=tmp / "plane", multi_model_memory_budget_bytes=budget
        ) as plane:
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=plane.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
            yield Mme(
                moto,
                plane,
                s3,
                runtime,
                references,
                {**archives, "resnet_late.tar.gz": resnet.archive_path},
                {**sizes, "budget": budget},
            )


def _invoke(mme: Mme, target: str, *, seed: int = 7) -> float:
    """Invoke ``target`` and compare its answer with the model's source; return the call's seconds."""
    from rehearsal.demo import compare_outputs
    from rehearsal.reference import kserve_outputs, kserve_request

    reference = mme.references[target]
    inputs = reference.inputs(batch_size=2, seed=seed)
    started = time.monotonic()
    response = mme.runtime.invoke_endpoint(
        EndpointName=ENDPOINT, ContentType="application/json", Body=kserve_request(inputs), TargetModel=target
    )
    elapsed = time.monotonic() - started
    compare_outputs(target, kserve_outputs(response["Body"].read()), reference, inputs)
    return elapsed


def _models(mme: Mme) -> dict[str, dict[str, Any]]:
    (backend,) = [b for b in mme.plane.describe_backends() if b["endpoint"] == ENDPOINT]
    assert backend["mode"] == "MultiModel"
    assert backend["loaded_bytes"] <= backend["memory_budget_bytes"]
    return {m["target_model"]: m for m in backend["models"]}


def _error(exc_info: pytest.ExceptionInfo[Any]) -> tuple[str, str, dict[str, Any]]:
    response = exc_info.value.response
    return response["Error"]["Code"], response["Error"]["Message"], response


def test_rehearsal_multi_model_two_target_models_load_cold_then_answer_warm(mme: Mme) -> None:
    # GIVEN seed 001's layout: ONNX and TorchScript archives of one ResNet, nothing loaded yet
    # WHEN each TargetModel is invoked twice
    targets = ("resnet_onnx_v0.tar.gz", "resnet_pt_v0.tar.gz")
    timings = {target: [_invoke(mme, target, seed=s) for s in (1, 2)] for target in targets}
    print({t: [f"{s * 1000:.0f} ms" for s in pair] for t, pair in timings.items()})
    # THEN both answer like the torch source; each was loaded once (cold), the second call was warm
    models = _models(mme)
    for target in targets:
        assert models[target]["loads"] == 1
        assert models[target]["warm_calls"] == 1
    # AND each says what serves it here instead of its production backend
    assert "ONNX Runtime" in models["resnet_onnx_v0.tar.gz"]["served_by"]
    assert "TorchScript model.pt" in models["resnet_pt_v0.tar.gz"]["served_by"]


def test_rehearsal_multi_model_same_directory_name_in_two_archives_served_side_by_side(mme: Mme) -> None:
    # GIVEN two archives that both hold the model directory resnet/ (one ONNX, one TorchScript)
    # WHEN both are invoked
    _invoke(mme, "resnet_onnx_v0.tar.gz", seed=11)
    _invoke(mme, "resnet_pt_v0.tar.gz", seed=12)
    # THEN both are loaded at once, each its own model on its own platform: Triton registered each
    # directory under its TargetModel
    models = _models(mme)
    assert models["resnet_onnx_v0.tar.gz"]["platforms"] == {"resnet": "onnxruntime_onnx"}
    assert models["resnet_pt_v0.tar.gz"]["platforms"] == {"resnet": "pytorch_libtorch"}
    assert models["resnet_onnx_v0.tar.gz"]["loaded"] and models["resnet_pt_v0.tar.gz"]["loaded"]
    assert models["resnet_onnx_v0.tar.gz"]["name"] != models["resnet_pt_v0.tar.gz"]["name"]


def test_rehearsal_multi_model_lru_model_unloaded_under_memory_budget(mme: Mme) -> None:
    # GIVEN a budget that holds the ONNX and TorchScript models but not a third model beside them
    _invoke(mme, "resnet_onnx_v0.tar.gz", seed=21)
    _invoke(mme, "resnet_pt_v0.tar.gz", seed=22)  # the ONNX one is now the least recently used
    before = _models(mme)
    assert before["resnet_onnx_v0.tar.gz"]["loaded"] and before["resnet_pt_v0.tar.gz"]["loaded"]
    # WHEN a third model is invoked
    _invoke(mme, "resnet_v0.tar.gz", seed=23)
    # THEN the least recently used one was unloaded, the other stayed, and the budget held
    models = _models(mme)
    assert not models["resnet_onnx_v0.tar.gz"]["loaded"]
    assert models["resnet_onnx_v0.tar.gz"]["unloads"] == before["resnet_onnx_v0.tar.gz"]["unloads"] + 1
    assert models["resnet_pt_v0.tar.gz"]["loaded"] and models["resnet_v0.tar.gz"]["loaded"]
    assert models["resnet_pt_v0.tar.gz"]["unloads"] == before["resnet_pt_v0.tar.gz"]["unloads"]


def test_rehearsal_multi_model_memory_limit_of_an_endpoint_without_a_multi_model_variant_names_those_with_one(
    mme: Mme,
) -> None:
    from model_build.user_errors import UserError

    # GIVEN the running multi-model endpoint (invoked)  WHEN the memory of another endpoint is limited
    _invoke(mme, "resnet_onnx_v0.tar.gz", seed=31)
    with pytest.raises(UserError) as raised:
        mme.plane.limit_multi_model_memory("no-such-endpoint", 1024)
    # THEN the error names the endpoint given and the one that has a multi-model variant
    message = str(raised.value)
    assert "endpoint_name 'no-such-endpoint' has no started multi-model variant" in message
    assert f"started: {ENDPOINT}" in message


def test_rehearsal_multi_model_archive_added_later_is_served_without_redeploy_after_model_not_ready(
    mme: Mme,
) -> None:
    # GIVEN a running MME, and an archive copied to its prefix afterwards (no control-plane change)
    mme.s3.upload_file(str(mme.archives["resnet_late.tar.gz"]), BUCKET, PREFIX + "resnet_late.tar.gz")
    # WHEN it is invoked by a caller who waits less than its load takes
    (backend,) = [b for b in mme.plane.api.backends.values() if b.endpoint_name == ENDPOINT]
    backend.load_wait_s = 0.05  # SageMaker's is 60 s
    try:
        with pytest.raises(mme.runtime.exceptions.ModelNotReadyException) as exc_info:
            mme.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetModel="resnet_late.tar.gz")
    finally:
        backend.load_wait_s = 60.0
    assert _error(exc_info)[2]["ResponseMetadata"]["HTTPStatusCode"] == 429
    # AND again, as SageMaker advises
    _invoke(mme, "resnet_late.tar.gz")
    # THEN it answers like its source, from the one load the first call started
    assert _models(mme)["resnet_late.tar.gz"]["loads"] == 1


def test_rehearsal_multi_model_unknown_target_model_is_validation_error(mme: Mme) -> None:
    # GIVEN no object at the prefix for the TargetModel
    with pytest.raises(mme.runtime.exceptions.ValidationError) as exc_info:
        # WHEN it is invoked
        mme.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetModel="nope.tar.gz")
    # THEN SageMaker's ValidationError names the bucket and the key it looked for
    _, message, response = _error(exc_info)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert f"Failed to download model data(bucket: {BUCKET}, key: {PREFIX}nope.tar.gz)" in message


def test_rehearsal_multi_model_corrupt_archive_is_validation_error(mme: Mme) -> None:
    # GIVEN an object at the prefix that is not a gzip tar
    with pytest.raises(mme.runtime.exceptions.ValidationError) as exc_info:
        mme.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetModel="corrupt.tar.gz")
    # THEN the error names the archive, why it failed, what it must hold, and the fix
    _, message, _ = _error(exc_info)
    assert "Failed to extract model data archive corrupt.tar.gz" in message
    assert "cannot be extracted" in message and "python -m model_build build" in message


def test_rehearsal_multi_model_model_failing_to_load_is_model_error(mme: Mme) -> None:
    # GIVEN an archive whose model.onnx is not a model
    with pytest.raises(mme.runtime.exceptions.ModelError) as exc_info:
        mme.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetModel="broken.tar.gz")
    # THEN ModelError carries Triton's load failure (400) and its message
    _, message, response = _error(exc_info)
    assert response["OriginalStatusCode"] == 400
    assert "load failed for model 'broken.tar.gz'" in response["OriginalMessage"]
    assert "Received client error (400)" in message
    # AND the loaded models still answer (the container is unharmed)
    loaded = [t for t, m in _models(mme).items() if m["loaded"] and t in mme.references]
    _invoke(mme, loaded[-1] if loaded else "resnet_v0.tar.gz", seed=31)


def test_rehearsal_multi_model_missing_target_model_is_validation_error(mme: Mme) -> None:
    # GIVEN the MME, WHEN it is invoked without TargetModel
    with pytest.raises(mme.runtime.exceptions.ValidationError) as exc_info:
        mme.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}")
    # THEN AWS's wording says the target model header is missing
    assert "is missing a target model header" in _error(exc_info)[1]


def test_rehearsal_multi_model_tensorrt_engine_load_says_why_it_cannot_run(mme: Mme) -> None:
    # GIVEN an archive holding a tensorrt_plan model (the engine bytes never matter: it is refused first)
    buffer = io.BytesIO()
    config = b'name: "resnet"\nplatform: "tensorrt_plan"\nmax_batch_size: 8\n'
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in (("resnet/config.pbtxt", config), ("resnet/1/model.plan", b"engine")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    mme.s3.put_object(Bucket=BUCKET, Key=PREFIX + "resnet_trt_v0.tar.gz", Body=buffer.getvalue())
    # WHEN it is invoked
    with pytest.raises(mme.runtime.exceptions.ModelError) as exc_info:
        mme.runtime.invoke_endpoint(EndpointName=ENDPOINT, Body=b"{}", TargetModel="resnet_trt_v0.tar.gz")
    # THEN the load fails with the reason and what to rehearse instead
    original = _error(exc_info)[2]["OriginalMessage"]
    assert (
        "TensorRT engine (platform tensorrt_plan)" in original and "ONNX or TorchScript archive" in original
    )


def test_rehearsal_multi_model_publishes_every_multi_model_metric(mme: Mme) -> None:
    import datetime

    import boto3

    from model_build.sagemaker_metrics import ServingMode
    from rehearsal.data_plane.metrics import missing_metrics, published_metrics

    # GIVEN the module's traffic: cold and warm calls, an LRU unload, errors
    # WHEN the data plane publishes (two samples: the CPU share needs two readings) and the metrics are read back
    mme.plane.flush_metrics()
    time.sleep(0.5)
    mme.plane.flush_metrics()
    now = datetime.datetime.now(datetime.UTC)
    refs = published_metrics(ENDPOINT, "AllTraffic", ServingMode.MULTI_MODEL)
    cloudwatch = boto3.client("cloudwatch", **mme.moto.boto3_kwargs())
    missing = missing_metrics(cloudwatch, refs, now - datetime.timedelta(hours=1), now + datetime.timedelta(minutes=1))
    # THEN every metric SageMaker publishes for a multi-model endpoint (but the GPU ones) has data
    assert {r.name for r in refs} >= {"ModelCacheHit", "ModelLoadingWaitTime", "ModelUnloadingTime", "LoadedModelCount"}
    assert missing == [], [r.describe() for r in missing]
