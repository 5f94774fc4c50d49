"""Executors: where a campaign's scenarios run, behind one small interface.

The controller draws scenarios, judges every result, files findings and feeds the generator; an
executor only runs what ``draw`` hands it and puts each ``RunResult`` on the campaign's queue.
Two executors exist: ``workers.LocalExecutor`` (one worker thread per local fork server, the
default) and ``dask_executor.DaskExecutor`` (batches on Dask workers, ``fuzz --scheduler``).
Both run the same unit of work (``campaign.batch``).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from threadstorm.generate.families import SubjectLike
from threadstorm.scenario.model import Scenario
from threadstorm.triage.evidence import Evidence

Draw = Callable[[], tuple[Scenario, SubjectLike]]


@dataclass(frozen=True)
class RunResult:
    """One finished run: what ran, on which subject, what it left behind, and which worker
    ran it (a name for the per-worker display)."""

    scenario: Scenario
    subject: SubjectLike
    evidence: Evidence
    worker: str = ""


@dataclass(frozen=True)
class Feed:
    """What an executor is given: where scenarios come from and where results go.

    ``stop`` is set by the campaign when the budget is spent, or by the executor when it can go
    no further (its failure is raised by ``join``); ``note`` prints a line above the display.
    """

    draw: Draw
    results: queue.Queue[RunResult]
    stop: threading.Event
    note: Callable[[str], None]


class Executor(Protocol):
    """Runs drawn scenarios somewhere until the feed's ``stop`` is set."""

    def start(self, feed: Feed) -> None:
        """Begin running scenarios; returns at once."""

    def join(self) -> None:
        """Wait until every run in flight is handed over (``stop`` is set first); raise the
        failure that stopped the executor early, if any."""

    def close(self) -> None:
        """Release what the executor holds (connections; local fork servers stay the
        campaign's)."""
