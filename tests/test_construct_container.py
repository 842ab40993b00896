"""Bring your own container: ContainerImage (Docker image asset, ECR, URI), the contract checks, ContainerModel.

No Docker daemon here: the image is never built. What is tested for real: the asset wiring (the
cloud assembly's ``dockerImages`` entry, its staged build context and hash, the template's image
URI), the deterministic hash, the templates (cfn-lint, cdk-nag), and the example's Flask app
(``examples/byoc/wsgi.py``, what gunicorn loads) served on loopback with its ONNX model.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Match, Template

from serving_constructs import (
    ContainerImage,
    ContainerModel,
    InstanceType,
    ModelArtifact,
    ProductionVariant,
    RealtimeEndpoint,
)
from serving_constructs.container_image import contract_problems
from stacks.examples_byoc import EXAMPLE_DIRECTORY, ByocExampleStack

sys.path.insert(0, str(EXAMPLE_DIRECTORY))
from make_model_archive import write_archive

sys.path.remove(str(EXAMPLE_DIRECTORY))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's model data, written by its own script."""
    return write_archive(tmp_path_factory.mktemp("byoc-model"))


@pytest.fixture(scope="module")
def example(archive: Path, nag_violations: Any) -> dict[str, Any]:
    """The example stack synthesized once under cdk-nag: template, assets manifest, findings."""
    app = App()
    ByocExampleStack(app, "Byoc", model_archive=archive)
    findings = nag_violations(app)
    outdir = Path(app.outdir)
    return {
        "template": json.loads((outdir / "Byoc.template.json").read_text()),
        "assets": json.loads((outdir / "Byoc.assets.json").read_text()),
        "outdir": outdir,
        "findings": findings,
    }


def _asset_hash(directory: Path, **props: Any) -> str:
    stack = Stack(App(), "Hash")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    ContainerImage.from_asset(directory, **props).bind(stack, role)
    asset = stack.node.find_child("ImageAsset")
    return str(asset.asset_hash)  # type: ignore[attr-defined]


def test_example_assets_manifest_has_the_docker_image_of_the_example_directory(example):
    # GIVEN the example stack  WHEN synthesized
    images = example["assets"]["dockerImages"]

    # THEN one image asset, built from a staged copy of examples/byoc for linux/amd64
    assert len(images) == 1
    (asset_hash, image), *_ = images.items()
    assert image["source"]["dockerFile"] == "Dockerfile"
    assert image["source"]["platform"] == "linux/amd64"
    staged = example["outdir"] / image["source"]["directory"]
    expected = {"Dockerfile", "nginx.conf", "serve", "wsgi.py", "predictor.py", ".dockerignore", ".gitignore"}
    assert {path.name for path in staged.iterdir()} == expected  # no model.tar.gz, script or caches
    (destination,) = image["destinations"].values()
    assert destination["imageTag"] == asset_hash

    # AND the model's image is that tag in the bootstrap repository, with the archive as model data
    Template.from_json(example["template"]).has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": {"Fn::Sub": Match.string_like_regexp(f"container-assets-.*:{asset_hash}$")},
                "Mode": "SingleModel",
                "ModelDataUrl": {"Fn::Sub": Match.string_like_regexp(r"^s3://cdk-.*\.gz$")},
                "Environment": {"MODEL_SERVER_WORKERS": "2"},
            },
            "EnableNetworkIsolation": True,
        },
    )


