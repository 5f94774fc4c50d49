"""``threadstorm fuzz``: run a campaign, or continue one with ``--resume``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console

from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.followup import unfinished
from threadstorm.campaign.lock import campaign_lock
from threadstorm.campaign.runner import Campaign
from threadstorm.cli.campaign_args import add_campaign_arguments, config_from_args, run_new_campaign
from threadstorm.cli.output import output_console
from threadstorm.errors import CouldNotTest, UsageError
from threadstorm.store.db import Store, is_store


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fuzz",
        help="run a campaign against a target interpreter",
        description="Discover the modules' surface inside the target, storm its objects with "
        "concurrent scenarios for the budget, keep every crash and hang in DIR/threadstorm.sqlite,"
        " then measure, minimise and reproduce each new bucket.",
    )
    add_campaign_arguments(parser, budget=600.0)
    parser.add_argument("--out", help="campaign folder to create (must be new or empty)")
    parser.add_argument("--resume", metavar="DIR", help="continue the campaign in DIR")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    console = output_console()
    if args.resume:
        return resume(Path(args.resume), console)
    if not args.out:
        raise UsageError("--out is required: a new folder for the campaign's store and reports")
    run_new_campaign(config_from_args(args, args.out), console)
    return 0


def resume(folder: Path, console: Console) -> int:
    """Continue a campaign with its stored configuration, for the rest of its budget, and finish
    the follow-up a kill interrupted; the store's integrity is checked before and after."""
    if not is_store(folder):
        raise UsageError(f"{folder} holds no threadstorm campaign to resume; start one with --out")
    with campaign_lock(folder), Store.open(folder) as store:
        check_integrity(store, "before resuming")
        record = store.campaign()
        config = CampaignConfig.from_json(record.config).validate()
        left = config.budget_s - record.duration_s
        pending = unfinished(store) if config.follow_up else []
        if left <= 0 and not pending:
            console.print(f"campaign in {folder} has used its {config.budget_s:.0f} s budget")
            return 0
        console.print(
            f"resuming {folder}: {record.runs} runs so far, {max(0.0, left):.0f} s left, "
            f"{len(pending)} bucket(s) to follow up"
        )
        campaign = Campaign(config, console)
        campaign.prepare()
        campaign.run(store, seed_offset=record.runs, already_s=record.duration_s)
        check_integrity(store, "after resuming")
        console.print("store integrity: ok")
    return 0


def check_integrity(store: Store, when: str) -> None:
    """Refuse to go on with a store that ``PRAGMA integrity_check`` finds damaged (exit 3)."""
    problems = store.integrity_problems()
    if problems:
        raise CouldNotTest(
            f"the store in {store.folder} is damaged ({when}): {problems[0]}"
            + (f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else "")
        )
