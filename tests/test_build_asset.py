"""model_build.asset: the model archive as a CDK S3 asset keyed by the spec's inputs hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import aws_cdk as cdk

from model_build.asset import DEFAULT_MODEL_ENV_VAR, model_asset, triton_container_env, triton_model_name
from model_build.sources import OnnxFile
from model_build.spec import ModelSpec, TritonOptions


def test_model_asset_uses_inputs_hash_and_the_archive(relu_onnx, tmp_path: Path) -> None:
    # GIVEN a spec and a stack
    spec = ModelSpec(
        name="relu",
        source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")),
        triton=TritonOptions(max_batch_size=4),
    )
    app = cdk.App(outdir=str(tmp_path / "cdk.out"))
    stack = cdk.Stack(app, "ModelStack")
    # WHEN the model becomes an asset and the app is synthesised
    asset = model_asset(stack, "ModelArchive", spec, cache_dir=tmp_path / "cache")
    assembly = app.synth()
    # THEN the staged file is the model.tar.gz, keyed by the spec's inputs hash: with
    # AssetHashType.CUSTOM, CDK stores sha256(custom hash), so the key changes exactly when it does
    expected = hashlib.sha256(spec.inputs_hash().encode()).hexdigest()
    assert asset.asset_hash == expected
    manifest = json.loads(Path(assembly.directory, "ModelStack.assets.json").read_text())
    entry = manifest["files"][expected]
    assert entry["source"] == {"path": f"asset.{expected}.tar.gz", "packaging": "file"}
    staged = Path(assembly.directory, entry["source"]["path"])
    assert staged.read_bytes() == (tmp_path / "cache" / spec.inputs_hash() / "model.tar.gz").read_bytes()


def test_container_env_names_the_model() -> None:
    spec = ModelSpec(name="bert-large", source=OnnxFile(Path("x.onnx")))
    assert triton_model_name(spec) == "bert-large"
    assert triton_container_env(spec) == {DEFAULT_MODEL_ENV_VAR: "bert-large"}
    assert DEFAULT_MODEL_ENV_VAR == "SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"


def test_importing_asset_module_does_not_import_torch(modules_imported_by: Callable[..., list[str]]) -> None:
    code = "import model_build.asset, model_build.examples, model_build.pipeline, model_build.cli\n"
    assert modules_imported_by(code) == []
