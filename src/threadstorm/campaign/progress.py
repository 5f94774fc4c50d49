"""The live progress display of a campaign, and the summary table at its end.

On a terminal the display refreshes in place (rich); elsewhere (CI logs, pipes) a plain line is
printed every ``PLAIN_INTERVAL_S`` seconds so logs stay readable.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table

from threadstorm.triage.outcome import Status

PLAIN_INTERVAL_S = 10.0


@dataclass
class WorkerTally:
    """Running counts of one worker (a local fork server, or a Dask worker)."""

    runs: int = 0
    findings: int = 0  # crashes, hangs and sanitizer reports
    harness_errors: int = 0


@dataclass
class Tally:
    """Running counts of a campaign."""

    started: float = field(default_factory=time.monotonic)
    runs: int = 0
    by_status: dict[Status, int] = field(default_factory=dict)
    buckets: int = 0
    new_buckets: list[str] = field(default_factory=list)
    workers: dict[str, WorkerTally] = field(default_factory=dict)

    def add(self, status: Status, worker: str = "") -> None:
        self.runs += 1
        self.by_status[status] = self.by_status.get(status, 0) + 1
        if worker:
            counts = self.workers.setdefault(worker, WorkerTally())
            counts.runs += 1
            counts.findings += status.is_finding
            counts.harness_errors += status == Status.HARNESS_ERROR

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started

    @property
    def runs_per_second(self) -> float:
        elapsed = self.elapsed_s
        return self.runs / elapsed if elapsed > 0 else 0.0

    def count(self, status: Status) -> int:
        return self.by_status.get(status, 0)

    def line(self, budget_s: float) -> str:
        """A one-line summary, e.g. for logs."""
        return (
            f"{self.elapsed_s:6.0f}/{budget_s:.0f} s  runs {self.runs}  "
            f"({self.runs_per_second:.1f}/s)  crashes {self.count(Status.CRASHED)}  "
            f"hangs {self.count(Status.HUNG)}  buckets {self.buckets}  "
            f"harness errors {self.count(Status.HARNESS_ERROR)}"
        )


class ProgressDisplay:
    """Shows a ``Tally`` while a campaign runs."""

    def __init__(self, console: Console, budget_s: float) -> None:
        self.console = console
        self.budget_s = budget_s
        self._live: Live | None = None
        self._last_plain = 0.0

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)
            self._live = None

    def update(self, tally: Tally) -> None:
        if self._live is not None:
            self._live.update(self._table(tally))
            return
        now = time.monotonic()
        if now - self._last_plain >= PLAIN_INTERVAL_S:
            self._last_plain = now
            self.console.print(tally.line(self.budget_s), highlight=False)

    def note(self, text: str) -> None:
        """A line printed above the live display (a new bucket, a warning)."""
        self.console.print(text, highlight=False)

    def _table(self, tally: Tally) -> Table:
        table = Table(title="threadstorm campaign", show_header=False, box=None)
        table.add_column(justify="right", style="bold")
        table.add_column()
        table.add_row("time", f"{tally.elapsed_s:.0f} / {self.budget_s:.0f} s")
        table.add_row("runs", f"{tally.runs}  ({tally.runs_per_second:.1f}/s)")
        table.add_row("crashes", str(tally.count(Status.CRASHED) + tally.count(Status.SANITIZER)))
        table.add_row("hangs", str(tally.count(Status.HUNG)))
        table.add_row("buckets", str(tally.buckets))
        table.add_row("harness errors", str(tally.count(Status.HARNESS_ERROR)))
        elapsed = max(tally.elapsed_s, 1e-9)
        for name, counts in sorted(tally.workers.items()):
            table.add_row(name, worker_line(counts, elapsed))
        return table


def worker_line(counts: WorkerTally, elapsed_s: float) -> str:
    """One worker's share: ``412 runs (3.4/s), 2 findings, 0 failures``."""
    return (
        f"{counts.runs} runs ({counts.runs / elapsed_s:.1f}/s), {counts.findings} findings, "
        f"{counts.harness_errors} failures"
    )


def worker_table(tally: Tally) -> Table:
    """The end-of-campaign table of runs/s, findings and failures per worker."""
    elapsed = max(tally.elapsed_s, 1e-9)
    table = Table(title="per worker")
    for column in ("worker", "runs", "runs/s", "findings", "failures"):
        table.add_column(column)
    for name, counts in sorted(tally.workers.items()):
        table.add_row(
            name,
            str(counts.runs),
            f"{counts.runs / elapsed:.1f}",
            str(counts.findings),
            str(counts.harness_errors),
        )
    return table


def summary_table(tally: Tally, buckets: list[tuple[str, str, str, int, str]]) -> Table:
    """The end-of-campaign table: totals and one row per bucket."""
    table = Table(
        title=f"{tally.runs} runs in {tally.elapsed_s:.0f} s ({tally.runs_per_second:.1f}/s)"
    )
    for column in ("bucket", "status", "contract", "count", "signature"):
        table.add_column(column, overflow="fold")
    for key, status, contract, count, title in buckets:
        table.add_row(key, status, contract, str(count), title)
    if not buckets:
        table.add_row("-", "-", "-", "0", "no crash or hang found")
    return table
