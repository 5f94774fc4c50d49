"""Markdown: a campaign summary, and per bucket a bug report ready to paste into an issue.

The campaign summary lists bugs first (in-contract buckets grouped by crash site), then the
in-contract buckets, then outside-contract findings folded one line per (rule, C function)
(``threadstorm.report.bugs``); only in-contract buckets get a section of their own.

``bucket_markdown(bucket)`` reads like a good CPython or extension bug report: a title that says
what crashes, what the threads do, the standalone script, how often it crashes, the backtrace,
the target build, and which sibling types share the bug.  ``campaign_markdown(report)`` is the
overview, with the command that prints each bucket's report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from threadstorm.rate import Rate
from threadstorm.report.bugs import bugs, outside_entries
from threadstorm.report.describe import (
    count_text,
    duration_text,
    offset_text,
    scenario_lines,
    size_text,
    times_text,
)
from threadstorm.report.model import BucketReport, Report, flat_weights, variant_text
from threadstorm.scenario import codec
from threadstorm.scenario.model import Scenario
from threadstorm.target.facts import TargetFacts

WHAT = {"crashed": "crash", "hung": "hang", "sanitizer": "sanitizer report"}


# ---------------------------------------------------------------------- one bucket


def bucket_markdown(bucket: BucketReport) -> str:
    """One bucket as a self-contained bug report."""
    parts = [f"# {bug_title(bucket)}", ""]
    if not bucket.in_contract:
        parts += [
            "> **Outside the thread-safety contract.** This use is documented as unsupported "
            f"({bucket.contract_reason}). File it only if a crash is still unexpected here.",
            "",
        ]
    parts += _what_happens(bucket)
    parts += _reproducer(bucket)
    parts += _how_often(bucket)
    if bucket.sanitizer_stacks:
        parts += ["## Sanitizer report", "", *fenced(bucket.sanitizer_report), ""]
    elif bucket.backtrace or bucket.crash_output:
        title = "Backtrace" if bucket.backtrace else "Crash output"
        parts += [f"## {title}", "", *fenced(bucket.backtrace or bucket.crash_output), ""]
    parts += ["## Environment", "", *_environment(bucket.target), ""]
    if bucket.variants:
        parts += [
            "## Sibling types",
            "",
            "The same scenario with the shared object replaced by sibling types:",
            "",
            *(
                f"- {variant_text(v, bucket.id, quote='`')}"
                for v in (*bucket.siblings_affected, *bucket.siblings_clean)
            ),
            "",
        ]
    parts += [
        "---",
        f"Found by threadstorm: bucket `{bucket.id}`, signature `{bucket.title}`, "
        f"seen {times_text(bucket.count)} in the campaign `{bucket.folder}`.",
    ]
    return "\n".join(parts) + "\n"


def bug_title(bucket: BucketReport) -> str:
    """E.g. ``Free-threaded 3.13.5: assertion `X` fails when `repr(obj)` races `obj.pop()` ...``."""
    what = WHAT.get(bucket.status, bucket.status)
    if bucket.signature.kind == "assertion" and bucket.signature.parts:
        what = f"assertion `{bucket.signature.parts[-1]}` fails"
    elif bucket.signature.kind == "race" and bucket.signature.parts:
        sides = " and ".join(f"`{part}`" for part in dict.fromkeys(bucket.signature.parts))
        what = f"data race between {sides}"
    elif bucket.status == "crashed" and bucket.signal:
        what = f"crash ({bucket.signal})"
    operations = [f"`{label}`" for label in _first_operations(bucket)]
    threads = len(_best_scenario(bucket).threads)
    if len(operations) > 1:
        when = f"{operations[0]} races {operations[1]}"
    else:
        when = f"{threads} threads run {operations[0]} at once"
    return (
        f"Free-threaded {bucket.target.version}: {what} when {when} on a shared `{bucket.subject}`"
    )


def _first_operations(bucket: BucketReport) -> list[str]:
    labels: list[str] = []
    for plan in _best_scenario(bucket).threads:
        label = plan.operations[0].label()
        if label not in labels:
            labels.append(label)
    return labels


def _best_scenario(bucket: BucketReport) -> Scenario:
    return bucket.minimisation.scenario if bucket.minimisation else bucket.scenario


def _what_happens(bucket: BucketReport) -> list[str]:
    scenario = _best_scenario(bucket)
    *shared_and_threads, repetition = scenario_lines(scenario)
    verb = {"hung": "hang", "sanitizer": "make the sanitizer report an error"}
    effect = verb.get(bucket.status, "crash the interpreter")
    lines = [
        "## What happens",
        "",
        f"On {bucket.target.label}, {len(scenario.threads)} threads sharing one "
        f"`{bucket.subject}` {effect}:",
        "",
        *fenced("\n".join(shared_and_threads)),
        "",
        f"Each thread repeats its operations ({repetition}); the threads start together.",
        "",
        f"Outcome: {bucket.outcome_text}.",
        "",
    ]
    return lines


def _reproducer(bucket: BucketReport) -> list[str]:
    if bucket.repro_script:
        return [
            "## Reproducer",
            "",
            _script_advice(bucket),
            "",
            *fenced(bucket.repro_script, "python"),
            "",
        ]
    return [
        "## Scenario",
        "",
        "No script was written yet: `threadstorm repro "
        f"{bucket.folder} {bucket.id} --out repro.py` writes one. The scenario as data:",
        "",
        *fenced(codec.dumps(_best_scenario(bucket)), "json"),
        "",
    ]


def _script_advice(bucket: BucketReport) -> str:
    if bucket.status == "sanitizer":
        return (
            "Standard library only; run it with the ThreadSanitizer build, as `TSAN_OPTIONS="
            "'halt_on_error=1 suppressions=Tools/tsan/suppressions_free_threading.txt'"
            " python repro.py` from the CPython tree, so it stops at the first report (without "
            "halt_on_error=1 the script runs its whole time limit)."
        )
    return (
        "Standard library only; run it with the free-threaded interpreter. It repeats the "
        "scenario until the process crashes or its time limit passes."
    )


def _how_often(bucket: BucketReport) -> list[str]:
    lines = ["## How often", ""]
    if bucket.reproduction:
        verb = {"hung": "Hung", "sanitizer": "Reproduced"}.get(bucket.status, "Crashed")
        sentence = f"{verb} in {bucket.reproduction.rate.text} reruns of the scenario"
        median = bucket.reproduction.median_time_to_crash_s
        if median is not None:
            sentence += f"; median time to crash {duration_text(median)}"
        lines.append(sentence + ".")
        elsewhere = [ending for ending in bucket.rerun_endings if ending.finding]
        if elsewhere:
            ways = "; ".join(f"{ending.runs} as {ending.label}" for ending in elsewhere)
            lines.append(
                f"Other reruns ended elsewhere: {ways}. The script repeats the scenario until "
                "its first crash, so it may show one of those instead."
            )
    else:
        lines.append("The reproduction rate was not measured.")
    if bucket.confirmation is not None:
        lines.append(f"Replayed on the plain debug build: {bucket.confirmation.text}.")
    lines.append(
        f"Seen {times_text(bucket.count)} during the campaign, first at "
        f"{offset_text(bucket.first_seen_s)}."
    )
    done = bucket.minimisation
    if done:
        before = f" (crashed {_short(done.before_rate)})" if done.before_rate else ""
        after = f" (crashed {_short(done.after_rate)})" if done.after_rate else ""
        lines.append(
            f"Minimised from {size_text(done.before_size)}{before} "
            f"to {size_text(done.after_size)}{after}."
        )
    return [*lines, ""]


def _short(rate: Rate) -> str:
    return f"{rate.crashes}/{rate.runs}"


def _environment(target: TargetFacts) -> list[str]:
    gil = "enabled at run time (!)" if target.gil_enabled else "disabled at run time"
    lines = [f"- {target.label}", f"- GIL {gil}"]
    if target.executable:
        lines.append(f"- interpreter: `{target.executable}`")
    if target.config_args:
        lines.append(f"- configure: `{target.config_args}`")
    lines += [f"- warning: {warning}" for warning in target.warnings]
    return lines


# ---------------------------------------------------------------------- the campaign


def campaign_markdown(report: Report) -> str:
    """The campaign summary: facts, buckets, outcomes by type and family, coverage, weights."""
    campaign = report.campaign
    parts = [f"# threadstorm campaign `{campaign.folder}`", ""]
    parts += table(("", ""), _campaign_rows(report))
    parts += [""] + [f"> **Warning:** {w}" for w in campaign.target.warnings]
    parts += _bucket_tables(report)
    parts += _bucket_sections(report)
    if report.matrix.cells:
        parts += ["## Outcomes by type and family", ""]
        parts += [*table(("type", *report.matrix.families), _matrix_rows(report)), ""]
    if report.coverage:
        parts += ["## Surface coverage", ""]
        rows = [
            (
                m.module,
                str(m.total),
                str(m.reachable),
                str(m.exercised),
                ", ".join(f"{name} ({why})" for name, why in m.never_reached),
            )
            for m in report.coverage
        ]
        parts += table(("module", "total", "reachable", "exercised", "never exercised"), rows)
        parts += [""]
    weights = flat_weights(report.weights)
    if weights:
        parts += ["## Generation weights", ""]
        parts += table(("weight", "value"), [(name, f"{value:g}") for name, value in weights])
    return "\n".join(parts).rstrip() + "\n"


def _campaign_rows(report: Report) -> list[tuple[str, ...]]:
    campaign = report.campaign
    rows: list[tuple[str, ...]] = [("target", campaign.target.label)]
    if campaign.target.executable:
        rows.append(("interpreter", f"`{campaign.target.executable}`"))
    rows.append(
        (
            "runs",
            f"{count_text(campaign.runs)} in {duration_text(campaign.duration_s)} "
            f"({campaign.runs_per_second:.1f} runs/s)",
        )
    )
    rows.append(
        ("outcomes", " · ".join(f"{label} {count_text(n)}" for label, n in campaign.outcomes))
    )
    if campaign.modules:
        rows.append(("modules", ", ".join(campaign.modules)))
    if campaign.seed is not None:
        rows.append(("seed", str(campaign.seed)))
    rows.append(("status", campaign.status))
    return rows


def _bucket_tables(report: Report) -> list[str]:
    if not report.buckets:
        return ["## Findings", "", "No crashes, hangs or sanitizer reports.", ""]
    parts: list[str] = []
    found = bugs(report.buckets)
    if found:
        head = ("bug", "status", "count", "buckets", "best rate", "crash site")
        rows = [
            (
                f"`{bug.id}`",
                bug.status,
                count_text(bug.count),
                str(len(bug.buckets)),
                _rate_text(bug.best),
                bug.site,
            )
            for bug in found
        ]
        parts += [f"## Bugs: {len(found)}", "", *table(head, rows), ""]
        head = ("id", "status", "count", "rate", "first seen", "signature")
        rows = [
            (
                f"`{b.id}`",
                b.status,
                count_text(b.count),
                _rate_text(b),
                offset_text(b.first_seen_s),
                b.title,
            )
            for b in report.in_contract
        ]
        parts += [f"### In-contract buckets: {len(rows)}", "", *table(head, rows), ""]
    parts += _outside_table(report)
    return parts


def _rate_text(bucket: BucketReport) -> str:
    return bucket.reproduction.rate.text if bucket.reproduction else "not measured"


def _outside_table(report: Report) -> list[str]:
    entries = outside_entries(report.buckets)
    if not entries:
        return []
    rows = [
        (
            entry.rule,
            f"`{entry.function}`",
            ", ".join(f"`{name}`" for name in entry.types),
            count_text(entry.count),
            ", ".join(f"`{key}`" for key in entry.buckets),
        )
        for entry in entries
    ]
    head = ("rule", "function", "types affected", "count", "buckets")
    buckets = len(report.outside_contract)
    return [
        f"## Outside the thread-safety contract: {len(entries)} ({buckets} buckets)",
        "",
        *table(head, rows),
        "",
    ]


def _bucket_sections(report: Report) -> list[str]:
    parts: list[str] = []
    for bucket in report.in_contract:
        parts += [f"### `{bucket.id}` {bucket.title}", ""]
        parts.append(f"- {bucket.status}, {bucket.contract} ({bucket.contract_reason})")
        parts.append(f"- {bucket.family} on `{bucket.subject}`: {bucket.outcome_text}")
        if bucket.siblings_affected:
            names = ", ".join(f"`{v.subject}`" for v in bucket.siblings_affected)
            parts.append(f"- sibling types affected: {names}")
        parts.append(
            f"- bug report: `threadstorm report {bucket.folder} --format markdown "
            f"--bucket {bucket.id}`"
        )
        parts += ["", *fenced("\n".join(bucket.scenario_lines)), ""]
    return parts


def _matrix_rows(report: Report) -> list[tuple[str, ...]]:
    matrix = report.matrix
    rows: list[tuple[str, ...]] = []
    for subject in matrix.subjects:
        cells = [matrix.cell(subject, family) for family in matrix.families]
        rows.append(
            (
                f"`{subject}`",
                *(
                    ""
                    if cell is None
                    else ", ".join(f"{label} {count}" for label, count in cell.counts)
                    for cell in cells
                ),
            )
        )
    return rows


# ---------------------------------------------------------------------- Markdown pieces


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A GitHub-flavoured Markdown table, cells escaped."""
    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return lines


def cell(text: str) -> str:
    """Text safe inside a table cell: no pipes, no line breaks."""
    return text.replace("|", "\\|").replace("\n", " ")


def fenced(text: str, language: str = "") -> list[str]:
    """A fenced code block whose fence is longer than any run of backticks inside."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, text.rstrip("\n"), fence]
