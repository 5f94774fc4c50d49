"""How often each in-contract bucket's standalone script reproduces it, in fresh processes.

For every in-contract bucket of a finished campaign (crashes, hangs and sanitizer reports),
``threadstorm repro DIR BUCKET --runs N`` writes the script from the bucket's best scenario (the
minimised one when follow-up shrank it) and runs it N times, confined like a campaign child.
Printed: one line per bucket with the script's code lines and its rate (and, for buckets that
name a site, how many of the crashes were at that site: a script storms until its time is up
and may hit another bug first), then the share of buckets whose script reproduced in at least
half the runs, counting a site bucket's runs only at its own site.

    .venv/bin/python benchmarks/bench_script_rates.py CAMPAIGN_DIR [--runs 10] [--time-limit 20]

The campaign's own target runs the scripts; run nothing else meanwhile (2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

MEASURED = re.compile(r"(\d+) of (\d+) runs of the script (?:crashed|re-triggered|hung)")
LINES = re.compile(r"\((\d+) lines of code\)")
OWN_SITE = re.compile(r"(\d+) of them at the bucket's own site")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("campaign", type=Path, help="a finished campaign folder")
    parser.add_argument("--runs", type=int, default=10, help="runs of each script")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per run")
    parser.add_argument("--top", type=int, help="only the N buckets seen most often")
    args = parser.parse_args()
    report = json.loads(threadstorm("report", str(args.campaign), "--format", "json").stdout)
    buckets = [b for b in report["buckets"] if b["contract"] == "in-contract"]
    if args.top:
        buckets = sorted(buckets, key=lambda b: -b["count"])[: args.top]
    good = 0
    with tempfile.TemporaryDirectory() as scratch:
        for bucket in buckets:
            script = Path(scratch) / f"{bucket['id']}.py"
            done = threadstorm(
                "repro", str(args.campaign), bucket["id"], "--out", str(script),
                "--runs", str(args.runs), "--time-limit", f"{args.time_limit:g}",
            )  # fmt: skip
            measured = MEASURED.search(done.stdout)
            lines = LINES.search(done.stdout)
            own = OWN_SITE.search(done.stdout)
            hits = int(measured.group(1)) if measured else 0
            counted = int(own.group(1)) if own else hits
            good += counted * 2 >= args.runs
            rate = f"{hits}/{args.runs}" if measured else f"failed: {done.stderr.strip()[-100:]}"
            rate += f" ({counted} at its site)" if own else ""
            size = lines.group(1) if lines else "?"
            print(f"{bucket['id']}  {rate:>6}  {size:>3} lines  {bucket['title'][:90]}", flush=True)
    share = good / len(buckets) if buckets else 0.0
    print(f"{good} of {len(buckets)} in-contract buckets ({share:.0%}) reproduce in >= half")
    return 0


def threadstorm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "threadstorm", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "250"},
    )


if __name__ == "__main__":
    sys.exit(main())
