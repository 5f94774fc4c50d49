"""Reduction passes: every candidate is valid and strictly simpler, and each pass does its job."""

from __future__ import annotations

import dataclasses

import pytest

from threadstorm.minimise.passes import (
    PASSES,
    chunk_deletions,
    drop_operation,
    drop_shared_object,
    drop_thread,
    halve_iterations,
    halve_rounds,
    merge_identical_threads,
    merge_threads,
    pass_named,
    referenced_names,
    shrink_value,
    simplify_argument,
)
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Ref,
    Scenario,
    Shared,
    SharedObject,
    Start,
    ThreadPlan,
)
from threadstorm.scenario.simplicity import sort_key

NEXT = Operation("function", "it", "builtins.next")
ENUMERATE = Call(Ref("builtins.enumerate"), (Call(Ref("builtins.range"), (Lit(1000),)),))


def bloated() -> Scenario:
    """The enumerate-iterator race, buried in extra threads, operations, objects and values."""
    shared = (
        SharedObject("it", ENUMERATE, fresh=True),
        SharedObject("union", Make("big_union", (("size", 40),))),
        SharedObject("items", Collection("list", tuple(Lit(i) for i in range(6)))),
        SharedObject("table", Collection("dict", (Lit("a"), Lit(1), Lit("b"), Lit(2)))),
        SharedObject("spare", Make("big_int", (("digits", 500),))),
    )
    readers = ThreadPlan(
        (
            Operation("function", "union", "builtins.repr"),
            Operation("function", "items", "builtins.len"),
            Operation(
                "method",
                "items",
                "append",
                (Make("nested_list", (("depth", 3), ("width", 4))),),
                fresh=True,
            ),
            Operation("method", "items", "count", (Shared("table"),)),
        ),
        start=Start(0, 500),
    )
    iterator = ThreadPlan((NEXT, Operation("function", "union", "builtins.repr")))
    return Scenario(
        shared=shared,
        threads=(iterator, readers, iterator, ThreadPlan((NEXT,)), readers, iterator),
        iterations=300,
        rounds=64,
    ).validate()


def small() -> Scenario:
    return Scenario(
        shared=(SharedObject("it", ENUMERATE, fresh=True),),
        threads=(ThreadPlan((NEXT,)), ThreadPlan((NEXT,))),
        iterations=1,
        rounds=1,
    ).validate()


@pytest.mark.parametrize("reduction", PASSES, ids=lambda p: p.name)
@pytest.mark.parametrize("make", [bloated, small], ids=["bloated", "small"])
def test_raw_candidates_are_valid_and_strictly_simpler(reduction, make) -> None:  # type: ignore[no-untyped-def]
    scenario = make()
    for candidate in reduction.generate(scenario):
        candidate.validate()
        assert sort_key(candidate) < sort_key(scenario), reduction.name


@pytest.mark.parametrize("reduction", PASSES, ids=lambda p: p.name)
def test_every_pass_has_something_to_offer_a_bloated_scenario(reduction) -> None:  # type: ignore[no-untyped-def]
    assert list(reduction.candidates(bloated()))


def test_candidates_are_offered_once() -> None:
    for reduction in PASSES:
        offered = list(reduction.candidates(bloated()))
        assert len(offered) == len(set(offered))


def test_chunk_deletions_go_from_large_to_single_items() -> None:
    assert list(chunk_deletions(4, keep=1)) == [
        (0, 3), (1, 4), (0, 2), (2, 4), (0, 1), (1, 2), (2, 3), (3, 4),
    ]  # fmt: skip
    assert list(chunk_deletions(1, keep=1)) == []
    assert list(chunk_deletions(0)) == []
    assert list(chunk_deletions(3)) == [(0, 3), (0, 2), (1, 3), (0, 1), (1, 2), (2, 3)]


def test_fewer_threads_keep_the_work_of_a_round() -> None:
    scenario = bloated()  # six threads, 300 iterations
    by_count = {c.thread_count: c.iterations for c in drop_thread(scenario)}
    assert by_count == {1: 1800, 2: 900, 3: 600, 5: 360}
    first, second = merge_identical_threads(scenario)
    assert (first.iterations, second.iterations) == (360, 600)


def test_drop_thread_never_leaves_no_thread() -> None:
    scenario = bloated()
    counts = [c.thread_count for c in drop_thread(scenario)]
    assert min(counts) == 1 and max(counts) == 5
    assert list(drop_thread(dataclasses.replace(scenario, threads=scenario.threads[:1]))) == []


