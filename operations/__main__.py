"""``python -m operations {check,diff} ...``: dispatch to the subcommand's own ``main``."""

from __future__ import annotations

import sys
from collections.abc import Sequence

_USAGE = (
    "usage: python -m operations {check,diff} ...\n"
    "  check  after a deploy: the endpoint runs the config the stack deployed, and answers (operations.check)\n"
    "  diff   explain a cdk diff in plain words, for a reviewer (operations.diff)\n"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the subcommand named by ``argv[0]``; exit status 2 with the usage for anything else."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-h", "--help"):
        sys.stdout.write(_USAGE)
        return 0
    if not args:
        sys.stderr.write(f"python -m operations: no command given — use check or diff\n{_USAGE}")
        return 2
    command, rest = args[0], args[1:]
    if command == "check":
        import operations.check as check

        return check.main(rest)
    if command == "diff":
        import operations.diff as diff

        return diff.main(rest)
    sys.stderr.write(f"python -m operations: unknown command {command!r} — use check or diff\n{_USAGE}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
