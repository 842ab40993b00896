"""Replay pytest-xdist's ``--dist loadfile`` scheduler on measured test durations (docs/test-time.md).

Input: a durations file, one test a line in collection order, ``<seconds> <nodeid>`` (setup + call
+ teardown), as bench/reference/suite-durations-2cpu.txt. Output: the makespan with xdist's default
order (files with the most tests first), alphabetical order, and the order tests/conftest.py gives
(``LONGEST_FILES_FIRST``, then files with a slow test, listed with ``--slow-files``, then the rest).
The scheduler is xdist 3.8's ``LoadScopeScheduling``: each worker starts with one file and takes
the next file whenever 2 tests or fewer are left on it (at once, too, when its first file is that short).

    python bench/xdist_schedule.py bench/reference/suite-durations-2cpu.txt \\
        --slow-files bench/reference/suite-slow-files.txt
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path

CONFTEST = Path(__file__).resolve().parents[1] / "tests" / "conftest.py"


def longest_files_first() -> tuple[str, ...]:
    """``LONGEST_FILES_FIRST`` read from tests/conftest.py's source (importing it would start jsii)."""
    for node in ast.parse(CONFTEST.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "LONGEST_FILES_FIRST" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    raise SystemExit(f"no LONGEST_FILES_FIRST in {CONFTEST}")


def makespan(files: dict[str, list[float]], order: Sequence[str], workers: int) -> list[float]:
    """Each worker's busy time when the files are handed out in ``order``."""
    queue = [list(files[f]) for f in order]
    clock = [0.0] * workers
    pending: list[list[float]] = [[] for _ in range(workers)]

    def assign(i: int) -> None:
        if queue:
            pending[i].extend(queue.pop(0))

    for i in range(workers):
        assign(i)
    for i in range(workers):
        if len(pending[i]) <= 2:
            assign(i)
    while any(pending):
        i = min((k for k in range(workers) if pending[k]), key=lambda k: clock[k] + pending[k][0])
        clock[i] += pending[i].pop(0)
        if len(pending[i]) <= 2:
            assign(i)
    return clock


def main() -> int:
    """Print the makespan of each order."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("durations", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--slow-files", type=Path, help="file names with a slow test, one a line")
    args = parser.parse_args()
    longest = longest_files_first()
    files: dict[str, list[float]] = {}
    for line in args.durations.read_text().splitlines():
        seconds, nodeid = line.split(maxsplit=1)
        files.setdefault(nodeid.split("::")[0], []).append(float(seconds))
    slow = set(args.slow_files.read_text().split()) if args.slow_files else set()

    def rank(path: str) -> tuple[int, int]:
        name = Path(path).name
        if name in longest:
            return (0, longest.index(name))
        return (1, 0) if name in slow else (2, 0)

    alphabetical = sorted(files)
    orders = {
        "xdist default (most tests first)": sorted(alphabetical, key=lambda f: -len(files[f])),
        "alphabetical": alphabetical,
        "tests/conftest.py's order": sorted(alphabetical, key=rank),
    }
    print(f"{sum(map(sum, files.values())):.0f} s of tests in {len(files)} files, {args.workers} workers")
    for name, order in orders.items():
        clock = makespan(files, order, args.workers)
        print(f"{name}: {max(clock):.0f} s (workers {', '.join(f'{c:.0f}' for c in clock)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
