"""The terminal report: the campaign at a glance, rendered with rich.

``render(report, console)`` prints the summary (campaign facts, bugs, in-contract buckets,
outside-contract findings folded per rule and C function, outcomes by type and family,
coverage, weights); ``render_bucket`` prints one bucket in
full.  ``to_text`` gives the same as plain text of a fixed width, for files and tests.
"""

from __future__ import annotations

import io

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from threadstorm.report.bugs import Bug, OutsideEntry, bugs, outside_entries
from threadstorm.report.describe import (
    count_text,
    duration_text,
    offset_text,
    scenario_lines,
    size_text,
    times_text,
)
from threadstorm.report.model import (
    BucketReport,
    Report,
    coverage_reasons,
    flat_weights,
    variant_text,
)

STATUS_STYLES = {
    "sanitizer": "bold magenta",
    "crashed": "bold red",
    "hung": "yellow",
    "raised": "cyan",
    "passed": "green",
    "harness_error": "bold blue",
}
NEVER_REACHED_SHOWN = 8
REASONS_SHOWN = 12


def to_text(report: Report, width: int = 100, *, coverage: bool = False) -> str:
    """The terminal report as plain text (with the reasons table when ``coverage``)."""
    console = plain_console(width)
    render(report, console, coverage=coverage)
    return _text_of(console)


def bucket_to_text(bucket: BucketReport, width: int = 100) -> str:
    """One bucket in full, as plain text."""
    console = plain_console(width)
    render_bucket(bucket, console)
    return _text_of(console)


def plain_console(width: int) -> Console:
    """A console that records plain text of a fixed width (no colour, no terminal)."""
    return Console(
        file=io.StringIO(), width=width, color_system=None, force_terminal=False, record=True
    )


def _text_of(console: Console) -> str:
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()) + "\n"


# ---------------------------------------------------------------------- the summary


def render(report: Report, console: Console, *, coverage: bool = False) -> None:
    """Print the campaign summary; with ``coverage``, why items were never exercised."""
    _campaign(report, console)
    _buckets(report, console)
    _matrix(report, console)
    _coverage(report, console)
    if coverage:
        _coverage_reasons(report, console)
    weights = flat_weights(report.weights)
    if weights:
        console.print(Text("Generation weights", style="bold"))
        console.print("  " + ", ".join(f"{name} {value:g}" for name, value in weights))


def _campaign(report: Report, console: Console) -> None:
    campaign = report.campaign
    target = campaign.target
    console.print(Text(f"threadstorm campaign {campaign.folder} ({campaign.status})", "bold"))
    facts = _facts_grid()
    facts.add_row("target", target.label)
    if target.executable:
        facts.add_row("", target.executable)
    facts.add_row(
        "runs",
        f"{count_text(campaign.runs)} in {duration_text(campaign.duration_s)} "
        f"({campaign.runs_per_second:.1f} runs/s)",
    )
    if campaign.modules:
        facts.add_row("modules", ", ".join(campaign.modules))
    if campaign.seed is not None:
        facts.add_row("seed", str(campaign.seed))
    outcomes = Text()
    for number, (label, count) in enumerate(campaign.outcomes):
        outcomes.append(" · " if number else "")
        outcomes.append(f"{label} {count_text(count)}", STATUS_STYLES.get(label, ""))
    facts.add_row("outcomes", outcomes if campaign.outcomes else Text("no runs yet"))
    console.print(facts)
    for warning in target.warnings:
        console.print(Text(f"warning: {warning}", style="bold yellow"))
    console.print()


