"""``threadstorm variants``: rerun a bucket's scenario shape on sibling types, report which crash.

Opens the campaign's store, starts one fork server in the campaign's target with the campaign's
modules, loads the surface (cached), then runs ``threadstorm.variants.search``.  The variants are
stored with the bucket; a sibling's crash that lands in another bucket is filed in the campaign
like any finding, so reports show it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from threadstorm.campaign.config import CampaignConfig
from threadstorm.cli.output import output_console
from threadstorm.contract.policy import load_policy
from threadstorm.errors import UsageError
from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.generate.surface import load_surface
from threadstorm.rate import Rate
from threadstorm.store.db import Store
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession
from threadstorm.variants.search import MAX_SIBLINGS, Plan, StoreRecorder, Trial, search


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "variants",
        help="rerun a bucket's scenario on sibling types and report which crash too",
        description="Rerun BUCKET's scenario shape with its shared object replaced by sibling "
        "types (same ABC or protocol, same C slots used, same module), each N times in the "
        "campaign's target, and report per sibling: crashed or not, rate and bucket.  The "
        "results are stored with the bucket; crashes that land in other buckets are filed in "
        "the campaign.",
    )
    parser.add_argument("campaign", type=Path, metavar="DIR", help="campaign folder")
    parser.add_argument("bucket", help="bucket id (or a unique prefix of it)")
    parser.add_argument(
        "--runs", type=int, default=3, help="runs per sibling, at least (default 3)"
    )
    parser.add_argument(
        "--max-runs",
        type=int,
        default=None,
        help="runs per sibling at most, added in rounds while the budget allows "
        "(default 4 x --runs)",
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="seconds to spend at most, surface discovery aside (default 300)",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=MAX_SIBLINGS,
        help=f"siblings to try at most, best related first (default {MAX_SIBLINGS})",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per run (default: the campaign's)"
    )
    parser.set_defaults(handler=run)


def check_arguments(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` with the fix for an impossible value."""
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    if args.max_runs is not None and args.max_runs < args.runs:
        raise UsageError("--max-runs must be at least --runs")
    if not args.budget > 0:
        raise UsageError("--budget must be a positive number of seconds")
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    console = output_console()
    with Store.open(args.campaign) as store:
        bucket = store.bucket(args.bucket)
        config = CampaignConfig.from_json(store.campaign().config)
        interpreter = discover(config.python, config.suppressions)
        scenario = bucket.best_scenario
        policy = load_policy(Path(config.policy) if config.policy else None)
        recorder = StoreRecorder(store, policy, bucket.key)
        console.print(f"bucket {bucket.key}: {bucket.signature.title}", highlight=False)
        modules = (*config.modules, *config.packages)
        with HarnessSession(interpreter, modules, paths=config.paths) as session:
            session.limits = config.limits(session.facts.get("sanitizer"))
            surface = load_surface(
                session, config.modules, config.packages, (*DEFAULT_DENY, *config.deny)
            )
            started = time.monotonic()
            planned = search(
                session,
                surface,
                scenario,
                runs=args.runs,
                max_runs=args.max_runs or 4 * args.runs,
                timeout_s=args.timeout or config.run_timeout_s,
                deadline=started + args.budget,
                limit=args.limit,
                on_finding=recorder,
                control=True,
            )
            elapsed = time.monotonic() - started
        store.set_variants(bucket.key, [trial.variant(bucket.key) for trial in planned.trials])
    console.print(render(rows(planned, bucket.key), planned, elapsed))
    if recorder.new:
        console.print(
            f"new buckets from variants: {', '.join(recorder.new)} "
            f"(threadstorm report {args.campaign})",
            highlight=False,
        )
    return 0


# ---------------------------------------------------------------------- extract, then render


@dataclass(frozen=True)
class Row:
    """One line of the table, as plain text."""

    sibling: str
    why: str
    crashed: str
    rate: str
    bucket: str
    note: str


def rows(planned: Plan, original_key: str) -> list[Row]:
    """The table's rows: the original rerun (when measured), then one per sibling, best first."""
    trials = [*([planned.control] if planned.control else []), *planned.trials]
    return [row(trial, original_key) for trial in trials]


def row(trial: Trial, original_key: str) -> Row:
    """One trial as text."""
    if trial.runs:
        crashed = "yes" if trial.crashes else "no"
        rate = Rate(trial.crashes, trial.runs).text
    else:
        crashed, rate = "-", "-"
    bucket = trial.bucket or ""
    if bucket and bucket == original_key:
        bucket += " (same)"
    return Row(trial.label, trial.why, crashed, rate, bucket, "; ".join(trial.notes))


def render(table_rows: list[Row], planned: Plan, elapsed_s: float) -> Table | str:
    """The terminal table (or the reason there is none)."""
    if planned.note:
        return f"no variants: {planned.note}"
    kind = planned.original.type_name if planned.original else "the object"
    if not planned.trials:
        return f"no sibling of {kind} in the campaign's surface (try more --modules)"
    siblings = table_rows[1:] if planned.control else table_rows
    crashed = sum(1 for row in siblings if row.crashed == "yes")
    baseline = f"; the original {table_rows[0].rate}" if planned.control else ""
    title = f"{crashed} of {len(siblings)} siblings of {kind} crashed{baseline} ({elapsed_s:.0f} s)"
    table = Table(title=title)
    columns = ["sibling", "why related", "crashed?", "rate", "bucket"]
    with_notes = any(row.note for row in table_rows)
    for column in [*columns, "note"] if with_notes else columns:
        wraps = column in ("why related", "note")
        table.add_column(column, overflow="fold", no_wrap=not wraps)
    for row in table_rows:
        cells = [row.sibling, row.why, row.crashed, row.rate, row.bucket]
        table.add_row(*cells, *([row.note] if with_notes else []))
    return table
