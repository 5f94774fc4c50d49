"""``threadstorm build-python``: build a free-threaded CPython target into the build cache.

Progress goes to stderr; the interpreter's path is the last line of stdout, so scripts can do
``PY=$(threadstorm build-python ... | tail -n 1)``.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from threadstorm.errors import UsageError
from threadstorm.target.build import FLAVOURS, build_python
from threadstorm.target.debian import build_debian

HELP = "build free-threaded CPython (--disable-gil) into the build cache and print its path"

DESCRIPTION = """\
Build CPython with --disable-gil (plus --with-pydebug for the debug flavour) from a source
tarball, an unpacked source tree, or a Debian source package (fetched with apt-get source
through a private apt configuration derived from this machine's apt sources), into
$THREADSTORM_CACHE/pythons/cpython-VERSION-FLAVOUR/ (default cache ~/.cache/threadstorm).
A finished build is reused at once.  ccache is used when it is on PATH.  The full
configure/make output stays in build.log beside the build.  Progress goes to stderr; the
interpreter's path is the last line of stdout."""


def register(sub: Any) -> None:
    """Add the ``build-python`` subcommand."""
    parser = sub.add_parser("build-python", help=HELP, description=DESCRIPTION)
    origin = parser.add_mutually_exclusive_group(required=True)
    origin.add_argument(
        "--source",
        metavar="TARBALL_OR_DIR",
        help="CPython source tarball (.tar.xz, .tgz, ...) or unpacked source tree",
    )
    origin.add_argument(
        "--debian",
        metavar="PACKAGE=VERSION",
        help="Debian source package to fetch with apt-get source, e.g. python3.13=3.13.5-2",
    )
    parser.add_argument(
        "--debian-suite",
        action="append",
        default=[],
        metavar="SUITE",
        help="with --debian: also look in SUITE (e.g. trixie) of the machine's own apt mirrors",
    )
    parser.add_argument(
        "--flavour",
        required=True,
        choices=FLAVOURS,
        help="release, or debug (--with-pydebug: C assertions on)",
    )
    parser.add_argument(
        "--cache",
        metavar="DIR",
        help="build cache folder (default: $THREADSTORM_CACHE or ~/.cache/threadstorm)",
    )
    parser.add_argument(
        "--jobs", type=positive_int, metavar="N", help="parallel make jobs (default: nproc)"
    )
    parser.set_defaults(handler=run)


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not at least 1")
    return value


def progress(line: str) -> None:
    """Progress lines go to stderr, so stdout ends with the interpreter's path."""
    print(f"threadstorm: {line}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    """Build (or reuse) the target; print its interpreter path last on stdout."""
    if args.source is not None:
        if args.debian_suite:
            raise UsageError("--debian-suite only applies to --debian; drop it or use --debian")
        built = build_python(args.source, args.flavour, args.cache, args.jobs, progress=progress)
    else:
        built = build_debian(
            args.debian,
            args.flavour,
            args.cache,
            args.jobs,
            suites=args.debian_suite,
            progress=progress,
        )
    if built.reused:
        progress(f"reusing the finished build in {built.folder}")
    print(built.interpreter, flush=True)
    return 0
