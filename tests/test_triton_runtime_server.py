"""triton_runtime.server: installing the bundled Triton server and running the real process."""

from __future__ import annotations

import concurrent.futures
import os
import re
import socket
import textwrap
import time
from pathlib import Path

import pytest
import requests

from triton_runtime import server as triton
from triton_runtime.server import TritonServer, TritonStartupError

# A python-backend model small enough to read: y = 2 * x, tensors moved with DLPack (numpy 2 breaks the
# stub's as_numpy path; see model_build/serving_templates/python_backend_model.py).
DOUBLER_CONFIG = """
name: "{name}"
backend: "python"
max_batch_size: 8
input [ {{ name: "x" data_type: TYPE_FP32 dims: [ 3 ] }} ]
output [ {{ name: "y" data_type: TYPE_FP32 dims: [ 3 ] }} ]
dynamic_batching {{ }}
instance_group [ {{ count: 1 kind: KIND_CPU }} ]
"""
DOUBLER_MODEL = textwrap.dedent(
    """
    import numpy as np
    import triton_python_backend_utils as pb_utils

    class TritonPythonModel:
        def execute(self, requests):
            responses = []
            for request in requests:
                x = np.from_dlpack(pb_utils.get_input_tensor_by_name(request, "x"))
                y = np.ascontiguousarray(x * 2)
                responses.append(pb_utils.InferenceResponse([pb_utils.Tensor.from_dlpack("y", y)]))
            return responses
    """
)


def write_doubler(repository: Path, name: str = "doubler") -> Path:
    model_dir = repository / name
    (model_dir / "1").mkdir(parents=True)
    (model_dir / "config.pbtxt").write_text(DOUBLER_CONFIG.format(name=name))
    (model_dir / "1" / "model.py").write_text(DOUBLER_MODEL)
    return model_dir


def request_for(rows: list[list[float]]) -> dict:
    return {
        "inputs": [
            {
                "name": "x",
                "shape": [len(rows), 3],
                "datatype": "FP32",
                "data": [v for row in rows for v in row],
            }
        ]
    }


def output_rows(response: dict, name: str = "y") -> list[list[float]]:
    (output,) = [o for o in response["outputs"] if o["name"] == name]
    width = output["shape"][1]
    data = output["data"]
    return [data[i : i + width] for i in range(0, len(data), width)]


@pytest.fixture(scope="module")
def doubler_repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repository = tmp_path_factory.mktemp("doubler-repo")
    write_doubler(repository)
    return repository


@pytest.fixture(scope="module")
def server(doubler_repository: Path):
    started = time.monotonic()
    with TritonServer(doubler_repository, default_model="doubler") as running:
        running.startup_seconds = time.monotonic() - started  # type: ignore[attr-defined]
        yield running


# ------------------------------------------------------------------ install / locate


def test_locate_tells_the_user_to_run_make_setup_when_missing(tmp_path, monkeypatch):
    # GIVEN TRITON_HOME pointing at an empty folder
    monkeypatch.setenv("TRITON_HOME", str(tmp_path))
    # WHEN / THEN locating the server fails with the fix in the message
    with pytest.raises(triton.TritonNotInstalledError, match="make setup"):
        triton.locate()


def test_locate_honours_triton_home(monkeypatch):
    # GIVEN the project's installation, named explicitly through TRITON_HOME
    installed = triton.locate()
    monkeypatch.setenv("TRITON_HOME", str(installed.home))
    # WHEN locating it
    found = triton.locate()
    # THEN the binary, backends and libs are where the server command needs them
    assert found == installed
    assert os.access(found.binary, os.X_OK)
    assert (found.backends_dir / "python" / "libtriton_python.so").is_file()
    assert found.libs_dir.name == "nvidia_pytriton.libs"


@pytest.mark.slow
def test_install_is_idempotent_and_leaves_no_temporary_folders(tmp_path):
    # GIVEN an empty destination
    dest = tmp_path / "triton-home"
    # WHEN installing twice
    first = triton.install(dest)
    marker_mtime = (dest / "INSTALLED").stat().st_mtime_ns
    second = triton.install(dest)
    # THEN the server is executable, the stub for this Python is in place, and the second call was a no-op
    assert first == second
    assert first.is_complete()
    assert os.access(first.backends_dir / "python" / "triton_python_backend_stub", os.X_OK)
    assert (dest / "INSTALLED").stat().st_mtime_ns == marker_mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triton-home"]