def test_example_role_pulls_only_the_asset_repository_and_reads_only_its_archive(example):
    template = Template.from_json(example["template"])
    statements = template.find_resources("AWS::IAM::Policy")
    (policy,) = statements.values()
    by_action = {
        json.dumps(statement["Action"]): statement["Resource"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    pull = by_action[
        json.dumps(["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"])
    ]
    assert "container-assets" in json.dumps(pull)
    assert by_action['"ecr:GetAuthorizationToken"'] == "*"
    assert json.dumps(by_action['"s3:GetObject"']).endswith('.gz"]]}')
    # the model waits for its grants
    template.has_resource(
        "AWS::SageMaker::Model", {"DependsOn": [Match.string_like_regexp("ModelRoleDefaultPolicy")]}
    )


def test_example_endpoint_serves_the_container_model_on_a_cpu_instance(example):
    template = Template.from_json(example["template"])
    (model_id,) = template.find_resources("AWS::SageMaker::Model")
    template.has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {
            "ProductionVariants": [
                Match.object_like(
                    {"ModelName": {"Fn::GetAtt": [model_id, "ModelName"]}, "InstanceType": "ml.m5.xlarge"}
                )
            ]
        },
    )


def test_example_has_no_unacknowledged_nag_findings(example):
    assert example["findings"] == []


def test_example_passes_cfn_lint(example, cfn_lint_errors):
    assert cfn_lint_errors(example["template"]) == []


def test_asset_hash_is_deterministic_and_ignores_caches(tmp_path):
    # GIVEN a copy of the example
    folder = tmp_path / "byoc"
    shutil.copytree(EXAMPLE_DIRECTORY, folder, ignore=shutil.ignore_patterns("__pycache__", "model.tar.gz"))
    first = _asset_hash(folder)

    # WHEN synthesized again, and with caches, the model archive (.dockerignore) and tool folders added
    assert _asset_hash(folder) == first
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "predictor.cpython-311.pyc").write_bytes(b"\0cache")
    (folder / ".pytest_cache").mkdir()
    (folder / ".pytest_cache" / "v").write_text("x")
    (folder / "model.tar.gz").write_bytes(b"data, not image")
    # THEN the hash is unchanged
    assert _asset_hash(folder) == first

    # AND a change to the server, or a build arg, is a new image
    (folder / "predictor.py").write_text((folder / "predictor.py").read_text() + "\n# changed\n")
    changed = _asset_hash(folder)
    assert changed != first
    assert _asset_hash(folder, build_args={"WORKERS": "4"}) != changed


def test_the_example_meets_the_contract():
    assert contract_problems(EXAMPLE_DIRECTORY) == []


def test_an_entrypoint_image_needs_no_serve_script_and_skipped_checks_are_not_run(tmp_path):
    # GIVEN a server started by ENTRYPOINT, listening via gunicorn --bind, routes in a FastAPI app
    (tmp_path / "Dockerfile").write_text(
        'FROM python:3.12-slim\nENTRYPOINT ["gunicorn", "--bind", "0.0.0.0:8080", "app:app"]\n'
    )
    (tmp_path / "app.py").write_text(
        '@app.get("/ping")\ndef ping(): ...\n@app.post("/invocations")\ndef inv(): ...\n'
    )
    # THEN it meets the contract
    assert contract_problems(tmp_path) == []

    # GIVEN routes the checks cannot read (a compiled server)  THEN only "routes" fails, and skipping it passes
    (tmp_path / "app.py").unlink()
    assert [p.split(" — ")[0] for p in contract_problems(tmp_path)] == [
        f"no source file in {tmp_path} names the /ping route",
        f"no source file in {tmp_path} names the /invocations route",
    ]
    assert contract_problems(tmp_path, skip=["routes"]) == []
    ContainerImage.from_asset(tmp_path, skip_contract_checks=["routes"])  # no error


def test_from_ecr_repository_grants_pull_and_from_uri_grants_nothing(stack):
    repository = ecr.Repository.from_repository_name(stack, "Repo", "my-server")
    ContainerModel(stack, "Ecr", image=ContainerImage.from_ecr_repository(repository, "1.0"))
    ContainerModel(
        stack, "Uri", image=ContainerImage.from_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/s:1")
    )
    template = Template.from_stack(stack)

    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/s:1",
                "Mode": "SingleModel",
            }
        },
    )
    template.has_resource_properties(
        "AWS::SageMaker::Model",
        {
            "PrimaryContainer": {
                "Image": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("/my-server:1.0$")])]}
            }
        },
    )
    policies = {key: json.dumps(value) for key, value in template.find_resources("AWS::IAM::Policy").items()}
    assert "ecr:BatchGetImage" in next(text for key, text in policies.items() if key.startswith("Ecr"))
    assert "ecr:" not in next(text for key, text in policies.items() if key.startswith("Uri"))


def test_container_model_without_model_data_has_none_and_grants_no_read(stack):
    model = ContainerModel(stack, "Model", image=ContainerImage.from_uri("x:1"))
    endpoint = RealtimeEndpoint(
        stack,
        "Endpoint",
        variants=[ProductionVariant(model=model, instance_type=InstanceType.of("ml.c5.large"))],
    )
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    endpoint.grant_smoke_test(reader)
    template = Template.from_stack(stack)

    container = next(iter(template.find_resources("AWS::SageMaker::Model").values()))["Properties"][
        "PrimaryContainer"
    ]
    assert "ModelDataUrl" not in container and "ModelDataSource" not in container
    assert "s3:" not in json.dumps(template.find_resources("AWS::IAM::Policy"))
    # no archive size to derive startup timeouts from: SageMaker's defaults
    variant = template.find_resources("AWS::SageMaker::EndpointConfig")
    assert "ModelDataDownloadTimeoutInSeconds" not in json.dumps(variant)


