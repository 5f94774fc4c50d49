"""``threadstorm check``: a campaign for a project's CI, judged against a baseline.

Exit 1 only when a new in-contract bucket appears; known buckets and outside-contract ones are
listed, never failed.  Exit 3 when the campaign could not test (no valid run, harness errors
above 5 % of runs, the GIL on in the target; ``campaign.soundness``), whatever it found; 2 on
usage errors; 0 otherwise.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from threadstorm.campaign.baseline import compare, load_baseline, save_baseline
from threadstorm.campaign.lifecycle import run_new_campaign
from threadstorm.campaign.soundness import could_not_test
from threadstorm.cli.campaign_args import add_campaign_arguments, config_from_args
from threadstorm.cli.output import output_console
from threadstorm.errors import UsageError
from threadstorm.exit_codes import EXIT_CLEAN, EXIT_COULD_NOT_TEST, EXIT_NEW_BUG
from threadstorm.files import write_atomically
from threadstorm.report.junit import render_junit
from threadstorm.report.model import build_report
from threadstorm.store.db import Store
from threadstorm.triage.outcome import Status


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "check",
        help="CI mode: fail only when a new in-contract bucket appears",
        description="Run a short campaign and compare its buckets with a baseline file. Exit "
        "status: 1 when a new in-contract bucket appears, 0 otherwise (known and outside-contract "
        "buckets are listed, not failed), 2 on usage errors, 3 when nothing trustworthy could be "
        "tested (no valid run, harness errors above 5%% of runs, or the GIL on in the target).",
    )
    add_campaign_arguments(parser, budget=120.0)
    parser.add_argument(
        "--baseline",
        type=Path,
        required=True,
        help="baseline JSON of known buckets (missing file: nothing known)",
    )
    parser.add_argument(
        "--update-baseline",
        action="store_true",
        help="add this campaign's buckets to the baseline and exit 0",
    )
    parser.add_argument("--junit", type=Path, help="write JUnit XML here (one case per bucket)")
    parser.add_argument("--out", help="keep the campaign in this folder (default: a temporary one)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = output_console()
    known = load_baseline(args.baseline)
    check_output_folders(args)
    with tempfile.TemporaryDirectory(prefix="threadstorm-check-") as scratch:
        out = args.out or str(Path(scratch) / "campaign")
        config = config_from_args(args, out)
        result = run_new_campaign(config, console)
        with Store.open(out, readonly=True) as store:
            buckets = store.buckets()
            facts = store.campaign().config.get("target", {})
            if args.junit:
                write_atomically(args.junit, render_junit(build_report(store), set(known)))
    verdict = compare(buckets, known)
    for title, group in (
        ("NEW in-contract", verdict.new_in_contract),
        ("known", verdict.known),
        ("outside-contract (not failed)", verdict.outside_contract),
    ):
        for bucket in group:
            console.print(f"{title}: {bucket.key} {bucket.signature.title}", highlight=False)
    tally = result.tally
    reasons = could_not_test(tally.runs, tally.count(Status.HARNESS_ERROR), facts)
    if reasons:
        for reason in reasons:
            console.print(f"could not test: {reason}", highlight=False)
        console.print("check could not test the target (exit 3); the baseline is unchanged")
        return EXIT_COULD_NOT_TEST
    if args.update_baseline:
        total = save_baseline(args.baseline, buckets, known)
        console.print(f"baseline {args.baseline} now knows {total} bucket(s)")
        return EXIT_CLEAN
    if verdict.failed:
        console.print(f"check failed: {len(verdict.new_in_contract)} new in-contract bucket(s)")
        return EXIT_NEW_BUG
    console.print(f"check passed: no new in-contract bucket in {tally.runs} runs")
    return EXIT_CLEAN


def check_output_folders(args: argparse.Namespace) -> None:
    """Refuse before the campaign, not after it, a file that could not be written at the end."""
    wanted = [("--junit", args.junit)] if args.junit else []
    if args.update_baseline:
        wanted.append(("--baseline", args.baseline))
    for option, path in wanted:
        folder = path.parent if str(path.parent) else Path(".")
        if not folder.is_dir():
            raise UsageError(f"{option} {path}: folder {folder} does not exist; create it first")