@pytest.mark.slow
def test_install_replaces_an_incomplete_installation(tmp_path):
    # GIVEN a destination left half-written by someone else
    dest = tmp_path / "triton-home"
    (dest / "pytriton").mkdir(parents=True)
    # WHEN installing
    installation = triton.install(dest)
    # THEN it is complete
    assert installation.is_complete()


# ------------------------------------------------------------------ the server


@pytest.mark.slow
def test_server_answers_sagemaker_invocations_with_the_default_model(server):
    # GIVEN a running server whose default model doubles its input
    rows = [[1.0, 2.0, 3.0], [-4.5, 0.25, 1e3]]
    # WHEN invoking it through the SageMaker protocol
    response = server.invocations(request_for(rows))
    # THEN each row comes back doubled, in order
    assert output_rows(response) == [[2 * v for v in row] for row in rows]
    print(f"tritonserver start took {server.startup_seconds:.1f} s")


@pytest.mark.slow
def test_server_binds_kserve_and_metrics_to_localhost_and_exposes_config_and_stats(server):
    # GIVEN a running server that has answered at least one request
    server.invocations(request_for([[1.0, 1.0, 1.0]]))
    # WHEN reading its KServe config, statistics and metrics
    config = server.model_config("doubler")
    stats = server.model_statistics("doubler")
    metrics = requests.get(server.metrics_url, timeout=10)
    # THEN they describe the loaded model
    assert config["backend"] == "python"
    assert config["max_batch_size"] == 8
    assert stats["model_stats"][0]["inference_count"] >= 1
    assert metrics.status_code == 200
    assert "nv_inference_request_success" in metrics.text
    assert server.http_url.startswith("http://127.0.0.1:")
    assert server.log_path.is_file()


@pytest.mark.slow
def test_server_keeps_every_port_on_loopback_and_only_the_server_process_carries_the_shim(server):
    import psutil

    # GIVEN a running server (Triton 2.51's SageMaker frontend binds 0.0.0.0 on its own)
    process = psutil.Process(server.pid)
    # WHEN its listening sockets are read
    listening = {(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}
    # THEN all three ports, the SageMaker one included, are on 127.0.0.1
    sagemaker_port = int(server.sagemaker_url.rsplit(":", 1)[1])
    assert {port for _, port in listening} >= {
        sagemaker_port,
        int(server.http_url.rsplit(":", 1)[1]),
        int(server.metrics_url.split(":")[2].split("/")[0]),
    }
    assert {ip for ip, _ in listening} == {"127.0.0.1"}
    # THEN the bind() shim was preloaded into tritonserver, and its python backend stubs run without it
    assert triton.SHIM_FILENAME in process.environ().get("LD_PRELOAD", "")
    stubs = [p for p in process.children(recursive=True) if "stub" in p.name()]
    assert stubs, "the doubler model runs in a python backend stub"
    assert all(triton.SHIM_FILENAME not in p.environ().get("LD_PRELOAD", "") for p in stubs)


def test_loopback_shim_is_built_once_and_rebuilt_on_request(tmp_path):
    # WHEN the shim is built twice into an empty folder
    first = triton.build_loopback_shim(tmp_path)
    built_at, first_inode = first.stat().st_mtime_ns, first.stat().st_ino
    again = triton.build_loopback_shim(tmp_path)
    # THEN it is a shared library, and the second call found it up to date
    assert first == again == tmp_path / triton.SHIM_FILENAME
    assert first.read_bytes()[:4] == b"\x7fELF"
    assert again.stat().st_mtime_ns == built_at
    assert [p.name for p in tmp_path.iterdir()] == [triton.SHIM_FILENAME]  # no temporary file left
    # WHEN forced
    rebuilt = triton.build_loopback_shim(tmp_path, force=True)
    # THEN a new file replaced it (written aside and renamed into place)
    assert rebuilt.stat().st_ino != first_inode
    assert rebuilt.stat().st_mtime_ns >= built_at


@pytest.mark.slow
def test_server_gives_each_concurrent_caller_its_own_rows(server):
    # GIVEN 12 callers with distinct rows
    payloads = [[[float(i), float(i) + 0.5, -float(i)]] * (1 + i % 3) for i in range(12)]
    # WHEN they call at the same time
    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(server.invocations, [request_for(rows) for rows in payloads]))
    # THEN each gets its own rows back
    for rows, response in zip(payloads, responses, strict=True):
        assert output_rows(response) == [[2 * v for v in row] for row in rows]


