"""Amplification of rarely reproducing crashes: which steps it offers and which it keeps.

The measurements here are arithmetic on the candidate (how many chances it gives), so that the
choice logic is checked exactly; follow-up runs it with real reruns of a real target."""

from __future__ import annotations

import time

from threadstorm.rate import Rate
from threadstorm.reproduce.amplify import (
    MAX_THREADS,
    amplify,
    more_rounds,
    more_threads,
    staggered_starts,
)
from threadstorm.scenario.model import (
    AT_BARRIER,
    Collection,
    Lit,
    Operation,
    Scenario,
    SharedObject,
    Start,
    ThreadPlan,
)

LATER = time.monotonic() + 3600


def scenario(threads: int = 2, rounds: int = 2, iterations: int = 10) -> Scenario:
    plans = [ThreadPlan((Operation("method", "obj", "pop"),)) for _ in range(threads)]
    plans[-1] = ThreadPlan((Operation("method", "obj", "clear"),), start=Start(0, 100))
    return Scenario(
        shared=(SharedObject("obj", Collection("list", (Lit(1),)), fresh=True),),
        threads=tuple(plans),
        rounds=rounds,
        iterations=iterations,
    ).validate()


def test_steps_are_kept_only_when_the_rate_rises() -> None:
    # crashes grow with rounds only: more rounds is kept, more iterations is not
    def measure(candidate: Scenario, needed: int) -> Rate:
        return Rate(min(10, candidate.rounds // 2), 10)

    found = amplify(scenario(rounds=2), Rate(1, 10), measure, LATER)
    assert found.steps == ("more rounds",)
    assert found.scenario.rounds == 8 and found.scenario.iterations == 10
    assert found.rate == Rate(4, 10)
    # every step that changes the scenario was measured, since 4 of 10 stays below the target;
    # staggering changes nothing here (thread 0 goes first, thread 1 has a start of its own)
    assert found.tried == 3


def test_it_stops_once_the_target_is_reached() -> None:
    calls: list[tuple[Scenario, int]] = []

    def measure(candidate: Scenario, needed: int) -> Rate:
        calls.append((candidate, needed))
        return Rate(7, 10)

    found = amplify(scenario(), Rate(0, 10), measure, LATER)
    assert found.steps == ("more rounds",) and found.rate.crashes == 7
    assert [needed for _, needed in calls] == [1]  # one crash more than the start


def test_nothing_is_measured_past_the_deadline() -> None:
    found = amplify(scenario(), Rate(0, 10), lambda s, n: Rate(10, 10), time.monotonic() - 1)
    assert found.tried == 0 and found.steps == () and found.scenario == scenario()


def test_more_threads_copies_every_plan_and_renumbers_the_waits() -> None:
    base = scenario(threads=3)
    doubled = more_threads(base)
    assert doubled.thread_count == 6
    assert doubled.threads[:3] == base.threads
    assert doubled.threads[5].start == Start(3, 100)  # the copy waits for the copy of thread 0
    assert more_threads(scenario(threads=MAX_THREADS // 2 + 1)).thread_count == MAX_THREADS // 2 + 1


def test_staggered_starts_leave_own_starts_alone() -> None:
    staggered = staggered_starts(scenario(threads=3))
    assert staggered.threads[0].start == AT_BARRIER
    assert staggered.threads[1].start == Start(None, 50)
    assert staggered.threads[2].start == Start(0, 100)  # it had a start of its own


def test_repetition_is_capped() -> None:
    assert more_rounds(scenario(rounds=300)).rounds == 400
