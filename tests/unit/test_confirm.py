"""Confirmation of a race on the plain debug build: which build, and at what pace."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.campaign.confirm import PLAIN_PACE, at_plain_pace, plain_twin
from threadstorm.scenario.model import Lit, Operation, Scenario, SharedObject, ThreadPlan
from threadstorm.target.interpreter import Interpreter

SCENARIO = Scenario(
    shared=(SharedObject("x", Lit(0)),),
    threads=(ThreadPlan((Operation("function", "x", "builtins.repr"),)),) * 2,
    iterations=8,
    rounds=2,
)


def test_a_race_seen_at_the_detectors_pace_is_replayed_at_the_usual_one() -> None:
    replay = at_plain_pace(SCENARIO)
    assert (replay.iterations, replay.rounds) == (PLAIN_PACE.iterations, PLAIN_PACE.rounds)
    assert replay.threads == SCENARIO.threads
    busy = Scenario(SCENARIO.shared, SCENARIO.threads, iterations=500, rounds=20)
    assert (at_plain_pace(busy).iterations, at_plain_pace(busy).rounds) == (500, 20)


def test_the_plain_twin_is_the_cached_debug_build_of_the_same_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THREADSTORM_CACHE", str(tmp_path))
    tsan_binary = tmp_path / "pythons/cpython-3.14.7-tsan/install/bin/python3.14td"
    tsan = Interpreter(tsan_binary, "3.14.7", True, True, tsan=True)
    assert plain_twin(tsan) is None  # not built
    plain = tmp_path / "pythons/cpython-3.14.7-debug/install/bin/python3.14td"
    plain.parent.mkdir(parents=True)
    plain.write_text("")
    assert plain_twin(tsan) == plain
    assert plain_twin(Interpreter(plain, "3.14.7", True, True)) is None  # only for TSan targets
