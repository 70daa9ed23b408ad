"""The ``livesettings`` command line: check, show, plan, schema, diff, watch, history, demo.

``livesettings`` (the console script) and ``python -m livesettings`` both call
[main][livesettings.cli.main]; tests call it with an argument list. Each command lives in its own
module under ``livesettings._cli`` and adds itself through ``register(subparsers)``.

Exit codes: 0 ok, 1 invalid or refused config, 2 usage, 3 publish conflict.

Example:
    ```python
    from livesettings.cli import main

    assert main(["diff", "--help"]) == 0
    ```

Added in 0.2.
"""

from __future__ import annotations

import argparse
import sys

from ._cli import COMMANDS
from ._cli.common import CommandError, ExitCode, Output, error_line, print_rejection
from ._version_info import __version__
from .exceptions import ReloadError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every command's subparser."""
    parser = argparse.ArgumentParser(
        prog="livesettings",
        description="Check, explain, plan and follow livesettings configurations.",
        epilog="Exit status: 0 ok, 1 invalid or refused config, 2 usage error, 3 publish conflict.",
    )
    parser.add_argument("--version", action="version", version=f"livesettings {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns its exit status (the console script exits with it).

    Args:
        argv: the arguments after the program name; ``None`` reads ``sys.argv[1:]``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version (0) and usage errors (2)
        return exc.code if isinstance(exc.code, int) else ExitCode.USAGE
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    try:
        return int(run(args))
    except CommandError as exc:
        error_line(str(exc))
        return exc.code
    except ReloadError as exc:  # importing TARGET built a settings object, and its config is invalid
        print_rejection(Output(sys.stderr), exc)
        return ExitCode.INVALID
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover - python -m livesettings.cli
    sys.exit(main())
