"""model_build.cli: `python -m model_build build|list-examples` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from model_build.cli import main
from model_build.tensorrt import tensorrt_available
from model_build.triton_config import parse_config

REPO_ROOT = Path(__file__).resolve().parents[1]




def _config_in(archive: Path, name: str) -> str:
    with tarfile.open(archive) as tar:
        member = tar.extractfile(f"{name}/config.pbtxt")
        assert member is not None
        return member.read().decode()


def test_cli_builds_example_with_tuning_options(tmp_path: Path) -> None:
    # GIVEN the bert-tiny example with dynamic batching and two instances
    argv = [
        "build", "--example", "bert-tiny", "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"),
        "--max-batch-size", "32", "--preferred-batch-size", "16", "--max-queue-delay-us", "100",
        "--instance-count", "2", "--warmup-batch-size", "1", "--no-progress",
    ]  # fmt: skip
    # WHEN the CLI runs
    assert main(argv) == 0
    # THEN DIR/<name>.tar.gz and DIR/<name>.manifest.json exist and the config carries the options
    archive = tmp_path / "out" / "bert-tiny.tar.gz"
    manifest = json.loads((tmp_path / "out" / "bert-tiny.manifest.json").read_text())
    config = parse_config(_config_in(archive, "bert-tiny"))
    assert config.max_batch_size == 32 and list(config.dynamic_batching.preferred_batch_size) == [16]
    assert config.dynamic_batching.max_queue_delay_microseconds == 100 and config.instance_group[0].count == 2
    assert manifest["verification"]["passed"] and manifest["archive"]["size_bytes"] == archive.stat().st_size


def test_cli_builds_from_onnx_file_as_a_module(relu_onnx, tmp_path: Path) -> None:
    # GIVEN an existing ONNX file
    model = relu_onnx(tmp_path / "relu.onnx")
    # WHEN `python -m model_build build --onnx` runs in a fresh process
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_build",
            "build",
            "--onnx",
            str(model),
            "--name",
            "relu",
            "--max-batch-size",
            "4",
            "--instance-kind",
            "KIND_CPU",
            "--output-dir",
            str(tmp_path / "out"),
            "--cache-dir",
            str(tmp_path / "c"),
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    # THEN it succeeds and the archive holds relu/config.pbtxt for CPU instances
    assert run.returncode == 0, run.stderr
    config = parse_config(_config_in(tmp_path / "out" / "relu.tar.gz", "relu"))
    assert config.max_batch_size == 4 and config.instance_group[0].kind == config.instance_group[0].KIND_CPU
    assert "relu.tar.gz (built" in run.stdout


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--example", "bert-tiny", "--max-batch-size", "0"], "--max-batch-size must be >= 1 (got 0)"),
        (
            ["--example", "bert-tiny", "--max-batch-size", "8", "--preferred-batch-size", "16"],
            "--preferred-batch-size must each be <= max_batch_size (got 16 > 8)",
        ),
        (["--example", "gpt5"], "--example 'gpt5' is not an example; choose one of bert-tiny"),
        (["--onnx", "model.onnx"], "--name is required with --onnx"),
        (["--onnx", "/nonexistent.onnx", "--name", "m"], "--onnx '/nonexistent.onnx' does not exist"),
        (["--example", "bert-tiny", "--name", "bad name"], "--name must be 1-63 letters"),
    ],
)
def test_cli_rejects_bad_input_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], expected: str
) -> None:
    # WHEN the CLI gets invalid input
    code = main(["build", *extra, "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c")])
    # THEN it exits 2 with the validation message and no traceback, and builds nothing
    err = capsys.readouterr().err
    assert code == 2
    assert expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_cli_rejects_unknown_choice_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    # WHEN a flag gets a value outside its choices THEN exit 2 with argparse's message on one line
    code = main(["build", "--example", "bert-tiny", "--output-dir", "x", "--instance-kind", "KIND_TPU"])
    err = capsys.readouterr().err
    assert code == 2 and "argument --instance-kind: invalid choice: 'KIND_TPU'" in err
    assert err.count("\n") == 1


def test_cli_help_documents_every_option() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "model_build", "build", "--help"],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert run.returncode == 0
    for option in (
        "--example", "--onnx", "--name", "--output-dir", "--max-batch-size", "--preferred-batch-size",
        "--max-queue-delay-us", "--instance-count", "--instance-kind", "--warmup-batch-size", "--opset",
        "--backend", "--cache-dir", "--no-progress", "--spec", "--debug",
    ):  # fmt: skip
        assert option in run.stdout


def test_cli_lists_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list-examples"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == [
        "bert-tiny", "bert-base", "bert-large", "resnet-tiny", "resnet50",
        "resnet50-pt", "resnet50-trt", "resnet50-onnx", "resnet-tiny-pt", "resnet-tiny-trt", "resnet-tiny-onnx",
        "pegasus-tiny",
    ]  # fmt: skip


@pytest.mark.skipif(
    tensorrt_available(), reason="TensorRT is installed here; the unavailable path cannot happen"
)
def test_cli_tensorrt_backend_without_tensorrt_exits_1_with_trtexec_form(
    relu_onnx, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN an ONNX model and --backend tensorrt on a machine without TensorRT
    model = relu_onnx(tmp_path / "relu.onnx")
    argv = ["build", "--onnx", str(model), "--name", "relu", "--max-batch-size", "4", "--backend", "tensorrt"]
    # WHEN the CLI runs THEN it fails the stage (exit 1) and says how to build elsewhere
    code = main(
        [*argv, "--output-dir", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 1
    assert "TensorRTUnavailableError: TensorRT is not available here" in err and "trtexec --onnx=" in err
    assert "Traceback" not in err
