"""A ThreadSanitizer campaign beside a plain release campaign, in one run, on the same seed.

For one seed and budget, a default campaign (no follow-up) runs on the TSan target, then one
on the plain release build of the same version.  Printed side by side: runs/s, findings, the
number of distinct race pairs on the TSan target and the time to the first.  Then the ten race
pairs seen most often, each with its confirmation: its smallest scenario replayed ``--confirm``
times on the plain debug build (``threadstorm run``, at follow-up's replay pace), and how many of
those runs crashed.

    .venv/bin/python benchmarks/bench_tsan.py --tsan PATH --release PATH --debug PATH \\
        [--modules builtins,types,typing,collections] [--budget 600] [--seeds 0]

Campaigns run one at a time, on this checkout (2 cores: do not run anything else meanwhile).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from threadstorm.campaign.confirm import at_plain_pace
from threadstorm.scenario.codec import dumps, loads

TOP = 10


@dataclass(frozen=True)
class Campaign:
    """What one campaign's store says."""

    runs: int
    duration_s: float
    buckets: dict[str, int]  # per status
    races: list[tuple[str, int, float, str]]  # (title, count, first seen s, smallest scenario)

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.duration_s if self.duration_s else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tsan", required=True, help="free-threaded TSan target")
    parser.add_argument("--release", required=True, help="plain release build, same version")
    parser.add_argument("--debug", required=True, help="plain debug build, for confirmation")
    parser.add_argument("--modules", default="builtins,types,typing,collections")
    parser.add_argument("--path", action="append", default=[], help="extra sys.path folder")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per campaign")
    parser.add_argument("--confirm", type=int, default=10, help="replays per race pair")
    parser.add_argument("--keep", metavar="DIR", help="keep the campaign folders in DIR")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        scratch = args.keep or temporary
        Path(scratch).mkdir(parents=True, exist_ok=True)
        for seed in (int(seed) for seed in args.seeds.split(",")):
            tsan = campaign(args, args.tsan, Path(scratch) / f"tsan{seed}", seed)
            release = campaign(args, args.release, Path(scratch) / f"release{seed}", seed)
            print(f"seed {seed}, {args.budget:g} s each, modules {args.modules}")
            for name, found in (("tsan", tsan), ("release", release)):
                statuses = ", ".join(f"{k} {v}" for k, v in sorted(found.buckets.items()))
                print(
                    f"  {name:8} {found.runs:6} runs  {found.runs_per_s:6.1f} runs/s  "
                    f"buckets: {statuses or 'none'}"
                )
            first = min((race[2] for race in tsan.races), default=None)
            when = "-" if first is None else f"{first:.1f} s"
            print(f"  distinct race pairs: {len(tsan.races)}; first after {when}")
            top = sorted(tsan.races, key=lambda race: -race[1])[:TOP]
            for title, count, _, scenario in top:
                confirmed = replay(args, scenario, Path(scratch))
                print(f"    {count:5}x  {title[:110]}  | plain debug: {confirmed}")
    return 0


def campaign(args: argparse.Namespace, python: str, out: Path, seed: int) -> Campaign:
    command = [sys.executable, "-m", "threadstorm", "fuzz", "--python", python]
    command += ["--modules", args.modules, "--budget", f"{args.budget:g}", "--seed", str(seed)]
    command += ["--no-follow-up", "--out", str(out)]
    for path in args.path:
        command += ["--path", path]
    subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
    with sqlite3.connect(out / "threadstorm.sqlite") as db:
        started, runs, duration = db.execute(
            "SELECT started_at, runs, duration_s FROM campaign"
        ).fetchone()
        buckets = dict(db.execute("SELECT status, COUNT(*) FROM buckets GROUP BY status"))
        races = [
            (json.loads(sig)["kind"] + ": " + " | ".join(json.loads(sig)["parts"]), n, t, sc)
            for sig, n, t, sc in db.execute(
                "SELECT signature, count, first_seen, smallest_scenario FROM buckets "
                "WHERE status = 'sanitizer'"
            )
            if json.loads(sig)["kind"] == "race"
        ]
    return Campaign(runs, duration, buckets, [(a, n, t - started, sc) for a, n, t, sc in races])


def replay(args: argparse.Namespace, scenario: str, scratch: Path) -> str:
    """``threadstorm run`` of a race's scenario on the plain debug build, at the pace follow-up's
    confirmation replays it (``at_plain_pace``): the crashes in it."""
    path = scratch / "scenario.json"
    path.write_text(dumps(at_plain_pace(loads(scenario))))
    command = [sys.executable, "-m", "threadstorm", "run", str(path), "--python", args.debug]
    command += ["--runs", str(args.confirm), "--json"]
    for folder in args.path:
        command += ["--path", folder]
    done = subprocess.run(command, check=False, capture_output=True, text=True)
    if done.returncode != 0:
        return f"not replayed ({done.stderr.strip()[-120:]})"
    outcomes = json.loads(done.stdout)["outcomes"]
    crashed = sum(n for label, n in outcomes.items() if label.startswith("crashed"))
    signatures = json.loads(done.stdout)["signatures"]
    named = next(iter(signatures.values()), "")
    return f"{crashed}/{args.confirm} crashed" + (f" ({named[:80]})" if crashed else "")


if __name__ == "__main__":
    sys.exit(main())
