"""Scenario model and JSON codec: round-trips, validation messages."""

from __future__ import annotations

import dataclasses
import json

import pytest

from threadstorm.scenario.codec import dumps, loads, scenario_from_json, scenario_to_json
from threadstorm.scenario.model import (
    SCHEMA_VERSION,
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Ref,
    Scenario,
    ScenarioError,
    Shared,
    SharedObject,
    Start,
    ThreadPlan,
)
from threadstorm.scenario.simplicity import sort_key


def sample() -> Scenario:
    return Scenario(
        family="readers_vs_mutators",
        imports=("typing",),
        shared=(
            SharedObject("base", Collection("list", (Lit(1), BytesLit(b"\x00\xff"))), fresh=False),
            SharedObject(
                "obj",
                Call(
                    Ref("builtins.list"),
                    (Collection("tuple", (Make("big_union", (("size", 4),)), Shared("base"))),),
                ),
                fresh=True,
            ),
        ),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan(
                (
                    Operation("method", "obj", "append", (Lit(2**80),)),
                    Operation("method", "obj", "pop"),
                )
            ),
        ),
        iterations=7,
        rounds=3,
    ).validate()


def test_round_trip_is_exact() -> None:
    scenario = sample()
    assert loads(dumps(scenario)) == scenario
    assert scenario_from_json(json.loads(json.dumps(scenario_to_json(scenario)))) == scenario


def test_document_carries_schema_version() -> None:
    assert json.loads(dumps(sample()))["threadstorm_scenario"] == SCHEMA_VERSION == 2


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(threadstorm_scenario=99), "schema version 99"),
        (lambda d: d.update(threads=[]), "at least one thread"),
        (lambda d: d.update(iterations=0), "at least 1"),
        (lambda d: d.update(iterations="many"), "'iterations' must be an integer"),
        (lambda d: d["threads"][0][0].update(target="nope"), "unknown shared object 'nope'"),
        (lambda d: d["threads"][0][0].update(kind="teleport"), "unknown operation kind"),
        (lambda d: d["shared"][1].update(recipe={"make": "nonsense"}), "unknown maker"),
        (lambda d: d["shared"][1].update(recipe={"wat": 1}), "unknown value recipe"),
        (lambda d: d["shared"].append(d["shared"][0]), "defined twice"),
        (lambda d: d.pop("threadstorm_scenario"), "not a threadstorm scenario"),
    ],
)
def test_bad_documents_name_the_problem(mutate, message) -> None:  # type: ignore[no-untyped-def]
    doc = scenario_to_json(sample())
    mutate(doc)
    with pytest.raises(ScenarioError, match=message):
        scenario_from_json(doc)


def test_invalid_json_text() -> None:
    with pytest.raises(ScenarioError, match="not valid JSON"):
        loads("{nope")


def test_sort_key_prefers_fewer_threads_then_fewer_operations() -> None:
    full = sample()
    one_thread = Scenario(shared=full.shared, threads=full.threads[:1], iterations=7, rounds=3)
    assert sort_key(one_thread) < sort_key(full)
    fewer_ops = Scenario(
        shared=full.shared,
        threads=(full.threads[0], ThreadPlan(full.threads[1].operations[:1])),
        iterations=7,
        rounds=3,
    )
    assert sort_key(fewer_ops) < sort_key(full)


def test_operation_labels() -> None:
    assert Operation("function", "obj", "builtins.repr").label() == "repr(obj)"
    assert Operation("method", "obj", "pop").label() == "obj.pop()"
    assert Operation("getattr", "obj", "__parameters__").label() == "obj.__parameters__"


# --------------------------------------------------------------------------- timing


def timed() -> Scenario:
    """Two readers from the barrier on; a churning mutator that starts 200 us after thread 0."""
    read = Operation("function", "obj", "builtins.repr")
    refill = Operation("method", "obj", "append", (Make("big_union", (("size", 8),)),), fresh=True)
    return Scenario(
        shared=(SharedObject("obj", Collection("list", ()), fresh=True),),
        threads=(
            ThreadPlan((read,)),
            ThreadPlan((read,), spawn=True),
            ThreadPlan((refill, Operation("method", "obj", "clear")), start=Start(0, 200)),
        ),
    ).validate()


def test_timing_round_trips_and_plain_threads_stay_lists() -> None:
    doc = scenario_to_json(timed())
    assert isinstance(doc["threads"][0], list)
    assert doc["threads"][1] == {"ops": doc["threads"][0], "spawn": True}
    assert doc["threads"][2]["after"] == 0 and doc["threads"][2]["delay_us"] == 200
    assert doc["threads"][2]["ops"][0]["fresh"] is True
    assert loads(dumps(timed())) == timed()


def test_version_1_documents_still_read() -> None:
    doc = scenario_to_json(sample())
    doc["threadstorm_scenario"] = 1
    assert scenario_from_json(doc) == sample()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"after": 2}, "after itself"),
        ({"after": 7}, "absent"),
        ({"delay_us": -1}, "start delay"),
        ({"after": "0"}, "thread number"),
        ({"spawn": "yes"}, "true or false"),
    ],
)
def test_bad_timing_is_refused_with_a_reason(change: dict[str, object], message: str) -> None:
    doc = scenario_to_json(timed())
    doc["threads"][2].update(change)
    with pytest.raises(ScenarioError, match=message):
        scenario_from_json(doc)


def test_circular_waits_are_refused() -> None:
    doc = scenario_to_json(timed())
    doc["threads"][0] = {"ops": doc["threads"][0], "after": 2}
    with pytest.raises(ScenarioError, match="waits for itself"):
        scenario_from_json(doc)


def test_timing_counts_as_complexity() -> None:
    plain = dataclasses.replace(
        timed(), threads=tuple(ThreadPlan(plan.operations) for plan in timed().threads)
    )
    assert sort_key(plain) < sort_key(timed())
