"""Print the ``uv pip install`` options that make uv install from where pip would on this machine.

``make setup`` installs requirements.txt with uv (in parallel, bytecode compiled on every core):
measured cold on the 2-core CI machine, see docs/ci-time.md. uv does not read pip's configuration
(pip.conf files and ``PIP_*`` variables), so a machine that points pip at its own wheels, indexes or
constraints (a mirror, a local CPU-only torch wheel) would install something else, or nothing. This
reads that configuration with ``pip config list`` and prints it as uv options:
``find-links`` → ``--find-links``, ``index-url`` → ``--index-url``, ``extra-index-url`` →
``--extra-index-url``, ``constraint`` → ``--constraint``; plus ``--index-strategy unsafe-best-match``,
which is pip's own rule (the best matching version across every index, not the first index that has
the name). Run with the interpreter whose pip is configured (the new virtual environment's).
"""

from __future__ import annotations

import shlex
import subprocess
import sys

#: pip option → uv option; each value may hold several whitespace-separated entries.
OPTIONS = {
    "find-links": "--find-links",
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "constraint": "--constraint",
}

# pip's precedence, highest first: environment variables, then site, user and global files.
_PRECEDENCE = (":env:", "site", "user", "global")


def uv_args(config_list: str) -> list[str]:
    """Translate ``pip config list`` output (``scope.name='value'`` lines) into uv options."""
    values: dict[str, list[tuple[int, str]]] = {}
    for line in config_list.splitlines():
        key, sep, raw = line.partition("=")
        scope, _, name = key.rpartition(".")
        if not sep or name not in OPTIONS:
            continue
        rank = next((i for i, p in enumerate(_PRECEDENCE) if scope.startswith(p)), len(_PRECEDENCE))
        values.setdefault(name, []).append((rank, raw.strip().strip("'\"")))
    args: list[str] = []
    for name, option in OPTIONS.items():
        if name not in values:
            continue
        ranked = sorted(values[name])
        # One index URL: pip takes the highest-precedence one. Lists: every entry, once, in order.
        chosen = [ranked[0][1]] if name == "index-url" else [value for _, value in ranked]
        seen: list[str] = []
        for entry in (e for value in chosen for e in value.split()):
            if entry not in seen:
                seen.append(entry)
                args += [option, entry]
    return [*args, "--index-strategy", "unsafe-best-match"]


def main() -> int:
    """Print the options, shell-quoted, on one line."""
    listed = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    print(shlex.join(uv_args(listed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
