"""The reduction loop with a scripted target: fixed point, k of n, budget, named outcomes."""

from __future__ import annotations

import argparse
import dataclasses
import random
from collections.abc import Callable
from typing import Any

import pytest

from threadstorm.minimise import minimiser
from threadstorm.minimise.minimiser import (
    BUDGET_EXHAUSTED,
    MINIMISED,
    NOT_REPRODUCED,
    Progress,
    adaptive_confirm,
    minimise,
)
from threadstorm.rate import Rate
from threadstorm.scenario.model import (
    Call,
    Lit,
    Make,
    Operation,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.scenario.simplicity import sort_key

KEY = "01b380df748f"
NEXT = Operation("function", "it", "builtins.next")


def bloated() -> Scenario:
    """The enumerate-iterator race among readers of unrelated objects."""
    enumerate_ = Call(Ref("builtins.enumerate"), (Call(Ref("builtins.range"), (Lit(1000),)),))
    repr_union = Operation("function", "union", "builtins.repr")
    return Scenario(
        shared=(
            SharedObject("it", enumerate_, fresh=True),
            SharedObject("union", Make("big_union", (("size", 40),))),
            SharedObject("spare", Make("big_int", (("digits", 500),))),
        ),
        threads=(
            ThreadPlan((NEXT, repr_union)),
            ThreadPlan((repr_union, Operation("function", "spare", "builtins.str"))),
            ThreadPlan((NEXT,)),
            ThreadPlan((repr_union, NEXT)),
        ),
        iterations=300,
        rounds=64,
    ).validate()


class FakeTarget:
    """Stands in for ``measure_scenario``: crashes with probability ``chance(scenario)``."""

    def __init__(self, chance: Callable[[Scenario], float], seconds: float = 0.5) -> None:
        self.chance = chance
        self.seconds = seconds
        self.random = random.Random(7)
        self.now = 0.0
        self.runs = 0

    def clock(self) -> float:
        return self.now

    def measure(self, session: Any, scenario: Scenario, key: str, **options: Any) -> Rate:
        assert options["runs"] == 1 and key == KEY
        self.now += self.seconds
        self.runs += 1
        if self.random.random() < self.chance(scenario):
            return Rate(1, 1, (self.seconds,))
        return Rate(0, 1, (), {"passed": 1})


def iterator_race(scenario: Scenario) -> float:
    """Crashes when two threads call next() on the enumerate iterator often enough."""
    racers = sum(NEXT in plan.operations for plan in scenario.threads)
    return 1.0 if racers >= 2 and scenario.iterations * scenario.rounds >= 100 else 0.0


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Callable[..., FakeTarget]:
    def install(chance: Callable[[Scenario], float], seconds: float = 0.5) -> FakeTarget:
        target = FakeTarget(chance, seconds)
        monkeypatch.setattr(minimiser, "measure_scenario", target.measure)
        return target

    return install


def test_adaptive_confirm() -> None:
    assert adaptive_confirm(1.0) == (2, 2)
    assert adaptive_confirm(0.9) == (2, 3)
    assert adaptive_confirm(0.5) == (2, 7)
    assert adaptive_confirm(0.3) == (2, 12)
    assert adaptive_confirm(0.1) == (1, 20)  # too rare to hold to a rate: any crash will do
    assert adaptive_confirm(0.0) == (1, 20)


def test_a_deterministic_crash_reaches_the_smallest_scenario(fake: Any) -> None:
    target = fake(iterator_race)
    seen: list[Progress] = []
    result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock,  # type: ignore[arg-type]
                      progress=seen.append)  # fmt: skip
    assert result.status == MINIMISED
    after = result.after
    assert after.thread_count == 2 and len(after.operations()) == 2
    assert [obj.name for obj in after.shared] == ["it"]
    assert after.iterations * after.rounds < 200  # halved to just above the need
    assert result.before_rate == Rate(10, 10) and result.after_rate == Rate(10, 10)
    assert result.confirm == (2, 3)  # 10 of 10 is estimated as 11 of 12
    assert result.runs == target.runs and result.wall_s == target.now
    assert result.after_key == sort_key(after) < result.before_key
    assert [p.phase for p in seen[:10]] == ["validate"] * 10 and seen[-1].phase == "measure"
    assert [step.key for step in result.steps] == sorted(
        [step.key for step in result.steps], reverse=True
    )


def test_a_crash_that_never_shows_is_not_reproduced(fake: Any) -> None:
    target = fake(lambda scenario: 0.0)
    result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock)  # type: ignore[arg-type]
    assert result.status == NOT_REPRODUCED
    assert result.after == result.before
    assert result.runs == 30  # a rare crash gets three times the validation runs
    assert result.before_rate == Rate(0, 30) and result.confirm is None
    assert result.others == {"passed": 30}


def test_a_flaky_crash_asks_for_more_runs(fake: Any) -> None:
    target = fake(lambda scenario: 0.5 * iterator_race(scenario))
    result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock,  # type: ignore[arg-type]
                      validate_runs=20)  # fmt: skip
    assert result.status == MINIMISED
    assert result.confirm is not None and result.confirm[1] >= 3
    assert result.after.thread_count == 2


def test_the_budget_is_kept_to_within_one_run(fake: Any) -> None:
    target = fake(iterator_race, seconds=3.0)
    result = minimise(None, bloated(), KEY, budget_s=120, timeout_s=3.0, clock=target.clock)  # type: ignore[arg-type]
    assert result.status == BUDGET_EXHAUSTED
    assert result.wall_s <= 120 + 3.0
    assert sort_key(result.after) < sort_key(result.before)  # partial progress is returned
    assert result.after_rate.runs > 0  # time was kept back to measure it


