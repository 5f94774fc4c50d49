"""Search economy, side by side: the same campaigns on an older checkout and on this one.

For every seed, a default campaign (no ``--families``, no follow-up) runs on the old checkout (a
``git worktree`` of ``--base``) and on this checkout, one after the other, with the same target,
modules, budget and seed.  Both stores are then read with one ruler, this checkout's own judge and
contract policy, so better bucketing cannot count as better search:

- **bugs**: distinct in-contract crash sites (the crash signature of every stored crash, judged
  again here: the failed assertion, the top native frames, or the crashing thread's operation);
- **outside**: share of runs in families the default policy puts outside the contract (``reinit``);
- **raised**: share of runs that ended ``raised`` (before ``refused_operations``: any call raised;
  since: an operation raised on every call);
- **excepted**: share of runs in which any call raised, whatever the outcome (the old meaning of
  ``raised``, comparable across both sides; ``-`` where the checkout does not count it);
- **useful**: share of runs of in-contract families that did not end ``raised`` (nor as a harness
  error);
- **watch**: seconds until the first crash whose signature or scenario contains ``--watch``
  (e.g. ``planted.Shelf``: a planted bug may crash under more than one signature), when asked;
- **coverage** (``--coverage``): per module, items exercised of the module's total surface (every
  public class, function and member, reachable or not), and of what discovery could reach.

    .venv/bin/python benchmarks/bench_search.py --python PATH [--base REV] [--seeds 0,1,2,3,4]
        [--budget 600] [--modules builtins,types,typing,collections] [--path DIR] [--watch TEXT]
        [--coverage]

Campaigns run one at a time: the machine's cores belong to the campaign being measured.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from threadstorm.bucket.judge import judge
from threadstorm.contract.policy import IN_CONTRACT, default_policy
from threadstorm.scenario.codec import loads
from threadstorm.triage.evidence import Evidence

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "ec23830"  # threadstorm 0.1 as it landed: the search before timing and the economy
OUTSIDE_FAMILIES = frozenset({"reinit"})
FINDINGS = ("crashed", "hung")


@dataclass(frozen=True)
class Figures:
    """One campaign's figures."""

    runs: int
    outside: float
    raised: float
    excepted: float | None
    useful: float
    bugs: frozenset[str]
    watch_s: float | None
    coverage: dict[str, tuple[int, int, int]]  # module -> (total, reachable, exercised)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", required=True, help="free-threaded target interpreter")
    parser.add_argument("--base", default=BASELINE, help=f"old revision (default {BASELINE})")
    parser.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per campaign")
    parser.add_argument("--modules", default="builtins,types,typing,collections")
    parser.add_argument("--path", action="append", default=[], help="extra sys.path folder")
    parser.add_argument(
        "--watch", help="text of a signature or scenario to time the first crash of"
    )
    parser.add_argument("--keep", type=Path, help="keep the campaign folders here")
    parser.add_argument("--coverage", action="store_true", help="print per-module coverage")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    with worktree(args.base) as old, tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        rows = []
        for seed in seeds:
            for side, checkout in (("old", old), ("new", ROOT)):
                out = folder / f"{side}-seed{seed}"
                campaign(checkout, out, args, seed)
                rows.append((seed, side, measure(out, args.watch)))
                print(row_text(*rows[-1]), flush=True)
    print()
    print(table(rows))
    if args.coverage:
        print()
        print(coverage_table(rows))
    return 0


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached ``git worktree`` of ``revision``, removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="threadstorm-base-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)],
            check=False,
            capture_output=True,
        )


def campaign(checkout: Path, out: Path, args: argparse.Namespace, seed: int) -> None:
    """One default campaign of ``checkout``'s threadstorm (its own sources, this environment)."""
    command = [sys.executable, "-m", "threadstorm", "fuzz", "--python", args.python]
    command += ["--modules", args.modules, "--budget", f"{args.budget:g}", "--seed", str(seed)]
    command += ["--no-follow-up", "--out", str(out)]
    for path in args.path:
        command += ["--path", path]
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, cwd=checkout)


