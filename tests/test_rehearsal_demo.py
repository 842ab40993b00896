"""rehearsal.demo: `make demo` end to end, so it cannot rot (real moto, CDK CLI, Triton, torch).

One full deploy (the slow test) covers the whole path of every serving mode: the real-time stack
for a model the user brings as a spec file, seed 002's asynchronous stack (pegasus-tiny) and seed
001's multi-model stack (resnet-tiny):
the field-by-field comparison with the template and its known emulator differences, the SDK v3
read, the invocations compared with the model's own torch module, ``--keep`` with every socket on
loopback, and the teardown on a signal of a demo started in the background. (The default bert-tiny
endpoint is served and compared with torch in ``test_rehearsal_data_plane.py``.) The stop tests interrupt a demo early, so they cost seconds, not a deploy.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import psutil
import pytest

from rehearsal.cdk_cli import PROJECT_ROOT
from rehearsal.demo import PAD_ID, kserve_outputs, kserve_request, tokenized_inputs

STRAY_PREFIXES = ("moto-server-", "tritonserver-", "rehearsal-demo-", "local-data-plane-")
#: What the emulator's process runs (``MotoServer`` starts moto through its extensions module).
MOTO_MODULE = "rehearsal.moto_extensions"


class DemoProcess:
    """``python -m rehearsal.demo`` in a subprocess, its output collected line by line."""

    def __init__(self, args: list[str], tmp: Path, *, ignore_sigint: bool = False) -> None:
        def preexec() -> None:
            if ignore_sigint:
                # What `python -m rehearsal.demo --keep &` in a script gets: SIGINT ignored.
                signal.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "rehearsal.demo", *args],
            cwd=PROJECT_ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(tmp)},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,  # its own process group, as a shell gives a job
            preexec_fn=preexec,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"the demo exited ({self.proc.returncode}) before {what}:\n{self.output[-6000:]}")
            time.sleep(0.2)
        raise AssertionError(f"no {what} within {timeout_s} s:\n{self.output[-6000:]}")

    def tree(self) -> list[psutil.Process]:
        try:
            demo = psutil.Process(self.proc.pid)
            return [demo, *demo.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def finish(self, timeout_s: float) -> int:
        code = self.proc.wait(timeout=timeout_s)
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            for p in self.tree():
                with contextlib.suppress(psutil.Error):
                    p.kill()
            self.proc.wait()


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def stray_files(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir() if p.name.startswith(STRAY_PREFIXES))


BRING_YOUR_OWN = PROJECT_ROOT / "examples" / "bring-your-own"


def your_own_model(folder: Path) -> Path:
    """The bring-your-own factory example in ``folder``: its spec file, model code and weights file."""
    import importlib.util
    import shutil

    folder.mkdir()
    for name in ("factory.toml", "classifier_net.py"):
        shutil.copy(BRING_YOUR_OWN / name, folder / name)
    spec = importlib.util.spec_from_file_location("make_model_files", BRING_YOUR_OWN / "make_model_files.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit's notices, for the stand-in files
        module.write_model_files(folder)
    return folder / "factory.toml"


@pytest.mark.slow
def test_demo_of_a_spec_file_kept_in_the_background_is_on_loopback_only_and_sigint_tears_it_all_down(
    tmp_path: Path,
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # GIVEN the user's own model as a spec file (a module factory and a state-dict file)
    spec_file = your_own_model(tmp_path / "my-model")
    # GIVEN `python -m rehearsal.demo --model my-model/factory.toml --keep`, started in the background
    # from a script (SIGINT ignored)
    demo = DemoProcess(["--model", str(spec_file), "--requests", "2", "--keep"], tmp, ignore_sigint=True)
    try:
        # WHEN it has deployed, invoked, and waits
        demo.wait_for(lambda: "everything stays up" in demo.output, 900, "--keep message")
        output = demo.output
        # THEN each promised step showed in its output: the spec file's model was built, deployed and
        # its answers compared with its own torch module, on inputs made from its tensor specs
        assert "build classifier-factory" in output
        assert "inputs from the build manifest: features FP32[16]; reference: torch on the source" in output
        assert "stacks with differences: 0" in output
        assert "AWS::ApplicationAutoScaling::ScalableTarget" in output  # what moto skipped is printed
        assert "max |endpoint - torch|" in output and ": OK" in output
        # THEN the field-by-field comparison named the emulator's differences, not passed over them
        assert "≠ EnableNetworkIsolation: template true, emulator false (known emulator difference" in output
        assert "≠ DataCaptureConfig: template (not set), emulator {} (known emulator difference" in output
        assert "UNEXPECTED" not in output
        assert "SageMaker SDK v3 Endpoint.get(" in output and "data_capture_config" in output
        # THEN every serving mode ran (the default): seed 002's asynchronous stack answered through
        # S3 + SNS → SQS equal to torch, a malformed input ended in the failure path with an error
        # notification, and the variant scaled to zero and back
        assert "TritonAsync-pegasus-tiny" in output
        assert "every answer equals torch exactly" in output
        assert "error notification: ClientError: Received server error (500) from model" in output
        assert "HasBacklogWithoutCapacity = 1 while the request waited at zero instances" in output
        assert "AWS::ApplicationAutoScaling::ScalableTarget" in output  # what moto skipped is printed
        # THEN seed 001's multi-model stack served each TargetModel under its prefix, cold then warm,
        # equal to torch, saying what stands in for each production backend; an archive uploaded
        # afterwards was served without a redeploy; an unknown TargetModel got SageMaker's error
        assert "TritonMultiModel-resnet-tiny" in output
        assert "resnet: pytorch_libtorch → torch running the archive's TorchScript model.pt" in output
        assert "REHEARSAL SUBSTITUTE: resnet_trt_v0.tar.gz holds resnet-tiny-onnx" in output
        assert "classifier-factory_added_v0.tar.gz" in output and "served without a redeploy" in output
        assert "TargetModel no_such_model_v0.tar.gz: ValidationError (400): Failed to download model data" in output
        # THEN memory pressure unloaded the least recently used model, and calling it again loaded it
        # again (a cache miss) with an answer equal to torch
        assert "(1 byte less than what was loaded): unloaded resnet_onnx_v0.tar.gz" in output
        assert "resnet_onnx_v0.tar.gz called again: loaded again in" in output
        # THEN the post-deploy check passed for every stack: each endpoint runs the config its stack
        # deployed and answered per variant, per TargetModel and through the async queue
        checked = [line.strip() for line in output.splitlines() if line.strip().startswith(("ok ", "FAIL "))]
        assert checked and all(line.startswith("ok ") for line in checked), checked
        assert sum("as deployed, InService" in line for line in checked) == 3, checked
        assert any("(asynchronous) answered through the queue" in line for line in checked), checked
        assert any("TargetModel resnet_pt_v0.tar.gz answered" in line for line in checked), checked
        # THEN every metric the three stacks' dashboards and alarms reference had data in the
        # emulator's CloudWatch (the GPU ones are named as not observable on this machine)
        read_back = [line.strip() for line in output.splitlines() if "metrics the dashboards and alarms read have data" in line]
        assert len(read_back) == 3 and all("; 0 missing, 2 not observable locally" in line for line in read_back), read_back
        assert "NO DATA:" not in output
        # THEN what the rehearsal started (the emulator, the data plane, Triton) listens on loopback only
        tree = demo.tree()
        names = {p.name() for p in tree}
        assert "tritonserver" in names and any(MOTO_MODULE in " ".join(_cmdline(p)) for p in tree)
        listening = [
            (p.name(), c.laddr.ip, c.laddr.port)
            for p in tree
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert len(listening) >= 1 + 1 + 3, listening  # data plane, moto, Triton (SageMaker, HTTP, metrics)
        assert {ip for _, ip, _ in listening} <= {"127.0.0.1", "::1"}, listening
        # WHEN it gets SIGINT (kill -INT), which it inherited ignored
        demo.proc.send_signal(signal.SIGINT)
        code = demo.finish(300)
        # THEN it tears down: cdk destroy ran, nothing is left running, no server log is left behind
        assert code == 128 + signal.SIGINT, demo.output[-6000:]
        assert "SIGINT: tearing down" in demo.output
        assert "endpoints left: []" in demo.output
        timings = demo.output.split("Timings")[-1]
        assert "total" in timings and "realtime steps" in timings and "async steps" in timings
        assert "multi-model steps" in timings
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert alive == [], alive
        assert stray_files(tmp) == []
    finally:
        demo.kill()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "to_group"),
    [(signal.SIGTERM, False), (signal.SIGINT, True)],
    ids=["sigterm-to-the-demo", "ctrl-c-to-its-process-group"],
)
def test_demo_stopped_while_synthesizing_stops_the_cli_and_the_emulator(tmp_path: Path, signum: int, to_group: bool) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    # GIVEN a demo whose `cdk synth` is running (the emulator is up)
    demo = DemoProcess(["--requests", "1"], tmp)
    try:
        demo.wait_for(lambda: any("app.py" in " ".join(_cmdline(p)) for p in demo.tree()), 120, "the app under cdk synth")
        tree = demo.tree()
        assert any(MOTO_MODULE in " ".join(_cmdline(p)) for p in tree)
        # WHEN it gets SIGTERM, or a terminal's Ctrl-C (SIGINT to the foreground process group)
        if to_group:
            os.killpg(demo.proc.pid, signum)
        else:
            demo.proc.send_signal(signum)
        code = demo.finish(120)
        # THEN it says so, exits 128 + the signal, and leaves no process (CLI, app, emulator) or log behind
        assert code == 128 + signum, demo.output[-4000:]
        assert f"stopped by {signal.Signals(signum).name}" in demo.output
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert alive == [], [(p.pid, p.name()) for p in alive]
        assert stray_files(tmp) == []
    finally:
        demo.kill()


# --------------------------------------------------------------------------------- pure helpers


def test_tokenized_inputs_look_like_a_tokenizers_output() -> None:
    inputs = tokenized_inputs(batch_size=4, sequence_length=32, seed=0)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    assert ids.shape == mask.shape == (4, 32) and ids.dtype == mask.dtype == np.int64
    for row_ids, row_mask in zip(ids, mask, strict=True):
        n = int(row_mask.sum())
        assert row_ids[0] == 101 and row_ids[n - 1] == 102  # [CLS] … [SEP]
        assert (row_ids[n:] == PAD_ID).all() and (row_mask[:n] == 1).all()
    # seeded: the same seed gives the same inputs
    np.testing.assert_array_equal(ids, tokenized_inputs(batch_size=4, sequence_length=32, seed=0)["input_ids"])


def test_kserve_round_trip_shapes() -> None:
    body = kserve_request({"input_ids": np.arange(6, dtype=np.int64).reshape(2, 3)})
    assert json.loads(body) == {
        "inputs": [{"name": "input_ids", "shape": [2, 3], "datatype": "INT64", "data": [0, 1, 2, 3, 4, 5]}]
    }
    out = kserve_outputs(b'{"outputs":[{"name":"logits","datatype":"FP32","shape":[2,2],"data":[1,2,3,4]}]}')
    np.testing.assert_array_equal(out["logits"], [[1, 2], [3, 4]])


def _model_reference(relu_onnx: Callable[[Path], Path], tmp_path: Path) -> Any:
    from model_build.sources import OnnxFile
    from model_build.spec import ModelSpec
    from rehearsal.reference import ModelReference

    onnx = relu_onnx(tmp_path / "relu.onnx")
    spec = ModelSpec(name="relu", source=OnnxFile(onnx))
    manifest = {
        "inputs": [{"name": "x", "dtype": "FP32", "dims": [4]}],
        "outputs": [{"name": "y", "dtype": "FP32", "dims": [4]}],
    }
    return ModelReference(spec, manifest)


def test_model_reference_of_an_onnx_source_runs_onnx_runtime_on_inputs_from_the_tensor_specs(
    relu_onnx: Callable[[Path], Path], tmp_path: Path
) -> None:
    # GIVEN an ONNX source (y = relu(x)) and its manifest's tensor specs
    reference = _model_reference(relu_onnx, tmp_path)
    # WHEN inputs are made and the reference answers them
    inputs = reference.inputs(batch_size=3, seed=1)
    outputs = reference.outputs(inputs)
    # THEN the inputs follow the specs (batch first), the reference is ONNX Runtime on the file
    assert reference.kind == "ONNX Runtime" and not reference.is_token_model()
    assert inputs["x"].shape == (3, 4) and inputs["x"].dtype == np.float32
    assert (inputs["x"] < 0).any()  # standard normal: relu has something to do
    np.testing.assert_allclose(outputs["y"], np.maximum(inputs["x"], 0), rtol=0, atol=0)
    np.testing.assert_array_equal(inputs["x"], reference.inputs(batch_size=3, seed=1)["x"])
