"""Hang control: a hang is a finding only when it needs the other threads.

Some operations never return even in one thread: iterating an object whose ``__getitem__``
accepts every index, ``sum(itertools.repeat(0))``.  Such a run times out with every thread
standing still, like a deadlock, but nothing about it is concurrent.  Before a hang counts, the
thread that was stuck runs its plan alone in a fresh child: if it hangs (or crawls) alone too,
the run is marked ``hangs_alone`` and classified as not a finding.

A run ended by the CPU-time limit (SIGXCPU) is judged the same way: the limit is a second
deadline, counted in CPU seconds, so an endless operation that spins meets it too.

This is the one hang judge: campaign workers, reproduction rates (and so the minimiser),
variant search and ``threadstorm run`` all run scenarios through ``run_confirmed`` (or
``confirm_hang`` right after their own run), so no path files an endless single-thread
operation as a hang.
"""

from __future__ import annotations

import dataclasses
import signal
from typing import Protocol

from threadstorm.scenario.model import Scenario
from threadstorm.triage.evidence import Evidence

CONTROL_TIMEOUT_S = 3.0


class Runner(Protocol):
    """What hang control needs of a harness session: running one scenario."""

    def run(self, scenario: Scenario, timeout: float = ...) -> Evidence: ...


def looks_hung(evidence: Evidence) -> bool:
    """Whether a run ended like a hang: past its deadline standing still, or out of CPU time."""
    if evidence.timed_out:
        return not evidence.slow
    return evidence.signal == signal.SIGXCPU


def control_scenario(scenario: Scenario, evidence: Evidence) -> Scenario | None:
    """The first stuck thread's plan alone, or None when no thread was in an operation."""
    for thread, index in enumerate(evidence.in_flight):
        if index is not None and thread < scenario.thread_count:
            return dataclasses.replace(scenario, threads=(scenario.threads[thread],))
    return None


def confirm_hang(session: Runner, scenario: Scenario, evidence: Evidence) -> Evidence:
    """``evidence``, marked ``hangs_alone`` when the stuck thread's plan also hangs alone."""
    if not looks_hung(evidence):
        return evidence
    control = control_scenario(scenario, evidence)
    if control is None:
        return evidence
    alone = session.run(control, timeout=CONTROL_TIMEOUT_S)
    if not looks_hung(alone):
        return evidence
    return dataclasses.replace(evidence, extra={**evidence.extra, "hangs_alone": True})


def run_confirmed(session: Runner, scenario: Scenario, timeout: float) -> Evidence:
    """Run ``scenario`` once in a fresh child; a hang comes back confirmed (``confirm_hang``)."""
    return confirm_hang(session, scenario, session.run(scenario, timeout=timeout))
