"""``threadstorm report``: a campaign's report as text, Markdown, JSON, HTML, JUnit or SARIF.

With ``--bucket ID`` it reports on one bucket: in Markdown, the bug report ready to paste into an
issue.  The store is opened read-only, so a report can be taken while the campaign still runs.
``--out`` is written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from threadstorm.errors import UsageError
from threadstorm.files import write_atomically
from threadstorm.report.html_report import render_html
from threadstorm.report.json_report import render_bucket_json, render_json
from threadstorm.report.junit import render_junit
from threadstorm.report.markdown import bucket_markdown, campaign_markdown
from threadstorm.report.model import Report, build_report
from threadstorm.report.sarif import render_sarif
from threadstorm.report.text import bucket_to_text, render, render_bucket, to_text
from threadstorm.store.db import Store

FORMATS = ("text", "markdown", "json", "html", "junit", "sarif")
BUCKET_FORMATS = ("text", "markdown", "json")
FILE_WIDTH = 100


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="report a campaign (text, markdown, json, html, junit, sarif)",
        description="Report what a campaign found: its buckets, rates, scenarios, coverage and "
        "weights.  With --bucket ID, report one bucket; in Markdown that is a bug report ready "
        "to paste into a CPython or extension issue.",
    )
    parser.add_argument("campaign", type=Path, metavar="DIR", help="campaign folder")
    parser.add_argument("--format", choices=FORMATS, default="text", help="default: text")
    parser.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    parser.add_argument(
        "--bucket",
        metavar="ID",
        help="report one bucket (id or unique prefix; formats text, markdown, json)",
    )
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="text: add why items were never exercised (reasons, most items first)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.bucket is not None and args.format not in BUCKET_FORMATS:
        raise UsageError(
            f"--bucket works with --format {', '.join(BUCKET_FORMATS)}; "
            f"leave it out for the {args.format} report of the whole campaign"
        )
    with Store.open(args.campaign, readonly=True) as store:
        key = store.bucket(args.bucket).key if args.bucket is not None else None
        report = build_report(store)
    if args.out is None and args.format == "text":
        console = Console()
        if key is None:
            render(report, console, coverage=args.coverage)
        else:
            render_bucket(report.bucket(key), console)
        return 0
    text = render_text(report, args.format, key, coverage=args.coverage)
    if args.out is None:
        sys.stdout.write(text)
    else:
        write_atomically(args.out, text)
    return 0


def render_text(
    report: Report, form: str, key: str | None = None, *, coverage: bool = False
) -> str:
    """The report (or one bucket's) in ``form``, as text for a file or a pipe."""
    if key is not None:
        bucket = report.bucket(key)
        one = {"text": bucket_to_text, "markdown": bucket_markdown, "json": render_bucket_json}
        return one[form](bucket)
    whole = {
        "text": lambda r: to_text(r, FILE_WIDTH, coverage=coverage),
        "markdown": campaign_markdown,
        "json": render_json,
        "html": render_html,
        "junit": render_junit,
        "sarif": render_sarif,
    }
    return whole[form](report)
