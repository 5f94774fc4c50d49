"""A run is ``raised`` only when an operation raised on every call; now-and-then stays ``passed``.

``run_scenario`` runs here in-process (no target needed): ``pop()`` on a shared list of three
items raises ``IndexError`` once the list is empty, yet it popped something every round, so
the run raced as written and passes.  ``list.index`` of a value the list never holds raises on
every call: that operation was refused, and the run is ``raised`` naming it.
"""

from __future__ import annotations

from typing import Any

from threadstorm.harness.execute import refused_operations, run_scenario
from threadstorm.scenario.model import (
    Collection,
    Lit,
    Operation,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

ITEMS = SharedObject("obj", Collection("list", (Lit(1), Lit(2), Lit(3))), fresh=True)
POP = Operation("method", "obj", "pop")
LEN = Operation("function", "obj", "builtins.len")
MISSING = Operation("method", "obj", "index", (Lit("never there"),))


def run(*plans: tuple[Operation, ...]) -> dict[str, Any]:
    scenario = Scenario(
        shared=(ITEMS,),
        threads=tuple(ThreadPlan(plan) for plan in plans),
        iterations=5,
        rounds=4,
    ).validate()
    return run_scenario(scenario, lambda thread, op: None, lambda message: None)


def outcome(done: dict[str, Any]) -> Status:
    evidence = Evidence(0, 0, False, 0.01, b"", ({"event": "setup"}, done))
    return classify(evidence).status


def test_pops_that_empty_the_list_now_and_then_pass() -> None:
    done = run((POP,), (LEN,))  # 5 pops a round from 3 items: 2 raise, 3 pop something
    assert any(entry["type"] == "IndexError" for entry in done["exceptions"]), done
    assert done["refused"] == []
    assert outcome(done) is Status.PASSED


def test_an_operation_that_raised_on_every_call_is_refused() -> None:
    done = run((LEN, MISSING), (POP,))
    assert done["refused"] == [[0, 1]]
    assert outcome(done) is Status.RAISED


def test_a_plan_that_never_bound_refuses_all_its_operations() -> None:
    scenario = Scenario(
        shared=(ITEMS,), threads=(ThreadPlan((POP, LEN)), ThreadPlan((POP,))), rounds=3
    ).validate()
    bind_failures = [{"thread": 0, "op": -1, "type": "NameError", "count": 3}]
    assert refused_operations(scenario, bind_failures) == [[0, 0], [0, 1]]
    assert refused_operations(scenario, [{**bind_failures[0], "count": 2}]) == []
