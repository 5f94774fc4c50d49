"""``threadstorm run``: run one scenario file N times in a target and print the outcomes."""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from rich.table import Table

from threadstorm.bucket.judge import judge
from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.hangs import run_confirmed
from threadstorm.cli.campaign_args import add_suppressions_argument
from threadstorm.cli.output import output_console
from threadstorm.errors import UsageError
from threadstorm.scenario.codec import loads
from threadstorm.scenario.model import Scenario, ScenarioError
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "run",
        help="run one scenario file N times and print the outcome histogram",
        description="Run a scenario (JSON, as stored by a campaign or written by hand) in a "
        "target interpreter N times, each in a fresh forked child, and print how the runs ended.",
    )
    parser.add_argument("scenario", type=Path, help="scenario JSON file")
    parser.add_argument("--python", required=True, help="target interpreter (free-threaded)")
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per run (default 10)")
    parser.add_argument(
        "--path",
        action="append",
        default=[],
        metavar="DIR",
        help="folder to put on the target's sys.path, e.g. where an extension was built "
        "(repeatable)",
    )
    add_suppressions_argument(parser)
    parser.add_argument("--json", action="store_true", help="print the histogram as JSON")
    parser.set_defaults(handler=run)


def load_scenario_file(path: Path) -> Scenario:
    """Read and validate a scenario file; every problem is a one-line ``UsageError``."""
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read scenario {path}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"scenario {path} is not UTF-8 text; pass a JSON scenario file") from None
    try:
        return loads(text)
    except ScenarioError as error:
        raise UsageError(f"scenario {path}: {error}") from None


def run(args: argparse.Namespace) -> int:
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    if not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")
    scenario = load_scenario_file(args.scenario)
    for folder in args.path:
        if not Path(folder).is_dir():
            raise UsageError(f"--path {folder} is not a folder; pass the folder holding the module")
    interpreter = discover(args.python, args.suppressions)
    histogram: Counter[str] = Counter()
    signatures: dict[str, str] = {}
    paths = tuple(str(Path(folder).resolve()) for folder in args.path)
    with HarnessSession(interpreter, scenario.imports, paths=paths) as session:
        # the campaign children's resource limits, for a campaign with this deadline
        defaults = CampaignConfig(
            python=args.python, out="", run_timeout_s=args.timeout, paths=paths
        )
        session.limits = defaults.limits(session.facts.get("sanitizer"))
        for _ in range(args.runs):
            verdict = judge(run_confirmed(session, scenario, args.timeout), scenario)
            label = verdict.outcome.status.label
            if verdict.signature is not None:
                label = f"{label} {verdict.signature.key}"
                signatures[label] = verdict.signature.title
            histogram[label] += 1
    if args.json:
        print(
            json.dumps({"runs": args.runs, "outcomes": dict(histogram), "signatures": signatures})
        )
        return 0
    table = Table(title=f"{args.runs} runs of {args.scenario} on {interpreter.label}")
    table.add_column("outcome")
    table.add_column("runs", justify="right")
    table.add_column("signature", overflow="fold")
    for label, count in histogram.most_common():
        table.add_row(label, str(count), signatures.get(label, ""))
    output_console().print(table)
    return 0
