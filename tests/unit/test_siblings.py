"""Sibling ranking and the scenario transplant (pure: kinship facts are given, not measured)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
    ScenarioError,
    SharedObject,
    ThreadPlan,
)
from threadstorm.triage.evidence import Evidence
from threadstorm.variants.search import measure, plan
from threadstorm.variants.siblings import (
    Candidate,
    Kin,
    Sibling,
    candidates,
    find_subject,
    main_target,
    payload,
    rank,
    refill,
    relation,
    transplant,
    usage,
)


@dataclass(frozen=True)
class Member:
    name: str
    kind: str = "method"
    role: str = "reader"
    args: tuple[tuple[Recipe, ...], ...] = ((),)
    reachable: bool = True


@dataclass(frozen=True)
class Subject:
    type: str
    recipe: Recipe
    iterable: bool = True
    iterator: bool = False
    accepts_iterable: bool = False
    members: Sequence[Member] = field(default_factory=tuple)


def call(path: str, *args: Recipe) -> Call:
    return Call(Ref(path), args)


LIST3 = Collection("list", (Lit(1), Lit(2), Lit(3)))
RANGE = call("builtins.range", Lit(1000))
NEXT = Operation("function", "obj", "builtins.next")

ITERATOR_KIN = {
    "abcs": ("Iterator", "Iterable", "Hashable"),
    "slots": frozenset({"tp_iter", "tp_iternext"}),
}
ENUMERATE = Kin("builtins.enumerate", "builtins", **ITERATOR_KIN)  # type: ignore[arg-type]
SET_ITER = Kin("builtins.set_iterator", "builtins", **ITERATOR_KIN)  # type: ignore[arg-type]
PRODUCT = Kin("itertools.product", "itertools", **ITERATOR_KIN)  # type: ignore[arg-type]
SEQUENCE_SLOTS = frozenset({"tp_iter", "tp_repr", "sq_length/mp_length", "mp_subscript/sq_item"})
LIST = Kin(
    "builtins.list", "builtins", ("MutableSequence", "Sequence", "Iterable"),
    slots=SEQUENCE_SLOTS | {"tp_init"}, methods=frozenset({"append", "pop", "clear"}),
)  # fmt: skip
TUPLE = Kin("builtins.tuple", "builtins", ("Sequence", "Iterable"), slots=SEQUENCE_SLOTS)
DICT = Kin(
    "builtins.dict", "builtins", ("MutableMapping", "Mapping"),
    slots=frozenset({"tp_repr", "sq_length/mp_length", "tp_iter"}),
)  # fmt: skip
DEQUE = Kin(
    "collections.deque", "collections", ("MutableSequence", "Sequence"),
    slots=SEQUENCE_SLOTS, methods=frozenset({"append", "popleft", "clear", "rotate"}),
)  # fmt: skip


ENUMERATE_RECIPE = call("builtins.enumerate", RANGE)


def shared_iterator() -> Scenario:
    return Scenario(
        shared=(SharedObject("obj", ENUMERATE_RECIPE, fresh=True),),
        threads=tuple(ThreadPlan((NEXT,)) for _ in range(4)),
        iterations=20,
        rounds=100,
        family="shared_iterator",
    )


def list_readers_mutators() -> Scenario:
    return Scenario(
        shared=(SharedObject("obj", call("builtins.list", LIST3), fresh=True),),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan(
                (Operation("method", "obj", "pop"), Operation("method", "obj", "append", (Lit(1),)))
            ),
            ThreadPlan((Operation("function", "obj", "builtins.len"),)),
        ),
        family="readers_vs_mutators",
    )


def sibling(kin: Kin, subject: Subject, score: int = 5, recipe: Recipe | None = None) -> Sibling:
    candidate = Candidate(subject, (subject.recipe,))
    return Sibling(candidate, recipe or subject.recipe, kin, score, ("because",))


# ---------------------------------------------------------------------- use of the scenario


def test_usage_names_the_main_object_and_its_slots() -> None:
    use = usage(shared_iterator())
    assert (use.target, use.slots, use.advances_iterator) == ("obj", ("tp_iternext",), True)
    assert usage(list_readers_mutators()).slots == ("tp_repr", "sq_length/mp_length")


def test_main_target_is_the_most_used_shared_object() -> None:
    scenario = Scenario(
        shared=(SharedObject("other", LIST3), SharedObject("obj", LIST3)),
        threads=(ThreadPlan((NEXT, Operation("function", "other", "builtins.repr"), NEXT)),),
    )
    assert main_target(scenario) == "obj"
    with pytest.raises(ScenarioError):
        main_target(Scenario(shared=(), threads=(ThreadPlan((NEXT,)),)))


# ---------------------------------------------------------------------- candidates and refill


def test_payload_finds_the_items_an_object_was_built_from() -> None:
    assert payload(call("builtins.enumerate", RANGE)) == RANGE
    assert payload(call("builtins.iter", call("builtins.set", LIST3))) == LIST3
    assert payload(call("builtins.map", Ref("builtins.abs"), LIST3)) == LIST3
    assert payload(LIST3) == LIST3
    assert payload(call("typing.Union")) is None
    assert payload(Collection("dict", (Lit(1), Lit(2)))) is None


def test_refill_puts_the_original_items_into_a_sibling_recipe() -> None:
    set_iter = call("builtins.iter", call("builtins.set", LIST3))
    assert refill(set_iter, RANGE) == call("builtins.iter", call("builtins.set", RANGE))
    assert refill(call("builtins.map", Ref("builtins.abs"), LIST3), RANGE) == call(
        "builtins.map", Ref("builtins.abs"), RANGE
    )
    assert refill(call("builtins.object"), RANGE) is None
    assert refill(Ref("typing.Any"), RANGE) is None


def test_candidates_offer_the_refilled_recipe_first_and_the_own_one_last() -> None:
    set_iter = Subject("builtins.set_iterator", call("builtins.iter", call("builtins.set", LIST3)))
    union = Subject(
        "typing.Union", call("operator.getitem", Ref("typing.Union"), Ref("builtins.int"))
    )
    found = candidates(usage(shared_iterator()), [set_iter, union])
    assert found[0].recipes == (call("builtins.iter", call("builtins.set", RANGE)), set_iter.recipe)
    assert found[1].recipes == (union.recipe,)
    assert [c.label for c in found] == ["builtins.set_iterator", "typing.Union"]


# ---------------------------------------------------------------------- ranking


def test_relation_gives_points_and_reasons_for_kind_slot_and_module() -> None:
    use = usage(shared_iterator())
    assert relation(ENUMERATE, use, SET_ITER) == (
        8,
        ("also Iterator", "fills tp_iternext", "same module builtins"),
    )
    assert relation(ENUMERATE, use, PRODUCT) == (6, ("also Iterator", "fills tp_iternext"))
    assert relation(ENUMERATE, use, DICT)[0] == 2  # same module only: not a sibling


def test_rank_orders_by_score_drops_the_original_type_and_unrelated_ones() -> None:
    use = usage(shared_iterator())
    subjects = {
        kin.type_name: Subject(kin.type_name, call(kin.type_name, LIST3))
        for kin in (ENUMERATE, SET_ITER, PRODUCT, DICT)
    }
    described = [(Candidate(subjects[k.type_name], (subjects[k.type_name].recipe,)), 0, k)
                 for k in (PRODUCT, DICT, ENUMERATE, SET_ITER)]  # fmt: skip
    ranked = rank(ENUMERATE, use, described)
    assert [s.label for s in ranked] == ["builtins.set_iterator", "itertools.product"]
    assert ranked[0].why == "also Iterator; fills tp_iternext; same module builtins"
    assert [s.label for s in rank(ENUMERATE, use, described, limit=1)] == ["builtins.set_iterator"]


def test_rank_keeps_one_sibling_per_type_preferring_the_refilled_one() -> None:
    use = usage(shared_iterator())
    subject = Subject("builtins.set_iterator", call("builtins.iter", call("builtins.set", LIST3)))
    refilled = Candidate(
        subject, (call("builtins.iter", call("builtins.set", RANGE)), subject.recipe)
    )
    plain = Candidate(subject, (subject.recipe,))
    ranked = rank(ENUMERATE, use, [(plain, 0, SET_ITER), (refilled, 0, SET_ITER)])
    assert len(ranked) == 1
    assert ranked[0].refilled
    assert ranked[0].recipe == call("builtins.iter", call("builtins.set", RANGE))


def test_sequences_rank_above_mappings_for_a_list_scenario() -> None:
    use = usage(list_readers_mutators())
    deque, dict_, tuple_ = (Subject(k.type_name, call(k.type_name)) for k in (DEQUE, DICT, TUPLE))
    described = [(Candidate(s, (s.recipe,)), 0, k)
                 for s, k in ((dict_, DICT), (tuple_, TUPLE), (deque, DEQUE))]  # fmt: skip
    assert [s.label for s in rank(LIST, use, described)] == [
        "collections.deque", "builtins.tuple", "builtins.dict",
    ]  # fmt: skip


def test_find_subject_by_recipe_then_by_type() -> None:
    a = Subject("builtins.list", call("builtins.list", LIST3))
    b = Subject("builtins.enumerate", call("builtins.enumerate", LIST3))
    assert find_subject([a, b], b.recipe, None) is b
    assert find_subject([a, b], call("builtins.enumerate", RANGE), ENUMERATE) is b
    assert find_subject([a], RANGE, ENUMERATE) is None


# ---------------------------------------------------------------------- transplant


def test_transplant_keeps_the_shape_and_replaces_the_recipe() -> None:
    scenario = shared_iterator()
    new_recipe = call("builtins.iter", call("builtins.set", RANGE))
    subject = Subject("builtins.set_iterator", new_recipe, iterator=True)
    moved = transplant(scenario, usage(scenario), sibling(SET_ITER, subject))
    assert moved.scenario is not None
    assert moved.notes == ()
    assert moved.scenario.threads == scenario.threads
    assert moved.scenario.shared == (SharedObject("obj", new_recipe, fresh=True),)
    assert (moved.scenario.iterations, moved.scenario.rounds) == (20, 100)
    assert moved.scenario.imports == ("builtins",)


def test_transplant_adds_the_sibling_module_to_the_imports() -> None:
    scenario = shared_iterator()
    subject = Subject("itertools.product", call("itertools.product", RANGE), iterator=True)
    moved = transplant(scenario, usage(scenario), sibling(PRODUCT, subject))
    assert moved.scenario is not None
    assert moved.scenario.imports == ("builtins", "itertools")


def test_transplant_maps_a_missing_method_to_the_most_similar_of_the_same_role() -> None:
    scenario = list_readers_mutators()
    members = (
        Member("popleft", role="mutator"),
        Member("append", role="mutator", args=((Lit(0),),)),
        Member("count", role="reader", args=((Lit(0),),)),
    )
    subject = Subject("collections.deque", call("collections.deque", LIST3), members=members)
    moved = transplant(scenario, usage(scenario), sibling(DEQUE, subject), {"pop": "mutator"})
    assert moved.scenario is not None
    mutator = moved.scenario.threads[1].operations
    assert [op.label() for op in mutator] == ["obj.popleft()", "obj.append()"]
    assert mutator[1].args == (Lit(1),)  # the original arguments fit the sibling's append
    assert moved.notes == ("obj.pop() -> obj.popleft()",)


def test_transplant_drops_what_the_sibling_cannot_do_and_skips_an_idle_thread() -> None:
    scenario = list_readers_mutators()
    subject = Subject("builtins.tuple", call("builtins.tuple", LIST3), members=(Member("count"),))
    moved = transplant(scenario, usage(scenario), sibling(TUPLE, subject))
    assert moved.scenario is None
    assert moved.notes == (
        "dropped obj.pop(): no mutator method on builtins.tuple",
        "dropped obj.append(): no mutator method on builtins.tuple",
        "thread 1 has nothing left to do on builtins.tuple",
    )


def test_transplant_drops_a_function_whose_required_slot_is_missing() -> None:
    scenario = list_readers_mutators()
    no_len = Kin("x.Thing", "x", ("MutableSequence",), slots=frozenset({"tp_repr"}),
                 methods=frozenset({"pop", "append"}))  # fmt: skip
    moved = transplant(
        scenario, usage(scenario), sibling(no_len, Subject("x.Thing", call("x.Thing")))
    )
    assert moved.scenario is None
    assert moved.notes[0] == "dropped len(obj): no sq_length/mp_length"
    assert moved.notes[-1] == "thread 2 has nothing left to do on x.Thing"


def test_transplant_keeps_methods_the_target_says_the_sibling_has() -> None:
    scenario = list_readers_mutators()
    moved = transplant(
        scenario, usage(scenario), sibling(LIST, Subject("builtins.list", call("y")))
    )
    assert moved.scenario is not None
    assert moved.scenario.threads == scenario.threads


def test_transplant_maps_attributes_and_drops_setattr_without_target() -> None:
    scenario = Scenario(
        shared=(SharedObject("obj", call("builtins.classmethod", Ref("builtins.len"))),),
        threads=(
            ThreadPlan((Operation("getattr", "obj", "__func__"),)),
            ThreadPlan(
                (
                    Operation("function", "obj", "builtins.repr"),
                    Operation("setattr", "obj", "__doc__", (Lit("x"),)),
                )
            ),
        ),
    )
    kin = Kin("builtins.property", "builtins", protocols=("descriptor",),
              slots=frozenset({"tp_repr"}))  # fmt: skip
    subject = Subject("builtins.property", call("builtins.property"),
                      members=(Member("fget", kind="getset"),))  # fmt: skip
    moved = transplant(scenario, usage(scenario), sibling(kin, subject))
    assert moved.scenario is not None
    assert [op.label() for plan in moved.scenario.threads for op in plan.operations] == [
        "obj.fget", "repr(obj)",
    ]  # fmt: skip
    assert moved.notes == (
        "obj.__func__ -> obj.fget",
        "dropped obj.__doc__ = ...: builtins.property has no __doc__",
    )


def test_kin_from_json_reads_what_the_harness_writes() -> None:
    kin = Kin.from_json({
        "type": "builtins.set_iterator", "module": "builtins", "abcs": ["Iterator", "Hashable"],
        "protocols": [], "slots": ["tp_iter", "tp_iternext"], "native": True,
        "methods": ["__length_hint__"], "attributes": [], "own": ["__next__"],
    })  # fmt: skip
    assert kin.kinds == ("Iterator",)
    assert kin.slots == {"tp_iter", "tp_iternext"}
    assert "__length_hint__" in kin.methods


# ---------------------------------------------------------------------- the variants table


def test_variants_table_rows_and_text() -> None:
    from collections import Counter

    from rich.console import Console

    from threadstorm.cli.cmd_variants import render, rows
    from threadstorm.variants.search import Plan, Trial

    crashed = Trial("builtins.set_iterator", "also Iterator", shared_iterator(), runs=3)
    crashed.keys = Counter({"1c2dc38b0ebd": 2})
    clean = Trial("builtins.list_iterator", "also Iterator", shared_iterator(), runs=3)
    skipped = Trial("builtins.tuple", "also Sequence", None, ["skipped: thread 0 has nothing"])
    control = Trial("builtins.enumerate (original)", "its own scenario", shared_iterator(), runs=3)
    control.keys = Counter({"0123456789ab": 1})
    planned = Plan(usage(shared_iterator()), ENUMERATE, (crashed, clean, skipped), "", control)
    table_rows = rows(planned, "1c2dc38b0ebd")
    assert [(r.crashed, r.rate, r.bucket) for r in table_rows] == [
        ("yes", "1/3 (33 %, 95 % CI 6-79 %)", "0123456789ab"),
        ("yes", "2/3 (67 %, 95 % CI 21-94 %)", "1c2dc38b0ebd (same)"),
        ("no", "0/3 (0 %, 95 % CI 0-56 %)", ""),
        ("-", "-", ""),
    ]
    console = Console(width=120, record=True, color_system=None)
    console.print(render(table_rows, planned, 12.0))
    text = console.export_text()
    original = "the original 1/3 (33 %, 95 % CI 6-79 %) (12 s)"
    assert f"1 of 3 siblings of builtins.enumerate crashed; {original}" in text
    assert "│ yes      │ 1/3 (33 %, 95 % CI 6-79 %)  │ 0123456789ab        │" in text
    assert "│ yes      │ 2/3 (67 %, 95 % CI 21-94 %) │ 1c2dc38b0ebd (same) │" in text
    assert "│ no       │ 0/3 (0 %, 95 % CI 0-56 %)   │" in text
    assert "│ skipped:  │" in text
    variant = crashed.variant("1c2dc38b0ebd")
    assert (variant.crashed, variant.crashes, variant.runs) == (True, 2, 3)
    assert variant.note == "also Iterator; same bucket"


# ---------------------------------------------------------------------- planning and measuring


CRASH = Evidence(11, -11, False, 0.1, b"Fatal Python error: Segmentation fault\n")
PASS = Evidence(0, 0, False, 0.1, b"", ({"event": "done", "status": "passed"},))
BROKEN = Evidence(0, 0, False, 0.0, b"", harness_error="setup failed")


class FakeSession:
    """Runs nothing: answers by the type of the shared object's recipe."""

    def __init__(self, answers: dict[str, Evidence]) -> None:
        self.answers = answers
        self.ran: list[str] = []

    def run(self, scenario: Scenario, timeout: float = 10.0) -> Evidence:
        recipe = scenario.shared[0].recipe
        assert isinstance(recipe, Call) and isinstance(recipe.func, Ref)
        self.ran.append(recipe.func.path)
        return self.answers[recipe.func.path]

    def kinship(self, shared: object, recipes: Sequence[Recipe], timeout: float = 0) -> list[Any]:
        raise AssertionError("the tests describe recipes themselves")


