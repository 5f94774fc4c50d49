"""``threadstorm fuzz``: run a campaign, or continue one with ``--resume``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from threadstorm.campaign.lifecycle import resume_campaign, run_new_campaign
from threadstorm.cli.campaign_args import add_campaign_arguments, config_from_args
from threadstorm.cli.output import output_console
from threadstorm.errors import UsageError


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
        resume_campaign(Path(args.resume), console)
        return 0
    if not args.out:
        raise UsageError("--out is required: a new folder for the campaign's store and reports")
    run_new_campaign(config_from_args(args, args.out), console)
    return 0
