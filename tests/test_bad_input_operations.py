"""Bad input to ``python -m operations check`` and ``diff``: one clear line, exit status 2, before any AWS call.

Every flag is checked before the first AWS call: ``AWS_ENDPOINT_URL`` points at a loopback port where
nothing listens, so a call would end in "cannot reach", not in the flag's message. The command
runs in-process through ``run_cli`` (fast); one case runs ``python -m operations`` as a real
subprocess. The unknown stack, which needs a control plane to name the stacks that exist, is in
``test_operations_check.py``.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from operations.check import main
from operations.diff import main as diff_main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def nowhere(monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3 aimed at a loopback port where nothing listens, with dummy credentials and a region."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("TRITON_IAC_DEBUG", raising=False)
    return url


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("python -m operations check: error: ")
    assert "Traceback" not in err and "cannot reach" not in err
    return err


def test_bad_input_operations_check_stack_is_required(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no --stack  WHEN the check runs  THEN it names the missing flag
    err = _run(["--timeout", "10"], capsys)
    assert "--stack" in err and "required" in err


def test_bad_input_operations_check_stack_name_not_a_stack_name(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a name CloudFormation cannot hold (an underscore, a leading digit)
    err = _run(["--stack", "1my_stack"], capsys)
    # THEN the flag, the value and the rule
    assert "--stack: got '1my_stack'" in err
    assert "letter then letters, digits and hyphens" in err


def test_bad_input_operations_check_stack_named_twice(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _run(["--stack", "A", "--stack", "A"], capsys)
    assert "--stack: got ['A', 'A']; name each stack once" in err


def test_bad_input_operations_check_region_unknown(nowhere: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN a mistyped region
    err = _run(["--stack", "A", "--region", "us-east1"], capsys)
    # THEN the flag, the value, what is allowed and the near match
    assert "--region: got 'us-east1'; must be a region SageMaker runs in (did you mean 'us-east-1'?)" in err


@pytest.mark.parametrize("timeout", ["0", "-5", "soon", "nan", "7200"])
def test_bad_input_operations_check_timeout_out_of_range(
    nowhere: str, capsys: pytest.CaptureFixture[str], timeout: str
) -> None:
    err = _run(["--stack", "A", "--timeout", timeout], capsys)
    assert f"--timeout: got '{timeout}'; must be a number > 0 and <= 3600" in err


def test_bad_input_operations_check_payload_missing_file(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "request.json"
    err = _run(["--stack", "A", "--payload", str(missing)], capsys)
    assert f"--payload: got '{missing}'; no such file" in err


def test_bad_input_operations_check_payload_empty_file(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_bytes(b"")
    err = _run(["--stack", "A", "--payload", str(empty)], capsys)
    assert f"--payload: got '{empty}'; the file is empty" in err


def test_bad_input_operations_check_content_type_malformed(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    body = tmp_path / "request.bin"
    body.write_bytes(b"\x00")
    err = _run(["--stack", "A", "--payload", str(body), "--content-type", "json"], capsys)
    assert "--content-type: got 'json'; must be a media type like application/json" in err


def test_bad_input_operations_check_content_type_without_payload(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _run(["--stack", "A", "--content-type", "application/octet-stream"], capsys)
    assert "--content-type: got 'application/octet-stream'; only goes with --payload" in err


def test_bad_input_operations_check_every_problem_at_once(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN three bad flags  THEN one message lists all three
    err = _run(["--stack", "_x", "--timeout", "0", "--region", "mars-1"], capsys)
    assert "3 problems with `python -m operations check` (nothing was started)" in err
    assert "--stack" in err and "--timeout" in err and "--region" in err


def test_bad_input_operations_check_unreachable_control_plane(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN valid flags but AWS_ENDPOINT_URL where nothing answers
    code = main(["--stack", "A"])
    err = capsys.readouterr().err
    # THEN one line saying what could not be reached and what to check, exit 2, no traceback
    assert code == 2
    assert "cannot reach CloudFormation" in err and "AWS_ENDPOINT_URL" in err
    assert "Traceback" not in err


def test_bad_input_operations_check_command_line_exit_status(nowhere: str) -> None:
    # GIVEN the real command line  WHEN a flag is bad  THEN exit 2, one line on stderr, no traceback
    done = subprocess.run(
        [sys.executable, "-m", "operations", "check", "--stack", "A", "--timeout", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "python -m operations check: error: --timeout: got '0'; must be a number > 0 and <= 3600 (nothing was started)"
    ]


@pytest.mark.parametrize("argv", [["--endpoint", "ep", "--stack", "A"], ["--stack", "A", "--endpoint", "ep"]])
def test_bad_input_operations_check_endpoint_and_stack_together(
    nowhere: str, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    # GIVEN both modes at once  THEN argparse names the two flags that exclude each other
    err = _run(argv, capsys)
    assert "not allowed with argument" in err and "--stack" in err and "--endpoint" in err


def test_bad_input_operations_check_endpoint_without_expected_config(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN --endpoint alone: without the expected config a silent rollback would pass
    err = _run(["--endpoint", "ep"], capsys)
    assert "--expected-config: missing; --endpoint needs the endpoint config the deploy created" in err
    assert "EndpointConfigName output" in err


def test_bad_input_operations_check_expected_config_without_endpoint(
    nowhere: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _run(["--stack", "A", "--expected-config", "cfg"], capsys)
    assert "--expected-config: got 'cfg'; only goes with --endpoint" in err


@pytest.mark.parametrize(
    ("flag", "value", "expected"),
    [
        (
            "--endpoint",
            "",
            "--endpoint: got ''; is empty; give the endpoint name (in a pipeline, the stack's EndpointName output",
        ),
        (
            "--endpoint",
            "my_endpoint",
            "--endpoint: got 'my_endpoint'; a SageMaker endpoint name is letters, digits and hyphens",
        ),
        ("--expected-config", "", "--expected-config: got ''; is empty; give the endpoint config name"),
        ("--expected-config", "-cfg", "--expected-config: got '-cfg'; a SageMaker endpoint config name is"),
    ],
)
def test_bad_input_operations_check_endpoint_names(
    nowhere: str, capsys: pytest.CaptureFixture[str], flag: str, value: str, expected: str
) -> None:
    # GIVEN an unset pipeline variable ("$ENDPOINT_NAME" empty) or a name SageMaker cannot hold
    names = {"--endpoint": "ep", "--expected-config": "cfg"}
    names[flag] = value
    err = _run(["--endpoint", names["--endpoint"], f"--expected-config={names['--expected-config']}"], capsys)
    assert expected in err


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:iam::123456789012:user/ci",  # a user, not a role
        "SmokeTestRole",  # a name, not an ARN
        "arn:aws:iam::1234:role/SmokeTestRole",  # not a 12-digit account
        "arn:aws:sts::123456789012:assumed-role/SmokeTestRole/session",  # a session, not the role
        "",  # an unset pipeline variable
    ],
)
def test_bad_input_operations_check_assume_role_not_a_role_arn(
    nowhere: str, capsys: pytest.CaptureFixture[str], arn: str
) -> None:
    err = _run(["--endpoint", "ep", "--expected-config", "cfg", f"--assume-role={arn}"], capsys)
    assert (
        f"--assume-role: got {arn!r}; must be an IAM role ARN like arn:aws:iam::123456789012:role/NAME" in err
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["--stack", "A", "--input-path", "s3://b/in"],
            "--input-path: got 's3://b/in'; only goes with --endpoint",
        ),
        (
            ["--endpoint", "ep", "--expected-config", "cfg", "--input-path", "b/in"],
            "--input-path: got 'b/in'; must be an S3 prefix like s3://bucket/",
        ),
        (
            ["--endpoint", "ep", "--expected-config", "cfg", "--input-path="],
            "--input-path: got ''; must be an S3 prefix",
        ),
    ],
)
def test_bad_input_operations_check_input_path(
    nowhere: str, capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    assert expected in _run(argv, capsys)


def test_bad_input_operations_check_unreachable_sts(nowhere: str, capsys: pytest.CaptureFixture[str]) -> None:
    # GIVEN valid flags and a role, but nothing answers where STS should
    code = main(
        ["--endpoint", "ep", "--expected-config", "cfg", "--assume-role", "arn:aws:iam::123456789012:role/R"]
    )
    err = capsys.readouterr().err
    # THEN one line naming STS, exit 2, no traceback
    assert code == 2
    assert "cannot reach STS" in err and "AWS_ENDPOINT_URL" in err
    assert "Traceback" not in err


# --- python -m operations diff --------------------------------------------------------------------


def _assembly(folder: Path, *stacks: str) -> Path:
    """A cloud assembly folder as `cdk synth` writes it: manifest.json naming each stack's template."""
    folder.mkdir(parents=True)
    artifacts = {}
    for stack in stacks:
        (folder / f"{stack}.template.json").write_text('{"Resources": {}}')
        artifacts[stack] = {"type": "aws:cloudformation:stack", "properties": {"templateFile": f"{stack}.template.json"}}
    (folder / "manifest.json").write_text(json.dumps({"version": "48.0.0", "artifacts": artifacts}))
    return folder


