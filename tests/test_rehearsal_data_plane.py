"""rehearsal.data_plane: SageMaker runtime's InvokeEndpoint served by real Triton, against moto.

Everything is real: moto's server holds the endpoints and the artifact, the model is the bert-tiny
example built by model_build (torch → ONNX → model.tar.gz), Triton runs it, boto3 calls it.
"""

from __future__ import annotations

import concurrent.futures
import io
import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError

from rehearsal.data_plane import safe_extract
from rehearsal.demo import kserve_outputs, kserve_request, tokenized_inputs, torch_reference


def invoke(r: Any, endpoint: str, inputs: dict[str, np.ndarray], **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
    response = r.runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="application/json", Body=kserve_request(inputs), **kwargs
    )
    logits = kserve_outputs(response["Body"].read())["logits"]
    return logits, response


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
    expected = torch_reference(rehearsal.spec, inputs)
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
    expected = torch_reference(
        rehearsal.spec, {k: np.concatenate([r[k] for r in requests]) for k in requests[0]}
    )
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
    rehearsal.sagemaker.update_endpoint_weights_and_capacities(
        EndpointName="ab",
        DesiredWeightsAndCapacities=[
            {"VariantName": "VariantA", "DesiredWeight": 0.0},
            {"VariantName": "VariantB", "DesiredWeight": 1.0},
        ],
    )
    # THEN the data plane follows the current weights on the next requests
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
    with pytest.raises(rehearsal.runtime.exceptions.ValidationError, match="only valid for multi-model"):
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
