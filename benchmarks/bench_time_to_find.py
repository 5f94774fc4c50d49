"""Time to find one bug, over several seeds: how long a default campaign takes to file it.

For every seed a default campaign (no ``--families``, no follow-up) runs on the given target and
modules; the figure is the time from the campaign's start to the first in-contract finding of
``--status`` (``crashed``, or ``sanitizer`` for a race on a TSan target) whose scenario uses
``--match`` (a type, e.g. ``planted.Shelf``), or "-" when the budget ran out first.

    .venv/bin/python benchmarks/bench_time_to_find.py --python PATH --match planted.Shelf \\
        --modules builtins,types,typing,collections,planted --path FOLDER [--seeds 0,1,2,3,4]

Campaigns run one at a time, on this checkout.
"""

from __future__ import annotations

import argparse
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", required=True, help="free-threaded target interpreter")
    parser.add_argument("--match", required=True, help="text the bug's scenario contains")
    parser.add_argument("--modules", default="builtins,types,typing,collections")
    parser.add_argument("--path", action="append", default=[], help="extra sys.path folder")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--budget", type=float, default=120.0, help="seconds per campaign")
    parser.add_argument("--status", default="crashed", help="crashed (default) or sanitizer")
    args = parser.parse_args()
    found = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in (int(seed) for seed in args.seeds.split(",")):
            out = Path(scratch) / f"seed{seed}"
            command = [sys.executable, "-m", "threadstorm", "fuzz", "--python", args.python]
            command += ["--modules", args.modules, "--budget", f"{args.budget:g}"]
            command += ["--seed", str(seed), "--no-follow-up", "--out", str(out)]
            for path in args.path:
                command += ["--path", path]
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            seconds, runs = first_match(out, args.match, args.status)
            found.append(seconds is not None)
            when = "-" if seconds is None else f"{seconds:6.1f} s"
            print(f"seed {seed}: {when}  ({runs} runs in the campaign)", flush=True)
    print(f"found in {sum(found)} of {len(found)} campaigns of {args.budget:g} s")
    return 0


def first_match(folder: Path, text: str, status: str) -> tuple[float | None, int]:
    """Seconds to the first in-contract ``status`` finding whose scenario contains ``text``;
    total runs."""
    with sqlite3.connect(folder / "threadstorm.sqlite") as db:
        started, runs = db.execute("SELECT started_at, runs FROM campaign").fetchone()
        row = db.execute(
            "SELECT MIN(crashes.time) FROM crashes JOIN buckets ON buckets.key = bucket_key "
            "WHERE buckets.contract = 'in-contract' AND buckets.status = ? "
            "AND crashes.scenario LIKE ?",
            (status, f"%{text}%"),
        ).fetchone()
    return (None if row[0] is None else row[0] - started), runs


if __name__ == "__main__":
    sys.exit(main())
