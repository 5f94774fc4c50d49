"""A fresh shared object that cannot be rebuilt for a later round is a harness error.

Round 1's objects are built before any thread starts; a failure there is ``setup_failed``.  The
same must hold when the rebuild between rounds fails, or the run reads as passed (or raised)
though its later rounds never ran.  ``run_scenario`` runs here in-process: no target needed.
"""

from __future__ import annotations

from typing import Any

from threadstorm.harness.execute import run_scenario
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Operation,
    Ref,
    Scenario,
    Shared,
    SharedObject,
    ThreadPlan,
)
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

# ``first`` is next(source): 1 in round 1, StopIteration when rebuilt for round 2.
SOURCE = SharedObject("source", Call(Ref("builtins.iter"), (Collection("list", (Lit(1),)),)))
FIRST = SharedObject("first", Call(Ref("builtins.next"), (Shared("source"),)), fresh=True)
PLAN = ThreadPlan((Operation("function", "first", "builtins.repr"),))


def run(rounds: int) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    scenario = Scenario(shared=(SOURCE, FIRST), threads=(PLAN, PLAN), iterations=3, rounds=rounds)
    done = run_scenario(scenario, lambda thread, op: None, messages.append)
    return done


def test_one_round_builds_and_passes() -> None:
    assert run(1)["event"] == "done"


def test_a_failed_rebuild_in_round_two_is_a_harness_error() -> None:
    reply = run(2)
    assert reply["event"] == "setup_failed"
    assert "StopIteration" in reply["error"]
    evidence = Evidence(0, 0, False, 0.1, b"", messages=(reply,))
    assert classify(evidence).status == Status.HARNESS_ERROR