def _run_diff(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    code = diff_main(argv)
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert captured.err.startswith("python -m operations diff: error: ")
    assert "Traceback" not in captured.err and captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    return captured.err


def test_bad_input_operations_diff_head_missing_folder(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    base = _assembly(tmp_path / "base", "A")
    err = _run_diff(["--base", str(base), "--head", str(tmp_path / "cdk.out")], capsys)
    assert f"--head '{tmp_path / 'cdk.out'}' is not a folder; give the folder `cdk synth` wrote" in err


def test_bad_input_operations_diff_base_not_an_assembly(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a folder without manifest.json as the base
    head = _assembly(tmp_path / "head", "A")
    (tmp_path / "empty").mkdir()
    err = _run_diff(["--base", str(tmp_path / "empty"), "--head", str(head)], capsys)
    assert f"--base '{tmp_path / 'empty'}' is not a cloud assembly (it has no manifest.json)" in err


def test_bad_input_operations_diff_manifest_not_json(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = tmp_path / "head"
    head.mkdir()
    (head / "manifest.json").write_text("{not json")
    err = _run_diff(["--deployed", "--head", str(head)], capsys)
    assert "--head: " in err and "manifest.json cannot be read as JSON" in err and "synthesize again" in err


def test_bad_input_operations_diff_needs_a_base(nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    head = _assembly(tmp_path / "head", "A")
    err = _run_diff(["--head", str(head)], capsys)
    assert "give --base DIR (the base branch's cdk.out) or --deployed" in err


def test_bad_input_operations_diff_base_and_deployed_together(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = _assembly(tmp_path / "head", "A")
    err = _run_diff(["--base", str(head), "--deployed", "--head", str(head)], capsys)
    assert "--base and --deployed both name the base; give one" in err


def test_bad_input_operations_diff_head_required(nowhere: str, capsys: pytest.CaptureFixture[str]) -> None:
    err = _run_diff(["--deployed"], capsys)
    assert "--head" in err and "required" in err


def test_bad_input_operations_diff_format_unknown(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = _assembly(tmp_path / "head", "A")
    err = _run_diff(["--deployed", "--head", str(head), "--format", "yaml"], capsys)
    assert "--format: invalid choice: 'yaml'" in err and "'text', 'markdown'" in err


def test_bad_input_operations_diff_unknown_stack_names_those_that_exist(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN assemblies of two stacks and a misspelt --stack
    base = _assembly(tmp_path / "base", "TritonRealtime-bert-tiny", "TritonAsync-pegasus-tiny")
    head = _assembly(tmp_path / "head", "TritonRealtime-bert-tiny", "TritonAsync-pegasus-tiny")
    err = _run_diff(["--base", str(base), "--head", str(head), "--stack", "TritonRealtime-bert-tiy"], capsys)
    # THEN the flag, the value, the near match and every stack there is
    assert "--stack 'TritonRealtime-bert-tiy' is not a stack of the assemblies (did you mean 'TritonRealtime-bert-tiny'?)" in err
    assert "their stacks: TritonAsync-pegasus-tiny, TritonRealtime-bert-tiny" in err


def test_bad_input_operations_diff_deployed_unknown_stack_before_any_aws_call(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN --deployed and a stack the head assembly lacks; AWS_ENDPOINT_URL answers nothing
    head = _assembly(tmp_path / "head", "A", "B")
    err = _run_diff(["--deployed", "--head", str(head), "--stack", "C"], capsys)
    # THEN the message names the stacks of the head, and no call was tried (that would say "connect")
    assert f"--stack 'C' is not a stack of {head}; its stacks: A, B" in err
    assert "connect" not in err.lower()


def test_bad_input_operations_diff_command_line_exit_status(nowhere: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "operations", "diff", "--deployed", "--head", str(tmp_path / "nope")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"python -m operations diff: error: --head '{tmp_path / 'nope'}' is not a folder; give the folder "
        "`cdk synth` wrote (cdk.out, or `cdk synth -o DIR`)"
    ]


def test_bad_input_operations_diff_deployed_unreachable_control_plane(
    nowhere: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # GIVEN a valid head assembly but AWS_ENDPOINT_URL where nothing answers
    head = _assembly(tmp_path / "head", "A")
    err = _run_diff(["--deployed", "--head", str(head)], capsys)
    # THEN one line saying what could not be reached and what to check
    assert "--deployed: cannot reach CloudFormation" in err and "AWS_ENDPOINT_URL" in err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], "no command given — use check or diff"), (["chek"], "unknown command 'chek' — use check or diff")],
)
def test_operations_without_a_known_command_names_the_commands_on_stderr(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from operations.__main__ import main as operations_main

    # WHEN `python -m operations` gets no command or an unknown one
    code = operations_main(argv)
    out, err = capsys.readouterr()
    # THEN exit 2, one line naming what is allowed on stderr (then the usage), nothing on stdout
    assert code == 2 and out == ""
    assert err.splitlines()[0] == f"python -m operations: {expected}"