def measure(out: Path, watch: str | None) -> Figures:
    """Read a campaign's store with this checkout's judge and policy."""
    with sqlite3.connect(out / "threadstorm.sqlite") as db:
        counts = db.execute("SELECT status, family, count FROM run_counts").fetchall()
        started = db.execute("SELECT started_at FROM campaign").fetchone()[0]
        crashes = db.execute(
            "SELECT time, scenario, evidence FROM crashes ORDER BY time"
        ).fetchall()
        coverage_rows = db.execute(
            "SELECT module, count(*), sum(reachable), sum(exercised) FROM coverage GROUP BY module"
        ).fetchall()
        weights = db.execute("SELECT weights FROM weights").fetchone()
    runs = sum(count for _, _, count in counts) or 1
    outside = sum(count for _, family, count in counts if family in OUTSIDE_FAMILIES)
    raised = sum(count for status, _, count in counts if status == "raised")
    economy = json.loads(weights[0]).get("economy", {}) if weights else {}
    excepted = economy.get("runs_with_exceptions")
    useful = sum(
        count
        for status, family, count in counts
        if family not in OUTSIDE_FAMILIES and status not in ("raised", "harness_error")
    )
    bugs: set[str] = set()
    watch_s = None
    policy = default_policy()
    for time, scenario_text, evidence_text in crashes:
        scenario = loads(scenario_text)
        evidence = Evidence.from_json(json.loads(evidence_text))
        verdict = judge(evidence, scenario)
        if verdict.signature is None or verdict.outcome.status.label not in FINDINGS:
            continue
        setup = evidence.message("setup") or {}
        python = frozenset(str(name) for name in setup.get("python_members", ()))
        if policy.label(scenario, python)[0] == IN_CONTRACT:
            bugs.add(verdict.signature.title)
        seen = watch and (watch in verdict.signature.title or watch in scenario_text)
        if seen and watch_s is None:
            watch_s = time - started
    coverage = {module: (total, reachable, exercised) for module, total, reachable, exercised
                in coverage_rows}  # fmt: skip
    return Figures(
        runs,
        outside / runs,
        raised / runs,
        None if excepted is None else excepted / runs,
        useful / runs,
        frozenset(bugs),
        watch_s,
        coverage,
    )


def row_text(seed: int, side: str, figures: Figures) -> str:
    watch = "-" if figures.watch_s is None else f"{figures.watch_s:.0f} s"
    excepted = "     -" if figures.excepted is None else f"{figures.excepted:6.1%}"
    return (
        f"seed {seed:>2} {side:>3}  runs {figures.runs:>6}  outside {figures.outside:6.1%}  "
        f"raised {figures.raised:6.1%}  excepted {excepted}  useful {figures.useful:6.1%}  "
        f"bugs {len(figures.bugs):>3}  watch {watch}"
    )


def table(rows: list[tuple[int, str, Figures]]) -> str:
    """Every campaign, then the means per side and the bugs each side found."""
    lines = [row_text(*row) for row in rows]
    for side in ("old", "new"):
        mine = [figures for _, name, figures in rows if name == side]
        if not mine:
            continue
        count = len(mine)
        union = frozenset().union(*(figures.bugs for figures in mine))
        excepted = [f.excepted for f in mine if f.excepted is not None]
        excepted_text = f"{sum(excepted) / len(excepted):6.1%}" if excepted else "     -"
        lines.append(
            f"mean    {side:>3}  runs {sum(f.runs for f in mine) / count:>6.0f}  "
            f"outside {sum(f.outside for f in mine) / count:6.1%}  "
            f"raised {sum(f.raised for f in mine) / count:6.1%}  "
            f"excepted {excepted_text}  "
            f"useful {sum(f.useful for f in mine) / count:6.1%}  "
            f"bugs {sum(len(f.bugs) for f in mine) / count:5.1f}  (all seeds: {len(union)})"
        )
    for side in ("old", "new"):
        union = sorted(frozenset().union(*(f.bugs for _, name, f in rows if name == side)))
        lines.append(f"\n{side} in-contract crash sites:")
        lines += [f"  {title}" for title in union]
    return "\n".join(lines)


def coverage_table(rows: list[tuple[int, str, Figures]]) -> str:
    """Per module and seed: exercised of total (and of reachable), old beside new."""
    lines = [f"{'module':<12} seed  {'old: exercised/total (of reachable)':<38} new"]
    modules = sorted({module for _, _, figures in rows for module in figures.coverage})
    seeds = sorted({seed for seed, _, _ in rows})
    for module in modules:
        for seed in seeds:
            cells = []
            for side in ("old", "new"):
                found = [f for s, name, f in rows if s == seed and name == side]
                total, reachable, exercised = (
                    found[0].coverage.get(module, (0, 0, 0)) if found else (0, 0, 0)
                )
                share = exercised / total if total else 0.0
                of_reachable = exercised / reachable if reachable else 0.0
                cells.append(f"{exercised:>4}/{total:<4} {share:6.1%} ({of_reachable:6.1%})")
            lines.append(f"{module:<12} {seed:>4}  {cells[0]:<38} {cells[1]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
