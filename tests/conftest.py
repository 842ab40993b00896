"""Shared fixtures for the construct, stack and app tests (kept small on purpose)."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_s3 as s3
from cdk_nag import AwsSolutionsChecks


@pytest.fixture
def stack() -> Stack:
    """An environment-agnostic stack in a fresh app."""
    return Stack(App(), "TestStack")


@pytest.fixture
def model_archive(tmp_path: Path) -> Path:
    """A tiny ``model.tar.gz`` (contents do not matter to synthesis)."""
    config = tmp_path / "config.pbtxt"
    config.write_text('name: "tiny"\nbackend: "onnxruntime"\n')
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(config, arcname="tiny/config.pbtxt")
    return archive


@pytest.fixture
def bucket_artifact() -> Callable[[Stack], Any]:
    """Return ``ModelArtifact.from_bucket`` on an imported bucket ``models-bucket`` / ``bert/model.tar.gz``."""
    from serving_constructs import ModelArtifact

    def make(scope: Stack) -> Any:
        bucket = s3.Bucket.from_bucket_name(scope, "ModelsBucket", "models-bucket")
        return ModelArtifact.from_bucket(bucket, "bert/model.tar.gz", model_name="bert")

    return make


@pytest.fixture
def cfn_lint_errors() -> Callable[[dict[str, Any]], list[str]]:
    """Return a function giving cfn-lint's errors and warnings (not informational) for a template dict.

    Linted for a few SageMaker regions: ``lint_all`` would also check regions where cfn-lint's
    resource spec has no SageMaker at all (E3006), which says nothing about the template.
    """
    import cfnlint.api

    def lint(template: dict[str, Any]) -> list[str]:
        matches = cfnlint.api.lint(json.dumps(template), regions=["us-east-1", "us-west-2", "eu-west-1"])
        return [str(match) for match in matches if match.rule.id[0] in "EW"]

    return lint


@pytest.fixture
def nag_violations() -> Callable[[App], list[str]]:
    """Return a function that synthesizes an app under cdk-nag AwsSolutions and lists unacknowledged findings.

    cdk-nag v3 is a policy-validation plugin: findings of any severity land in
    ``validation-report.json`` (errors also fail synthesis), so the report is the source of truth.
    """

    def run(app: App) -> list[str]:
        Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        try:
            app.synth()
        except RuntimeError as error:
            if "Validation failed" not in str(error):
                raise
        report = json.loads((Path(app.outdir) / "validation-report.json").read_text())
        return [
            f"{violation['ruleName']} at {construct['constructPath']}"
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            for construct in violation["violatingConstructs"]
        ]

    return run


@pytest.fixture
def relu_onnx() -> Callable[[Path], Path]:
    """Write a one-node ONNX model (``y = relu(x)``, FP32 ``[batch, 4]``, opset 17) to a path."""

    def make(path: Path) -> Path:
        import onnx
        from onnx import TensorProto, helper

        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
        graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(path))
        return path

    return make
