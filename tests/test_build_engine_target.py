"""model_build.engine_target: the Triton → TensorRT table, the engine manifest, and the rules that pin an engine.

Also ``ModelArtifact.engine_manifests``, which reads the manifests out of an archive at synth.
"""

from __future__ import annotations

import importlib.util
import json
import tarfile
from pathlib import Path

import pytest

from model_build.engine_target import (
    ENGINE_MANIFEST_FILENAME,
    TENSORRT_OF_TRITON,
    TENSORRT_VERSIONS_ENV,
    EngineManifest,
    EngineManifestError,
    EngineTarget,
    engine_target_problems,
    tensorrt_container_image,
    tensorrt_version_of_triton,
)
from model_build.sources import OnnxFile
from model_build.spec import ModelSpec, TritonOptions
from model_build.user_errors import UserError
from serving_constructs import defaults
from serving_constructs._validation import PropsError
from serving_constructs.artifact import ModelArtifact


def manifest(**changes: object) -> EngineManifest:
    """The engine of seed 001: FP16, batch 1..128, built on a T4 with TensorRT 10.4.0 (Triton 24.09)."""
    fields: dict[str, object] = {
        "tensorrt_version": "10.4.0",
        "compute_capability": "7.5",
        "gpu_name": "NVIDIA T4",
        "hardware_compatibility": "none",
        "precision": "FP16",
        "max_batch_size": 128,
        "builder": "trtexec in nvcr.io/nvidia/tensorrt:24.09-py3",
    }
    fields.update(changes)
    return EngineManifest(**fields)  # type: ignore[arg-type]


def problems(
    m: EngineManifest, instance_type: str = "ml.g4dn.xlarge", triton_version: str = "24.09"
) -> list[str]:
    return engine_target_problems(
        m, model="resnet", instance_type=instance_type, triton_version=triton_version
    )


# --- the table -----------------------------------------------------------------------------------


def sdk_triton_versions() -> list[str]:
    """The Triton DLC versions of the sagemaker SDK's own data file (what ``triton_versions()`` lists).

    Read as a file: importing the SDK to ask it takes seconds (docs/constructs.md, "Image").
    """
    package = importlib.util.find_spec("sagemaker")
    assert package is not None and package.submodule_search_locations
    data = Path(
        package.submodule_search_locations[0], "core", "image_uri_config", "sagemaker-tritonserver.json"
    )
    return sorted(json.loads(data.read_text())["versions"])


def test_tensorrt_table_has_every_triton_dlc_the_sdk_lists() -> None:
    # GIVEN the Triton DLC versions the installed sagemaker SDK lists, and the constructs' default
    listed = sdk_triton_versions()
    assert listed  # the file moved if this is empty: then find it again, do not drop the check
    # THEN each one has its TensorRT version in the table (none is left to guess at synth)
    assert [v for v in listed if tensorrt_version_of_triton(v) is None] == []
    assert defaults.triton_version() in TENSORRT_OF_TRITON


@pytest.mark.parametrize(("triton", "tensorrt"), sorted(TENSORRT_OF_TRITON.items()))
def test_engine_of_each_triton_release_fits_its_image_only(triton: str, tensorrt: str) -> None:
    # GIVEN an engine built on a T4 with the TensorRT of one Triton release
    engine = manifest(tensorrt_version=tensorrt)
    # WHEN checked against every release THEN it fits exactly those whose TensorRT is the same
    for other, other_tensorrt in TENSORRT_OF_TRITON.items():
        found = problems(engine, triton_version=other)
        if other_tensorrt == tensorrt:
            assert found == [], other
        else:
            assert len(found) == 1
            assert f"Triton image {other} runs TensorRT {other_tensorrt}" in found[0]
            assert f"triton_version='{other}'" in found[0] and tensorrt_container_image(other) in found[0]


