"""``threadstorm repro``: write a bucket's standalone script and measure how often it crashes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from threadstorm.campaign.config import CampaignConfig
from threadstorm.cli.output import output_console
from threadstorm.errors import UsageError
from threadstorm.files import write_atomically
from threadstorm.reproduce.emit import Header, code_lines, render
from threadstorm.reproduce.rate import SITE_KINDS, measure_script, same_site
from threadstorm.store.db import Store
from threadstorm.store.records import BucketRecord
from threadstorm.target.confined_script import Confinement
from threadstorm.target.interpreter import discover
from threadstorm.triage.outcome import Status

SCRIPT_GRACE_S = 15.0


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "repro",
        help="write a bucket's standalone reproducer and measure its crash rate",
        description="Write a standard-library-only script that reproduces BUCKET (its minimised "
        "scenario when there is one), then run it N times in fresh target processes, each "
        "confined like a campaign child, and report how many crashed.",
    )
    parser.add_argument("campaign", type=Path, metavar="DIR", help="campaign folder")
    parser.add_argument("bucket", help="bucket id (or a unique prefix of it)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the script")
    parser.add_argument(
        "--runs", type=int, default=10, help="runs of the script (default 10, 0 = none)"
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        default=30.0,
        help="seconds each run of the script storms before giving up (default 30)",
    )
    parser.add_argument(
        "--python", help="run the script with this interpreter (default: the campaign's target)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.runs < 0:
        raise UsageError("--runs must be 0 or more")
    if not args.time_limit > 0:
        raise UsageError("--time-limit must be a positive number of seconds")
    console = output_console()
    with Store.open(args.campaign) as store:
        bucket = store.bucket(args.bucket)
        keys = store.bucket_keys(bucket.key)
        config = store.campaign().config
        interpreter = discover(args.python or config["python"], config.get("suppressions") or ())
        target = config.get("target", {})
        facts = target
        label = (
            f"CPython {target.get('version', interpreter.version)} "
            f"{'free-threaded' if interpreter.free_threaded else 'with GIL'}"
            f"{' debug' if interpreter.debug else ''} ({interpreter.path})"
        )
        rate = bucket.reproduction
        rate_text = f"{rate.rate.text} reruns of the scenario crashed" if rate is not None else ""
        header = Header.for_bucket(bucket, label, str(interpreter.path), rate_text)
        paths = config.get("paths") or ()
        script = render(bucket.best_scenario, header, time_limit=args.time_limit, paths=paths)
        write_atomically(args.out, script, mode=0o755)
        console.print(
            f"wrote {args.out} ({code_lines(script)} lines of code) for bucket {bucket.key}: "
            f"{bucket.signature.title}",
            highlight=False,
        )
        store.set_repro_script(bucket.key, script)
    if args.runs == 0:
        return 0
    seconds = args.time_limit + SCRIPT_GRACE_S
    measurement, crashed = measure_script(
        interpreter, args.out.resolve(), args.runs, seconds, confinement(config, bucket, facts)
    )
    here = ""
    if crashed and bucket.signature.kind in SITE_KINDS:
        hits = same_site(crashed, bucket.best_scenario, keys, bucket.signature)
        here = f", {hits} of them at the bucket's own site"
    what = (
        "re-triggered the sanitizer report"
        if bucket.status is Status.SANITIZER
        else "crashed the target"
    )
    console.print(
        f"{measurement.crashes} of {measurement.runs} runs of the script {what}"
        + (
            f" (median {measurement.median_time_to_crash_s:.2f} s to crash)"
            if measurement.median_time_to_crash_s is not None
            else ""
        )
        + here
        + other_endings(measurement.others),
        highlight=False,
    )
    return 0


def confinement(config: dict[str, Any], bucket: BucketRecord, facts: dict[str, Any]) -> Confinement:
    """The campaign children's confinement, for runs of the bucket's script."""
    settings = CampaignConfig.from_json(config)
    return Confinement(
        limits=settings.limits(facts.get("sanitizer")),
        modules=(*settings.modules, *settings.packages),
        paths=settings.paths,
        threads=bucket.best_scenario.thread_count,
    )


def other_endings(others: dict[str, int]) -> str:
    """How the runs that did not crash ended; a failing script must not pass for a lucky one."""
    names = {"exit 0": "ended without a crash", "timed out": "timed out"}
    parts = [
        f"{count} {names.get(what, f'failed ({what}): run the script by hand to see why')}"
        for what, count in sorted(others.items())
    ]
    return f"; {', '.join(parts)}" if parts else ""
