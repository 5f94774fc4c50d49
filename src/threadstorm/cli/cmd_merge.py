"""``threadstorm merge DIR... --out DIR``: one campaign folder from campaigns run apart."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from threadstorm.cli.output import output_console
from threadstorm.store.combine import merge_campaigns


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "merge",
        help="merge campaign folders run apart into one",
        description="Merge campaign folders (run on other machines, or with other seeds) into a "
        "new one: buckets matched by signature with their counts summed and the earliest first "
        "sighting kept, every kept crash and its evidence copied, runs summed.  Report, repro, "
        "minimise and variants then work on the result.",
    )
    parser.add_argument("folders", nargs="+", type=Path, metavar="DIR", help="campaign folders")
    parser.add_argument(
        "--out", type=Path, required=True, help="the merged campaign's folder (new or empty)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    summary = merge_campaigns(args.folders, args.out)
    output_console().print(
        f"merged {summary.campaigns} campaigns into {args.out}: {summary.runs} runs, "
        f"{summary.buckets} buckets, {summary.crashes} crashes kept",
        highlight=False,
    )
    return 0