def test_tensorrt_build_number_is_not_compared() -> None:
    # GIVEN an engine whose manifest carries the full GA build number (10.4.0.26) WHEN served on 24.09 THEN it fits
    assert problems(manifest(tensorrt_version="10.4.0.26")) == []


def test_unknown_triton_release_says_how_to_state_its_tensorrt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TENSORRT_VERSIONS_ENV, raising=False)
    # GIVEN a Triton release newer than the table WHEN an engine is checked against it
    found = problems(manifest(), triton_version="27.01")
    # THEN the one problem says it is unknown, how to read the version and how to state it
    assert len(found) == 1
    assert "the TensorRT version of Triton image '27.01' is unknown to this project" in found[0]
    assert 'docker run --rm nvcr.io/nvidia/tensorrt:27.01-py3 python3 -c "import tensorrt' in found[0]
    assert f"{TENSORRT_VERSIONS_ENV}='27.01=<x.y.z>'" in found[0]
    # WHEN the user states it THEN it counts like a table row
    monkeypatch.setenv(TENSORRT_VERSIONS_ENV, "27.01=10.4.0.99, 27.02=10.18.0")
    assert tensorrt_version_of_triton("27.01") == "10.4.0"
    assert problems(manifest(), triton_version="27.01") == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("27.01", r"entry '27.01' must be <triton yy.mm>=<tensorrt x.y.z>"),
        ("27.1=10.4.0", r"entry '27.1=10.4.0' must be"),
        ("24.09=10.5.0", r"says Triton 24.09 has TensorRT 10.5.0, but NVIDIA's support matrix says 10.4.0"),
    ],
)
def test_stated_tensorrt_versions_are_checked(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv(TENSORRT_VERSIONS_ENV, value)
    with pytest.raises(UserError, match=expected):
        tensorrt_version_of_triton("27.01")


# --- compute capability ----------------------------------------------------------------------------


def test_engine_fits_the_gpu_it_was_built_on() -> None:
    # GIVEN a T4 engine THEN every g4dn size serves it
    for instance_type in ("ml.g4dn.xlarge", "ml.g4dn.4xlarge", "ml.g4dn.12xlarge"):
        assert problems(manifest(), instance_type=instance_type) == []


def test_t4_engine_on_a10g_says_rebuild_for_the_target_or_ampere_plus() -> None:
    # GIVEN a T4 engine WHEN the target is a g5 (A10G, 8.6)
    (found,) = problems(manifest(), instance_type="ml.g5.xlarge")
    # THEN the problem names both GPUs and capabilities, the option to rebuild with, and the ampere+ way
    assert "was built for TensorRT 10.4.0 on NVIDIA T4 (compute capability 7.5" in found
    assert "but ml.g5.xlarge has NVIDIA A10G (compute capability 8.6)" in found
    assert "EngineTarget(instance_type='ml.g5.xlarge', triton_version='24.09')" in found
    assert "trtexec --hardwareCompatibilityLevel=ampere+" in found


def test_a10g_engine_on_t4_offers_no_ampere_plus() -> None:
    (found,) = problems(
        manifest(compute_capability="8.6", gpu_name="NVIDIA A10G"), instance_type="ml.g4dn.xlarge"
    )
    assert "but ml.g4dn.xlarge has NVIDIA T4 (compute capability 7.5)" in found
    assert "ampere+" not in found.split("hardware compatibility 'none')", 1)[1]


def test_l4_engine_fits_l40s_of_the_same_capability() -> None:
    # GIVEN an engine built on an L4 (8.9) THEN a g6e (L40S, also 8.9) serves it: the rule is the capability
    assert (
        problems(manifest(compute_capability="8.9", gpu_name="NVIDIA L4"), instance_type="ml.g6e.xlarge")
        == []
    )


@pytest.mark.parametrize(
    "instance_type", ["ml.g5.xlarge", "ml.g6.xlarge", "ml.p4d.24xlarge", "ml.p5.48xlarge"]
)
def test_ampere_plus_engine_runs_on_any_gpu_from_8_0(instance_type: str) -> None:
    engine = manifest(compute_capability="8.6", gpu_name="NVIDIA A10G", hardware_compatibility="ampere+")
    assert problems(engine, instance_type=instance_type) == []


def test_ampere_plus_engine_is_refused_below_8_0() -> None:
    engine = manifest(compute_capability="8.6", gpu_name="NVIDIA A10G", hardware_compatibility="ampere+")
    (found,) = problems(engine, instance_type="ml.g4dn.xlarge")
    assert "'ampere+' engines run only on compute capability >= 8.0" in found
    assert "hardware_compatibility='none'" in found


def test_ampere_plus_manifest_built_below_8_0_is_refused() -> None:
    (found,) = problems(manifest(hardware_compatibility="ampere+"), instance_type="ml.g5.xlarge")
    assert "an 'ampere+' engine can only be built on a GPU of compute capability >= 8.0" in found


@pytest.mark.parametrize(
    ("instance_type", "expected"),
    [
        ("ml.m5.large", "ml.m5.large has no GPU: a TensorRT engine runs only on an NVIDIA GPU"),
        ("ml.inf2.xlarge", "ml.inf2.xlarge carries 1 x AWS Inferentia2, not an NVIDIA GPU"),
        ("ml.g7.xlarge", "the GPU of ml.g7.xlarge is unknown to this project"),
        ("g4dn.xlarge", "the target instance type is invalid"),
    ],
)
def test_non_nvidia_targets_are_refused(instance_type: str, expected: str) -> None:
    found = problems(manifest(), instance_type=instance_type)
    assert expected in found[0]


def test_every_mismatch_is_reported_at_once() -> None:
    # GIVEN a T4 engine of TensorRT 10.4.0 WHEN the target is a g5 with Triton 26.05 THEN both problems come back
    found = problems(manifest(), instance_type="ml.g5.2xlarge", triton_version="26.05")
    assert len(found) == 2
    assert "compute capability 8.6" in found[0] and "runs TensorRT 10.16.1" in found[1]


# --- the manifest ----------------------------------------------------------------------------------


def test_manifest_round_trips_through_json() -> None:
    original = manifest(hardware_compatibility="ampere+", compute_capability="8.6", gpu_name="NVIDIA A10G")
    text = original.to_json()
    assert json.loads(text)["builder"] == "trtexec in nvcr.io/nvidia/tensorrt:24.09-py3"
    assert EngineManifest.from_json(text, source="resnet/engine.json") == original
    assert original.to_json() == text  # byte-stable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{", r"resnet/engine.json is not valid JSON"),
        ("[]", r"resnet/engine.json must be a JSON object \(got list\)"),
        (
            json.dumps({**json.loads(manifest().to_json()), "precison": "FP16"}),
            r"unknown field 'precison' \(did you mean 'precision'\?\)",
        ),
        (json.dumps({"tensorrt_version": "10.4.0"}), r"missing field 'compute_capability'"),
        (
            json.dumps(
                {**json.loads(manifest().to_json()), "hardware_compatibility": "turing+", "max_batch_size": 0}
            ),
            r"hardware_compatibility must be one of none, ampere\+ \(got 'turing\+'\); max_batch_size must be",
        ),
        (
            json.dumps({**json.loads(manifest().to_json()), "tensorrt_version": "ten"}),
            r"tensorrt_version must look",
        ),
    ],
)
def test_manifest_from_json_names_the_file_and_field(text: str, expected: str) -> None:
    with pytest.raises(EngineManifestError, match=expected):
        EngineManifest.from_json(text, source="resnet/engine.json")