def describe(shared: object, recipes: Sequence[Recipe]) -> list[dict[str, Any]]:
    kinds = {"x.Enumerate": ENUMERATE, "x.SetIter": SET_ITER, "x.ListIter": PRODUCT}
    facts = []
    for recipe in recipes:
        assert isinstance(recipe, Call) and isinstance(recipe.func, Ref)
        kin = kinds.get(recipe.func.path)
        if kin is None:
            facts.append({"error": "TypeError: no"})
            continue
        facts.append({"type": recipe.func.path, "module": "x", "abcs": list(kin.abcs),
                      "slots": sorted(kin.slots)})  # fmt: skip
    return facts


def test_plan_and_measure_with_top_ups_and_a_broken_sibling() -> None:
    scenario = replace(shared_iterator(), shared=(SharedObject("obj", call("x.Enumerate", RANGE)),))
    subjects = [Subject(path, call(path, LIST3)) for path in ("x.SetIter", "x.ListIter", "x.Gone")]
    planned = plan(scenario, subjects, describe)
    assert [t.label for t in planned.trials] == ["x.ListIter", "x.SetIter"]
    assert planned.trials[0].why == "also Iterator; fills tp_iternext; same module x"
    session = FakeSession({"x.SetIter": CRASH, "x.ListIter": BROKEN})
    measure(session, planned.trials, runs=2, max_runs=5, timeout_s=1.0, deadline=None)
    broken, crashing = planned.trials
    assert (broken.runs, broken.broken, broken.notes) == (
        0,
        True,
        ["could not run: harness error: setup failed"],
    )
    assert (crashing.runs, crashing.crashes) == (5, 5)  # topped up in rounds of 2, capped at 5
    assert session.ran == ["x.ListIter"] + ["x.SetIter"] * 5
    variant = crashing.variant("elsewhere")
    assert (variant.crashed, variant.rate.text, variant.bucket) == (
        True,
        "5/5 (100 %, 95 % CI 57-100 %)",
        crashing.bucket,
    )
    assert variant.note.endswith("another bucket")


def test_measure_stops_at_the_deadline_and_says_so() -> None:
    scenario = replace(shared_iterator(), shared=(SharedObject("obj", call("x.Enumerate", RANGE)),))
    subjects = [Subject(path, call(path, LIST3)) for path in ("x.SetIter", "x.ListIter")]
    planned = plan(scenario, subjects, describe)
    measure(FakeSession({}), planned.trials, runs=2, max_runs=2, timeout_s=1.0, deadline=0.0)
    assert [(t.runs, t.notes) for t in planned.trials] == [(0, ["not run: deadline"])] * 2
    assert planned.trials[0].variant().note.endswith("not run: deadline")


def test_plan_says_when_the_original_cannot_be_rebuilt() -> None:
    scenario = replace(shared_iterator(), shared=(SharedObject("obj", call("x.Missing")),))
    planned = plan(scenario, [], describe)
    assert planned.trials == ()
    assert planned.note == "the bucket's object cannot be rebuilt: TypeError: no"