@pytest.mark.slow
def test_server_stops_and_reaps_the_process(doubler_repository):
    # GIVEN a started server
    server = TritonServer(doubler_repository, default_model="doubler").start()
    pid = server.pid
    assert pid is not None
    # WHEN stopping it
    server.stop()
    # THEN the process is gone (reaped, not a zombie) and the ports are closed
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.sagemaker_url}/ping", timeout=2)


@pytest.mark.slow
def test_server_started_on_ports_taken_meanwhile_retries_with_fresh_ones(doubler_repository, monkeypatch):
    # GIVEN a port that was free when probed but is taken by another process before Triton binds it (another
    # worker's server): the SageMaker port of the first attempt, which Triton reports as "Socket
    # '0.0.0.0:PORT' already in use", not "Address already in use"
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    probe = triton.free_port
    handed_out: list[int] = []

    def racy_free_port(host: str = "127.0.0.1") -> int:
        port = taken.getsockname()[1] if not handed_out else probe(host)
        handed_out.append(port)
        return port

    monkeypatch.setattr(triton, "free_port", racy_free_port)
    # WHEN the server starts  THEN it retries with fresh ports and answers on the second set
    try:
        with TritonServer(doubler_repository, default_model="doubler") as running:
            assert requests.get(f"{running.sagemaker_url}/ping", timeout=5).status_code == 200
            assert running.sagemaker_url.endswith(f":{handed_out[3]}")
    finally:
        taken.close()
    assert len(handed_out) == 6  # two attempts, three ports each


@pytest.mark.slow
def test_multi_model_server_loads_invokes_and_unloads_models(tmp_path):
    # GIVEN a multi-model server on an empty repository and a model folder outside it
    repository = tmp_path / "empty-repo"
    repository.mkdir()
    model_dir = write_doubler(tmp_path / "models", name="doubler")
    with TritonServer(repository, multi_model=True) as server:
        # WHEN loading the model through the SageMaker route
        server.load_model("doubler", model_dir.parent)
        loaded = server.list_models()
        response = server.invoke_model("doubler", request_for([[1.0, 2.0, 3.0], [7.0, 8.0, 9.0]]))
        server.unload_model("doubler")
        # THEN it was listed, answered, and is gone after the unload
        assert [m["modelName"] for m in loaded["models"]] == ["doubler"]
        assert output_rows(response) == [[2.0, 4.0, 6.0], [14.0, 16.0, 18.0]]
        assert server.list_models()["models"] == []
        with pytest.raises(requests.HTTPError):
            server.invoke_model("doubler", request_for([[1.0, 2.0, 3.0]]))


@pytest.mark.slow
def test_startup_error_includes_the_server_log_tail(tmp_path):
    # GIVEN a repository whose model config is broken
    repository = tmp_path / "broken-repo"
    model_dir = write_doubler(repository, name="broken")
    (model_dir / "config.pbtxt").write_text('name: "broken"\nbackend: "python"\ninput [ { name: "x" ')
    # WHEN starting a server on it
    with pytest.raises(TritonStartupError) as raised:
        TritonServer(repository, default_model="broken", startup_timeout=60, log_path=tmp_path / "triton.log").start()
    # THEN the error says why, with Triton's own words from its log
    message = str(raised.value)
    assert "exited with code" in message
    assert "broken" in message
    assert "config.pbtxt" in message or "failed to load" in message.lower()
    kept_log = Path(re.search(r"log (\S+\.log):", message).group(1))
    assert kept_log.is_file()  # kept for inspection after a failed start