# --- the spec's target -----------------------------------------------------------------------------


def test_engine_target_accepts_known_gpu_and_release() -> None:
    target = EngineTarget(instance_type="ml.g4dn.4xlarge", triton_version="26.05")
    assert target.problems() == []
    assert (target.gpu_name, target.compute_capability) == ("NVIDIA T4", "7.5")


def test_tensorrt_target_changes_the_inputs_hash(tmp_path: Path) -> None:
    # GIVEN one tensorrt spec without and with targets WHEN hashed THEN each target is its own build
    source = OnnxFile(tmp_path / "m.onnx")
    (tmp_path / "m.onnx").write_bytes(b"onnx")
    base = ModelSpec(name="m", source=source, backend="tensorrt", triton=TritonOptions(max_batch_size=4))
    g4dn = ModelSpec(
        name="m", source=source, backend="tensorrt", triton=TritonOptions(max_batch_size=4),
        tensorrt_target=EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="24.09"),
    )  # fmt: skip
    g5 = ModelSpec(
        name="m", source=source, backend="tensorrt", triton=TritonOptions(max_batch_size=4),
        tensorrt_target=EngineTarget(instance_type="ml.g5.xlarge", triton_version="24.09"),
    )  # fmt: skip
    assert len({base.inputs_hash(), g4dn.inputs_hash(), g5.inputs_hash()}) == 3
    assert g4dn.options_dict()["tensorrt_target"] == {
        "instance_type": "ml.g4dn.xlarge",
        "triton_version": "24.09",
        "hardware_compatibility": "none",
    }
    # and a spec that sets no target hashes as before (no key added)
    assert "tensorrt_target" not in base.options_dict()


