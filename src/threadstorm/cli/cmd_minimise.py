"""``threadstorm minimise DIR BUCKET``: shrink a bucket's scenario while it crashes the same way.

Opens the campaign's store, starts one fork server in the campaign's target with the campaign's
modules, and runs the minimiser (``threadstorm.minimise.minimiser``) on the bucket's smallest
scenario.  Progress goes to stderr; the result (sizes and rates before and after, runs spent, the
minimised scenario as a standalone script) to stdout, and into the store.

Exit status: 0 when the crash was confirmed (minimised, or the best scenario found before the
budget ran out), 3 when the bucket's crash did not show in any validation run (nothing could be
minimised), 2 on usage errors.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from threadstorm.campaign.config import CampaignConfig
from threadstorm.errors import UsageError
from threadstorm.exit_codes import EXIT_COULD_NOT_TEST
from threadstorm.minimise.minimiser import (
    NOT_REPRODUCED,
    Confirm,
    MinimiseResult,
    Progress,
    minimise,
)
from threadstorm.rate import Rate
from threadstorm.reproduce.emit import Header, code_lines, render
from threadstorm.store.db import Store
from threadstorm.store.records import BucketRecord
from threadstorm.target.interpreter import Interpreter, discover
from threadstorm.target.session import HarnessSession

HELP = "shrink a bucket's scenario while it keeps crashing the same way"

DESCRIPTION = """\
Shrink BUCKET's smallest scenario (drop threads, operations and shared objects, shrink values,
cut repetition) keeping each change only when the bucket's signature is confirmed k of n times,
with k and n adapted to the crash rate measured first.  Prints the sizes and rates before and
after and the minimised scenario as a standalone script, and stores the result with the bucket.
Exit status 1 when the bucket's crash does not show at all (it may be rare: try more --runs)."""

SIZE_NAMES = (
    "threads",
    "operations",
    "shared objects",
    "value size",
    "repetitions",
    "timing choices",
    "start offsets (us)",
)


def register(sub: Any) -> None:
    """Add the ``minimise`` subcommand."""
    parser = sub.add_parser("minimise", help=HELP, description=DESCRIPTION)
    parser.add_argument("campaign", type=Path, metavar="DIR", help="campaign folder")
    parser.add_argument("bucket", metavar="BUCKET", help="bucket id (or a unique prefix of it)")
    parser.add_argument(
        "--budget", type=float, default=300.0, help="seconds to spend at most (default 300)"
    )
    parser.add_argument(
        "--runs",
        type=int,
        default=10,
        help="runs that validate the crash and measure its rate, before and after (default 10)",
    )
    parser.add_argument(
        "--confirm",
        type=confirm_option,
        default="adaptive",
        metavar="K/N",
        help="keep a change when K of N runs crash the same way (default: adaptive, from the "
        "measured rate)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds per run (default: the campaign's)"
    )
    parser.set_defaults(handler=run)


def confirm_option(text: str) -> Confirm:
    """argparse type: ``2/5`` -> ``(2, 5)``; ``adaptive`` as it is."""
    if text == "adaptive":
        return "adaptive"
    hits, _, runs = text.partition("/")
    try:
        pair = int(hits), int(runs)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not K/N, e.g. 1/3") from None
    if not 1 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: K/N needs 1 <= K <= N")
    return pair


def check_arguments(args: argparse.Namespace) -> None:
    """Raise ``UsageError`` with the fix for an impossible value."""
    if not args.budget > 0:
        raise UsageError("--budget must be a positive number of seconds")
    if args.runs < 1:
        raise UsageError("--runs must be at least 1")
    if args.timeout is not None and not args.timeout > 0:
        raise UsageError("--timeout must be a positive number of seconds")


def run(args: argparse.Namespace) -> int:
    """Minimise one bucket; print and store the result."""
    check_arguments(args)
    with Store.open(args.campaign) as store:
        bucket = store.bucket(args.bucket)
        config = CampaignConfig.from_json(store.campaign().config)
        interpreter = discover(config.python, config.suppressions)
        errors = Console(stderr=True, highlight=False, soft_wrap=True)
        errors.print(f"minimising bucket {bucket.key}: {bucket.signature.title}")
        modules = (*config.modules, *config.packages)
        with HarnessSession(interpreter, modules, paths=config.paths) as session:
            session.limits = config.limits(session.facts.get("sanitizer"))
            with errors.status("validating the crash") as status:
                result = minimise(
                    session,
                    bucket.smallest_scenario,
                    store.bucket_keys(bucket.key),  # a merged source's signature is this bug
                    budget_s=args.budget,
                    timeout_s=args.timeout or config.run_timeout_s,
                    confirm=args.confirm,
                    validate_runs=args.runs,
                    progress=ProgressView(errors, status).update,
                )
        if result.status != NOT_REPRODUCED:
            store.set_minimised(
                bucket.key,
                result.after,
                before_size=result.before_key,
                after_size=result.after_key,
                before_rate=as_rate(result.before_rate),
                after_rate=as_rate(result.after_rate),
            )
    summary = summarise(result, bucket, interpreter)
    Console(highlight=False, soft_wrap=True).print(render_summary(summary), markup=False)
    return EXIT_COULD_NOT_TEST if result.status == NOT_REPRODUCED else 0


