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
from dataclasses import dataclass

from threadstorm.campaign.hangs import confirm_hang
from threadstorm.errors import HarnessError, TargetError
from threadstorm.generate.families import SubjectLike
from threadstorm.scenario.model import Scenario
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence

Draw = Callable[[], tuple[Scenario, SubjectLike]]
LAYOUT_REFRESH_S = 20.0


@dataclass(frozen=True)
class RunResult:
    """One finished run: what ran, on which subject, and what it left behind."""

    scenario: Scenario
    subject: SubjectLike
    evidence: Evidence


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

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                if time.monotonic() - self.layout_since > LAYOUT_REFRESH_S:
                    self.restart()  # a new memory layout (see the module's docstring)
                scenario, subject = self.draw()
                self.results.put(RunResult(scenario, subject, self._run(scenario)))
        except BaseException as error:  # noqa: BLE001 - handed to the campaign, re-raised there
            self.failure = error
            self.stop.set()

    def _run(self, scenario: Scenario) -> Evidence:
        try:
            alone = self.own_child is not None and self.own_child(scenario)
            reuse = 1 if alone else self.reuse
            evidence = self.session.run(scenario, timeout=self.timeout_s, reuse=reuse)
            return confirm_hang(self.session, scenario, evidence, self.timeout_s)
        except HarnessError as error:
            detail = str(error)
            self.restart()
            return Evidence(0, 0, False, 0.0, b"", harness_error=detail)

    def restart(self) -> None:
        """Start the fork server again (after it died, or for a new memory layout)."""
        self.layout_since = time.monotonic()
        self.session.close()
        try:
            self.session.start()
        except TargetError as error:
            raise HarnessError(f"the fork server could not be restarted: {error}") from error
