"""``threadstorm interpreters``: probe targets from inside and say how each was built.

Each target gets a harness session (the fork server, with the campaign's modules imported), so
``gil_enabled`` is what the target reports *after* those imports: an extension without
``Py_mod_gil`` silently turns the GIL back on.  A target that is not free-threaded is allowed,
with a loud warning on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from threadstorm.errors import UsageError
from threadstorm.target.facts import TargetFacts
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession

HELP = "probe target interpreters: version, free-threaded, GIL after imports, debug, sanitizer"

DESCRIPTION = """\
Start the threadstorm harness inside each target interpreter, import the given modules there,
and report: path, version, free_threaded (built with Py_GIL_DISABLED), gil_enabled (at run
time, after the imports), debug (C assertions on) and sanitizer (thread, address or none)."""


@dataclass(frozen=True)
class ProbedTarget:
    """One target as ``interpreters`` reports it: where it is, what was imported, its facts."""

    path: str
    modules: list[str]
    facts: TargetFacts

    def to_json(self) -> dict[str, Any]:
        """Flat: the path, the modules and every fact."""
        return {"path": self.path, "modules": self.modules, **asdict(self.facts)}


def register(sub: Any) -> None:
    """Add the ``interpreters`` subcommand."""
    parser = sub.add_parser("interpreters", help=HELP, description=DESCRIPTION)
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="target interpreter (path or name)"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    parser.add_argument(
        "--modules",
        type=module_list,
        default=(),
        metavar="A,B",
        help="comma-separated modules to import in the target before probing (e.g. typing,numpy)",
    )
    parser.set_defaults(handler=run)


def module_list(text: str) -> tuple[str, ...]:
    """argparse type: ``a,b`` -> ``("a", "b")``, empty items dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def probe_target(path: str, modules: tuple[str, ...]) -> ProbedTarget:
    """Start a harness session in ``path`` with ``modules`` imported; return its facts."""
    interpreter = discover(path)
    with HarnessSession(interpreter, modules) as session:
        facts = session.facts
    failed: dict[str, str] = facts.get("import_errors") or {}
    if failed:
        name, error = next(iter(failed.items()))
        raise UsageError(
            f"module {name} cannot be imported in {interpreter.path} ({error}); "
            "check the name or install it into that target"
        )
    return ProbedTarget(str(interpreter.path), list(modules), TargetFacts.from_probe(facts))


def warnings_for(target: ProbedTarget) -> list[str]:
    """Loud warnings a target deserves (not free-threaded; GIL back on after imports; sandbox
    layers off)."""
    sandbox = [f"WARNING: {target.path}: {warning}" for warning in target.facts.sandbox_warnings]
    return gil_warnings(target) + sandbox


def gil_warnings(target: ProbedTarget) -> list[str]:
    """Warnings about the GIL: not a free-threaded build, or turned back on by an import."""
    if not target.facts.free_threaded:
        return [
            f"WARNING: {target.path} ({target.facts.version}) is NOT a free-threaded build: the "
            "GIL serialises every operation, so threadstorm will find almost nothing there. Build "
            "one with `threadstorm build-python --source TARBALL --flavour debug`."
        ]
    if target.facts.gil_enabled:
        modules = ", ".join(target.modules) or "start-up"
        return [
            f"WARNING: the GIL is ENABLED in {target.path} after importing {modules}: an "
            "extension without Py_mod_gil turned it back on, so races are mostly hidden."
        ]
    return []


def render_table(targets: list[ProbedTarget], console: Console) -> None:
    """The targets as a table."""
    table = Table(title=None)
    table.add_column("path", overflow="fold")
    for name in ("version", "free-threaded", "GIL after imports", "debug", "sanitizer"):
        table.add_column(name)
    table.add_column("sandbox", overflow="fold")
    for target in targets:
        facts = target.facts
        table.add_row(
            target.path,
            facts.version,
            yes_no(facts.free_threaded),
            "on" if facts.gil_enabled else "off",
            yes_no(facts.debug),
            facts.sanitizer or "-",
            facts.sandbox,
        )
    console.print(table)


def table_console() -> Console:
    """stdout; when it is not a terminal, wide enough that paths are not folded."""
    wide = not sys.stdout.isatty() and "COLUMNS" not in os.environ
    return Console(highlight=False, width=200 if wide else None)


def yes_no(value: bool) -> str:
    """``yes`` or ``no``."""
    return "yes" if value else "no"


def run(args: argparse.Namespace) -> int:
    """Probe every target, warn loudly where needed, print a table or JSON."""
    targets = [probe_target(path, args.modules) for path in args.paths]
    errors = Console(stderr=True, highlight=False)
    for target in targets:
        for warning in warnings_for(target):
            errors.print(warning, style="bold red", soft_wrap=True)
    if args.json:
        print(json.dumps([target.to_json() for target in targets], indent=2))
    else:
        render_table(targets, table_console())
    sys.stdout.flush()
    return 0