def test_merge_identical_threads_keeps_two_then_one_copy() -> None:
    first, second = merge_identical_threads(bloated())
    assert first.thread_count == 5  # three iterator threads become two
    assert second.thread_count == 3  # one of each distinct plan
    assert [c.thread_count for c in merge_identical_threads(small())] == [1]


def test_drop_operation_keeps_one_operation_per_thread() -> None:
    for candidate in drop_operation(bloated()):
        assert all(plan.operations for plan in candidate.threads)
        assert len(candidate.operations()) < len(bloated().operations())
    assert list(drop_operation(small())) == []


def test_drop_shared_object_only_drops_unreferenced_objects() -> None:
    scenario = bloated()
    assert list(drop_shared_object(scenario)) == [
        dataclasses.replace(scenario, shared=scenario.shared[:4])
    ]  # only "spare" is unused: "table" is an argument
    bare = dataclasses.replace(scenario, threads=(ThreadPlan((NEXT,)),) * 2)
    everything, *single = drop_shared_object(bare)
    assert [obj.name for obj in everything.shared] == ["it"]
    assert len(single) == 4


def test_a_hostile_value_keeps_its_target_alive_but_not_itself() -> None:
    hostile = Make("hostile", (("dunder", "__eq__"), ("action", "clear"), ("target", "box")))
    scenario = Scenario(
        shared=(
            SharedObject("box", Collection("list", (hostile,))),
            SharedObject("other", Collection("list", (hostile,))),
        ),
        threads=(ThreadPlan((Operation("function", "other", "builtins.repr"),)),),
    ).validate()
    assert referenced_names(scenario) == {"other", "box"}
    assert list(drop_shared_object(scenario)) == []


def test_halving_repetition() -> None:
    scenario = bloated()
    assert [c.iterations for c in halve_iterations(scenario)] == [150]
    (rounds,) = halve_rounds(scenario)
    assert rounds.rounds == 32 and rounds.shared[0].fresh
    assert list(halve_iterations(small())) == list(halve_rounds(small())) == []


def test_freshness_is_cleared_when_one_round_is_left() -> None:
    (one,) = halve_rounds(dataclasses.replace(bloated(), rounds=3))
    assert one.rounds == 1
    assert not any(obj.fresh for obj in one.shared)


def test_shrink_value_shrinks_maker_sizes_and_collections() -> None:
    candidates = list(shrink_value(bloated()))
    unions = {c.shared[1].recipe for c in candidates} - {bloated().shared[1].recipe}
    assert unions == {Make("big_union", (("size", 2),)), Make("big_union", (("size", 20),))}
    item_counts = {len(c.shared[2].recipe.items) for c in candidates}  # type: ignore[union-attr]
    assert {0, 3, 5} <= item_counts
    table_sizes = {len(c.shared[3].recipe.items) for c in candidates}  # type: ignore[union-attr]
    assert table_sizes == {0, 2, 4}  # pairs go together
    digits = {c.shared[4].recipe for c in candidates}
    assert Make("big_int", (("digits", 1),)) in digits
    nested = {c.threads[1].operations[2].args[0] for c in candidates}
    assert Make("nested_list", (("depth", 0), ("width", 4))) in nested


def test_simplify_argument_replaces_arguments_and_frees_shared_objects() -> None:
    scenario = bloated()
    once = dataclasses.replace(scenario, threads=scenario.threads[:4])  # one `items.count(table)`
    candidates = list(simplify_argument(once))
    freed = [c for c in candidates if "table" not in {obj.name for obj in c.shared}]
    assert [c.threads[1].operations[3].args for c in freed] == [(Lit(0),)]
    shaped = [c.threads[1].operations[2].args[0] for c in candidates]
    assert shaped[:2] == [Collection("list"), Lit(0)]  # nested_list -> [], then 0


def test_a_shared_argument_still_needed_elsewhere_is_left_alone() -> None:
    scenario = bloated()  # `items.count(table)` runs in two threads
    for candidate in simplify_argument(scenario):
        counts = [op for op in candidate.operations() if op.name == "count"]
        assert [op.args for op in counts] == [(Shared("table"),)] * 2


def test_merge_threads_concatenates_different_plans() -> None:
    merged = list(merge_threads(bloated()))
    assert merged
    first = merged[0]
    assert first.thread_count == 5
    assert (
        first.threads[0].operations
        == bloated().threads[0].operations + bloated().threads[1].operations
    )
    assert list(merge_threads(small())) == []  # identical plans are left to the other passes


def test_pass_named() -> None:
    assert pass_named("drop_thread").name == "drop_thread"
    with pytest.raises(KeyError, match="known"):
        pass_named("nope")
