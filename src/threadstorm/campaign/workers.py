"""Workers: one warm fork server each, running generated scenarios side by side.

A worker thread asks the shared generator for a scenario, runs it in its own harness session
and hands the evidence to the campaign's queue.  The controller's threads only wait on pipes, so
they cost nothing while the target's children work.  A fork server that dies is restarted; the
run it was serving becomes a ``HARNESS_ERROR``, never a finding; a server that will not start
again ends the campaign with a ``HarnessError`` (exit 3: the target could not be tested), not a
usage error.

A fork server is also started afresh every ``LAYOUT_REFRESH_S`` seconds.  Its children inherit
its memory layout, and some races depend on it: CPython's type cache, for one, hashes the
*address* of an attribute name, so whether two threads contend for the type lock in a nested
repr depends on where the names landed.  Measured on the seed's shape (a container read while it
is refilled with fresh unions and cleared): under one fork server every run crashed, under
another none did, and with address randomisation off every server was of the second kind.  A new
server draws a new layout (ASLR), so a campaign does not spend its whole budget on a layout where
a bug cannot fire.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from threadstorm.campaign import batch
from threadstorm.campaign.batch import LAYOUT_REFRESH_S, BatchItem
from threadstorm.campaign.executor import Draw, Feed, RunResult
from threadstorm.scenario.model import Scenario
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence

__all__ = ["LAYOUT_REFRESH_S", "Draw", "LocalExecutor", "RunResult", "Worker"]


class Worker(threading.Thread):
    """Runs scenarios from ``draw`` in ``session`` until ``stop`` is set."""

    def __init__(
        self,
        number: int,
        session: HarnessSession,
        draw: Draw,
        results: queue.Queue[RunResult],
        stop: threading.Event,
        timeout_s: float,
        reuse: int = 1,
        own_child: Callable[[Scenario], bool] | None = None,
    ) -> None:
        """``own_child`` says which scenarios must run in a child of their own (they change
        module state that would outlive them: ``generate.module_state.StateGuard``)."""
        super().__init__(name=f"threadstorm-worker-{number}", daemon=True)
        self.session = session
        self.draw = draw
        self.results = results
        self.stop = stop
        self.timeout_s = timeout_s
        self.reuse = reuse
        self.own_child = own_child
        self.failure: BaseException | None = None
        self.layout_since = time.monotonic()
        self.label = f"local-{number}"

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if time.monotonic() - self.layout_since > LAYOUT_REFRESH_S:
                    self.restart()  # a new memory layout (see the module's docstring)
                scenario, subject = self.draw()
                self.results.put(RunResult(scenario, subject, self._run(scenario), self.label))
        except BaseException as error:  # noqa: BLE001 - handed to the campaign, re-raised there
            self.failure = error
            self.stop.set()

    def _run(self, scenario: Scenario) -> Evidence:
        alone = self.own_child is not None and self.own_child(scenario)
        item = BatchItem(scenario, 1 if alone else self.reuse)
        evidence = batch.run_item(self.session, item, self.timeout_s)
        if evidence.harness_error is not None:
            self.layout_since = time.monotonic()  # run_item restarted the fork server
        return evidence

    def restart(self) -> None:
        """Start the fork server again (for a new memory layout)."""
        self.layout_since = time.monotonic()
        batch.restart(self.session)


class LocalExecutor:
    """Today's executor: one worker thread per fork server of this machine."""

    def __init__(
        self,
        sessions: list[HarnessSession],
        timeout_s: float,
        reuse: int,
        own_child: Callable[[Scenario], bool] | None = None,
    ) -> None:
        self.sessions = sessions
        self.timeout_s = timeout_s
        self.reuse = reuse
        self.own_child = own_child
        self.workers: list[Worker] = []

    def start(self, feed: Feed) -> None:
        self.workers = [
            Worker(
                n,
                session,
                feed.draw,
                feed.results,
                feed.stop,
                self.timeout_s,
                self.reuse,
                self.own_child,
            )
            for n, session in enumerate(self.sessions)
        ]
        for worker in self.workers:
            worker.start()

    def join(self) -> None:
        for worker in self.workers:
            worker.join()
        for worker in self.workers:
            if worker.failure is not None:
                raise worker.failure

    def close(self) -> None:
        """Nothing to release: the fork servers are the campaign's."""