class ProgressView:
    """Progress on stderr: a status line that follows every run, a line per kept change."""

    def __init__(self, console: Console, status: Any) -> None:
        self.console = console
        self.status = status

    def update(self, progress: Progress) -> None:
        """Show one progress event."""
        size = format_key(progress.key)
        where = f"{progress.phase} {progress.pass_name}".strip()
        self.status.update(f"{where} · {size} · {progress.runs} runs · {progress.elapsed_s:.0f} s")
        if progress.accepted:
            self.console.print(f"  kept {progress.pass_name}: {size} ({progress.runs} runs)")


def as_rate(rate: Rate) -> Rate:
    """The store's rate record: the counts alone."""
    return Rate(rate.crashes, rate.runs)


def format_key(key: tuple[int, ...]) -> str:
    """``(2, 2, 1, 5, 400, 1, 200)`` -> ``2 threads, 2 ops, 1 shared, value size 5, 400 reps,
    1 timing, 200 us``; the timing parts only when there is timing (older keys have none)."""
    threads, operations, shared, value, reps, *timing = key
    text = f"{threads} threads, {operations} ops, {shared} shared, value size {value}, {reps} reps"
    if any(timing):
        choices, delay = (*timing, 0)[:2]
        text += f", {choices} timing, {delay} us"
    return text


# ---------------------------------------------------------------------- extract, then render


@dataclass(frozen=True)
class Summary:
    """What the command prints, as plain text and numbers."""

    bucket: str
    title: str
    status: str
    sizes: tuple[tuple[str, int, int], ...]  # (name, before, after)
    before_rate: str
    after_rate: str
    runs: int
    wall_s: float
    confirm: str
    steps: tuple[str, ...]
    others: str
    script: str | None
    script_lines: int


def summarise(result: MinimiseResult, bucket: BucketRecord, interpreter: Interpreter) -> Summary:
    """Extract the facts to print from a result."""
    script = None
    if result.status != NOT_REPRODUCED:
        rate = f"{result.after_rate.text} reruns of the minimised scenario crashed"
        header = Header.for_bucket(bucket, target_label(interpreter), str(interpreter.path), rate)
        script = render(result.after, header)
    sizes = tuple(zip(SIZE_NAMES, result.before_key, result.after_key, strict=True))
    return Summary(
        bucket=bucket.key,
        title=bucket.signature.title,
        status=result.status,
        sizes=sizes,
        before_rate=result.before_rate.text,
        after_rate=result.after_rate.text,
        runs=result.runs,
        wall_s=result.wall_s,
        confirm=f"{result.confirm[0]} of {result.confirm[1]}" if result.confirm else "-",
        steps=tuple(f"{step.pass_name} -> {format_key(step.key)}" for step in result.steps),
        others=", ".join(f"{name} x{count}" for name, count in result.others.items()),
        script=script,
        script_lines=code_lines(script) if script else 0,
    )


def target_label(interpreter: Interpreter) -> str:
    """E.g. ``CPython 3.13.5 free-threaded debug (/path/python3.13td)``."""
    return f"CPython {interpreter.label} ({interpreter.path})"


STATUS_TEXT = {
    "minimised": "minimised (no simpler scenario crashes the same way)",
    "budget_exhausted": "budget exhausted: the best scenario so far",
    "not_reproduced": "not reproduced: the bucket's crash did not show",
}


def render_summary(summary: Summary) -> str:
    """The summary as terminal text."""
    lines = [f"bucket {summary.bucket}: {summary.title}", f"result: {STATUS_TEXT[summary.status]}"]
    if summary.status == NOT_REPRODUCED:
        seen = f" (runs ended: {summary.others})" if summary.others else ""
        lines.append(f"rate: {summary.before_rate}{seen}; it may be rare: try more --runs")
        return "\n".join(lines)
    width = max(len(name) for name, _, _ in summary.sizes)
    lines += [f"  {name:<{width}}  {before:>7} -> {after}" for name, before, after in summary.sizes]
    lines.append(f"rate: {summary.before_rate} -> {summary.after_rate}")
    lines.append(
        f"cost: {summary.runs} runs in {summary.wall_s:.1f} s "
        f"(a change was kept when {summary.confirm} runs crashed the same way)"
    )
    lines += [f"  kept {step}" for step in summary.steps]
    if summary.script is not None:
        lines += [f"script ({summary.script_lines} lines of code):", "", summary.script.rstrip()]
    return "\n".join(lines)
