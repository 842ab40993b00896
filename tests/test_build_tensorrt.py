"""model_build.tensorrt: optimisation profiles, the trtexec form, and the no-TensorRT error."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from model_build.engine_target import EngineManifest, EngineTarget
from model_build.pipeline import build
from model_build.sources import OnnxFile, TensorSpec
from model_build.spec import ModelSpec, TritonOptions
from model_build.tensorrt import (
    TIMING_CACHE_DIRNAME,
    BuildEnvironment,
    EnginePlan,
    GpuInfo,
    ProfileShape,
    TensorRTBuildError,
    TensorRTUnavailableError,
    build_engine,
    docker_gpu_problem,
    docker_trtexec_command,
    local_gpus,
    local_tensorrt_version,
    optimization_profile,
    parse_nvidia_smi,
    plan_engine_build,
    probe_build_environment,
    tensorrt_available,
    tensorrt_version_in_log,
    timing_cache_name,
    trtexec_command,
)

BERT_INPUTS = (TensorSpec("input_ids", "INT64", (512,)), TensorSpec("attention_mask", "INT64", (512,)))
NO_TRT = "TensorRT is not installable on this CPU machine; run on a GPU machine with TensorRT"


def test_profile_spans_one_to_max_batch_size() -> None:
    # GIVEN seed 000's bert-large inputs (512 tokens) and max_batch_size 64
    profile = optimization_profile(BERT_INPUTS, 64, opt_batch_size=16)
    # THEN every input ranges over batch 1..64, tuned for 16, with the fixed sequence length
    assert profile == {
        "input_ids": ProfileShape(min=(1, 512), opt=(16, 512), max=(64, 512)),
        "attention_mask": ProfileShape(min=(1, 512), opt=(16, 512), max=(64, 512)),
    }


def test_profile_opt_defaults_to_max_batch_size() -> None:
    profile = optimization_profile((TensorSpec("input", "FP32", (3, 224, 224)),), 128)
    assert profile["input"] == ProfileShape(
        min=(1, 3, 224, 224), opt=(128, 3, 224, 224), max=(128, 3, 224, 224)
    )


def test_profile_dynamic_dims_take_given_ranges() -> None:
    profile = optimization_profile(
        (TensorSpec("tokens", "FP32", (-1, 8)),), 4, dynamic_dims={"tokens": (1, 64, 128)}
    )
    assert profile["tokens"] == ProfileShape(min=(1, 1, 8), opt=(4, 64, 8), max=(4, 128, 8))


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"max_batch_size": 0}, r"max_batch_size must be >= 1 \(got 0\)"),
        (
            {"max_batch_size": 8, "opt_batch_size": 9},
            r"opt_batch_size must be between 1 and max_batch_size 8 \(got 9\)",
        ),
    ],
)
def test_profile_rejects_bad_batch_sizes(kwargs: dict[str, int], expected: str) -> None:
    with pytest.raises(ValueError, match=expected):
        optimization_profile(BERT_INPUTS, **kwargs)


def test_profile_requires_range_for_dynamic_dims() -> None:
    with pytest.raises(ValueError, match=r"input 'tokens' dim 1 is dynamic; give its \(min, opt, max\)"):
        optimization_profile((TensorSpec("tokens", "FP32", (-1,)),), 4)


def test_trtexec_command_has_shapes_precision_and_workspace() -> None:
    # GIVEN the bert-large profile
    profile = optimization_profile(BERT_INPUTS, 64, opt_batch_size=16)
    # WHEN the FP16 trtexec form is derived
    command = trtexec_command(
        Path("m.onnx"), Path("model.plan"), profile, precision="FP16", workspace_bytes=2 << 30
    )
    # THEN it is the TensorRT 10 trtexec command line
    assert command == [
        "trtexec",
        "--onnx=m.onnx",
        "--saveEngine=model.plan",
        "--minShapes=input_ids:1x512,attention_mask:1x512",
        "--optShapes=input_ids:16x512,attention_mask:16x512",
        "--maxShapes=input_ids:64x512,attention_mask:64x512",
        "--memPoolSize=workspace:2048M",
        "--fp16",
    ]


@pytest.mark.parametrize(
    ("precision", "flags"), [("FP32", []), ("FP16", ["--fp16"]), ("INT8", ["--fp16", "--int8"])]
)
def test_trtexec_command_precision_flags(precision: str, flags: list[str]) -> None:
    profile = optimization_profile((TensorSpec("input", "FP32", (3, 224, 224)),), 128)
    command = trtexec_command(Path("m.onnx"), Path("m.plan"), profile, precision=precision)
    assert [arg for arg in command if arg in {"--fp16", "--int8"}] == flags


def test_trtexec_command_rejects_unknown_precision() -> None:
    with pytest.raises(ValueError, match="precision must be FP32, FP16 or INT8"):
        trtexec_command(Path("m.onnx"), Path("m.plan"), {}, precision="TF32")


@pytest.mark.skipif(
    tensorrt_available(), reason="TensorRT is installed here; the unavailable path cannot happen"
)
def test_build_engine_without_tensorrt_says_where_to_build(tmp_path: Path) -> None:
    # GIVEN no TensorRT, no GPU and no Docker (this machine, probed for real) WHEN an engine for a g4dn is requested
    target = EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="24.09")
    with pytest.raises(TensorRTUnavailableError) as err:
        build_engine(
            tmp_path / "m.onnx", tmp_path / "model.plan", inputs=BERT_INPUTS, max_batch_size=64, target=target
        )
    # THEN the error says what is missing, the target, and the docker + trtexec command to run elsewhere
    message = str(err.value)
    assert message.startswith(
        "TensorRT is not available here to build the engine: the tensorrt Python module"
    )
    assert "The target is ml.g4dn.xlarge (NVIDIA T4, compute capability 7.5" in message
    assert (
        "docker run --rm --gpus all" in message
        and "nvcr.io/nvidia/tensorrt:24.09-py3 trtexec --onnx=" in message
    )
    assert "--maxShapes=input_ids:64x512,attention_mask:64x512" in message


@pytest.mark.skipif(
    tensorrt_available(), reason="TensorRT is installed here; the unavailable path cannot happen"
)
def test_pipeline_tensorrt_backend_fails_cleanly_without_tensorrt(relu_onnx, tmp_path: Path) -> None:
    # GIVEN a spec for the tensorrt backend
    spec = ModelSpec(
        name="relu",
        source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")),
        triton=TritonOptions(max_batch_size=4),
        backend="tensorrt",
    )
    # WHEN built THEN the TensorRT error surfaces and no cache entry is left
    with pytest.raises(TensorRTUnavailableError, match=r"--maxShapes=x:4x4"):
        build(spec, cache_dir=tmp_path / "cache")
    assert [p.name for p in (tmp_path / "cache").iterdir() if not p.name.endswith(".lock")] == []


@pytest.mark.tensorrt
@pytest.mark.skipif(not tensorrt_available(), reason=NO_TRT)
def test_build_engine_writes_a_plan(relu_onnx, tmp_path: Path) -> None:
    # GIVEN TensorRT WHEN an FP32 engine is built for a tiny graph THEN a non-empty plan exists
    result = build_engine(
        relu_onnx(tmp_path / "relu.onnx"),
        tmp_path / "model.plan",
        inputs=(TensorSpec("x", "FP32", (4,)),),
        max_batch_size=4,
        precision="FP32",
    )
    assert result.size_bytes > 0 and result.engine_path.read_bytes()


# --- the build command lines ----------------------------------------------------------------------

RESNET_PROFILE = optimization_profile((TensorSpec("input", "FP32", (3, 224, 224)),), 128)
T4_24_09 = EngineTarget(instance_type="ml.g4dn.xlarge", triton_version="24.09")


def test_trtexec_command_adds_timing_cache_and_ampere_plus() -> None:
    # GIVEN a timing cache and an ampere+ engine WHEN the trtexec form is derived THEN both flags come last
    command = trtexec_command(
        Path("/work/in/model.onnx"),
        Path("/work/out/model.plan"),
        RESNET_PROFILE,
        timing_cache=Path("/work/timing-cache/sm86-trt10.4.0-ampere-plus.timing-cache"),
        hardware_compatibility="ampere+",
    )
    assert command[-3:] == [
        "--fp16",
        "--hardwareCompatibilityLevel=ampere+",
        "--timingCacheFile=/work/timing-cache/sm86-trt10.4.0-ampere-plus.timing-cache",
    ]


def test_docker_command_runs_trtexec_in_the_tensorrt_container_on_the_gpus() -> None:
    # GIVEN the trtexec form with the container's paths
    trtexec = trtexec_command(Path("/work/in/model.onnx"), Path("/work/out/model.plan"), RESNET_PROFILE)
    # WHEN wrapped for Docker
    command = docker_trtexec_command(
        trtexec,
        image="nvcr.io/nvidia/tensorrt:24.09-py3",
        input_dir="/cache/.tmp-abc/export",
        output_dir="/cache/.tmp-abc/export",
        timing_cache_dir="/cache/tensorrt-timing-caches",
        user="1000:1000",
    )
    # THEN it is exactly this docker run (GPUs, user, read-only input, output, timing cache, image, trtexec)
    assert command == [
        "docker", "run", "--rm", "--gpus", "all", "--user", "1000:1000",
        "-v", "/cache/.tmp-abc/export:/work/in:ro",
        "-v", "/cache/.tmp-abc/export:/work/out",
        "-v", "/cache/tensorrt-timing-caches:/work/timing-cache",
        "nvcr.io/nvidia/tensorrt:24.09-py3",
        "trtexec", "--onnx=/work/in/model.onnx", "--saveEngine=/work/out/model.plan",
        "--minShapes=input:1x3x224x224", "--optShapes=input:128x3x224x224", "--maxShapes=input:128x3x224x224",
        "--memPoolSize=workspace:1024M", "--fp16",
    ]  # fmt: skip


def test_trtexec_command_rejects_unknown_hardware_compatibility() -> None:
    with pytest.raises(ValueError, match="hardware_compatibility must be none or ampere"):
        trtexec_command(Path("m.onnx"), Path("m.plan"), RESNET_PROFILE, hardware_compatibility="turing+")


def test_timing_cache_is_one_file_per_gpu_tensorrt_and_level() -> None:
    plan = EnginePlan("docker", GpuInfo("NVIDIA A10G", "8.6"), "10.4.0", "nvcr.io/nvidia/tensorrt:24.09-py3")
    assert timing_cache_name(plan, "none") == "sm86-trt10.4.0-none.timing-cache"
    assert timing_cache_name(plan, "ampere+") == "sm86-trt10.4.0-ampere-plus.timing-cache"


# --- probing the machine that builds --------------------------------------------------------------


def runner(returncode: int = 0, stdout: str = "", stderr: str = "", raises: BaseException | None = None):
    """A stand-in for subprocess.run that answers as nvidia-smi / docker would, recording the argv."""
    calls: list[list[str]] = []

    def run(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        calls.append(list(argv))
        if raises is not None:
            raise raises
        return subprocess.CompletedProcess(argv, returncode, stdout, stderr)

    run.calls = calls  # type: ignore[attr-defined]
    return run


def test_nvidia_smi_names_are_made_canonical() -> None:
    # GIVEN nvidia-smi's csv for a T4, an unknown GPU, and the line an H200 machine printed for
    # `nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader` (2026-12-01)
    # THEN known GPUs get the hardware table's name
    assert parse_nvidia_smi("Tesla T4, 7.5\nNVIDIA RTX 9999, 12.0\n\nNVIDIA H200, 9.0\n") == (
        GpuInfo("NVIDIA T4", "7.5"),
        GpuInfo("NVIDIA RTX 9999", "12.0"),
        GpuInfo("NVIDIA H200", "9.0"),
    )


def test_local_gpus_asks_nvidia_smi_and_tolerates_its_absence() -> None:
    run = runner(stdout="NVIDIA A10G, 8.6\n")
    assert local_gpus(run) == (GpuInfo("NVIDIA A10G", "8.6"),)
    assert run.calls == [["nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader"]]
    assert local_gpus(runner(raises=FileNotFoundError("nvidia-smi"))) == ()
    assert local_gpus(runner(returncode=9, stderr="NVIDIA-SMI has failed")) == ()


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (runner(stdout='{"io.containerd.runc.v2":{},"nvidia":{"path":"nvidia-container-runtime"}}'), None),
        (runner(stdout='{"runc":{"path":"runc"}}'), "the Docker daemon has no NVIDIA runtime"),
        (runner(returncode=1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock"),
         "no Docker daemon answers (`docker info`: Cannot connect to the Docker daemon"),
        (runner(raises=FileNotFoundError("docker")), "the docker command is not installed"),
    ],
)  # fmt: skip
def test_docker_gpu_problem_reads_docker_info(run, expected: str | None) -> None:
    problem = docker_gpu_problem(run)
    assert problem == expected if expected is None else (problem is not None and problem.startswith(expected))


def test_probe_collects_every_probe() -> None:
    env = probe_build_environment(
        tensorrt_version=lambda: "10.4.0", gpus=lambda: (GpuInfo("NVIDIA T4", "7.5"),), docker=lambda: None
    )
    assert env == BuildEnvironment("10.4.0", (GpuInfo("NVIDIA T4", "7.5"),), None)


# --- where the engine is built --------------------------------------------------------------------

T4 = GpuInfo("NVIDIA T4", "7.5")
A10G = GpuInfo("NVIDIA A10G", "8.6")
DOCKER_OK = None
NO_DOCKER = "the docker command is not installed"


@pytest.mark.parametrize(
    ("target", "env", "where", "tensorrt", "image"),
    [
        # TensorRT of the target's version and its GPU here: the Python API
        (T4_24_09, BuildEnvironment("10.4.0", (T4,), NO_DOCKER), "local", "10.4.0", None),
        # the right GPU but no TensorRT: NVIDIA's container of the target's Triton release
        (T4_24_09, BuildEnvironment(None, (T4,), DOCKER_OK), "docker", "10.4.0", "nvcr.io/nvidia/tensorrt:24.09-py3"),
        # a TensorRT of another version here: the container, whose TensorRT is the image's
        (T4_24_09, BuildEnvironment("10.9.0", (T4,), DOCKER_OK), "docker", "10.4.0", "nvcr.io/nvidia/tensorrt:24.09-py3"),
        # ampere+ for a g6 (L4, 8.9), built on the A10G here
        (EngineTarget(instance_type="ml.g6.xlarge", triton_version="26.05", hardware_compatibility="ampere+"),
         BuildEnvironment(None, (A10G,), DOCKER_OK), "docker", "10.16.1", "nvcr.io/nvidia/tensorrt:26.05-py3"),
        # no target: whatever GPU 0 is, with the local TensorRT
        (None, BuildEnvironment("10.9.0", (A10G,), NO_DOCKER), "local", "10.9.0", None),
    ],
)  # fmt: skip
def test_plan_picks_local_tensorrt_then_the_container(
    target: EngineTarget | None, env: BuildEnvironment, where: str, tensorrt: str, image: str | None
) -> None:
    plan = plan_engine_build(target, env, elsewhere="<cmd>")
    assert (plan.where, plan.tensorrt_version, plan.image) == (where, tensorrt, image)


@pytest.mark.parametrize(
    ("target", "env", "needles"),
    [
        (T4_24_09, BuildEnvironment(None, (), NO_DOCKER),
         ["the tensorrt Python module does not import", "no NVIDIA GPU is visible",
          "Docker cannot run nvcr.io/nvidia/tensorrt:24.09-py3 on a GPU here: the docker command is not installed",
          "The target is ml.g4dn.xlarge (NVIDIA T4, compute capability 7.5", "EC2 g4dn.* instance", ": <cmd>"]),
        (T4_24_09, BuildEnvironment("10.4.0", (A10G,), DOCKER_OK),
         ["GPU 0 is NVIDIA A10G (compute capability 8.6), but the target needs NVIDIA T4 (compute capability 7.5)"]),
        (T4_24_09, BuildEnvironment("10.9.0", (T4,), "no Docker daemon answers"),
         ["the tensorrt module here is 10.9.0, not the target image's 10.4.0", "no Docker daemon answers"]),
        (EngineTarget(instance_type="ml.g5.xlarge", triton_version="24.09", hardware_compatibility="ampere+"),
         BuildEnvironment("10.4.0", (T4,), DOCKER_OK),
         ["GPU 0 is NVIDIA T4 (compute capability 7.5), but the target needs compute capability >= 8.0"]),
        (None, BuildEnvironment(None, (T4,), DOCKER_OK),
         ["the tensorrt Python module does not import", "no tensorrt_target is set",
          "Set ModelSpec(tensorrt_target=EngineTarget("]),
    ],
)  # fmt: skip
def test_plan_without_a_way_names_every_missing_piece(
    target: EngineTarget | None, env: BuildEnvironment, needles: list[str]
) -> None:
    with pytest.raises(TensorRTUnavailableError) as err:
        plan_engine_build(target, env, elsewhere="<cmd>")
    message = str(err.value)
    assert message.startswith("TensorRT is not available here to build the engine: ")
    for needle in needles:
        assert needle in message


def test_container_build_failure_reports_trtexec_output_and_writes_no_engine(tmp_path: Path) -> None:
    # GIVEN a machine whose probes say: T4, no TensorRT, Docker with GPUs; and a docker that then fails
    onnx = tmp_path / "export" / "model.onnx"
    onnx.parent.mkdir()
    onnx.write_bytes(b"onnx")
    env = BuildEnvironment(None, (T4,), None)
    run = runner(returncode=125, stderr="docker: Error response from daemon: could not select device driver")
    # WHEN the engine is built
    with pytest.raises(TensorRTBuildError) as err:
        build_engine(
            onnx, tmp_path / "export" / "model.plan", inputs=(TensorSpec("input", "FP32", (3, 224, 224)),),
            max_batch_size=128, target=T4_24_09, timing_cache_dir=tmp_path / "timing", environment=env, run=run,
        )  # fmt: skip
    # THEN docker was asked to run trtexec in the 24.09 container with the timing cache, the error has
    # docker's words, and no engine exists
    (argv,) = run.calls
    assert argv[:5] == ["docker", "run", "--rm", "--gpus", "all"]
    assert "nvcr.io/nvidia/tensorrt:24.09-py3" in argv
    assert f"{tmp_path / 'timing'}:/work/timing-cache" in argv
    assert "--timingCacheFile=/work/timing-cache/sm75-trt10.4.0-none.timing-cache" in argv
    assert "could not select device driver" in str(err.value) and "exit 125" in str(err.value)
    assert not (tmp_path / "export" / "model.plan").exists()


def test_tensorrt_version_is_read_from_the_trtexec_log() -> None:
    log = "&&&& RUNNING TensorRT.trtexec [TensorRT v100400]\n[I] TensorRT version: 10.4.0\n[I] Loaded engine"
    assert tensorrt_version_in_log(log) == "10.4.0"
    assert tensorrt_version_in_log("no version here") is None


@pytest.mark.tensorrt
@pytest.mark.skipif(not tensorrt_available() or not local_gpus(), reason=NO_TRT)
def test_pipeline_writes_engine_json_next_to_config(relu_onnx, tmp_path: Path) -> None:
    # GIVEN TensorRT and a GPU here, a spec without target (built for GPU 0 with the local TensorRT)
    spec = ModelSpec(
        name="relu", source=OnnxFile(relu_onnx(tmp_path / "relu.onnx")),
        triton=TritonOptions(max_batch_size=4), backend="tensorrt", tensorrt_precision="FP32",
    )  # fmt: skip
    # WHEN built
    result = build(spec, cache_dir=tmp_path / "cache")
    # THEN relu/engine.json sits next to config.pbtxt, names this GPU and TensorRT, and is in the build manifest
    engine = EngineManifest.from_json(
        (result.repository_dir / "relu" / "engine.json").read_text(), source="relu"
    )
    gpu = local_gpus()[0]
    assert (engine.compute_capability, engine.gpu_name) == (gpu.compute_capability, gpu.name)
    assert engine.tensorrt_version == local_tensorrt_version() and engine.builder == "tensorrt-python"
    assert result.manifest["engine"] == json.loads(engine.to_json())
    assert any(
        p.name.endswith(".timing-cache") for p in (tmp_path / "cache" / TIMING_CACHE_DIRNAME).iterdir()
    )
