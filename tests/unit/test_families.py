"""Scenario families and the shapes under them (pure: subjects are plain test doubles)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from threadstorm.generate.families import (
    CONSUMING_READERS,
    FAMILIES,
    SHARED,
    Pace,
    call_together,
    longer,
    member_op,
    pass_around,
    readers_vs_mutators,
    reinit_with,
    shared_argument,
    spread,
    storm,
    touch,
)
from threadstorm.generate.pool import FunctionCall, ValuePool
from threadstorm.scenario.model import Call, Collection, Lit, Operation, Recipe, Ref

LIST = Collection("list", (Lit(1), Lit(2), Lit(3)))
A_LIST: Recipe = Call(Ref("builtins.list"), (LIST,))


@dataclass(frozen=True)
class M:
    name: str
    kind: str = "method"
    role: str = "reader"
    args: tuple[tuple[Recipe, ...], ...] = ((),)
    reachable: bool = True


@dataclass(frozen=True)
class S:
    type: str = "builtins.list"
    recipe: Recipe = A_LIST
    iterable: bool = True
    iterator: bool = False
    accepts_iterable: bool = True
    members: tuple[M, ...] = (
        M("append", role="mutator", args=((Lit(0),),)),
        M("pop", role="mutator"),
        M("index", args=((Lit(1),),)),
        M("__init__", kind="init", role="mutator", args=((LIST,),)),
    )


def op(name: str) -> Operation:
    return Operation("method", SHARED, name)


def test_member_op_reads_data_and_calls_methods_with_known_arguments() -> None:
    assert member_op(M("real", kind="getset")) == Operation("getattr", SHARED, "real")
    assert member_op(M("index", args=((Lit(1),), (Lit(2),)))).args == (Lit(1),)
    assert member_op(M("index", args=((Lit(1),),)), (Lit(9),)).args == (Lit(9),)
    assert member_op(M("clear", args=())).args == ()


def test_spread_deals_operations_a_few_to_a_thread() -> None:
    ops = [op(str(n)) for n in range(7)]
    assert [len(plan) for plan in spread(ops, 3)] == [3, 3, 1]
    assert spread([], 3) == []


def test_storm_puts_every_operation_in_one_thread_and_mutators_apart() -> None:
    reads, writes = [op("a"), op("b"), op("c"), op("d")], [op("pop")]
    scenario = storm(S(), reads, writes, Pace(8, 2), per_thread=3).validate()
    assert scenario.family == "readers_vs_mutators"
    assert [len(p.operations) for p in scenario.threads] == [3, 1, 1]
    assert scenario.threads[-1].operations == (op("pop"),)
    assert scenario.shared[0].fresh and scenario.shared[0].recipe == S().recipe
    assert (scenario.iterations, scenario.rounds) == (8, 2)


def test_storm_never_leaves_a_thread_alone_on_the_object() -> None:
    lone_writer = storm(S(), [], [op("pop")], Pace(4, 2))
    assert lone_writer.thread_count == 2
    assert lone_writer.threads[0].operations[0].name == "builtins.repr"
    split = storm(S(), [op("a"), op("b")], [], Pace(1, 4), per_thread=3)
    assert [p.operations for p in split.threads] == [(op("a"),), (op("b"),)]
    assert split.family == "lazy_first_touch"
    doubled = storm(S(), [op("a")], [], Pace(1, 4))
    assert [p.operations for p in doubled.threads] == [(op("a"),), (op("a"),)]


def test_touch_and_reinit_shapes() -> None:
    touched = touch(S(), [op("a")], 1, Pace(1, 8))
    assert touched.thread_count == 2 and touched.family == "lazy_first_touch"
    again = reinit_with(S(), (LIST,), [], Pace(4, 2)).validate()
    assert again.family == "reinit"
    assert again.threads[0].operations == (Operation("method", SHARED, "__init__", (LIST,)),)
    assert again.thread_count == 2


def test_pass_around_shares_the_first_argument_between_callers_and_a_mutator() -> None:
    calls = [FunctionCall("builtins.sorted", (LIST,)), FunctionCall("builtins.max", (LIST,))]
    writes = [Operation("method", SHARED, "append", (Lit(0),))]
    scenario = pass_around(LIST, calls, writes, Pace(4, 2), per_thread=1).validate()
    assert scenario.family == "shared_argument"
    assert scenario.shared[0].recipe == LIST
    assert [p.operations[0].name for p in scenario.threads] == [
        "builtins.sorted",
        "builtins.max",
        "append",
    ]
    assert scenario.threads[0].operations[0] == Operation("function", SHARED, "builtins.sorted")
    extra = pass_around(Lit(3), [FunctionCall("builtins.divmod", (Lit(3), Lit(2)))], [], Pace(4, 2))
    assert extra.thread_count == 2
    assert extra.threads[0].operations[0].args == (Lit(2),)


def test_call_together_calls_a_function_shared_as_itself() -> None:
    scenario = call_together("typing.clear_overloads", 3, Pace(4, 2)).validate()
    assert scenario.shared[0].recipe == Ref("typing.clear_overloads")
    assert {p.operations for p in scenario.threads} == {(op("__call__"),)}
    assert scenario.thread_count == 3 and "typing" in scenario.imports


def test_shared_argument_family_uses_the_pool_catalogue() -> None:
    rng = random.Random(1)
    pool = ValuePool(rng)
    assert shared_argument(rng, S(), pool) is None  # nothing catalogued
    pool.add_call("builtins.list", FunctionCall("builtins.sorted", (LIST,)))
    pool.add_call("builtins.list", FunctionCall("builtins.sum", (LIST,)))
    pool.add_call("builtins.list", FunctionCall("builtins.sum", (LIST,)))  # once only
    assert [len(calls) for _, calls in pool.calls_taking("builtins.list")] == [2]
    for _ in range(20):
        scenario = shared_argument(rng, S(), pool)
        assert scenario is not None and scenario.validate().family == "shared_argument"
        names = {o.name for o in scenario.operations()}
        assert names & {"builtins.sorted", "builtins.sum"}
        assert names & {"append", "pop"}  # the list's mutators change it meanwhile


def test_longer_keeps_the_type() -> None:
    assert longer(LIST, 50) == Call(
        Ref("builtins.list"), (Call(Ref("builtins.range"), (Lit(50),)),)
    )
    assert longer(Lit(3), 50) == Lit(3)
    assert longer(LIST, 0) == LIST


def test_readers_never_run_an_iterator_to_its_end() -> None:
    endless = S(
        type="itertools.repeat",
        recipe=Call(Ref("itertools.repeat"), (Lit(1),)),
        iterator=True,
        accepts_iterable=False,
        members=(M("__next__", role="mutator"),),
    )
    rng = random.Random(3)
    pool = ValuePool(rng)
    for _ in range(200):
        scenario = readers_vs_mutators(rng, endless, pool)
        assert scenario is not None
        assert not {o.name for o in scenario.operations()} & CONSUMING_READERS


def test_every_family_builds_valid_scenarios_or_declines() -> None:
    rng = random.Random(7)
    pool = ValuePool(rng)
    pool.add_call("builtins.list", FunctionCall("builtins.sorted", (LIST,)))
    for name, family in FAMILIES.items():
        for _ in range(20):
            scenario = family(rng, S(), pool)
            if scenario is not None:
                assert scenario.validate().family == name
                assert scenario.thread_count >= 2
