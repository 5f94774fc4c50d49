"""The ``threadstorm`` command: a thin layer of subcommands over the library.

Each subcommand lives in its own module (``threadstorm.cli.cmd_*``) exposing ``register(sub)``,
which adds its parser and sets ``handler``.  Exit statuses mean one thing each: 0 clean, 1 a new
in-contract bug (``check`` only), 2 a usage error (``UsageError``, one line on stderr), 3 the
tool or the target could not do its job (``CouldNotTest``, ``HarnessError`` or any unexpected
error: one line, plus the path of a file holding the full traceback, never a bare traceback).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from threadstorm import __version__
from threadstorm.cli.failure import one_line, save_traceback
from threadstorm.errors import CouldNotTest, UsageError
from threadstorm.exit_codes import EXIT_COULD_NOT_TEST, EXIT_USAGE

COMMANDS = (
    "interpreters",
    "build_python",
    "run",
    "fuzz",
    "report",
    "repro",
    "minimise",
    "variants",
    "check",
    "merge",
)

DESCRIPTION = """\
Storm objects with concurrent operations inside a free-threaded CPython, catch every crash,
hang and failed assertion, bucket them, and hand each one back as a standalone script with a
measured reproduction rate."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage mistake exits 2 with one line (argparse prints usage too)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"threadstorm: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    """The full command-line parser, one subparser per available command module."""
    parser = ArgumentParser(prog="threadstorm", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"threadstorm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"threadstorm.cli.cmd_{name}")
        except ModuleNotFoundError as error:
            if error.name != f"threadstorm.cli.cmd_{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        status: int = args.handler(args)
    except UsageError as error:
        print(f"threadstorm: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except CouldNotTest as error:
        print(f"threadstorm: could not test: {error}", file=sys.stderr)
        return EXIT_COULD_NOT_TEST
    except KeyboardInterrupt:
        print("threadstorm: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - reported with its saved traceback, exit 3
        return report_failure(error, args.command)
    return status


def report_failure(error: Exception, command: str) -> int:
    """One line naming the error and the file its traceback was saved to; exit status 3."""
    try:
        path = save_traceback(error, command)
    except OSError as unsaved:
        print(f"threadstorm: {command} failed: {one_line(error)}\n{unsaved}", file=sys.stderr)
        return EXIT_COULD_NOT_TEST
    print(
        f"threadstorm: {command} failed: {one_line(error)} (traceback saved to {path})",
        file=sys.stderr,
    )
    return EXIT_COULD_NOT_TEST


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
