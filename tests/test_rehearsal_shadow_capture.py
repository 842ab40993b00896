"""Shadow variants and data capture on the local data plane: real Triton, real (emulated) S3 and KMS.

moto holds two Models (production: relu; candidate: the same artifact with ``|x|`` as its graph),
an endpoint config with the candidate as a shadow variant and a ``DataCaptureConfig`` (50 %,
input and output, JSON content type, a KMS key), and the endpoint. Calls are plain boto3; each
request carries an ``InferenceId`` so each capture line can be matched to the request it records.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rehearsal.api_endpoints import EMULATED_INSTANCE_TYPE, EMULATED_ROLE_ARN, EMULATED_TRITON_IMAGE

pytestmark = pytest.mark.slow  # moto + the data plane + Triton

MODELS = "shadow-models"
CAPTURE = "shadow-capture"
PREFIX = "data-capture"
ENDPOINT = "shadowed"
REQUESTS = 10
UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def _with_graph(archive: Path, op: str, relu_onnx: Any, work: Path) -> bytes:
    """Return ``archive`` with its ``relu/1/model.onnx`` replaced by the one-node graph ``op`` (same I/O)."""
    import onnx

    model = onnx.load(str(relu_onnx(work / "graph.onnx")))
    model.graph.node[0].op_type = op
    replacement = model.SerializeToString()
    out = io.BytesIO()
    with tarfile.open(archive, "r:gz") as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            if member.name.endswith("/model.onnx"):
                member.size = len(replacement)
                data = io.BytesIO(replacement)
            dst.addfile(member, data)
    return out.getvalue()


def _variant(name: str, model: str) -> dict[str, Any]:
    return {
        "VariantName": name,
        "ModelName": model,
        "InstanceType": EMULATED_INSTANCE_TYPE,
        "InitialInstanceCount": 1,
        "InitialVariantWeight": 1.0,
    }


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory, relu_onnx) -> Iterator[dict[str, Any]]:
    import boto3
    from botocore.config import Config

    from model_build.pipeline import build
    from model_build.spec_file import load_spec_file
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    folder = tmp_path_factory.mktemp("relu")
    relu_onnx(folder / "relu.onnx")
    # The same spec as test_rehearsal_multi_container.py: one build in the shared cache serves both.
    (folder / "relu.toml").write_text(
        'name = "relu"\n[source]\nkind = "onnx"\npath = "relu.onnx"\n'
        '[triton]\nmax_batch_size = 4\ninstance_kind = "KIND_CPU"\n'
    )
    built = build(load_spec_file(folder / "relu.toml"))
    candidate = _with_graph(built.archive_path, "Abs", relu_onnx, folder)
    with MotoServer() as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket=MODELS)
        s3.create_bucket(Bucket=CAPTURE)
        s3.upload_file(str(built.archive_path), MODELS, "relu/model.tar.gz")
        s3.put_object(Bucket=MODELS, Key="abs/model.tar.gz", Body=candidate)
        key_arn = boto3.client("kms", **moto.boto3_kwargs()).create_key(Description="capture")["KeyMetadata"]["Arn"]
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        for model, key in (("production", "relu"), ("candidate", "abs")):
            sagemaker.create_model(
                ModelName=model,
                ExecutionRoleArn=EMULATED_ROLE_ARN,
                PrimaryContainer={
                    "Image": EMULATED_TRITON_IMAGE,
                    "ModelDataUrl": f"s3://{MODELS}/{key}/model.tar.gz",
                    "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "relu"},
                },
            )
        capture = {
            "EnableCapture": True,
            "InitialSamplingPercentage": 50,
            "DestinationS3Uri": f"s3://{CAPTURE}/{PREFIX}",
            "KmsKeyId": key_arn,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"]},
        }
        sagemaker.create_endpoint_config(
            EndpointConfigName=f"{ENDPOINT}-config",
            ProductionVariants=[_variant("Production", "production")],
            ShadowProductionVariants=[_variant("Shadow", "candidate")],
            DataCaptureConfig=capture,
        )
        sagemaker.create_endpoint(EndpointName=ENDPOINT, EndpointConfigName=f"{ENDPOINT}-config")
        with LocalDataPlane(moto.endpoint_url, work_dir=tmp_path_factory.mktemp("plane"), seed=0) as data_plane:
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=data_plane.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
            yield {
                "moto": moto,
                "plane": data_plane,
                "runtime": runtime,
                "s3": s3,
                "sagemaker": sagemaker,
                "key_arn": key_arn,
            }


def _request(i: int) -> tuple[np.ndarray, bytes]:
    rows = np.array([[-1.0 - i, 2.0, -3.0, 4.0 + i]], dtype=np.float32)
    body = {"inputs": [{"name": "x", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}]}
    return rows, json.dumps(body).encode()


def _output(body: bytes | str) -> np.ndarray:
    (output,) = json.loads(body)["outputs"]
    return np.array(output["data"], dtype=np.float32).reshape(output["shape"])


@pytest.fixture(scope="module")
def traffic(plane) -> dict[str, Any]:
    """Send REQUESTS calls, each with its InferenceId; wait for the capture and shadow work behind them."""
    runtime = plane["runtime"]
    before = datetime.now(UTC)
    sent: dict[str, dict[str, Any]] = {}
    for i in range(REQUESTS):
        rows, body = _request(i)
        answer = runtime.invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="application/json", Body=body, InferenceId=f"request-{i}"
        )
        sent[f"request-{i}"] = {
            "rows": rows,
            "body": body,
            "answer": answer["Body"].read(),
            "variant": answer["InvokedProductionVariant"],
        }
    stats = plane["plane"].flush_data_capture()
    return {"sent": sent, "stats": stats, "before": before, "after": datetime.now(UTC)}


def _capture_files(s3: Any, variant: str) -> dict[str, dict[str, Any]]:
    listed = s3.list_objects_v2(Bucket=CAPTURE, Prefix=f"{PREFIX}/{ENDPOINT}/{variant}/")
    out = {}
    for item in listed.get("Contents", []):
        text = s3.get_object(Bucket=CAPTURE, Key=item["Key"])["Body"].read().decode()
        (line,) = text.splitlines()
        out[item["Key"]] = json.loads(line)
    return out


def test_the_caller_gets_productions_answer_and_the_shadow_gets_every_request(plane, traffic):
    # THEN every answer is production's (relu), from the production variant
    for request in traffic["sent"].values():
        assert request["variant"] == "Production"
        np.testing.assert_allclose(_output(request["answer"]), np.maximum(request["rows"], 0))
    # AND the shadow's container received each request (its answers were discarded)
    stats = traffic["stats"]
    assert stats["shadow_invocations"] == {f"{ENDPOINT}/Shadow": REQUESTS}
    assert stats["shadow_failures"] == 0
    invocations = {b["variant"]: b["invocations"] for b in plane["plane"].describe_backends() if b["endpoint"] == ENDPOINT}
    assert invocations == {"Production": REQUESTS, "Shadow": REQUESTS}


def test_half_the_requests_are_captured_per_variant_in_sagemakers_layout(plane, traffic):
    # THEN at 50 % exactly half of each variant's requests are captured: one JSON Lines file each
    assert traffic["stats"]["captured"] == {f"{ENDPOINT}/Production": REQUESTS // 2, f"{ENDPOINT}/Shadow": REQUESTS // 2}
    assert traffic["stats"]["capture_failures"] == 0
    hours = {f"{t:%Y/%m/%d/%H}" for t in (traffic["before"], traffic["after"])}
    for variant in ("Production", "Shadow"):
        files = _capture_files(plane["s3"], variant)
        assert len(files) == REQUESTS // 2
        for key, record in files.items():
            # <prefix>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<eventId>.jsonl, the hour of the call
            match = re.fullmatch(
                rf"{PREFIX}/{ENDPOINT}/{variant}/(\d{{4}}/\d{{2}}/\d{{2}}/\d{{2}})/\d{{2}}-\d{{2}}-\d{{3}}-({UUID})\.jsonl", key
            )
            assert match, key
            assert match[1] in hours
            assert record["eventMetadata"]["eventId"] == match[2]
            assert set(record) == {"captureData", "eventMetadata", "eventVersion"}
            assert record["eventVersion"] == "0"
            when = datetime.strptime(record["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
            assert traffic["before"] - timedelta(seconds=1) <= when <= traffic["after"]


def test_production_capture_records_what_was_sent_and_what_the_caller_got(plane, traffic):
    files = _capture_files(plane["s3"], "Production")
    # The deterministic sampler takes the 2nd, 4th, ... answered request of the variant.
    captured_ids = sorted(r["eventMetadata"]["inferenceId"] for r in files.values())
    assert captured_ids == sorted(f"request-{i}" for i in range(1, REQUESTS, 2))
    for record in files.values():
        request = traffic["sent"][record["eventMetadata"]["inferenceId"]]
        data = record["captureData"]
        assert data["endpointInput"] == {
            "observedContentType": "application/json",
            "mode": "INPUT",
            "data": request["body"].decode(),
            "encoding": "JSON",
        }
        assert data["endpointOutput"]["mode"] == "OUTPUT"
        assert data["endpointOutput"]["encoding"] == "JSON"
        assert data["endpointOutput"]["observedContentType"].startswith("application/json")
        assert data["endpointOutput"]["data"] == request["answer"].decode()


def test_shadow_capture_records_the_shadow_models_own_answer(plane, traffic):
    for record in _capture_files(plane["s3"], "Shadow").values():
        request = traffic["sent"][record["eventMetadata"]["inferenceId"]]
        data = record["captureData"]
        assert data["endpointInput"]["data"] == request["body"].decode()
        # the candidate's answer (|x|), which the caller never saw: production answered relu(x)
        shadow_answer = _output(data["endpointOutput"]["data"])
        np.testing.assert_allclose(shadow_answer, np.abs(request["rows"]))
        assert not np.allclose(shadow_answer, _output(request["answer"]))


def test_capture_files_are_encrypted_with_the_configured_kms_key(plane, traffic):
    s3 = plane["s3"]
    for key in _capture_files(s3, "Production"):
        head = s3.head_object(Bucket=CAPTURE, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert head["SSEKMSKeyId"] == plane["key_arn"]


def test_the_control_plane_keeps_shadow_variants_and_data_capture(plane):
    sagemaker = plane["sagemaker"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=f"{ENDPOINT}-config")
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["Shadow"]
    assert config["ShadowProductionVariants"][0]["ModelName"] == "candidate"
    assert config["DataCaptureConfig"]["InitialSamplingPercentage"] == 50
    endpoint = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
    assert [v["VariantName"] for v in endpoint["ShadowProductionVariants"]] == ["Shadow"]


def test_the_control_plane_refuses_a_shadow_beside_two_production_variants(plane):
    sagemaker = plane["sagemaker"]
    with pytest.raises(sagemaker.exceptions.ClientError, match="one variant for ProductionVariants"):
        sagemaker.create_endpoint_config(
            EndpointConfigName="two-production",
            ProductionVariants=[_variant("A", "production"), _variant("B", "production")],
            ShadowProductionVariants=[_variant("Shadow", "candidate")],
        )
    # AND nothing half-created is left behind
    names = [c["EndpointConfigName"] for c in sagemaker.list_endpoint_configs()["EndpointConfigs"]]
    assert "two-production" not in names


def test_cloudformation_endpoint_config_keeps_its_shadow_variant(plane):
    import boto3

    moto = plane["moto"]
    template = {
        "Resources": {
            "Config": {
                "Type": "AWS::SageMaker::EndpointConfig",
                "Properties": {
                    "ProductionVariants": [_variant("Production", "production")],
                    "ShadowProductionVariants": [_variant("Shadow", "candidate")],
                },
            }
        }
    }
    cloudformation = boto3.client("cloudformation", **moto.boto3_kwargs())
    cloudformation.create_stack(StackName="shadow-config", TemplateBody=json.dumps(template))
    arn = cloudformation.describe_stack_resource(StackName="shadow-config", LogicalResourceId="Config")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    config = plane["sagemaker"].describe_endpoint_config(EndpointConfigName=arn.rpartition("/")[2])
    assert [v["VariantName"] for v in config["ShadowProductionVariants"]] == ["Shadow"]


def test_a_capture_failure_is_counted_and_logged_and_the_caller_still_gets_the_answer(plane, caplog):
    sagemaker, runtime = plane["sagemaker"], plane["runtime"]
    # GIVEN an endpoint whose capture destination bucket does not exist
    sagemaker.create_endpoint_config(
        EndpointConfigName="lost-capture-config",
        ProductionVariants=[_variant("Production", "production")],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": "s3://no-such-capture-bucket/x",
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
        },
    )
    sagemaker.create_endpoint(EndpointName="lost-capture", EndpointConfigName="lost-capture-config")
    rows, body = _request(0)
    before = plane["plane"].flush_data_capture()["capture_failures"]

    # WHEN it is called
    with caplog.at_level("WARNING", logger="rehearsal.data_plane.capture"):
        answer = runtime.invoke_endpoint(EndpointName="lost-capture", ContentType="application/json", Body=body)
        stats = plane["plane"].flush_data_capture()

    # THEN the caller gets the answer, and the lost record is counted and logged with its destination
    np.testing.assert_allclose(_output(answer["Body"].read()), np.maximum(rows, 0))
    assert stats["capture_failures"] == before + 1
    assert "no-such-capture-bucket" in stats["last_error"]
    assert any("no-such-capture-bucket" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"a": 1}', ('{"a": 1}', "JSON")),
        ("text/csv; charset=utf-8", b"1,2\n", ("1,2\n", "CSV")),
        ("application/x-npy", b"\x93NUMPY", ("k05VTVBZ", "BASE64")),
        ("application/json", b"\xff\xfe", ("//4=", "BASE64")),
    ],
    ids=["json", "csv-with-charset", "unlisted-type", "listed-but-not-text"],
)
def test_capture_encoding_follows_the_content_type_lists(content_type, body, expected):
    from rehearsal.data_plane.capture import CaptureConfig

    config = CaptureConfig.from_api(
        {
            "DestinationS3Uri": "s3://b/p",
            "InitialSamplingPercentage": 100,
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            "CaptureContentTypeHeader": {"JsonContentTypes": ["application/json"], "CsvContentTypes": ["text/csv"]},
        }
    )
    assert config.encode(body, content_type) == expected


@pytest.mark.parametrize(("percentage", "taken"), [(0, 0), (20, 2), (50, 5), (33, 3), (100, 10)])
def test_the_counter_sampler_takes_floor_of_n_times_the_percentage(percentage, taken):
    from rehearsal.data_plane.capture import CounterSampler

    sampler = CounterSampler()
    assert sum(sampler.take("key", percentage) for _ in range(10)) == taken
