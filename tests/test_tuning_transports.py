"""tuning.transports.Boto3Transport: the same load generator through boto3 and the local data plane.

moto holds the endpoint and the artifact, LocalDataPlane serves InvokeEndpoint with a real Triton,
the client is boto3's sagemaker-runtime: the path a real endpoint takes, with the URL swapped.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from triton_runtime.kserve import encode, sample_inputs
from tuning.loadgen import probe, run_fixed
from tuning.matrix import input_specs
from tuning.transports import Boto3Transport


@pytest.fixture(scope="module")
def endpoint(rehearsal: Any) -> tuple[Boto3Transport, Any]:
    """The rehearsal's ``bert`` endpoint as a load-generator transport, and its build."""
    transport = Boto3Transport(
        "bert", endpoint_url=rehearsal.plane.endpoint_url, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    return transport, rehearsal.built


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["json", "binary"])
def test_boto3_transport_returns_the_models_answer(endpoint, encoding):
    import onnxruntime as ort

    transport, built = endpoint
    arrays = sample_inputs(input_specs(built.manifest), batch_size=2, seed=3)
    outputs = probe(transport, encode(arrays, encoding=encoding, outputs=["logits"]))
    session = ort.InferenceSession(str(built.repository_dir / built.name / "1" / "model.onnx"))
    np.testing.assert_allclose(outputs["logits"], session.run(["logits"], arrays)[0], atol=1e-4, rtol=1e-3)


@pytest.mark.slow
def test_load_through_boto3_counts_requests_without_errors(endpoint):
    transport, built = endpoint
    payload = encode(sample_inputs(input_specs(built.manifest)), encoding="binary", outputs=["logits"])
    result = run_fixed(transport, payload, concurrency=4, duration_s=1.0, warmup_s=0.5, sample_gpu=False)
    assert result.latency.count > 0
    assert result.latency.errors == 0, result.error_examples
    assert result.latency.p50_ms <= result.latency.p99_ms


def test_boto3_transport_keeps_credentials_out_of_its_repr():
    assert "secret" not in repr(Boto3Transport("e", aws_access_key_id="id", aws_secret_access_key="secret"))