def test_container_model_with_model_data_gets_timeouts_sized_from_the_archive(stack, archive):
    model = ContainerModel(
        stack, "Model", image=ContainerImage.from_uri("x:1"), model_data=ModelArtifact.from_asset(archive)
    )
    RealtimeEndpoint(stack, "Endpoint", variants=[ProductionVariant(model=model)])
    Template.from_stack(stack).has_resource_properties(
        "AWS::SageMaker::EndpointConfig",
        {"ProductionVariants": [Match.object_like({"ModelDataDownloadTimeoutInSeconds": Match.any_value()})]},
    )


# --- the example's server, run for real without Docker ---------------------------------------


@pytest.fixture(scope="module")
def byoc_server(archive: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """examples/byoc's ``wsgi:app`` (what ``serve`` hands gunicorn) on loopback, with the model in a model dir.

    nginx and gunicorn are not installed here, so ``serve`` itself is not run; the app they front is.
    """
    import os
    import tarfile

    from werkzeug.serving import make_server

    model_dir = tmp_path_factory.mktemp("opt-ml-model")
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")  # what SageMaker does with ModelDataUrl
    saved = {name: sys.modules.pop(name, None) for name in ("wsgi", "predictor")}
    os.environ["SM_MODEL_DIR"] = str(model_dir)
    sys.path.insert(0, str(EXAMPLE_DIRECTORY))
    try:
        import wsgi

        server = make_server("127.0.0.1", 0, wsgi.app, threaded=True)
    finally:
        sys.path.remove(str(EXAMPLE_DIRECTORY))
        del os.environ["SM_MODEL_DIR"]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)
        for name, module in saved.items():
            sys.modules.pop(name, None)
            if module is not None:
                sys.modules[name] = module


def _call(
    url: str, body: bytes | None = None, content_type: str = "application/json"
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type} if body else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_example_server_answers_ping_once_the_model_loads(byoc_server):
    assert _call(f"{byoc_server}/ping") == (200, {"status": "healthy"})


def test_example_server_classifies_on_invocations(byoc_server):
    # GIVEN rows whose largest of the first three features is 0, 2, 1
    rows = [[3.0, 0.0, 0.0, 1.0], [0.0, 0.5, 2.0, 1.0], [0.0, 1.0, 0.2, 0.0]]
    status, body = _call(f"{byoc_server}/invocations", json.dumps({"inputs": rows}).encode())

    # THEN the ONNX classifier gives probabilities (summing to 1) whose argmax is that feature
    assert status == 200
    assert [max(range(3), key=row.__getitem__) for row in body["outputs"]] == [0, 2, 1]
    assert all(abs(sum(row) - 1.0) < 1e-5 for row in body["outputs"])


@pytest.mark.parametrize(
    ("body", "content_type", "status", "fragment"),
    [
        (b"1,2,3,4", "text/csv", 415, "Content-Type must be application/json"),
        (b'{"rows": [[1, 2, 3, 4]]}', "application/json", 400, 'expected JSON {"inputs": [[numbers]]}'),
        (b'{"inputs": [[1, 2]]}', "application/json", 400, "the model refused the input"),
    ],
    ids=["csv", "no-inputs-key", "wrong-width"],
)
def test_example_server_refuses_bad_requests_with_a_reason(byoc_server, body, content_type, status, fragment):
    got_status, got = _call(f"{byoc_server}/invocations", body, content_type)
    assert got_status == status
    assert fragment in got["error"]


def test_a_multi_model_endpoint_refuses_a_container_model(stack):
    from serving_constructs import MultiModelEndpoint, PropsError, TritonImage

    model = ContainerModel(stack, "Model", image=ContainerImage.from_uri("x:1"))
    endpoint = MultiModelEndpoint(
        stack, "Mme", instance_type="ml.g5.xlarge", image=TritonImage.from_uri("t:1")
    )
    with pytest.raises(PropsError, match=r"\.model serves one model \(SingleModel mode\)"):
        endpoint.add_production_variant(
            ProductionVariant(model=model, variant_name="Byoc", instance_type=InstanceType.of("ml.g5.xlarge"))
        )
