"""Bad input to the rehearsal's command lines and Python API: one clear message, before anything starts.

Command lines: ``python -m rehearsal.pipeline``, ``python -m rehearsal.demo``, ``python -m rehearsal.data_plane``, ``python -m
triton_runtime install/build-shim/locate``, ``bench/bench_data_plane.py``, ``bench/bench_async.py``. Python API: ``LocalDataPlane``, ``MotoServer``, ``TritonServer``.
Each case checks the bar of the issue "errors a user can act on": the message names the flag or
argument and the value given and says what is allowed or the fix; exit status 2 and no traceback
for a command line; and no process was started (every flag is checked before any server starts).
The command lines run in-process through ``run_cli`` (fast); a few run as real subprocesses.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from model_build.user_errors import UserError
from rehearsal.cdk_cli import PROJECT_ROOT


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something is listening on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


@pytest.fixture
def closed_url() -> str:
    """An http URL on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://localhost:{port}"


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "a-file.txt"
    path.write_text("not a folder\n")
    return path


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


def run_in_process(cli: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run a command line's ``cli(argv)``; return its exit status and stderr, checking nothing was started."""
    before = _children()
    code = cli(argv)
    err = capsys.readouterr().err
    assert _children() <= before, "a process was started for bad input"
    return code, err


def _demo(argv: list[str]) -> int:
    from rehearsal.demo import cli

    return cli(argv)


def _data_plane(argv: list[str]) -> int:
    from rehearsal.data_plane.cli import cli

    return cli(argv)


def _triton(argv: list[str]) -> int:
    from triton_runtime.server import cli

    return cli(argv)


def _bench(argv: list[str]) -> int:
    import importlib.util

    from model_build.user_errors import run_cli

    module = sys.modules.get("bench_data_plane")
    if module is None:  # bench/ is scripts, not a package: load it by path (its dataclasses need it registered)
        spec = importlib.util.spec_from_file_location("bench_data_plane", PROJECT_ROOT / "bench" / "bench_data_plane.py")
        assert spec is not None and spec.loader is not None
        module = sys.modules["bench_data_plane"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return run_cli(module.main, argv, prog=module.PROG)


def _bench_async(argv: list[str]) -> int:
    import importlib.util

    from model_build.user_errors import run_cli

    module = sys.modules.get("bench_async")
    if module is None:  # a script, loaded by path as bench_data_plane is
        spec = importlib.util.spec_from_file_location("bench_async", PROJECT_ROOT / "bench" / "bench_async.py")
        assert spec is not None and spec.loader is not None
        module = sys.modules["bench_async"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return run_cli(module.main, argv, prog=module.PROG)


def _pipeline(argv: list[str]) -> int:
    from rehearsal.pipeline import cli

    return cli(argv)


COMMANDS = {"pipeline": (_pipeline, "python -m rehearsal.pipeline"), "demo": (_demo, "python -m rehearsal.demo"), "data_plane": (_data_plane, "python -m rehearsal.data_plane"),
            "triton": (_triton, "python -m triton_runtime"), "bench": (_bench, "bench/bench_data_plane.py"),
            "bench_async": (_bench_async, "bench/bench_async.py")}


def _bad_spec(tmp_path: Path) -> str:
    spec = tmp_path / "model.toml"
    spec.write_text('name = "m"\n[source]\nkind = "onnx"\npath = "missing.onnx"\n')
    return str(spec)


def _onnx_file(tmp_path: Path) -> str:
    from onnx import TensorProto, helper, save

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    path = tmp_path / "model.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return str(path)


def _wheel_named_wrong(tmp_path: Path) -> str:
    path = tmp_path / "triton.whl"
    path.write_bytes(b"PK")
    return str(path)


# (command, argv built from the fixtures, what the one-line message must contain; {busy_port} and
# {closed_url} stand for the fixtures' values)
CLI_CASES: list[tuple[str, Callable[..., list[str]], list[str]]] = [
    # python -m rehearsal.demo
    ("demo", lambda **f: ["--model", "no-such-model"], ["--model", "no-such-model", "example"]),
    ("demo", lambda **f: ["--model", "bert-tny"], ["--model", "bert-tny", "did you mean 'bert-tiny'"]),
    ("demo", lambda **f: ["--model", _onnx_file(f["tmp_path"])], ["--model", "ONNX", "spec"]),
    ("demo", lambda **f: ["--model", str(f["tmp_path"])], ["--model", "folder"]),
    ("demo", lambda **f: ["--model", _bad_spec(f["tmp_path"])], ["--model", "model.toml", "missing.onnx"]),
    ("demo", lambda **f: ["--port", "abc"], ["--port", "'abc'", "0-65535"]),
    ("demo", lambda **f: ["--port", "-1"], ["--port", "'-1'", "0-65535"]),
    ("demo", lambda **f: ["--port", str(f["busy_port"])], ["--port", "{busy_port}", "choose another"]),
    ("demo", lambda **f: ["--requests", "0"], ["--requests", "'0'", "1 to 100"]),
    ("demo", lambda **f: ["--requests", "1000"], ["--requests", "'1000'", "1 to 100"]),
    ("demo", lambda **f: ["--requests", "two"], ["--requests", "'two'"]),
    ("demo", lambda **f: ["--keeep"], ["unrecognized arguments: --keeep", "--help"]),
    ("demo", lambda **f: ["--mode", "asynch"], ["--mode", "'asynch'", "(did you mean 'async'?)", "all, realtime, async"]),
    ("demo", lambda **f: ["--mode", "realtime,"], ["--mode", "unknown serving mode ''", "separated by commas"]),
    ("demo", lambda **f: ["--mode", "multimodel"], ["--mode", "'multimodel'", "(did you mean 'multi-model'?)"]),
    ("demo", lambda **f: ["--mme-models", "resnet51"], ["--mme-models", "'resnet51'", "resnet-tiny", "resnet50"]),
    ("demo", lambda **f: ["--async-model", "pegasus-huge"], ["--async-model", "pegasus-huge", "pegasus-tiny"]),
    ("demo", lambda **f: ["--async-model", _onnx_file(f["tmp_path"])], ["--async-model", "ONNX", "spec"]),
    ("demo", lambda **f: ["--scale-in-cooldown", "0"], ["--scale-in-cooldown", "'0'", "> 0"]),
    ("demo", lambda **f: ["--scale-in-cooldown", "inf"], ["--scale-in-cooldown", "'inf'"]),
    # python -m rehearsal.pipeline (make pipeline-rehearsal)
    ("pipeline", lambda **f: ["--model", "bert-tny"], ["--model", "bert-tny", "did you mean 'bert-tiny'"]),
    ("pipeline", lambda **f: ["--model", _bad_spec(f["tmp_path"])], ["--model", "model.toml", "missing.onnx"]),
    ("pipeline", lambda **f: ["--broken-model", "--model", "bert-large"], ["--broken-model", "--model bert-large", "drop one"]),
    ("pipeline", lambda **f: ["--async-model", "pegasus"], ["--async-model", "'pegasus'", "pegasus-tiny", "none"]),
    ("pipeline", lambda **f: ["--mme-models", "resnet50"], ["--mme-models", "'resnet50'", "resnet-tiny", "none"]),
    ("pipeline", lambda **f: ["--port", "abc"], ["--port", "'abc'", "0-65535"]),
    ("pipeline", lambda **f: ["--port", str(f["busy_port"])], ["--port", "{busy_port}", "choose another"]),
    ("pipeline", lambda **f: ["--broken-model=yes"], ["--broken-model", "ignored explicit argument 'yes'"]),
    # python -m rehearsal.data_plane MOTO_URL
    ("data_plane", lambda **f: [], ["MOTO_URL", "required"]),
    ("data_plane", lambda **f: ["localhost:5000"], ["MOTO_URL", "'localhost:5000'", "http://localhost:5000"]),
    ("data_plane", lambda **f: [f["closed_url"]], ["MOTO_URL {closed_url}", "does not answer", "start the emulator"]),
    ("data_plane", lambda **f: [f["closed_url"], "--port", "70000"], ["--port", "'70000'", "0-65535"]),
    ("data_plane", lambda **f: [f["closed_url"], "--port", str(f["busy_port"])], ["--port", "choose another"]),
    ("data_plane", lambda **f: [f["closed_url"], "--host", "0.0.0.0"], ["--host", "'0.0.0.0'", "loopback"]),
    ("data_plane", lambda **f: [f["closed_url"], "--refresh-interval", "0"], ["--refresh-interval", "'0'", "> 0"]),
    ("data_plane", lambda **f: [f["closed_url"], "--refresh-interval", "nan"], ["--refresh-interval", "'nan'"]),
    ("data_plane", lambda **f: [f["closed_url"], "--work-dir", str(f["a_file"])], ["--work-dir", "a-file.txt", "folder"]),
    ("data_plane", lambda **f: [f["closed_url"], "--serverless-idle", "0"], ["--serverless-idle", "'0'", "> 0"]),
    ("data_plane", lambda **f: [f["closed_url"], "--serverless-invocation-timeout", "soon"], ["--serverless-invocation-timeout", "'soon'", "seconds"]),
    ("data_plane", lambda **f: [f["closed_url"], "--work-dir", str(f["a_file"] / "w")], ["--work-dir", "a-file.txt", "cannot be created"]),
    ("data_plane", lambda **f: [f["closed_url"], "--work-dir", ""], ["--work-dir", "''", "empty path"]),
    # python -m triton_runtime install / locate
    ("triton", lambda **f: [], ["{install,build-shim,locate}", "required"]),
    ("triton", lambda **f: ["install", "--wheel", str(f["tmp_path"] / "nope.whl")], ["--wheel", "nope.whl", "pip download"]),
    ("triton", lambda **f: ["install", "--wheel", _wheel_named_wrong(f["tmp_path"])], ["--wheel", "triton.whl", "nvidia_pytriton-0.7.0-*.whl"]),
    ("triton", lambda **f: ["install", "--dest", str(f["a_file"])], ["--dest", "a-file.txt", "folder"]),
    ("triton", lambda **f: ["install", "--dest", str(f["a_file"] / "t")], ["--dest", "a-file.txt", "cannot be created"]),
    ("triton", lambda **f: ["install", "--cache-dir", str(f["a_file"] / "c")], ["--cache-dir", "a-file.txt", "cannot be created"]),
    ("triton", lambda **f: ["build-shim", "--dest", str(f["a_file"] / "t")], ["--dest", "a-file.txt", "cannot be created"]),
    ("triton", lambda **f: ["build-shim", "--dest", ""], ["--dest", "''", "empty path"]),
    ("triton", lambda **f: ["locate", "--home", " "], ["--home", "' '", "empty path"]),
    ("triton", lambda **f: ["locate", "--home", str(f["tmp_path"] / "nowhere")], ["--home", "nowhere", "make setup"]),
    ("triton", lambda **f: ["locate", "--home", str(f["tmp_path"])], ["--home", "No Triton server found", "make setup"]),
    ("triton", lambda **f: ["instal"], ["invalid choice: 'instal'"]),
    # bench/bench_data_plane.py (it builds, starts moto, a data plane and Triton, and writes its report last)
    ("bench", lambda **f: ["--repeats", "0"], ["--repeats", "'0'", "whole number >= 1", "nothing was started"]),
    ("bench", lambda **f: ["--duration", "nan"], ["--duration", "'nan'", "number > 0"]),
    ("bench", lambda **f: ["--out", str(f["a_file"] / "report.json")], ["--out", "a-file.txt", "is a file"]),
    ("bench", lambda **f: ["--out", str(f["tmp_path"])], ["--out", "path of the JSON report"]),
    # python -m rehearsal.data_plane --scale-in-cooldown (async scale to zero)
    ("data_plane", lambda **f: [f["closed_url"], "--scale-in-cooldown", "0"], ["--scale-in-cooldown", "'0'", "> 0"]),
    ("data_plane", lambda **f: [f["closed_url"], "--scale-in-cooldown", "nan"], ["--scale-in-cooldown", "'nan'"]),
    ("data_plane", lambda **f: [f["closed_url"], "--scale-in-cooldown", "2m"], ["--scale-in-cooldown", "'2m'", "seconds"]),
    ("data_plane", lambda **f: [f["closed_url"], "--scale-in-cooldown", "90000"], ["--scale-in-cooldown", "'90000'", "86400"]),
    ("data_plane", lambda **f: [f["closed_url"], "--multi-model-memory-budget", "0"], ["--multi-model-memory-budget", "'0'", "1 to"]),
    ("data_plane", lambda **f: [f["closed_url"], "--multi-model-memory-budget", "2GB"], ["--multi-model-memory-budget", "'2GB'"]),
    # bench/bench_async.py (it builds, starts moto, a data plane and Triton)
    ("bench_async", lambda **f: ["--requests", "0"], ["--requests", "'0'", "whole number >= 1", "nothing was started"]),
    ("bench_async", lambda **f: ["--requests", "2000000"], ["--requests", "'2000000'", "<= 1000000"]),
    ("bench_async", lambda **f: ["--malformed-every", "1"], ["--malformed-every", "'1'", ">= 2"]),
    ("bench_async", lambda **f: ["--kill-after", "1"], ["--kill-after", "'1'", "below 1"]),
    ("bench_async", lambda **f: ["--kill-after", "0"], ["--kill-after", "'0'", "> 0"]),
    ("bench_async", lambda **f: ["--clients", "65"], ["--clients", "'65'", "<= 64"]),
    ("bench_async", lambda **f: ["--max-concurrency", "0"], ["--max-concurrency", "'0'", ">= 1"]),
    ("bench_async", lambda **f: ["--instances", "many"], ["--instances", "'many'"]),
    ("bench_async", lambda **f: ["--drain-timeout", "nan"], ["--drain-timeout", "'nan'", "number > 0"]),
]


@pytest.mark.parametrize(
    ("command", "make_argv", "expected"),
    CLI_CASES,
    ids=[f"{c}:{i}" for i, (c, _, _) in enumerate(CLI_CASES)],
)
def test_command_line_bad_input_is_one_line_naming_the_flag_exit_2_before_anything_starts(
    command: str,
    make_argv: Callable[..., list[str]],
    expected: list[str],
    tmp_path: Path,
    busy_port: int,
    closed_url: str,
    a_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli, prog = COMMANDS[command]
    # GIVEN a bad command line
    argv = make_argv(tmp_path=tmp_path, busy_port=busy_port, closed_url=closed_url, a_file=a_file)
    # WHEN it runs
    code, err = run_in_process(cli, argv, capsys)
    # THEN exit status 2 and one line on stderr, naming the program, the flag and the fix; no traceback
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{prog}: error: ")
    assert "Traceback" not in err
    for fragment in expected:
        fragment = fragment.replace("{closed_url}", closed_url).replace("{busy_port}", str(busy_port))
        assert fragment in lines[0], f"{fragment!r} not in {lines[0]!r}"


def test_demo_mode_from_the_environment_is_checked_and_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN `make demo DEMO_MODE=realtme`
    monkeypatch.setenv("DEMO_MODE", "realtme")
    code, err = run_in_process(_demo, [], capsys)
    # THEN one line names the variable, the value and the choices, before anything starts
    assert code == 2
    assert err.strip().splitlines() == [
        "python -m rehearsal.demo: error: $DEMO_MODE: unknown serving mode 'realtme' (did you mean 'realtime'?); "
        "choose all, realtime, async, multi-model, or several separated by commas (e.g. realtime,async)"
    ]


def test_pipeline_broken_model_from_make_is_checked_and_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN `make pipeline-rehearsal BROKEN=yes` (the Makefile passes it as $PIPELINE_BROKEN_MODEL)
    monkeypatch.setenv("PIPELINE_BROKEN_MODEL", "yes")
    code, err = run_in_process(_pipeline, [], capsys)
    # THEN one line names the variable, the value and what is allowed, before anything starts
    assert code == 2
    assert err.strip().splitlines() == [
        "python -m rehearsal.pipeline: error: $PIPELINE_BROKEN_MODEL (make pipeline-rehearsal BROKEN=...) must be 1 "
        "(deploy the broken model) or empty (got 'yes'); e.g. make pipeline-rehearsal BROKEN=1"
    ]


@pytest.mark.parametrize(
    ("module", "argv", "expected"),
    [
        ("rehearsal.demo", ["--port", "abc"], "--port"),
        ("rehearsal.data_plane", ["localhost:5000"], "MOTO_URL"),
        ("triton_runtime", ["locate", "--home", "/no/such/folder"], "--home"),
    ],
    ids=["demo", "data_plane", "triton_runtime"],
)
def test_command_line_bad_input_as_a_real_subprocess(module: str, argv: list[str], expected: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", module, *argv],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if k != "TRITON_IAC_DEBUG"},
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_debug_variable_shows_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from rehearsal.data_plane.cli import cli

    monkeypatch.setenv("TRITON_IAC_DEBUG", "1")
    with pytest.raises(UserError, match="MOTO_URL"):
        cli(["localhost:5000"])


def test_build_shim_without_a_c_compiler_names_the_fix_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from triton_runtime.server import cli

    # GIVEN a machine with no C compiler on PATH
    monkeypatch.setenv("PATH", str(tmp_path / "no-compilers-here"))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.delenv("TRITON_LOOPBACK_ONLY", raising=False)
    # WHEN make setup's build-shim step runs
    code, err = run_in_process(cli, ["build-shim", "--dest", str(tmp_path / "triton-home")], capsys)
    # THEN it stops make with exit 2 and one line that names both fixes, and writes nothing
    assert code == 2, err
    (line,) = err.strip().splitlines()
    assert line.startswith("python -m triton_runtime: error: No C compiler found")
    assert "apt-get install gcc" in line and "make setup" in line and "TRITON_LOOPBACK_ONLY=0" in line
    assert list(tmp_path.iterdir()) == []


def test_build_shim_is_skipped_when_loopback_only_is_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from triton_runtime.server import cli

    # GIVEN no C compiler, and TRITON_LOOPBACK_ONLY=0 (the fix the message offers for an isolated machine)
    monkeypatch.setenv("PATH", str(tmp_path / "no-compilers-here"))
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("TRITON_LOOPBACK_ONLY", "0")
    # WHEN make setup's build-shim step runs
    code = cli(["build-shim", "--dest", str(tmp_path / "triton-home")])
    # THEN it succeeds, says why nothing was built, and writes nothing
    assert code == 0
    assert "not built (TRITON_LOOPBACK_ONLY=0" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------- Python API


def _plane(**kwargs: Any) -> Any:
    from rehearsal.data_plane import LocalDataPlane

    url = kwargs.pop("url", "http://localhost:5000")
    return LocalDataPlane(url, **kwargs)


def _moto(**kwargs: Any) -> Any:
    from rehearsal.moto_server import MotoServer

    return MotoServer(**kwargs)


def _triton_server(**kwargs: Any) -> Any:
    from triton_runtime.server import TritonServer

    repository = kwargs.pop("repository")
    return TritonServer(repository, **kwargs)


# (constructor, keyword arguments built from the fixtures, fragments of the message)
API_CASES: list[tuple[Callable[..., Any], Callable[..., dict[str, Any]], list[str]]] = [
    (_plane, lambda **f: {"url": "localhost:5000"}, ["control_plane_endpoint_url", "'localhost:5000'", "http://localhost:5000"]),
    (_plane, lambda **f: {"host": "0.0.0.0"}, ["host", "'0.0.0.0'", "loopback"]),
    (_plane, lambda **f: {"host": "192.168.1.10"}, ["host", "'192.168.1.10'", "loopback"]),
    (_plane, lambda **f: {"port": 70000}, ["port", "70000", "0-65535"]),
    (_plane, lambda **f: {"port": "8080"}, ["port", "'8080'", "integer"]),
    (_plane, lambda **f: {"region": "mars-1"}, ["region", "'mars-1'", "us-east-1"]),
    (_plane, lambda **f: {"server_options": {"default_model": "x"}}, ["server_options['default_model']", "set by each backend"]),
    (_plane, lambda **f: {"server_options": {"startup_timout": 5}}, ["server_options['startup_timout']", "did you mean 'startup_timeout'"]),
    (_plane, lambda **f: {"refresh_interval_s": 0}, ["refresh_interval_s", "0", "(0, 3600]"]),
    (_plane, lambda **f: {"work_dir": f["a_file"]}, ["work_dir", "a-file.txt", "folder"]),
    (_plane, lambda **f: {"work_dir": f["a_file"] / "w"}, ["work_dir", "a-file.txt", "cannot be created"]),
    (_plane, lambda **f: {"work_dir": ""}, ["work_dir", "empty"]),
    (_plane, lambda **f: {"seed": "1"}, ["seed", "'1'", "integer"]),
    (_plane, lambda **f: {"host": "0.0.0.0", "port": -1}, ["host", "port"]),  # every problem, one message
    (_plane, lambda **f: {"scale_in_cooldown_s": 0}, ["scale_in_cooldown_s", "0", "(0, 86400]", "120 s"]),
    (_plane, lambda **f: {"scale_in_cooldown_s": float("nan")}, ["scale_in_cooldown_s", "nan"]),
    (_plane, lambda **f: {"scale_in_cooldown_s": "120"}, ["scale_in_cooldown_s", "'120'", "number of seconds"]),
    (_plane, lambda **f: {"scale_in_cooldown_s": True}, ["scale_in_cooldown_s", "True"]),
    (_plane, lambda **f: {"multi_model_memory_budget_bytes": 0}, ["multi_model_memory_budget_bytes", "0", "2048 MiB"]),
    (_plane, lambda **f: {"multi_model_memory_budget_bytes": "2GB"}, ["multi_model_memory_budget_bytes", "'2GB'", "bytes"]),
    (_plane, lambda **f: {"metrics_interval_s": 0}, ["metrics_interval_s", "0", "(0, 3600]", "10 s"]),
    (_plane, lambda **f: {"metrics_interval_s": float("nan")}, ["metrics_interval_s", "nan"]),
    (_plane, lambda **f: {"metrics_interval_s": "10"}, ["metrics_interval_s", "'10'", "number of seconds"]),
    (_plane, lambda **f: {"serverless_idle_s": 0}, ["serverless_idle_s", "0", "(0, 86400]", "600 s"]),
    (_plane, lambda **f: {"serverless_idle_s": "5"}, ["serverless_idle_s", "'5'", "number of seconds"]),
    (_plane, lambda **f: {"serverless_invocation_timeout_s": float("nan")}, ["serverless_invocation_timeout_s", "nan", "60 s"]),
    (_plane, lambda **f: {"serverless_invocation_timeout_s": True}, ["serverless_invocation_timeout_s", "True", "(0, 3600]"]),
    (_plane, lambda **f: {"local_images": ["img"]}, ["local_images must be a dict of image URI to command", "(got list)"]),
    (_plane, lambda **f: {"local_images": {"img": "python serve.py"}}, ["local_images['img']", "non-empty list of str", "'python serve.py'"]),
    (_plane, lambda **f: {"local_images": {"img": []}}, ["local_images['img']", "non-empty list of str"]),
    (_plane, lambda **f: {"local_images": {"": ["python"]}}, ["local_images key ''", "image URI"]),
    (_moto, lambda **f: {"port": 0}, ["port", "0", "1-65535"]),
    (_moto, lambda **f: {"region": "US-EAST-1"}, ["region", "'US-EAST-1'"]),
    (_moto, lambda **f: {"start_timeout_s": 0}, ["start_timeout_s", "> 0"]),
    (_moto, lambda **f: {"log_path": f["tmp_path"]}, ["log_path", "not a folder"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"] / "nope"}, ["model_repository", "nope", "existing folder"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "model_control_mode": "explict"}, ["model_control_mode", "did you mean 'explicit'"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "multi_model": True, "model_control_mode": "none"}, ["model_control_mode", "multi_model=True"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "log_verbose": -1}, ["log_verbose", "-1"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "extra_args": "--log-info=true"}, ["extra_args", "list of strings"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "startup_timeout": 0}, ["startup_timeout", "> 0"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "env": {"N": 1}}, ["env", "string values"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "python_executable": "/no/python"}, ["python_executable", "/no/python"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "triton_home": f["a_file"]}, ["triton_home", "make setup"]),
    (_triton_server, lambda **f: {"repository": f["tmp_path"], "log_path": f["tmp_path"]}, ["log_path", "not a folder"]),
]


@pytest.mark.parametrize(
    ("make", "make_kwargs", "expected"),
    API_CASES,
    ids=[f"{m.__name__.strip('_')}:{i}" for i, (m, _, _) in enumerate(API_CASES)],
)
def test_api_bad_argument_is_one_user_error_naming_it_before_anything_starts(
    make: Callable[..., Any],
    make_kwargs: Callable[..., dict[str, Any]],
    expected: list[str],
    tmp_path: Path,
    a_file: Path,
) -> None:
    before = _children()
    # WHEN the class is given a bad argument
    with pytest.raises(UserError) as raised:
        make(**make_kwargs(tmp_path=tmp_path, a_file=a_file))
    # THEN one error names it, the value and what is allowed; no process was started
    message = str(raised.value)
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert _children() <= before


@pytest.mark.parametrize("budget", [0, -1, 2.5, True, "512"])
def test_data_plane_limit_multi_model_memory_refuses_a_bad_budget_before_anything(closed_url: str, budget: Any) -> None:
    from rehearsal.data_plane import LocalDataPlane

    # GIVEN a data plane (not even started)  WHEN a budget that is no positive number of bytes is given
    plane = LocalDataPlane(closed_url)
    with pytest.raises(UserError) as raised:
        plane.limit_multi_model_memory("ep", budget)
    # THEN one error names the argument, the value and the fix
    message = str(raised.value)
    assert "budget_bytes must be a positive number of bytes" in message and repr(budget) in message
    assert "pass e.g. budget_bytes=" in message


def test_data_plane_start_refuses_an_emulator_that_does_not_answer(closed_url: str) -> None:
    from rehearsal.data_plane import LocalDataPlane

    plane = LocalDataPlane(closed_url)
    with pytest.raises(UserError, match=r"control_plane_endpoint_url .* does not answer.*start the emulator"):
        plane.start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = plane.endpoint_url
