"""Bad input to ``python -m tuning``: one clear message, exit status 2, and nothing started or written.

Every case runs the real command line in-process (``tuning.cli.main``) with guards that fail the
test if a model build, a Triton server, a load test or the matrix starts, and checks that the
``--out`` folder was not created. The ``load`` cases aim at a real TCP listener on loopback and
check that it never saw a connection. A few cases run ``python -m tuning`` as a subprocess and
check stderr for a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tuning.cli import main

ROOT = Path(__file__).resolve().parents[1]


class _Listener:
    """A loopback TCP socket that counts the connections it accepts (a load test would connect)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.accepted = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture(scope="module")
def listener() -> Iterator[_Listener]:
    """A target URL for ``load`` that records whether anything connected."""
    target = _Listener()
    yield target
    target.close()


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make starting any real work fail the test: a build, a Triton server, the matrix, a load test."""
    started: list[str] = []

    def guard(name: str):
        def refuse(*args: object, **kwargs: object) -> None:
            started.append(name)
            raise AssertionError(f"{name} was started for bad input")

        return refuse

    import model_build.pipeline
    import triton_runtime.server
    import tuning.loadgen
    import tuning.matrix

    monkeypatch.setattr(model_build.pipeline, "build", guard("model_build.pipeline.build"))
    monkeypatch.setattr(triton_runtime.server.TritonServer, "start", guard("TritonServer.start"))
    monkeypatch.setattr(tuning.matrix, "run_matrix", guard("tuning.matrix.run_matrix"))
    for name in ("probe", "run_fixed", "run_phased"):
        monkeypatch.setattr(tuning.loadgen, name, guard(f"tuning.loadgen.{name}"))
    return started


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    assert captured.out == "", "bad input printed results"
    return code, captured.err


# --------------------------------------------------------------------------- matrix
# (extra argv, the flag the message must name, a fragment of what is allowed or the fix)
MATRIX_CASES = [
    pytest.param(["--model", "bert-tinyy"], "--model", "did you mean 'bert-tiny'", id="model-typo"),
    pytest.param(["--model", "gpt2"], "--model", "bert-tiny, bert-base, bert-large", id="model-unknown-lists-examples"),
    pytest.param(["--model", ""], "--model", "got ''; must be one of the model_build examples", id="model-empty-is-not-the-default"),
    pytest.param(["--configs", "db,dbb"], "--configs", "known for --smoke: base, db, ig", id="configs-unknown"),
    pytest.param(["--configs", ""], "--configs", "unknown configuration", id="configs-empty"),
    pytest.param(["--configs", "db,db"], "--configs", "more than once", id="configs-duplicate"),
    pytest.param(["--concurrency", "1,a"], "--concurrency", "rising order, e.g. 1,4,16", id="concurrency-not-int"),
    pytest.param(["--concurrency", "16,4"], "--concurrency", "rising order", id="concurrency-falling"),
    pytest.param(["--concurrency", "0"], "--concurrency", "from 1 to", id="concurrency-zero"),
    pytest.param(["--duration", "0"], "--duration", "must be a number > 0", id="duration-zero"),
    pytest.param(["--duration", "nan"], "--duration", "must be a number > 0", id="duration-nan"),
    pytest.param(["--warmup", "-1"], "--warmup", "must be a number >= 0", id="warmup-negative"),
    pytest.param(["--processes", "0"], "--processes", "whole number >= 1", id="processes-zero"),
    pytest.param(["--processes", "two"], "--processes", "whole number >= 1", id="processes-word"),
    pytest.param(["--percentile", "95"], "--percentile", "must be 50, 90 or 99", id="percentile-95"),
    pytest.param(["--percentile", "nan"], "--percentile", "must be 50, 90 or 99", id="percentile-nan"),
    pytest.param(["--safety-factor", "1.5"], "--safety-factor", "<= 1", id="safety-above-1"),
    pytest.param(["--safety-factor", "0"], "--safety-factor", "> 0", id="safety-zero"),
    pytest.param(["--latency-ms", "-5"], "--latency-ms", "> 0", id="latency-negative"),
    pytest.param(["--target-per-minute", "inf"], "--target-per-minute", "> 0", id="target-infinite"),
    pytest.param(["--instance-type", "ml.g4dn.xlarg"], "--instance-type", "did you mean ml.g4dn.xlarge", id="instance-typo"),
    pytest.param(["--instance-type", "g5.xlarge"], "--instance-type", "did you mean ml.g5.xlarge", id="instance-without-ml"),
    pytest.param(["--instance-type", "ML.G5.XLARGE"], "--instance-type", "did you mean ml.g5.xlarge", id="instance-upper-case"),
    pytest.param(["--prices", ""], "--prices", "got '', an empty path", id="prices-empty-is-not-the-folder"),
    pytest.param(
        ["--instance-type", "ml.g4dn.xlarge"], "--instance-type", '--translate "CPU -> NVIDIA T4 x FACTOR: REASON"',
        id="cpu-measurement-on-t4",
    ),
    pytest.param(
        ["--instance-type", "ml.inf2.xlarge"], "--instance-type", "has 1 x AWS Inferentia2: a different accelerator",
        id="cpu-measurement-on-inferentia",
    ),
    pytest.param(["--translate", "CPU to T4"], "--translate", "must read 'FROM -> TO x FACTOR: REASON'", id="translate-syntax"),
    pytest.param(["--translate", "CPU -> T4 x fast: why"], "--translate", "FACTOR must be a number > 0", id="translate-factor-word"),
    pytest.param(["--translate", "CPU -> T4 x 0: why"], "--translate", "factor must be a number > 0", id="translate-factor-zero"),
    pytest.param(
        ["--instance-type", "ml.g4dn.xlarge", "--translate", "H100 -> T4 x 0.5: measured"], "--instance-type",
        "its from_accelerator is 'NVIDIA H100', but the figures were measured on 'CPU'", id="translate-wrong-from",
    ),
    pytest.param(
        ["--instance-type", "ml.g4dn.xlarge", "--translate", "CPU -> A10G x 2: measured"], "--instance-type",
        "ml.g4dn.xlarge has 'NVIDIA T4'", id="translate-wrong-to",
    ),
    pytest.param(["--encoding", "xml"], "--encoding", "invalid choice: 'xml'", id="encoding-unknown"),
    pytest.param(["--concurency", "1"], "unrecognized arguments", "--concurency", id="flag-typo"),
]


@pytest.mark.parametrize(("extra", "flag", "allowed"), MATRIX_CASES)
def test_bad_matrix_flag_is_named_before_any_work(extra, flag, allowed, tmp_path, capsys, no_work):
    # GIVEN a smoke matrix with one bad flag
    out = tmp_path / "results"
    # WHEN it runs
    code, err = _run(["matrix", "--smoke", "--cpu", "--out", str(out), *extra], capsys)
    # THEN exit 2 with one message naming the flag and what is allowed; nothing built, served or written
    assert code == 2
    assert err.startswith("python -m tuning: error: ") and flag in err and allowed in err, err
    assert no_work == [] and not out.exists()


def _out_cases(tmp_path: Path) -> dict[str, tuple[str, str]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    full = tmp_path / "full"
    full.mkdir()
    (full / "report.md").write_text("earlier run")
    # (the value given, what the message must say); the messages are model_build.user_errors.writable_folder_problem's
    return {
        "out-is-a-file": (str(a_file), "is a file, not a folder; give a folder path"),
        "out-holds-files": (str(full), "already holds files"),
        "out-under-a-file": (str(a_file / "sub"), f"{str(a_file)!r} is a file; choose a path under a folder"),
        "out-not-writable": ("/proc/tuning-results-here", "is not writable"),
        "out-empty": ("", "argument --out: got '', an empty path"),
    }


@pytest.mark.parametrize("case", ["out-is-a-file", "out-holds-files", "out-under-a-file", "out-not-writable", "out-empty"])
def test_bad_out_folder_is_named_and_nothing_is_written(case, tmp_path, capsys, no_work):
    out, allowed = _out_cases(tmp_path)[case]
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, err = _run(["matrix", "--smoke", "--cpu", "--out", out], capsys)
    assert code == 2 and "--out" in err and allowed in err and repr(out)[1:-1] in err, err
    assert no_work == [] and sorted(p.name for p in tmp_path.rglob("*")) == before


@pytest.mark.parametrize(
    ("content", "allowed"),
    [
        pytest.param(None, "no such file", id="prices-missing"),
        pytest.param("{", "not JSON", id="prices-not-json"),
        pytest.param(json.dumps({"schema_version": 2, "currency": "USD", "sources": {}, "prices": {"ml.c5.xlarge": {"usd_per_hour": 1}}}),
                     "source must be one of the sources", id="prices-row-without-source"),
    ],
)
def test_bad_price_file_is_named(content, allowed, tmp_path, capsys, no_work):
    prices = tmp_path / "prices.json"
    if content is not None:
        prices.write_text(content)
    out = tmp_path / "results"
    code, err = _run(["matrix", "--smoke", "--cpu", "--out", str(out), "--prices", str(prices)], capsys)
    assert code == 2 and "--prices" in err and str(prices) in err and allowed in err, err
    assert no_work == [] and not out.exists()


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        pytest.param("cache", "is a file, not a folder; give a folder path", id="cache-dir-is-a-file"),
        pytest.param("", "argument --cache-dir: got '', an empty path", id="cache-dir-empty"),
    ],
)
def test_bad_cache_dir_is_named(name, allowed, tmp_path, capsys, no_work):
    # GIVEN a --cache-dir that is a file, or empty (which would otherwise mean the current folder)
    cache = tmp_path / name if name else ""
    if name:
        cache.write_text("x")
    out = tmp_path / "results"
    code, err = _run(["matrix", "--smoke", "--cpu", "--out", str(out), "--cache-dir", str(cache)], capsys)
    assert code == 2 and "--cache-dir" in err and allowed in err, err
    assert no_work == [] and not out.exists()


def test_default_cache_dir_from_the_environment_is_checked(tmp_path, monkeypatch, capsys, no_work):
    # GIVEN $MODEL_BUILD_CACHE_DIR naming a file (the matrix builds into the default cache)
    cache = tmp_path / "cache"
    cache.write_text("x")
    monkeypatch.setenv("MODEL_BUILD_CACHE_DIR", str(cache))
    out = tmp_path / "results"
    code, err = _run(["matrix", "--smoke", "--cpu", "--out", str(out)], capsys)
    # THEN the message names the variable, not a flag the user did not give
    assert code == 2 and "$MODEL_BUILD_CACHE_DIR" in err and "is a file, not a folder" in err, err
    assert no_work == [] and not out.exists()


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(["matrix", "--out", "x"], "one of the arguments --smoke --full is required", id="no-size"),
        pytest.param(["matrix", "--smoke", "--full"], "not allowed with argument", id="smoke-and-full"),
        pytest.param([], "the following arguments are required: command", id="no-command"),
        pytest.param(["bench"], "invalid choice: 'bench'", id="unknown-command"),
    ],
)
def test_usage_errors_are_one_message_with_the_help_pointer(argv, fragment, capsys, no_work):
    code, err = _run(argv, capsys)
    assert code == 2 and fragment in err and "--help" in err, err
    assert no_work == []


def test_every_problem_is_named_in_one_message(tmp_path, capsys, no_work):
    # GIVEN three bad flags at once
    out = tmp_path / "results"
    code, err = _run(
        ["matrix", "--smoke", "--cpu", "--out", str(out), "--model", "bert-tinyy", "--duration", "-1", "--percentile", "42"],
        capsys,
    )
    # THEN one message lists all three, and nothing started
    assert code == 2 and "3 problems with `python -m tuning matrix` (nothing was started)" in err
    assert "--model" in err and "--duration" in err and "--percentile" in err
    assert no_work == [] and not out.exists()


# --------------------------------------------------------------------------- size
H100_PROFILE = str(ROOT / "bench/reference/gpu-h100-profile.json")
# (argv after `size`, the flag the message must name, a fragment of what is allowed or the fix)
SIZE_CASES = [
    pytest.param(["--profile", ""], "--profile", "got '', an empty path", id="profile-empty"),
    pytest.param(["--profile", "missing.json"], "--profile missing.json", "no such file", id="profile-missing"),
    pytest.param(["--profile", str(ROOT / "bench")], "--profile", "is a folder; give the profile.json file", id="profile-folder"),
    pytest.param(["--profile", str(ROOT / "tuning/prices.json")], "--profile", "is not a known field", id="profile-not-a-profile"),
    pytest.param(
        ["--profile", H100_PROFILE], "--profile (sized as its own instance_type; --instance-type sizes another)",
        "instance type ml.g4dn.xlarge has 1 x NVIDIA T4: a different accelerator", id="profile-sized-for-another-gpu",
    ),
    pytest.param(
        ["--profile", H100_PROFILE, "--instance-type", "ml.g5.xlarge"], "--instance-type",
        '--translate "NVIDIA H100 -> NVIDIA A10G x FACTOR: REASON"', id="instance-other-gpu-names-translate",
    ),
    pytest.param(
        ["--profile", H100_PROFILE, "--instance-type", "ml.p5.48xlarge", "--translate", "H100 -> H100 x 2: why"],
        "--instance-type", "Fix: drop the translation", id="translation-to-the-same-gpu",
    ),
    pytest.param(["--profile", H100_PROFILE, "--instance-type", "ml.p5.48xlarg"], "--instance-type", "did you mean ml.p5.48xlarge",
                 id="instance-typo"),
    pytest.param(["--profile", H100_PROFILE, "--safety-factor", "2"], "--safety-factor", "<= 1", id="safety-above-1"),
    pytest.param(["--profile", H100_PROFILE, "--target-per-minute", "nan"], "--target-per-minute", "> 0", id="target-nan"),
    pytest.param(["--profile", H100_PROFILE, "--prices", "missing.json"], "--prices", "no such file", id="prices-missing"),
    pytest.param(["--instance-type", "ml.p5.48xlarge"], "--profile", "the following arguments are required", id="no-profile"),
]


@pytest.mark.parametrize(("extra", "flag", "allowed"), SIZE_CASES)
def test_bad_size_flag_is_named(extra, flag, allowed, capsys):
    # GIVEN `size` with one bad flag  WHEN it runs
    code, err = _run(["size", *extra], capsys)
    # THEN exit 2 with one message naming the flag and what is allowed or the fix; nothing printed on stdout
    assert code == 2 and err.startswith("python -m tuning: error: ") and flag in err and allowed in err, err


def test_size_names_every_bad_flag_in_one_message(capsys):
    code, err = _run(
        ["size", "--profile", H100_PROFILE, "--instance-type", "ml.p5.48xlarg", "--safety-factor", "0", "--prices", "nope.json"],
        capsys,
    )
    assert code == 2 and "3 problems with `python -m tuning size`" in err
    assert "--instance-type" in err and "--safety-factor" in err and "--prices" in err


# --------------------------------------------------------------------------- compare
def _synthetic_profile(folder: Path, name: str, **changes: Any) -> str:
    """The H100 reference profile re-labelled as the changes say: SYNTHETIC test input, not a measurement."""
    data = json.loads(Path(H100_PROFILE).read_text())
    data.update(schema_version=2, **changes)
    data["provenance"]["notes"] = "SYNTHETIC test input for tests/test_bad_input_tuning.py, not a measurement"
    path = folder / name
    path.write_text(json.dumps(data))
    return str(path)


INF2_HARDWARE = {"kind": "inferentia", "accelerator": "AWS Inferentia2", "accelerator_count": 1}


@pytest.fixture(scope="module")
def compare_profiles(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("compare")
    h100 = {"kind": "gpu", "accelerator": "NVIDIA H100", "accelerator_count": 1}
    return {
        "{H100}": H100_PROFILE,
        "{INF2}": _synthetic_profile(folder, "inf2.json", instance_type="ml.inf2.xlarge", hardware=INF2_HARDWARE),
        "{GPU_AS_INF2}": _synthetic_profile(
            folder, "gpu-as-inf2.json", instance_type="ml.inf2.xlarge", hardware=h100,
            hardware_translation={"from_accelerator": "NVIDIA H100", "to_accelerator": "AWS Inferentia2", "factor": 0.5,
                                  "reason": "a guess"},
            invocations_per_instance_target=319872,
        ),
    }  # fmt: skip


P5 = ["--instance-type", "ml.p5.48xlarge", "--instance-type", "ml.inf2.xlarge"]
# (argv after `compare`, with {H100}/{INF2}/{GPU_AS_INF2} for the profiles; the flag named; what is allowed or the fix)
COMPARE_CASES = [
    pytest.param(["--profile", "{H100}"], "--profile", "give exactly two profiles, the GPU one first", id="one-profile"),
    pytest.param(["--profile", "{H100}"] * 3, "--profile", "give exactly two profiles", id="three-profiles"),
    pytest.param(
        ["--profile", "{H100}", "--profile", "{INF2}", "--instance-type", "ml.p5.48xlarge"], "--instance-type",
        "give none (each profile's own instance_type) or one per --profile, in the same order (2)", id="one-instance-type",
    ),
    pytest.param(
        ["--profile", "{H100}", "--profile", "{INF2}"], "--profile",
        "instance type ml.g4dn.xlarge has 1 x NVIDIA T4: a different accelerator", id="gpu-profile-on-its-own-type",
    ),
    pytest.param(
        ["--profile", "{H100}", "--profile", "{H100}", *P5], "with --instance-type ml.inf2.xlarge",
        "has 1 x AWS Inferentia2: a different accelerator", id="gpu-figures-on-inf2",
    ),
    pytest.param(
        ["--profile", "{H100}", "--profile", "{GPU_AS_INF2}", "--instance-type", "ml.p5.48xlarge", "--instance-type",
         "ml.inf2.xlarge"], "--profile", "figures carried over by a hardware_translation; an Inferentia comparison needs "
        "a profile measured on Inferentia hardware", id="translated-figures-on-inf2",
    ),
    pytest.param(
        ["--profile", "{H100}", "--profile", "{INF2}", "--instance-type", "ml.p5.48xlarge", "--instance-type", "ml.inf2.xlarg"],
        "--instance-type", "did you mean ml.inf2.xlarge", id="instance-typo",
    ),
    pytest.param(["--profile", "{H100}", "--profile", "missing.json", *P5], "--profile missing.json", "no such file", id="missing"),
    pytest.param(["--profile", "{H100}", "--profile", "{INF2}", *P5, "--target-per-minute", "0"], "--target-per-minute", "> 0",
                 id="target-zero"),
    pytest.param(["--profile", "{H100}", "--profile", "{INF2}", *P5, "--safety-factor", "1.5"], "--safety-factor", "<= 1",
                 id="safety-above-1"),
    pytest.param(["--profile", "{H100}", "--profile", "{INF2}", *P5, "--prices", "nope.json"], "--prices", "no such file",
                 id="prices-missing"),
    pytest.param(["--instance-type", "ml.inf2.xlarge"], "--profile", "the following arguments are required", id="no-profile"),
]  # fmt: skip


@pytest.mark.parametrize(("extra", "flag", "allowed"), COMPARE_CASES)
def test_bad_compare_flag_is_named(extra, flag, allowed, compare_profiles, capsys):
    # GIVEN `compare` with one bad flag or profile  WHEN it runs
    code, err = _run(["compare", *(compare_profiles.get(a, a) for a in extra)], capsys)
    # THEN exit 2 with one message naming the flag and what is allowed or the fix; nothing printed on stdout
    assert code == 2 and err.startswith("python -m tuning: error: ") and flag in err and allowed in err, err


# --------------------------------------------------------------------------- load
LOAD_CASES = [
    pytest.param(["--url", "127.0.0.1:8080"], "--url", "http:// or https:// URL", id="url-without-scheme"),
    pytest.param(["--url", "http://"], "--url", "with a host", id="url-without-host"),
    pytest.param(["--url", "http://127.0.0.1:99999"], "--url", "http:// or https:// URL", id="url-bad-port"),
    pytest.param(["--endpoint-name", "bad_name!"], "--endpoint-name", "1-63 letters, digits and hyphens", id="endpoint-name"),
    pytest.param(["--endpoint-name", "bert", "--region", "us-east-11"], "--region", "did you mean 'us-east-1'", id="region-unknown"),
    pytest.param(["--endpoint-name", "bert", "--region", "virginia"], "--region", "region code like us-east-1", id="region-format"),
    pytest.param(["--endpoint-name", "bert", "--region", ""], "--region", "got ''; must be an AWS region code", id="region-empty"),
    pytest.param(["--endpoint-name", "bert", "--endpoint-url", "ftp://x"], "--endpoint-url", "http:// or https://", id="endpoint-url"),
    pytest.param(["--endpoint-name", "bert", "--kserve-model", "bert"], "--kserve-model", "applies only with --url", id="kserve-with-boto3"),
    pytest.param(
        ["--endpoint-name", "bert", "--inputs", "x:FP32:4096x4096"], "--inputs", "over invoke_endpoint's 6 MB request limit",
        id="request-over-6mb",
    ),
]
LOAD_URL_CASES = [
    pytest.param(["--region", "us-east-1"], "--region", "applies only with --endpoint-name", id="region-with-url"),
    pytest.param(["--inputs", "input_ids:INT64"], "--inputs", "name:DATATYPE:dims", id="inputs-two-parts"),
    pytest.param(["--inputs", "x:INT65:128"], "--inputs", "datatype 'INT65' of 'x' is not a KServe v2 datatype", id="inputs-datatype"),
    pytest.param(["--inputs", "x:INT64:0"], "--inputs", "whole numbers >= 1 joined by x", id="inputs-zero-dim"),
    pytest.param(["--inputs", "x:INT64:128x-1"], "--inputs", "whole numbers >= 1 joined by x", id="inputs-negative-dim"),
    pytest.param(["--inputs", "x:INT64:8,x:INT64:8"], "--inputs", "names input 'x' twice", id="inputs-duplicate"),
    pytest.param(["--outputs", "logits,"], "--outputs", "comma-separated output names", id="outputs-empty-name"),
    pytest.param(["--batch-size", "0"], "--batch-size", "whole number >= 1", id="batch-zero"),
    pytest.param(["--concurrency", "1,,4"], "--concurrency", "rising order", id="concurrency-gap"),
    pytest.param(["--duration", "-1"], "--duration", "> 0", id="duration-negative"),
    pytest.param(["--processes", "1.5"], "--processes", "whole number >= 1", id="processes-fraction"),
    pytest.param(["--initial-users", "4"], "--initial-users", "applies only with --phased", id="phase-flag-without-phased"),
    pytest.param(["--phased", "--concurrency", "1,4"], "--concurrency", "applies only without --phased", id="fixed-flag-with-phased"),
    pytest.param(["--phased", "--max-users", "1"], "--max-users", "must be >= --initial-users (2)", id="max-users-below-initial"),
    pytest.param(["--phased", "--percentile", "0"], "--percentile", "> 0 and <= 100", id="percentile-zero"),
    pytest.param(["--phased", "--window", "100", "--duration", "10"], "--window", "must not exceed --duration", id="window-over-duration"),
    pytest.param(["--phased", "--spawn-rate", "fast"], "--spawn-rate", "must be a number >= 0", id="spawn-rate-word"),
    pytest.param(["--stats-model", "bert"], "--stats-model", "needs both --stats-url and --stats-model", id="stats-model-alone"),
    pytest.param(["--stats-url", "localhost", "--stats-model", "bert"], "--stats-url", "http:// or https://", id="stats-url"),
    pytest.param(
        ["--stats-url", "http://127.0.0.1:1", "--stats-model", ""], "--stats-model", "must name the model", id="stats-model-empty"
    ),
]


@pytest.mark.parametrize(("extra", "flag", "allowed"), LOAD_CASES)
def test_bad_load_target_is_named_before_any_request(extra, flag, allowed, capsys, no_work, listener):
    code, err = _run(["load", *extra], capsys)
    assert code == 2 and flag in err and allowed in err, err
    assert no_work == [] and listener.accepted == 0


@pytest.mark.parametrize(("extra", "flag", "allowed"), LOAD_URL_CASES)
def test_bad_load_option_is_named_before_any_request(extra, flag, allowed, capsys, no_work, listener):
    # GIVEN a reachable target and one bad option
    code, err = _run(["load", "--url", listener.url, *extra], capsys)
    # THEN exit 2 naming the option; the target saw no connection
    assert code == 2 and flag in err and allowed in err, err
    assert no_work == [] and listener.accepted == 0


def test_endpoint_name_without_aws_credentials_is_refused_with_the_fix(monkeypatch, capsys, no_work):
    # GIVEN an environment where boto3 can find no credentials at all
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # WHEN a load test through boto3 is asked for
    code, err = _run(["load", "--endpoint-name", "bert"], capsys)
    # THEN it stops before any call, naming the flag and how to configure credentials
    assert code == 2 and "--endpoint-name" in err and "boto3 finds no credentials" in err and "aws configure" in err
    assert no_work == []


def test_url_and_endpoint_name_together_are_refused(capsys, no_work, listener):
    code, err = _run(["load", "--url", listener.url, "--endpoint-name", "bert"], capsys)
    assert code == 2 and "not allowed with argument --url" in err
    assert no_work == [] and listener.accepted == 0


class _Stop(Exception):
    """Raised by a stand-in for the first real step, once it has recorded what it was given."""


def test_matrix_without_load_flags_plans_the_documented_smoke_sweep(tmp_path, monkeypatch):
    # GIVEN a valid smoke matrix with no sweep or criteria flags, and the run itself replaced by a recorder
    import tuning.matrix
    from tuning.cli import SMOKE_SWEEP
    from tuning.recommend import Criteria

    given = {}

    def record(plan, out, **kwargs):
        given["plan"] = plan
        raise _Stop

    monkeypatch.setattr(tuning.matrix, "run_matrix", record)
    # WHEN it runs
    with pytest.raises(_Stop):
        main(["matrix", "--smoke", "--cpu", "--out", str(tmp_path / "results"), "--configs", "base"])
    # THEN the plan carries the defaults the help and docs name (one place each: SMOKE_SWEEP, Criteria)
    plan = given["plan"]
    assert (plan.concurrencies, plan.duration_s, plan.warmup_s, plan.processes) == (
        SMOKE_SWEEP.concurrencies, SMOKE_SWEEP.duration_s, SMOKE_SWEEP.warmup_s, SMOKE_SWEEP.processes
    )
    assert plan.criteria == Criteria() and plan.instance_type == tuning.matrix.DEFAULT_CPU_INSTANCE_TYPE


def test_phased_load_without_its_flags_uses_inference_recommenders_defaults(monkeypatch, listener):
    # GIVEN a phased load with only --duration, the probe answering and the run replaced by a recorder
    import tuning.loadgen
    from tuning.loadgen import Phase, StoppingConditions

    given = {}

    def record(transport, payload, *, phase, stopping, **kwargs):
        given.update(phase=phase, stopping=stopping)
        raise _Stop

    monkeypatch.setattr(tuning.loadgen, "probe", lambda transport, payload: {})
    monkeypatch.setattr(tuning.loadgen, "run_phased", record)
    # WHEN it runs with a phase shorter than the default window
    with pytest.raises(_Stop):
        main(["load", "--url", listener.url, "--phased", "--duration", "4"])
    # THEN Phase and StoppingConditions keep their own defaults; only the window shrinks to the phase
    assert given["phase"] == Phase(duration_s=4.0)
    assert given["stopping"] == StoppingConditions(window_s=4.0)


def test_guards_catch_work_that_valid_input_starts(tmp_path, no_work, listener):
    # GIVEN valid arguments (the control for every case above: the guards do see work start)
    out = tmp_path / "results"
    # WHEN the matrix and a load test run THEN the guards stop them at the first real step
    with pytest.raises(AssertionError, match="run_matrix was started"):
        main(["matrix", "--smoke", "--cpu", "--out", str(out), "--configs", "base"])
    with pytest.raises(AssertionError, match="probe was started"):
        main(["load", "--url", listener.url, "--concurrency", "1", "--duration", "1"])
    assert no_work == ["tuning.matrix.run_matrix", "tuning.loadgen.probe"]


def test_unreachable_target_fails_at_the_probe_naming_the_url(capsys):
    # GIVEN a loopback port nothing listens on
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # WHEN a load test aims at it THEN the one probe request fails as a message naming --url, before any load
    code, err = _run(["load", "--url", f"http://127.0.0.1:{port}", "--concurrency", "1", "--duration", "1"], capsys)
    assert code == 2 and f"--url http://127.0.0.1:{port}: the first request (one probe before any load) failed" in err


def test_target_that_drops_the_connection_fails_at_the_probe(capsys, listener):
    # GIVEN a listener that accepts and closes (not a model server)
    before = listener.accepted
    code, err = _run(["load", "--url", listener.url, "--concurrency", "1", "--duration", "1"], capsys)
    # THEN only the probe reached it, and the failure names the flag
    assert code == 2 and "--url" in err and "the first request (one probe before any load) failed" in err, err
    assert listener.accepted - before == 1  # the probe, and no load after it


# --------------------------------------------------------------------------- real subprocesses
def _cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    environment.pop("TRITON_IAC_DEBUG", None)
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "tuning", *argv], cwd=ROOT, capture_output=True, text=True, timeout=120, env=environment
    )


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        pytest.param(("matrix", "--smoke", "--cpu", "--model", "bert-tinyy"), "--model: got 'bert-tinyy'", id="matrix-model"),
        pytest.param(
            ("matrix", "--smoke", "--cpu", "--instance-type", "ml.p5.48xlarge"), "has 8 x NVIDIA H100", id="matrix-cpu-on-h100"
        ),
        pytest.param(("load", "--url", "localhost:1"), "--url: got 'localhost:1'", id="load-url"),
        pytest.param(("matrix",), "one of the arguments --smoke --full is required", id="usage"),
    ],
)
def test_cli_subprocess_reports_bad_input_without_a_traceback(argv, fragment, tmp_path):
    # GIVEN `python -m tuning` with bad input, run as a user would
    out = tmp_path / "results"
    proc = _cli(*argv, "--out", str(out)) if argv[0] == "matrix" and len(argv) > 1 else _cli(*argv)
    # THEN exit 2, the message on stderr, no traceback, no output folder
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("python -m tuning: error: ") and fragment in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert not out.exists()


def test_debug_environment_variable_shows_the_traceback():
    proc = _cli("matrix", "--smoke", "--cpu", "--model", "bert-tinyy", env={"TRITON_IAC_DEBUG": "1"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr and "UserError" in proc.stderr
