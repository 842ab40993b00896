"""rehearsal.data_plane: SageMaker runtime's InvokeEndpoint served by real Triton, against moto.

Everything is real: moto's server holds the endpoints and the artifact, the model is the bert-tiny
example built by model_build (torch → ONNX → model.tar.gz), Triton runs it, boto3 calls it.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest
from botocore.exceptions import ClientError

from rehearsal.data_plane import safe_extract
from rehearsal.reference import ModelReference, kserve_outputs, kserve_request, tokenized_inputs


def torch_reference(r: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """The source torch model's logits for ``inputs`` (the same seeded weights that were exported)."""
    return ModelReference(r.spec, r.built.manifest).outputs(inputs)["logits"]


def invoke(r: Any, endpoint: str, inputs: dict[str, np.ndarray], **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
    response = r.runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=kserve_request(inputs), **kwargs
    )
    logits = kserve_outputs(response["Body"].read())["logits"]
    return logits, response


def wait_for_refresh(plane: Any, before: float, after: float, timeout_s: float = 30.0) -> tuple[set[str], set[str]]:
    """Wait for the first routing refresh pass that started after a control-plane change to finish.

    Args:
        plane: The data plane.
        before: ``time.monotonic()`` just before the change was requested.
        after: ``time.monotonic()`` once it was made.
        timeout_s: How long to wait.

    Returns:
        ``(changed, removed)``: the endpoints that passes found changed or gone, from every pass that
        could see the change (ended after ``before``) up to that first pass. A pass already running
        while the change was made may see it first and leave nothing for the next one to find.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        # recent_passes keeps the passes that ran while this thread waited for a core.
        passes = list(plane.routing.recent_passes)
        first = next((i for i, p in enumerate(passes) if p.started_at > after), None)
        if first is not None:
            seen = [p for p in passes[: first + 1] if p.started_at + p.duration_s >= before]
            return {n for p in seen for n in p.changed}, {n for p in seen for n in p.removed}
        time.sleep(0.05)
    raise AssertionError(f"no routing refresh started within {timeout_s} s (interval {plane.refresh_interval_s} s)")


def wait_until_gone(pid: int, timeout_s: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.1)
    return False


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, dict[str, Any]]:
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


# ------------------------------------------------------------------------------------- happy path


@pytest.mark.slow
def test_invoke_endpoint_through_boto3_equals_torch(rehearsal: Any) -> None:
    # GIVEN tokenized-looking inputs with padding
    inputs = tokenized_inputs(batch_size=3, sequence_length=128, seed=7)
    # WHEN boto3's invoke_endpoint calls the local data plane
    logits, response = invoke(rehearsal, "bert", inputs, CustomAttributes="trace=1", InferenceId="req-1")
    # THEN Triton's answer equals the source torch model within the build's tolerance
    expected = torch_reference(rehearsal, inputs)
    tol = rehearsal.spec.tolerance
    assert logits.shape == expected.shape == (3, 2)
    np.testing.assert_allclose(logits, expected, atol=tol.atol, rtol=tol.rtol)
    # THEN the response names the variant and the content type, as SageMaker's does
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"] == "application/json"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-invoked-production-variant"] == "AllTraffic"


@pytest.mark.slow
def test_concurrent_invocations_all_answer_correctly(rehearsal: Any) -> None:
    # GIVEN 24 different requests
    requests = [tokenized_inputs(batch_size=1 + i % 4, sequence_length=128, seed=100 + i) for i in range(24)]
    # WHEN 8 threads send them at once through one boto3 client
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda inputs: invoke(rehearsal, "bert", inputs)[0], requests))
    # THEN each answer belongs to its own request (no mix-ups under concurrency)
    tol = rehearsal.spec.tolerance
    expected = torch_reference(rehearsal, {k: np.concatenate([r[k] for r in requests]) for k in requests[0]})
    np.testing.assert_allclose(np.concatenate(results), expected, atol=tol.atol, rtol=tol.rtol)


@pytest.mark.slow
def test_two_weighted_variants_both_get_traffic_and_target_variant_pins_one(rehearsal: Any) -> None:
    # GIVEN an endpoint with two variants weighted 1:1 (two Triton servers)
    rehearsal.create_endpoint("ab", {"VariantA": 1.0, "VariantB": 1.0})
    inputs = tokenized_inputs(batch_size=1, sequence_length=128, seed=3)
    # WHEN it is called 20 times
    seen = [invoke(rehearsal, "ab", inputs)[1]["InvokedProductionVariant"] for _ in range(20)]
    # THEN both variants served requests (P(all one variant) = 2 * 0.5**20 with a seeded choice)
    assert set(seen) == {"VariantA", "VariantB"}
    started = {b["variant"] for b in rehearsal.plane.describe_backends() if b["endpoint"] == "ab"}
    assert started == {"VariantA", "VariantB"}
    # WHEN TargetVariant names one
    pinned = {invoke(rehearsal, "ab", inputs, TargetVariant="VariantB")[1]["InvokedProductionVariant"] for _ in range(5)}
    # THEN only that one answers
    assert pinned == {"VariantB"}
    # WHEN the weights are changed in the control plane (UpdateEndpointWeightsAndCapacities)
    changing_at = time.monotonic()
    rehearsal.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="ab",
        DesiredWeightsAndCapacities=[
            {"VariantName": "VariantA", "DesiredWeight": 0.0},
            {"VariantName": "VariantB", "DesiredWeight": 1.0},
        ],
    )
    changed_at = time.monotonic()
    # THEN from the first routing refresh that starts after the change, the data plane follows the new weights
    changed, _ = wait_for_refresh(rehearsal.plane, changing_at, changed_at)
    assert "ab" in changed
    after = {invoke(rehearsal, "ab", inputs)[1]["InvokedProductionVariant"] for _ in range(10)}
    assert after == {"VariantB"}


# ----------------------------------------------------------------------------------------- errors


@pytest.mark.slow
def test_unknown_endpoint_is_a_validation_error(rehearsal: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        rehearsal.runtime.invoke_endpoint(EndpointName="no-such-endpoint", ContentType="application/json", Body=b"{}")
    code, status, response = error_of(excinfo)
    assert (code, status) == ("ValidationError", 400)
    assert response["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."
    # botocore maps the code to the modeled exception class, as against AWS
    assert isinstance(excinfo.value, rehearsal.runtime.exceptions.ValidationError)


@pytest.mark.slow
def test_deleted_endpoint_is_not_found_on_the_next_call(rehearsal: Any) -> None:
    rehearsal.create_endpoint("short-lived", {"AllTraffic": 1.0})
    rehearsal.sagemaker.delete_endpoint(EndpointName="short-lived")
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError, match=r"short-lived .* not found"):
        rehearsal.runtime.invoke_endpoint(EndpointName="short-lived", ContentType="application/json", Body=b"{}")


@pytest.mark.slow
def test_body_the_model_rejects_is_a_model_error_with_the_original_status(rehearsal: Any) -> None:
    # GIVEN a well-formed request with a tensor of the wrong width (127 tokens, the model takes 128)
    bad = tokenized_inputs(batch_size=1, sequence_length=127, seed=0)
    # WHEN it is sent
    with pytest.raises(rehearsal.runtime.exceptions.ModelError) as excinfo:
        rehearsal.runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=kserve_request(bad))
    # THEN SageMaker's ModelError shape comes back: 424, Triton's status and message, log group
    code, status, response = error_of(excinfo)  # type: ignore[arg-type]
    assert (code, status) == ("ModelError", 424)
    assert response["OriginalStatusCode"] == 400
    assert "unexpected shape" in response["OriginalMessage"]
    assert response["Error"]["Message"].startswith("Received client error (400) from primary with message")
    assert response["LogStreamArn"].endswith(":log-group:/aws/sagemaker/Endpoints/bert")


@pytest.mark.slow
def test_body_that_is_not_json_is_a_model_error(rehearsal: Any) -> None:
    with pytest.raises(rehearsal.runtime.exceptions.ModelError) as excinfo:
        rehearsal.runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=b"not json")
    assert excinfo.value.response["OriginalStatusCode"] >= 400
    assert "JSON" in excinfo.value.response["OriginalMessage"]


@pytest.mark.slow
def test_unknown_target_variant_and_target_model_on_single_model_endpoint_are_validation_errors(
    rehearsal: Any,
) -> None:
    body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=0))
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError, match="Variant Nope not found"):
        rehearsal.runtime.invoke_endpoint(EndpointName="bert", Body=body, TargetVariant="Nope")
    # AWS's wording for TargetModel on a single-model endpoint
    with pytest.raises(
        rehearsal.runtime.exceptions.ValidationError,
        match="Endpoint bert is not a multi-model endpoint and does not support target model header",
    ):
        rehearsal.runtime.invoke_endpoint(EndpointName="bert", Body=body, TargetModel="other.tar.gz")


@pytest.mark.slow
def test_payload_over_6_mb_is_a_validation_error(rehearsal: Any) -> None:
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError, match="6 MB"):
        rehearsal.runtime.invoke_endpoint(EndpointName="bert", Body=b"x" * (6 * 1024 * 1024 + 1))


@pytest.mark.slow
def test_missing_artifact_is_a_model_error_and_starts_no_server(rehearsal: Any) -> None:
    # GIVEN an endpoint whose model points at an object that does not exist
    rehearsal.create_endpoint("broken", {"AllTraffic": 1.0}, model_data_url=f"s3://{rehearsal.bucket}/missing/model.tar.gz")
    body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=0))
    # WHEN it is invoked twice
    for _ in range(2):
        with pytest.raises(rehearsal.runtime.exceptions.ModelError, match="did not start") as excinfo:
            rehearsal.runtime.invoke_endpoint(EndpointName="broken", ContentType="application/json", Body=body)
        # THEN the reason (the S3 404) is in the message; the failure is remembered, not retried
        assert "404" in excinfo.value.response["OriginalMessage"]
    broken = [b for b in rehearsal.plane.describe_backends() if b["endpoint"] == "broken"]
    assert broken and broken[0]["triton_url"] is None


# --------------------------------------------------------------------- faithful runtime answers


@pytest.mark.slow
def test_every_answer_carries_its_own_request_id_as_sagemakers_does(rehearsal: Any) -> None:
    body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=0))
    # WHEN two calls succeed and one fails
    first = rehearsal.runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=body)
    second = rehearsal.runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=body)
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError) as failed:
        rehearsal.runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=body)
    # THEN each carries x-amzn-RequestId, which boto3 reads into ResponseMetadata.RequestId, all different
    ids = [
        first["ResponseMetadata"]["RequestId"],
        second["ResponseMetadata"]["RequestId"],
        failed.value.response["ResponseMetadata"]["RequestId"],
    ]
    assert all(str(uuid.UUID(i)) == i for i in ids)
    assert len(set(ids)) == 3
    assert first["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"] == ids[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"InferenceComponentName": "bert-ic"}, ["Endpoint bert does not have inference components", "bert-ic"]),
        ({"TargetContainerHostname": "second"}, ["is not a multi-container endpoint with direct invocation", "second"]),
    ],
    ids=["inference-component-without-components", "container-hostname-on-a-single-container-model"],
)
def test_targeting_header_the_endpoint_does_not_support_is_a_validation_error(
    rehearsal: Any, header: dict[str, str], expected: list[str]
) -> None:
    body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=0))
    # WHEN boto3 names an inference component, or a container by host name, on the bert endpoint (one Model,
    # one container)
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError) as excinfo:
        rehearsal.runtime.invoke_endpoint(EndpointName="bert", Body=body, **header)
    # THEN SageMaker's ValidationError (400) comes back, naming the endpoint and the header's value
    code, status, response = error_of(excinfo)  # type: ignore[arg-type]
    assert (code, status) == ("ValidationError", 400)
    for fragment in expected:
        assert fragment in response["Error"]["Message"]


# ------------------------------------------------------------------------ routing state and refresh


@pytest.mark.slow
def test_invocations_are_routed_from_the_data_planes_own_state_not_the_emulator(rehearsal: Any) -> None:
    # GIVEN an endpoint already resolved once
    body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=0))
    rehearsal.runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=body)
    routing = rehearsal.plane.routing
    # WHEN it is invoked 30 times with the background refresh held (however slow the machine is)
    with routing.refresh_held():
        calls = routing.control_plane.describe_calls
        for _ in range(30):
            rehearsal.runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=body)
        # THEN no call asked the emulator: DescribeEndpoint is left to the refresh passes
        assert routing.control_plane.describe_calls == calls
    # THEN the refresh runs again once released (one DescribeEndpoint per known endpoint)
    passes = routing.passes
    assert rehearsal.plane.refresh() is not None and routing.passes > passes


@pytest.mark.slow
def test_endpoint_switched_to_a_new_config_then_deleted_is_followed_after_one_refresh(rehearsal: Any) -> None:
    sm = rehearsal.sagemaker
    body = kserve_request(tokenized_inputs(batch_size=1, sequence_length=128, seed=0))
    # GIVEN an endpoint serving variant Blue (its Triton started by a first call)
    rehearsal.create_endpoint("switch", {"Blue": 1.0})
    first = rehearsal.runtime.invoke_endpoint(EndpointName="switch", ContentType="application/json", Body=body)
    assert first["InvokedProductionVariant"] == "Blue"
    (blue,) = [b for b in rehearsal.plane.describe_backends() if b["endpoint"] == "switch"]
    # WHEN it is switched to a new config with variant Green (moto has no UpdateEndpoint; its
    # CloudFormation, i.e. `cdk deploy`, deletes and re-creates the endpoint under the same name)
    sm.create_model(
        ModelName="switch-Green",
        ExecutionRoleArn=sm.describe_model(ModelName="switch-Blue")["ExecutionRoleArn"],
        PrimaryContainer={
            k: v for k, v in sm.describe_model(ModelName="switch-Blue")["PrimaryContainer"].items() if k != "ModelDataSource"
        },
    )
    sm.create_endpoint_config(
        EndpointConfigName="switch-config-2",
        ProductionVariants=[
            {"VariantName": "Green", "ModelName": "switch-Green", "InitialInstanceCount": 1, "InstanceType": "ml.g4dn.xlarge"}
        ],
    )
    switching_at = time.monotonic()
    sm.delete_endpoint(EndpointName="switch")
    sm.create_endpoint(EndpointName="switch", EndpointConfigName="switch-config-2")
    switched_at = time.monotonic()
    # THEN after the first refresh pass that started later, calls go to the new config's variant (a pass
    # that ran between the delete and the create found the endpoint gone: the next call reads it afresh)
    changed, removed = wait_for_refresh(rehearsal.plane, switching_at, switched_at)
    assert "switch" in changed | removed
    second = rehearsal.runtime.invoke_endpoint(EndpointName="switch", ContentType="application/json", Body=body)
    assert second["InvokedProductionVariant"] == "Green"
    # THEN the old config's container was stopped, as SageMaker retires the old fleet
    assert wait_until_gone(blue["triton_pid"])
    backends = {(b["endpoint_config"], b["variant"]): b for b in rehearsal.plane.describe_backends() if b["endpoint"] == "switch"}
    assert list(backends) == [("switch-config-2", "Green")]
    green_pid = backends[("switch-config-2", "Green")]["triton_pid"]
    # WHEN the endpoint is deleted
    deleting_at = time.monotonic()
    sm.delete_endpoint(EndpointName="switch")
    deleted_at = time.monotonic()
    # THEN after the next refresh the endpoint is not found, and its container is stopped
    _, removed = wait_for_refresh(rehearsal.plane, deleting_at, deleted_at)
    assert "switch" in removed
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError, match="Endpoint switch of account 123456789012 not found"):
        rehearsal.runtime.invoke_endpoint(EndpointName="switch", ContentType="application/json", Body=body)
    assert wait_until_gone(green_pid)
    assert not [b for b in rehearsal.plane.describe_backends() if b["endpoint"] == "switch"]


# ---------------------------------------------------------------- the command line, loopback only


def test_stopping_the_plane_stops_a_triton_it_started_that_no_backend_holds(rehearsal: Any, tmp_path: Path) -> None:
    # GIVEN a second plane on the same emulator, and a Triton serving a repository under its work dir that
    # no backend holds (what a retirement cut short by the stop, or a start ending after it, leaves)
    from rehearsal.data_plane import LocalDataPlane
    from triton_runtime.server import TritonServer, running_servers

    plane = LocalDataPlane(rehearsal.moto.endpoint_url, work_dir=tmp_path / "plane").start()
    repository = tmp_path / "plane" / "lost" / "repository"
    (repository / "idle" / "1").mkdir(parents=True)
    (repository / "idle" / "config.pbtxt").write_text(
        'name: "idle"\nbackend: "python"\n'
        'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] } ]\n'
        "instance_group [ { count: 1 kind: KIND_CPU } ]\n"
    )
    (repository / "idle" / "1" / "model.py").write_text(
        "class TritonPythonModel:\n    def execute(self, requests):\n        return []\n"
    )
    lost = TritonServer(repository, default_model="idle").start()
    pid = lost.pid
    assert pid is not None and plane.lost_servers() == [lost]
    # WHEN the plane stops  THEN that Triton is stopped too, and one outside the work dir would not be touched
    plane.stop()
    assert lost not in running_servers()
    assert wait_until_gone(pid, timeout_s=30)


def listening_addresses(procs: list[psutil.Process]) -> dict[str, list[str]]:
    """Every listening TCP socket of these processes (and their children): name (pid) → ip:port."""
    found: dict[str, list[str]] = {}
    seen: set[int] = set()
    for proc in procs:
        for p in [proc, *proc.children(recursive=True)]:
            if p.pid in seen:
                continue
            seen.add(p.pid)
            sockets = [c for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
            if sockets:
                found[f"{p.name()} ({p.pid})"] = [f"{c.laddr.ip}:{c.laddr.port}" for c in sockets]
    return found


@pytest.mark.slow
def test_data_plane_command_listens_on_loopback_only_and_stops_triton_on_sigterm(rehearsal: Any, tmp_path: Path) -> None:
    # GIVEN `python -m rehearsal.data_plane MOTO_URL` for the rehearsal's emulator, in the background
    proc = subprocess.Popen(
        [sys.executable, "-m", "rehearsal.data_plane", rehearsal.moto.endpoint_url, "--work-dir", str(tmp_path / "w")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        url = json.loads(proc.stdout.readline())["endpoint_url"]
        import boto3

        runtime = boto3.client(
            "sagemaker-runtime", endpoint_url=url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        # WHEN it serves a call (which starts its Triton)
        inputs = tokenized_inputs(batch_size=2, sequence_length=128, seed=5)
        response = runtime.invoke_endpoint(EndpointName="bert", ContentType="application/json", Body=kserve_request(inputs))
        np.testing.assert_allclose(
            kserve_outputs(response["Body"].read())["logits"], torch_reference(rehearsal, inputs), atol=1e-4, rtol=1e-3
        )
        plane = psutil.Process(proc.pid)
        tritons = [p for p in plane.children(recursive=True) if p.name() == "tritonserver"]
        assert len(tritons) == 1
        # THEN every socket listening in what the rehearsal started — the emulator, this process's data
        # plane and Triton, the command's data plane and its Triton — is on loopback
        moto = [p for p in psutil.Process().children() if "moto.server" in " ".join(p.cmdline())]
        listening = listening_addresses([psutil.Process(), *moto, plane])
        ports = [address for addresses in listening.values() for address in addresses]
        assert len([n for n in listening if n.startswith("tritonserver")]) >= 2, listening
        assert len(ports) >= 2 + 3 + 3, listening  # 2 data planes, moto, 2 x Triton (SageMaker, HTTP, metrics)
        assert all(a.rsplit(":", 1)[0] in {"127.0.0.1", "::1"} for a in ports), listening
        # WHEN it gets SIGTERM
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        # THEN it stops its Triton and exits 128 + SIGTERM, saying so
        assert proc.returncode == 128 + signal.SIGTERM, stderr[-2000:]
        assert "SIGTERM" in stderr
        assert wait_until_gone(tritons[0].pid, timeout_s=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# ------------------------------------------------------------------------------------ extraction


def _tar_with(member: str, tmp_path: Path) -> Path:
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"owned"
        info = tarfile.TarInfo(member)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return archive


@pytest.mark.parametrize("member", ["../escaped.txt", "/tmp/absolute-escape.txt", "model/../../escaped.txt"])
def test_safe_extract_refuses_members_outside_the_target(tmp_path: Path, member: str) -> None:
    archive = _tar_with(member, tmp_path)
    with pytest.raises(ValueError, match="unsafe member"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()


def test_safe_extract_refuses_symlinks_pointing_outside(tmp_path: Path) -> None:
    archive = tmp_path / "link.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("bert/1/model.onnx")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(ValueError, match="unsafe member"):
        safe_extract(archive, tmp_path / "out")


def test_safe_extract_keeps_a_normal_model_archive(tmp_path: Path) -> None:
    archive = _tar_with("bert/1/model.onnx", tmp_path)
    out = safe_extract(archive, tmp_path / "out")
    assert (out / "bert" / "1" / "model.onnx").read_bytes() == b"owned"