def test_a_fixed_confirm_is_used_as_given(fake: Any) -> None:
    target = fake(iterator_race)
    result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock, confirm=(2, 3))  # type: ignore[arg-type]
    assert result.confirm == (2, 3)
    assert all(step.runs >= 2 for step in result.steps)
    with pytest.raises(ValueError, match="1 <= k <= n"):
        minimise(None, bloated(), KEY, confirm=(3, 2))  # type: ignore[arg-type]


def test_a_rate_already_measured_stands_for_validation(fake: Any) -> None:
    target = fake(iterator_race)
    result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock,  # type: ignore[arg-type]
                      known_rate=Rate(5, 5))  # fmt: skip
    assert result.before_rate == Rate(5, 5) and result.status == MINIMISED
    assert result.after_rate.runs == 10
    assert minimise(None, bloated(), KEY, known_rate=Rate(0, 10)).status == NOT_REPRODUCED  # type: ignore[arg-type]


def test_validation_goes_on_until_a_rare_crash_is_seen_twice(fake: Any) -> None:
    target = fake(lambda scenario: 0.1 * iterator_race(scenario))
    result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock)  # type: ignore[arg-type]
    assert 10 <= result.before_rate.runs <= 30
    assert result.before_rate.crashes >= 2 or result.before_rate.runs == 30


def test_repetition_is_given_back_when_the_result_crashes_too_rarely(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def needs_repetition(scenario: Scenario) -> float:
        return iterator_race(scenario) * min(1.0, scenario.rounds * scenario.iterations / 4000)

    restored = 0
    for seed in range(5):
        target = FakeTarget(needs_repetition)
        target.random.seed(seed)
        monkeypatch.setattr(minimiser, "measure_scenario", target.measure)
        result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock)  # type: ignore[arg-type]
        assert result.after.thread_count == 2
        assert result.after_rate.fraction >= result.before_rate.fraction / 2
        restored += result.steps[-1].pass_name == "restore_repetition"
    assert restored  # some seeds halve too far and need it


def test_a_lost_rate_repetition_cannot_restore_steps_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Three racers crash every run, two only 3 times in 10; a lucky 2 of 3 keeps the drop of
    the third, and no repetition brings its rate back: the minimiser steps back to a kept
    scenario that still has three.  (Two racers measured at 5 of 10 or more by chance hold
    half the rate and stay.)"""

    def needs_three(scenario: Scenario) -> float:
        racers = sum(NEXT in plan.operations for plan in scenario.threads)
        enough = scenario.iterations * scenario.rounds >= 100
        return (1.0 if racers >= 3 else 0.3 if racers == 2 else 0.0) if enough else 0.0

    stepped = three = 0
    for seed in range(12):
        target = FakeTarget(needs_three)
        target.random.seed(seed)
        monkeypatch.setattr(minimiser, "measure_scenario", target.measure)
        result = minimise(None, bloated(), KEY, budget_s=1e6, clock=target.clock)  # type: ignore[arg-type]
        three += sum(NEXT in plan.operations for plan in result.after.threads) == 3
        assert result.after_rate.fraction >= result.before_rate.fraction / 2
        stepped += result.steps[-1].pass_name == "step_back"
    assert stepped >= 3  # several seeds keep the drop on a lucky run and need it
    assert three >= 6


def test_the_command_renders_a_summary_as_plain_text() -> None:
    from threadstorm.cli.cmd_minimise import Summary, confirm_option, render_summary

    summary = Summary(
        bucket="d0ce48f563ce",
        title="corruption: types: builtins.bytearray | ops: builtins.bytearray.extend()",
        status=MINIMISED,
        sizes=(("threads", 5, 2), ("repetitions", 8000, 312)),
        before_rate="3/10 (30 %)",
        after_rate="2/10 (20 %)",
        runs=184,
        wall_s=7.4,
        confirm="2 of 11",
        steps=("drop_thread -> 2 threads",),
        others="",
        script='"""doc"""\nprint(1)\n',
        script_lines=1,
    )
    assert render_summary(summary) == "\n".join(
        [
            "bucket d0ce48f563ce: corruption: types: builtins.bytearray | ops: "
            "builtins.bytearray.extend()",
            "result: minimised (no simpler scenario crashes the same way)",
            "  threads            5 -> 2",
            "  repetitions     8000 -> 312",
            "rate: 3/10 (30 %) -> 2/10 (20 %)",
            "cost: 184 runs in 7.4 s (a change was kept when 2 of 11 runs crashed the same way)",
            "  kept drop_thread -> 2 threads",
            "script (1 lines of code):",
            "",
            '"""doc"""',
            "print(1)",
        ]
    )
    flaky = dataclasses.replace(summary, status=NOT_REPRODUCED, others="raised x6")
    assert render_summary(flaky).splitlines()[1:] == [
        "result: not reproduced: the bucket's crash did not show",
        "rate: 3/10 (30 %) (runs ended: raised x6); it may be rare: try more --runs",
    ]
    assert confirm_option("2/5") == (2, 5) and confirm_option("adaptive") == "adaptive"
    for bad in ("5/2", "0/3", "x"):
        with pytest.raises(argparse.ArgumentTypeError):
            confirm_option(bad)