def _facts_grid() -> Table:
    """Two columns, name and value; long values (paths) fold instead of being cut."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(no_wrap=True)
    grid.add_column(overflow="fold")
    return grid


def _buckets(report: Report, console: Console) -> None:
    if not report.buckets:
        console.print(Text("No crashes, hangs or sanitizer reports.", style="green"))
        console.print()
        return
    found = bugs(report.buckets)
    if found:
        console.print(Text(f"Bugs: {len(found)}", style="bold"))
        console.print(_bug_table(found))
        console.print()
        console.print(Text(f"In-contract buckets: {len(report.in_contract)}", style="bold"))
        console.print(_bucket_table(report.in_contract))
        console.print()
    entries = outside_entries(report.buckets)
    if entries:
        count = len(report.outside_contract)
        title = f"Outside the thread-safety contract: {len(entries)} ({count} buckets)"
        console.print(Text(title, style="bold"))
        console.print(_outside_table(entries))
        console.print()
    console.print(
        f"Details: threadstorm report {report.campaign.folder} --format markdown --bucket ID"
    )
    console.print()


def _bug_table(found: tuple[Bug, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("bug", "status", "count", "buckets", "best rate"):
        table.add_column(name, no_wrap=True, justify="right" if name == "count" else "left")
    table.add_column("crash site", overflow="fold")
    for bug in found:
        best = bug.best.reproduction
        table.add_row(
            bug.id,
            Text(bug.status, STATUS_STYLES.get(bug.status, "")),
            count_text(bug.count),
            str(len(bug.buckets)),
            best.rate.text if best else "not measured",
            bug.site,
        )
    return table


def _outside_table(entries: tuple[OutsideEntry, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("function", no_wrap=True)
    table.add_column("count", no_wrap=True, justify="right")
    table.add_column("types affected", overflow="fold")
    for entry in entries:
        table.add_row(entry.rule, entry.function, count_text(entry.count), ", ".join(entry.types))
    return table


def _bucket_table(buckets: tuple[BucketReport, ...]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for name in ("id", "status", "count", "rate", "first seen"):
        table.add_column(name, no_wrap=True, justify="right" if name == "count" else "left")
    table.add_column("signature", overflow="fold")
    for bucket in buckets:
        rate = bucket.reproduction.rate.text if bucket.reproduction else "not measured"
        table.add_row(
            bucket.id,
            Text(bucket.status, STATUS_STYLES.get(bucket.status, "")),
            count_text(bucket.count),
            rate,
            offset_text(bucket.first_seen_s),
            bucket.title,
        )
    return table


def _matrix(report: Report, console: Console) -> None:
    matrix = report.matrix
    if not matrix.cells:
        return
    console.print(Text("Outcomes by type and family", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("type", no_wrap=True)
    for family in matrix.families:
        table.add_column(family)
    for subject in matrix.subjects:
        row: list[Text | str] = [subject]
        for family in matrix.families:
            cell = matrix.cell(subject, family)
            if cell is None:
                row.append("")
                continue
            worst = [f"{label} {count}" for label, count in cell.counts if label != "passed"]
            row.append(Text(f"{cell.runs} runs" + "".join(f", {w}" for w in worst[:2])))
        table.add_row(*row)
    console.print(table)
    console.print()


def _coverage(report: Report, console: Console) -> None:
    if not report.coverage:
        return
    console.print(Text("Surface coverage", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("module", no_wrap=True)
    for name in ("total", "reachable", "exercised", "of total", "of reachable"):
        table.add_column(name, justify="right")
    table.add_column("never exercised", overflow="fold")
    for module in report.coverage:
        missed = [f"{name} ({why})" for name, why in module.never_reached]
        if len(missed) > NEVER_REACHED_SHOWN:
            missed = [
                *missed[:NEVER_REACHED_SHOWN],
                f"... {len(missed) - NEVER_REACHED_SHOWN} more",
            ]
        table.add_row(
            module.module,
            str(module.total),
            str(module.reachable),
            str(module.exercised),
            f"{module.of_total:.0%}".replace("%", " %"),
            f"{module.of_reachable:.0%}".replace("%", " %"),
            ", ".join(missed),
        )
    console.print(table)
    console.print()


def _coverage_reasons(report: Report, console: Console) -> None:
    reasons = coverage_reasons(report.coverage)
    if not reasons:
        return
    console.print(Text("Why items were never exercised", style="bold"))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("reason", overflow="fold")
    table.add_column("items", justify="right")
    table.add_column("for example", overflow="fold")
    for reason in reasons[:REASONS_SHOWN]:
        table.add_row(reason.reason, str(reason.count), ", ".join(reason.examples))
    console.print(table)
    console.print()


# ---------------------------------------------------------------------- one bucket


def render_bucket(bucket: BucketReport, console: Console) -> None:
    """Print one bucket in full: facts, scenario, minimisation, variants, backtrace."""
    console.print(Text(f"bucket {bucket.id}: {bucket.title}", style="bold"))
    facts = _facts_grid()
    facts.add_row("status", Text(bucket.status, STATUS_STYLES.get(bucket.status, "")))
    facts.add_row("contract", f"{bucket.contract} ({bucket.contract_reason})")
    facts.add_row(
        "seen", f"{times_text(bucket.count)}, first at {offset_text(bucket.first_seen_s)}"
    )
    facts.add_row("outcome", bucket.outcome_text)
    if bucket.reproduction:
        median = bucket.reproduction.median_time_to_crash_s
        facts.add_row(
            "rate",
            bucket.reproduction.rate.text
            + ("" if median is None else f", median time to crash {duration_text(median)}"),
        )
    facts.add_row("target", bucket.target.label)
    console.print(facts)
    _section(console, "Smallest scenario", "\n".join(bucket.scenario_lines))
    if bucket.minimisation:
        done = bucket.minimisation
        before = done.before_rate.text if done.before_rate else "?"
        after = done.after_rate.text if done.after_rate else "?"
        _section(
            console,
            "Minimised",
            f"before: {size_text(done.before_size)}; rate {before}\n"
            f"after:  {size_text(done.after_size)}; rate {after}\n"
            + "\n".join(scenario_lines(done.scenario)),
        )
    if bucket.variants:
        _section(
            console,
            "Sibling types",
            "\n".join(
                variant_text(v, bucket.id)
                for v in (*bucket.siblings_affected, *bucket.siblings_clean)
            ),
        )
    if bucket.backtrace:
        _section(console, "Backtrace", bucket.backtrace)
    elif bucket.crash_output:
        _section(console, "Crash output", bucket.crash_output)
    if bucket.repro_script:
        _section(console, "Repro script", bucket.repro_script.rstrip())


def _section(console: Console, title: str, body: str) -> None:
    console.print()
    console.print(Text(title, style="bold"))
    console.print(Text(body), soft_wrap=False, overflow="fold")
