"""Amplification: make a crash that reproduces rarely reproduce often, before it is minimised.

A campaign finds a crash once in thousands of runs; rerun on its own, the same scenario may crash
1 time in 10 or never, and a script that does not crash is no bug report.  Races are won by
chances and by contention, so the amplifier offers the measured scenario more of both, one step
at a time, and keeps a step only when the rate it measures is higher than the best so far:

- more rounds (fresh objects and a new barrier release each time), then more iterations;
- more threads: every thread's plan once more, its own start kept (a thread that waited for
  thread ``n`` waits for the copy of ``n``'s plan too);
- staggered starts: threads released at the barrier get a few microseconds between them, so
  that one is already inside an operation when the next arrives.

It stops as soon as the rate reaches ``target`` crashes of the runs measured, when the steps
run out, or at the deadline, and hands back the best scenario with its rate.  The minimiser then
shrinks what the crash does not need while it keeps the rate (``minimise.minimiser``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

from threadstorm.rate import Rate
from threadstorm.scenario.model import AT_BARRIER, MAX_DELAY_US, Scenario, ScenarioError, Start

TARGET_CRASHES = 5  # of the runs measured (10 in a default follow-up): "reproduces often"
REPETITION_FACTOR = 4
MAX_ROUNDS = 400
MAX_ITERATIONS = 2000
MAX_THREADS = 8
STAGGER_US = 50  # between two threads' starts


@dataclass(frozen=True)
class Amplified:
    """What amplification did: the scenario it kept, its rate, and the steps that helped."""

    scenario: Scenario
    rate: Rate
    steps: tuple[str, ...]  # names of the kept steps, in order
    tried: int  # candidates measured


def amplify(
    scenario: Scenario,
    rate: Rate,
    measure: Callable[[Scenario, int], Rate],
    deadline: float,
    target: int = TARGET_CRASHES,
) -> Amplified:
    """Raise ``scenario``'s measured ``rate`` with more chances (see the module docstring).

    ``measure(candidate, needed)`` reruns a candidate the way ``rate`` was measured; it may stop
    as soon as ``needed`` crashes are out of reach, since the candidate is then not kept.
    ``deadline`` is a ``time.monotonic`` time after which no new candidate is measured.
    """
    best, best_rate = scenario, rate
    kept: list[str] = []
    tried = 0
    for name, step in STEPS:
        if best_rate.crashes >= target or time.monotonic() >= deadline:
            break
        candidate = _valid(step(best))
        if candidate is None or candidate == best:
            continue
        tried += 1
        measured = measure(candidate, best_rate.crashes + 1)
        if measured.crashes > best_rate.crashes:
            best, best_rate = candidate, measured
            kept.append(name)
    return Amplified(best, best_rate, tuple(kept), tried)


def more_rounds(scenario: Scenario) -> Scenario:
    rounds = min(MAX_ROUNDS, scenario.rounds * REPETITION_FACTOR)
    return dataclasses.replace(scenario, rounds=rounds)


def more_iterations(scenario: Scenario) -> Scenario:
    iterations = min(MAX_ITERATIONS, scenario.iterations * REPETITION_FACTOR)
    return dataclasses.replace(scenario, iterations=iterations)


def more_threads(scenario: Scenario) -> Scenario:
    """Every plan twice: the copies follow the originals, starts renumbered to the copies."""
    count = scenario.thread_count
    if count * 2 > MAX_THREADS:
        return scenario
    copies = []
    for plan in scenario.threads:
        after = plan.start.after
        start = plan.start if after is None else Start(after + count, plan.start.delay_us)
        copies.append(dataclasses.replace(plan, start=start))
    return dataclasses.replace(scenario, threads=(*scenario.threads, *copies))


def staggered_starts(scenario: Scenario) -> Scenario:
    """Threads released together start ``STAGGER_US`` apart, in thread order."""
    threads = tuple(
        dataclasses.replace(plan, start=Start(None, min(MAX_DELAY_US, number * STAGGER_US)))
        if plan.start == AT_BARRIER and number
        else plan
        for number, plan in enumerate(scenario.threads)
    )
    return dataclasses.replace(scenario, threads=threads)


STEPS: tuple[tuple[str, Callable[[Scenario], Scenario]], ...] = (
    ("more rounds", more_rounds),
    ("more iterations", more_iterations),
    ("more threads", more_threads),
    ("staggered starts", staggered_starts),
)


def _valid(scenario: Scenario) -> Scenario | None:
    try:
        return scenario.validate()
    except ScenarioError:
        return None
