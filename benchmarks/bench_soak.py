"""Soak: the controller's memory over a long campaign, which should stay flat under 200 MB.

A default campaign (``threadstorm fuzz``, the default modules) runs in a subprocess for
``--minutes`` on a target (default: ``$THREADSTORM_PY313D``, the 3.13 debug build); every
``--every`` seconds the controller's resident memory is read from ``/proc/PID/status``
(``VmRSS``: the controller process alone, not its fork servers or their children).  The table
gives elapsed minutes and RSS; the last lines the maximum, the growth from the first sample to
the last, and a flag when the maximum passes ``--ceiling``.

    .venv/bin/python benchmarks/bench_soak.py [--python PATH] [--minutes 60] [--every 60]

Follow-up is off unless ``--follow-up`` is given (then sampling goes on until it ends too).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CEILING_MB = 200.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=os.environ.get("THREADSTORM_PY313D"))
    parser.add_argument("--minutes", type=float, default=60.0, help="campaign budget")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--ceiling", type=float, default=CEILING_MB, help="MB flagged above")
    parser.add_argument("--follow-up", action="store_true", help="keep follow-up on")
    args = parser.parse_args()
    problem = bad_arguments(args)
    if problem:
        print(f"bench_soak: {problem}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "campaign"
        samples = soak(args, out)
        runs = campaign_runs(out)
    print_table(samples, args.ceiling)
    print(f"the campaign ran {runs} scenarios" if runs is not None else "no campaign store")
    return 0


def bad_arguments(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, in one line, or None."""
    if not args.python:
        return "no target: pass --python PATH or set THREADSTORM_PY313D"
    if not Path(args.python).is_file():
        return f"--python {args.python} is not a file; pass the path of a python binary"
    if not args.minutes > 0 or not args.every > 0:
        return "--minutes and --every must be positive numbers"
    return None


def soak(args: argparse.Namespace, out: Path) -> list[tuple[float, float]]:
    """Run the campaign; (elapsed seconds, RSS MB) at every sample until it ends."""
    command = [sys.executable, "-m", "threadstorm", "fuzz", "--python", args.python]
    command += ["--budget", f"{args.minutes * 60:g}", "--out", str(out)]
    command += [] if args.follow_up else ["--no-follow-up"]
    samples: list[tuple[float, float]] = []
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as child:
        next_at = started + args.every  # the first sample after start-up, not at exec
        while child.poll() is None:
            while child.poll() is None and time.monotonic() < next_at:
                time.sleep(min(1.0, max(0.0, next_at - time.monotonic())))
            next_at += args.every
            rss = rss_mb(child.pid) if child.poll() is None else None
            if rss is not None:
                samples.append((time.monotonic() - started, rss))
                print(f"{samples[-1][0] / 60:7.2f} min  {rss:7.1f} MB", file=sys.stderr, flush=True)
    if child.returncode != 0:
        print(f"the campaign exited with status {child.returncode}", file=sys.stderr)
    return samples


def campaign_runs(out: Path) -> int | None:
    """How many scenarios the campaign in ``out`` ran (its store), or None without a store."""
    try:
        with contextlib.closing(sqlite3.connect(out / "threadstorm.sqlite")) as db:
            row = db.execute("SELECT runs FROM campaign").fetchone()
    except sqlite3.Error:
        return None
    return None if row is None else int(row[0])


def rss_mb(pid: int) -> float | None:
    """The resident memory of ``pid`` alone, in MB (``VmRSS``), or None once it is gone."""
    try:
        status = Path("/proc", str(pid), "status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024  # kB
    return None


def print_table(samples: list[tuple[float, float]], ceiling: float) -> None:
    """Minute -> RSS, then the maximum, the growth and the flag."""
    if not samples:
        print("no sample: the campaign ended before the first one")
        return
    print("\n minute   RSS MB")
    for seconds, rss in samples:
        print(f"{seconds / 60:7.2f}  {rss:7.1f}")
    peak = max(rss for _, rss in samples)
    growth = samples[-1][1] - samples[0][1]
    print(f"max {peak:.1f} MB; growth from the first sample to the last {growth:+.1f} MB")
    if peak > ceiling:
        print(f"FLAG: the controller's RSS passed {ceiling:g} MB")


if __name__ == "__main__":
    sys.exit(main())
