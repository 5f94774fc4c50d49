"""Discovery's reach with and without the stubs' typed argument lists, side by side.

One fork server of the target discovers the same modules twice, in one invocation, with a fresh
cache each time: once with the value pools alone and once with typeshed's argument lists tried
first (``threadstorm.generate.stub_hints``).  Per module it prints the items discovery reached
(of the module's whole public surface), and overall the subjects' members that refused every
argument list discovery tried ("always raised"):

    .venv/bin/python benchmarks/bench_discovery.py --python PATH
        [--modules array,bz2,csv,decimal,functools,hashlib,json,lzma,queue,re,sqlite3,struct,...]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.generate.surface import Surface, load_surface
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession

MODULES = "array,bz2,csv,decimal,functools,hashlib,json,lzma,queue,re,sqlite3,struct,weakref,zlib"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="free-threaded target interpreter")
    parser.add_argument("--modules", default=MODULES, help="comma-separated modules")
    args = parser.parse_args()
    modules = args.modules.split(",")
    sides: dict[str, Surface] = {}
    with HarnessSession(discover(args.python)) as session:
        for label, stubs in (("pools", False), ("stubs", True)):
            with tempfile.TemporaryDirectory() as cache:
                sides[label] = load_surface(
                    session, modules, (), DEFAULT_DENY, Path(cache), stubs=stubs
                )
    print(f"{'module':12} {'items':>6} {'reached, pools':>15} {'reached, stubs':>15}")
    for module in modules:
        counts = [reached(sides[label], module) for label in ("pools", "stubs")]
        total = counts[0][1]
        print(f"{module:12} {total:6} {counts[0][0]:15} {counts[1][0]:15}")
    for label, surface in sides.items():
        members = [member for subject in surface.subjects for member in subject.members]
        refused = sum(1 for member in members if not member.reachable)
        hinted = surface.stats.get("stub_hinted", 0)
        print(
            f"{label}: {len(members)} members, {refused} always raised; "
            f"{hinted} paths hinted; {surface.stats.get('duration_s', 0):.0f} s"
        )
    return 0


def reached(surface: Surface, module: str) -> tuple[int, int]:
    """(items reached, items) of one module."""
    found = surface.module(module)
    items = found.items if found is not None else ()
    return sum(1 for item in items if item.reachable), len(items)


if __name__ == "__main__":
    raise SystemExit(main())
