"""The ``threadstorm`` command: a thin layer of subcommands over the library.

Each subcommand lives in its own module (``threadstorm.cli.cmd_*``) exposing ``register(sub)``,
which adds its parser and sets ``handler``.  User mistakes arrive here as ``UsageError`` and leave
as one line on stderr with exit status 2; nothing else is caught, so real bugs keep their
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from threadstorm import __version__
from threadstorm.errors import UsageError

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
        return 2
    except KeyboardInterrupt:
        print("threadstorm: interrupted", file=sys.stderr)
        return 130
    return status


def entry() -> None:
    """Console-script entry point."""
    sys.exit(main())
