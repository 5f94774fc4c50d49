"""Hang control: a hang is a finding only when it needs the other threads.

Some operations never return even in one thread: iterating an object whose ``__getitem__``
accepts every index, ``sum(itertools.repeat(0))``.  Such a run times out with every thread
standing still, like a deadlock, but nothing about it is concurrent.  Before a hang counts, the
thread that was stuck runs its plan alone in a fresh child: if it hangs (or crawls) alone too,
the run is marked ``hangs_alone`` and classified as not a finding.
"""

from __future__ import annotations

import dataclasses

from threadstorm.scenario.model import Scenario
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence

CONTROL_TIMEOUT_S = 3.0


def control_scenario(scenario: Scenario, evidence: Evidence) -> Scenario | None:
    """The first stuck thread's plan alone, or None when no thread was in an operation."""
    for thread, index in enumerate(evidence.in_flight):
        if index is not None and thread < scenario.thread_count:
            return dataclasses.replace(scenario, threads=(scenario.threads[thread],))
    return None


def confirm_hang(session: HarnessSession, scenario: Scenario, evidence: Evidence) -> Evidence:
    """``evidence``, marked ``hangs_alone`` when the stuck thread's plan also hangs alone."""
    if not evidence.timed_out or evidence.slow:
        return evidence
    control = control_scenario(scenario, evidence)
    if control is None:
        return evidence
    alone = session.run(control, timeout=CONTROL_TIMEOUT_S)
    if not alone.timed_out:
        return evidence
    return dataclasses.replace(evidence, extra={**evidence.extra, "hangs_alone": True})
