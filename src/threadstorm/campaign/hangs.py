"""Hang control: a hang is a finding only when it needs the other threads.

Some operations never return even in one thread: iterating an object whose ``__getitem__``
accepts every index, ``sum(itertools.repeat(0))``.  Such a run times out with every thread
standing still, like a deadlock, but nothing about it is concurrent.  Before a hang counts, the
thread that was stuck runs its plan alone in a fresh child: if it hangs (or crawls) alone too,
the run is marked ``hangs_alone`` and classified as not a finding.

A run ended by the CPU-time limit (SIGXCPU) is judged the same way: the limit is a second
deadline, counted in CPU seconds, so an endless operation that spins meets it too.

A hang that needs the other threads must then happen again: the whole scenario is rerun (at
most ``REPEATS`` times, with the run's own deadline) and one of the reruns must hang too, or the
run is marked ``hang_not_repeated`` and is not a finding.  A machine starved of CPU can stall
every thread of a trivial scenario past its deadline once (seen as a "hang" of four threads
calling ``object.__eq__`` on a fully loaded two-core machine); a deadlock or livelock that the
scenario can reach comes back.  A real hang costs one more deadline; a false one a quick rerun.

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
REPEATS = 2  # reruns of a hung scenario, at most, for the hang to happen again


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


def confirm_hang(
    session: Runner, scenario: Scenario, evidence: Evidence, timeout: float
) -> Evidence:
    """``evidence``, marked ``hangs_alone`` when the stuck thread's plan also hangs alone, or
    ``hang_not_repeated`` when no rerun of the scenario (``timeout`` each) hangs again."""
    if not looks_hung(evidence):
        return evidence
    control = control_scenario(scenario, evidence)
    if control is not None and looks_hung(session.run(control, timeout=CONTROL_TIMEOUT_S)):
        return dataclasses.replace(evidence, extra={**evidence.extra, "hangs_alone": True})
    for _ in range(REPEATS):
        if looks_hung(session.run(scenario, timeout=timeout)):
            return evidence
    return dataclasses.replace(evidence, extra={**evidence.extra, "hang_not_repeated": True})


def run_confirmed(session: Runner, scenario: Scenario, timeout: float) -> Evidence:
    """Run ``scenario`` once in a fresh child; a hang comes back confirmed (``confirm_hang``)."""
    return confirm_hang(session, scenario, session.run(scenario, timeout=timeout), timeout)