# --- ModelArtifact.engine_manifests ----------------------------------------------------------------


def _archive(path: Path, members: dict[str, str]) -> Path:
    folder = path.parent / (path.name + ".d")
    for name, text in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    with tarfile.open(path, "w:gz") as archive:
        for child in sorted(folder.iterdir()):
            archive.add(child, arcname=child.name)
    return path


def test_asset_artifact_reads_engine_manifests_of_its_models(tmp_path: Path) -> None:
    # GIVEN an archive with a TensorRT model (engine.json next to config.pbtxt) and an ONNX model
    engine = manifest()
    path = _archive(
        tmp_path / "models.tar.gz",
        {
            "resnet/config.pbtxt": 'name: "resnet"\n',
            f"resnet/{ENGINE_MANIFEST_FILENAME}": engine.to_json(),
            "bert/config.pbtxt": 'name: "bert"\n',
        },
    )
    # WHEN its manifests are read THEN the TensorRT model has its manifest and the other none
    assert ModelArtifact.from_asset(path, model_name="resnet").engine_manifests == {"resnet": engine}


def test_asset_artifact_with_a_broken_engine_json_names_the_member(tmp_path: Path) -> None:
    path = _archive(
        tmp_path / "models.tar.gz",
        {"resnet/config.pbtxt": 'name: "resnet"\n', "resnet/engine.json": '{"tensorrt_version": "10.4.0"}'},
    )
    artifact = ModelArtifact.from_asset(path)
    with pytest.raises(
        PropsError, match=r"resnet/engine.json in '.*models.tar.gz' is not a valid engine manifest"
    ):
        artifact.engine_manifests  # noqa: B018


def test_bucket_artifact_engine_manifests_are_unknown() -> None:
    from aws_cdk import App, Stack
    from aws_cdk import aws_s3 as s3

    bucket = s3.Bucket.from_bucket_name(Stack(App(), "S"), "B", "models")
    assert ModelArtifact.from_bucket(bucket, "resnet/model.tar.gz").engine_manifests is None


def test_build_artifact_without_engine_reads_nothing(tmp_path: Path) -> None:
    # GIVEN an ONNX-backend spec that was never built WHEN its engine manifests are asked for
    spec = ModelSpec(name="m", source=OnnxFile(tmp_path / "m.onnx"))
    # THEN there are none, and nothing was built to find out
    assert ModelArtifact.from_build(spec, cache_dir=tmp_path / "cache").engine_manifests == {}
    assert not (tmp_path / "cache").exists()
