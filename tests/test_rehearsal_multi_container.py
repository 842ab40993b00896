"""Multi-container endpoints on the local data plane: a serial pipeline end to end, and direct invocation.

moto holds the Models (``Containers`` + ``InferenceExecutionConfig``) and the relu archive; the data
plane runs the project's preprocessing container (examples/serial_pipeline/preprocess.py) as the
local stand-in of its image and the relu model on the bundled Triton. Calls are plain boto3.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rehearsal.api_endpoints import EMULATED_INSTANCE_TYPE, EMULATED_ROLE_ARN, EMULATED_TRITON_IMAGE

pytestmark = pytest.mark.slow  # moto + the data plane + Triton

PREPROCESS = Path(__file__).resolve().parents[1] / "examples" / "serial_pipeline" / "preprocess.py"
PREPROCESS_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/preprocess:1"
UNKNOWN_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/unknown:1"
BUCKET = "multi-container"
KEY = "relu/model.tar.gz"
ROWS = np.array([[-1.0, 2.0, -3.0, 4.0], [5.0, -6.0, 7.0, -0.5]], dtype=np.float32)


def _relu(x: np.ndarray) -> np.ndarray:
    """The model's source: ``y = relu(x)`` (conftest's relu_onnx graph)."""
    return np.maximum(x, 0)


def _create(sagemaker: Any, name: str, mode: str, containers: list[dict[str, Any]]) -> None:
    sagemaker.create_model(
        ModelName=name,
        ExecutionRoleArn=EMULATED_ROLE_ARN,
        Containers=containers,
        InferenceExecutionConfig={"Mode": mode},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InstanceType": EMULATED_INSTANCE_TYPE,
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-config")


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory, relu_onnx) -> Iterator[tuple[Any, Any]]:
    import boto3
    from botocore.config import Config

    from model_build.pipeline import build
    from model_build.spec_file import load_spec_file
    from rehearsal.data_plane import LocalDataPlane
    from rehearsal.moto_server import MotoServer

    folder = tmp_path_factory.mktemp("relu")
    relu_onnx(folder / "relu.onnx")
    (folder / "relu.toml").write_text(
        'name = "relu"\n[source]\nkind = "onnx"\npath = "relu.onnx"\n'
        '[triton]\nmax_batch_size = 4\ninstance_kind = "KIND_CPU"\n'
    )
    built = build(load_spec_file(folder / "relu.toml"))  # the shared build cache: built once
    with MotoServer() as moto:
        s3 = boto3.client("s3", **moto.boto3_kwargs())
        s3.create_bucket(Bucket=BUCKET)
        s3.upload_file(str(built.archive_path), BUCKET, KEY)
        sagemaker = boto3.client("sagemaker", **moto.boto3_kwargs())
        triton = {
            "ContainerHostname": "relu",
            "Image": EMULATED_TRITON_IMAGE,
            "ModelDataUrl": f"s3://{BUCKET}/{KEY}",
            "Environment": {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "relu"},
        }
        preprocess = {"ContainerHostname": "preprocess", "Image": PREPROCESS_IMAGE}
        _create(sagemaker, "pipeline", "Serial", [preprocess, triton])
        _create(sagemaker, "direct", "Direct", [triton, preprocess])
        _create(sagemaker, "unknown-image", "Serial", [{**preprocess, "Image": UNKNOWN_IMAGE}, triton])
        with LocalDataPlane(
            moto.endpoint_url,
            work_dir=tmp_path_factory.mktemp("plane"),
            seed=0,
            local_images={PREPROCESS_IMAGE: [sys.executable, str(PREPROCESS)]},
        ) as data_plane:
            runtime = boto3.client(
                "sagemaker-runtime",
                endpoint_url=data_plane.endpoint_url,
                region_name="us-east-1",
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
                config=Config(retries={"max_attempts": 1}),
            )
            yield runtime, data_plane, moto


def _csv(rows: np.ndarray) -> str:
    return "\n".join(",".join(str(v) for v in row) for row in rows)


def _output(body: bytes) -> np.ndarray:
    answer = json.loads(body)
    (output,) = answer["outputs"]
    return np.array(output["data"], dtype=np.float32).reshape(output["shape"])


def test_serial_pipeline_answers_with_the_last_containers_response(plane):
    runtime, data_plane, _ = plane
    # WHEN a client sends CSV rows to the pipeline (preprocess -> Triton), with plain boto3
    response = runtime.invoke_endpoint(EndpointName="pipeline", ContentType="text/csv", Body=_csv(ROWS))

    # THEN the answer is Triton's, and equals the model's source on the rows
    assert response["ContentType"] == "application/json"
    np.testing.assert_allclose(_output(response["Body"].read()), _relu(ROWS))
    # AND each container was called once, in order
    (summary,) = [b for b in data_plane.describe_backends() if b["endpoint"] == "pipeline"]
    assert [(c["hostname"], c["invocations"]) for c in summary["containers"]] == [
        ("preprocess", 1),
        ("relu", 1),
    ]


def test_serial_pipeline_passes_a_containers_error_back_as_model_error(plane):
    runtime, _, _ = plane
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName="pipeline", ContentType="application/json", Body=b"{}")
    assert "send text/csv rows" in str(raised.value)


def test_serial_pipeline_refuses_a_target_container_hostname(plane):
    runtime, _, _ = plane
    with pytest.raises(
        runtime.exceptions.ClientError, match="not a multi-container endpoint with direct invocation"
    ):
        runtime.invoke_endpoint(
            EndpointName="pipeline", ContentType="text/csv", Body=_csv(ROWS), TargetContainerHostname="relu"
        )


def test_direct_invocation_reaches_only_the_named_container(plane):
    runtime, _, _ = plane
    # WHEN the preprocessing container is named, its own answer comes back (Triton's request)
    pre = runtime.invoke_endpoint(
        EndpointName="direct", ContentType="text/csv", Body=_csv(ROWS), TargetContainerHostname="preprocess"
    )
    request = pre["Body"].read()
    assert json.loads(request)["inputs"][0]["shape"] == [2, 4]
    # AND that request sent to the Triton container answers relu
    answer = runtime.invoke_endpoint(
        EndpointName="direct", ContentType="application/json", Body=request, TargetContainerHostname="relu"
    )
    np.testing.assert_allclose(_output(answer["Body"].read()), _relu(ROWS))


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (None, "TargetContainerHostname is required"),
        ("other", "Target container hostname other is not found"),
    ],
    ids=["no-target", "unknown-target"],
)
def test_direct_invocation_refuses_a_missing_or_unknown_hostname(plane, target, message):
    runtime, _, _ = plane
    kwargs = {} if target is None else {"TargetContainerHostname": target}
    with pytest.raises(runtime.exceptions.ClientError, match=message):
        runtime.invoke_endpoint(EndpointName="direct", ContentType="text/csv", Body=b"1,2,3,4", **kwargs)


def test_a_container_image_without_a_local_stand_in_is_a_model_error_naming_the_argument(plane):
    runtime, _, _ = plane
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName="unknown-image", ContentType="text/csv", Body=b"1,2,3,4")
    message = str(raised.value)
    assert UNKNOWN_IMAGE in message and "local_images" in message and "SAGEMAKER_BIND_TO_PORT" in message


def test_moto_keeps_a_cloudformation_multi_container_models_containers_and_mode(plane):
    import boto3

    _, _, moto = plane
    # GIVEN a template with a Containers-only Model, as MultiContainerModel renders it
    template = {
        "Resources": {
            "Pipeline": {
                "Type": "AWS::SageMaker::Model",
                "Properties": {
                    "ExecutionRoleArn": EMULATED_ROLE_ARN,
                    "Containers": [
                        {"ContainerHostname": "preprocess", "Image": PREPROCESS_IMAGE},
                        {"ContainerHostname": "relu", "Image": EMULATED_TRITON_IMAGE},
                    ],
                    "InferenceExecutionConfig": {"Mode": "Direct"},
                },
            }
        }
    }
    cloudformation = boto3.client("cloudformation", **moto.boto3_kwargs())
    cloudformation.create_stack(StackName="multi-container", TemplateBody=json.dumps(template))
    name = cloudformation.describe_stack_resource(StackName="multi-container", LogicalResourceId="Pipeline")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]

    # THEN DescribeModel has both containers and the mode (moto alone requires PrimaryContainer)
    model = boto3.client("sagemaker", **moto.boto3_kwargs()).describe_model(ModelName=name.rpartition("/")[2])
    assert [c["ContainerHostname"] for c in model["Containers"]] == ["preprocess", "relu"]
    assert model["InferenceExecutionConfig"] == {"Mode": "Direct"}
