"""tools/uv_pip_args.py: `make setup` gives uv the wheels, indexes and constraints pip is configured with."""

from __future__ import annotations

import importlib.util
import shlex
import subprocess
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[1]
TOOL = REPO_ROOT / "tools" / "uv_pip_args.py"


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("uv_pip_args", TOOL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pip_configuration_becomes_uv_options_with_pips_index_rule():
    # GIVEN `pip config list` with a find-links from the environment and from a file, two extra
    # indexes in one value, a constraint file and a setting uv has no use for
    listed = "\n".join(
        [
            ":env:.default-timeout='180'",
            ":env:.find-links='/opt/wheels'",
            "global.constraint='/etc/xdg/pip/constraints.txt'",
            "global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'",
            "global.find-links='/opt/wheels'",
        ]
    )
    # WHEN translated
    args = _tool().uv_args(listed)
    # THEN every location is passed once, and uv picks the best version across them, as pip does
    assert args == [
        "--find-links", "/opt/wheels",
        "--extra-index-url", "file:///opt/pypi/simple",
        "--extra-index-url", "file:///opt/pypi-more/simple",
        "--constraint", "/etc/xdg/pip/constraints.txt",
        "--index-strategy", "unsafe-best-match",
    ]  # fmt: skip


def test_one_index_url_the_one_pip_would_use():
    # GIVEN an index URL in the user's file and another in the environment  THEN the environment's wins
    listed = "user.index-url='https://mirror.example/simple'\n:env:.index-url='https://ci.example/simple'\n"
    assert _tool().uv_args(listed)[:2] == ["--index-url", "https://ci.example/simple"]


def test_no_pip_configuration_leaves_uv_on_its_defaults():
    assert _tool().uv_args("") == ["--index-strategy", "unsafe-best-match"]


def test_the_tool_prints_shell_words_from_this_pips_configuration():
    # GIVEN this interpreter's pip  WHEN the tool runs as the Makefile runs it
    done = subprocess.run([sys.executable, str(TOOL)], capture_output=True, text=True, check=True)
    # THEN one line of shell words that ends with pip's index rule
    words = shlex.split(done.stdout)
    assert words[-2:] == ["--index-strategy", "unsafe-best-match"] and len(done.stdout.splitlines()) == 1
