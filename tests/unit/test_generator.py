"""The generator and coverage-directed targeting, on a small hand-written surface."""

from __future__ import annotations

import random
from typing import Any

import pytest

from threadstorm.campaign.coverage import CoverageTracker
from threadstorm.generate.families import ArgumentSubject
from threadstorm.generate.generator import Generator
from threadstorm.generate.pool import FunctionCall, ValuePool
from threadstorm.generate.surface import Surface
from threadstorm.generate.targeting import (
    MAX_ATTEMPTS,
    SECOND_CHANCE,
    WAY_TRIES,
    Targets,
    recipe_type,
    step_of,
)
from threadstorm.scenario.codec import recipe_to_json, scenario_to_json
from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
)
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

LIST = Collection("list", (Lit(1), Lit(2), Lit(3)))
BOX = Call(Ref("toy.Box"), (LIST,))
ALL_FAMILIES = (
    "churn",
    "readers_vs_mutators",
    "lazy_first_touch",
    "shared_iterator",
    "reinit",
    "hostile",
    "shared_argument",
)


def args(*lists: tuple[Recipe, ...]) -> list[list[Any]]:
    return [[recipe_to_json(arg) for arg in one] for one in lists]


def member(name: str, owner: str, kind: str = "method", role: str = "reader", **more: Any) -> Any:
    doc = {
        "name": name, "kind": kind, "owner": owner, "min_args": 0, "max_args": 0,
        "args": args(()), "role": role, "role_source": "observed", "writable": False,
        "reachable": True, "reason": None,
    }  # fmt: skip
    doc.update(more)
    return doc


def item(name: str, kind: str, owner: str | None = None, attribute: str | None = None,
         reachable: bool = True, **more: Any) -> Any:  # fmt: skip
    doc = {
        "name": name, "kind": kind, "owner": owner, "member": attribute, "signature": None,
        "implementation": "C", "reachable": reachable, "reason": None if reachable else "denied",
    }  # fmt: skip
    doc.update(more)
    return doc


def subject(sid: str, type_name: str, recipe: Recipe, members: list[Any], **flags: Any) -> Any:
    return {
        "id": sid, "type": type_name, "module": type_name.partition(".")[0],
        "origin": "constructor", "source": type_name, "recipe": recipe_to_json(recipe),
        "depth": 0, "explored": True,
        "flags": {"iterable": True, "accepts_iterable": True, "empty": False, **flags},
        "members": members,
    }  # fmt: skip


def toy_doc() -> dict[str, Any]:
    """Module ``toy``: a class ``Box`` (readers, mutators, a descriptor, ``__init__``), a class
    ``Alias`` naming the same type, functions with and without arguments, one unreachable."""
    box_members = [
        member("put", "toy.Box", role="mutator", args=args((Lit(1),))),
        member("take", "toy.Box", role="mutator"),
        member("peek", "toy.Box"),
        member("find", "toy.Box", args=args((Lit("nope"),), (Lit(0),))),
        member("size", "toy.Box", kind="getset"),
        member("__init__", "toy.Box", kind="init", role="mutator", args=args((LIST,))),
        member("__repr__", "builtins.object"),
    ]
    list_members = [member("append", "builtins.list", role="mutator", args=args((Lit(0),)))]
    items = [
        item("toy.Box", "class", "toy.Box"),
        item("toy.Alias", "class", "toy.Box"),
        *(item(f"toy.Box.{m['name']}", m["kind"], "toy.Box", m["name"]) for m in box_members[:6]),
        item("toy.Alias.peek", "method", "toy.Box", "peek"),
        item("toy.total", "builtin", args=args((LIST,), (LIST, Lit(1)))),
        item("toy.reset", "function", args=args(())),
        item("toy.danger", "builtin", reachable=False),
    ]
    return {
        "python": "3.13.5",
        "deny": [],
        "modules": [
            {
                "name": "toy",
                "file": None,
                "version": None,
                "mtime": None,
                "error": None,
                "items": items,
            }
        ],
        "subjects": [
            subject("toy.Box#0", "toy.Box", BOX, box_members),
            subject(
                "builtins.list#0",
                "builtins.list",
                Call(Ref("builtins.list"), (LIST,)),
                list_members,
            ),
        ],
    }


@pytest.fixture
def surface() -> Surface:
    return Surface.from_json(toy_doc())


def passed(scenario: Scenario) -> Evidence:
    return Evidence(
        0, 0, False, 0.01, b"", ({"event": "setup"}, {"event": "done", "exceptions": []})
    )


def generator_with_coverage(surface: Surface, seed: int = 0) -> tuple[Generator, CoverageTracker]:
    generator = Generator(surface.subjects, seed)
    tracker = CoverageTracker(surface)
    generator.attach_coverage(tracker)
    return generator, tracker


# --------------------------------------------------------------------------- targets


def test_ways_to_every_reachable_item(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    assert "toy.danger" not in targets.ways
    box = targets.ways["toy.Box"]
    assert box[0].call == FunctionCall("toy.Box", (LIST,))  # called as a constructor
    assert box[1].subject is not None and box[1].subject.id == "toy.Box#0"  # or stormed
    assert [w.member.name for w in targets.ways["toy.Alias.peek"] if w.member] == ["peek"]
    assert [w.call for w in targets.ways["toy.total"]] == [
        FunctionCall("toy.total", (LIST,)),
        FunctionCall("toy.total", (LIST, Lit(1))),
    ]
    assert [w.call for w in targets.ways["toy.reset"]] == [FunctionCall("toy.reset", ())]
    assert targets.items_of[("toy.Box", "peek")] == ["toy.Box.peek", "toy.Alias.peek"]


def test_recipe_types() -> None:
    known = {BOX: "toy.Box"}
    assert recipe_type(Lit(3), known) == "builtins.int"
    assert recipe_type(Lit(True), known) == "builtins.bool"
    assert recipe_type(BytesLit(b"x"), known) == "builtins.bytes"
    assert recipe_type(LIST, known) == "builtins.list"
    assert recipe_type(BOX, known) == "toy.Box"
    assert recipe_type(Ref("toy.thing"), known) == ""


def test_targeted_runs_cover_the_toy_module_and_stay_races(surface: Surface) -> None:
    generator, tracker = generator_with_coverage(surface)
    generator.target_share = 1.0
    for _ in range(40):
        scenario, drawn = generator.draw()
        assert scenario.thread_count >= 2
        # one object stormed; churn runs (families, once every item is covered) add the value
        # their nested fill refers to
        assert len(scenario.shared) == 1 or scenario.family == "churn"
        tracker.observe(scenario, drawn, passed(scenario), Status.PASSED)
    assert tracker.summary() == {"toy": (11, 11)}
    assert generator.weights()["targeting"]["items_live"] == 0


def test_a_targeted_storm_packs_pending_members_with_a_mutator(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    rng = random.Random(5)
    box = surface.subjects[0]
    scenario = targets._storm(rng, box, box.member("peek"))
    names = [op.name for op in scenario.operations()]
    assert names[0] == "peek"
    assert {"put", "take", "find", "size"} <= set(names) and "__init__" not in names
    assert scenario.family == "readers_vs_mutators"
    writers = [p for p in scenario.threads if {o.name for o in p.operations} <= {"put", "take"}]
    assert writers and len(writers) < scenario.thread_count


def test_function_calls_share_an_argument_that_a_mutator_changes(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    scenario, drawn = targets._pass_around(random.Random(0), FunctionCall("toy.total", (LIST,)))
    assert drawn.type == "builtins.list"  # the list subject lends its mutators
    ops = scenario.operations()
    assert Operation("function", "obj", "toy.total") in ops
    assert Operation("method", "obj", "append", (Lit(0),)) in ops
    assert scenario.shared[0].recipe == LIST


def test_tries_use_each_known_argument_list_then_second_chances(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    box = surface.subjects[0]
    find = box.member("find")
    assert find is not None
    tried = []
    for attempt in range(5):
        targets.attempts["toy.Box.find"] = attempt
        tried.append(targets._args(box, find, "toy.Box.find"))
    assert tried == [(Lit("nope"),), (Lit(0),), *((value,) for value in SECOND_CHANCE[:3])]
    targets.attempts["toy.Box.find"] = 2 + len(SECOND_CHANCE)
    assert targets._args(box, find, "toy.Box.find") == (Lit(1),)  # then the box's own items


def test_calls_change_each_try_and_members_stay_on_a_subject_a_while(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    assert step_of(targets.ways["toy.total"]) == 1
    assert step_of(targets.ways["toy.Box"]) == 1
    assert step_of(targets.ways["toy.Box.find"]) == WAY_TRIES


def test_items_are_given_up_after_max_attempts(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    rng = random.Random(0)
    for _ in range(MAX_ATTEMPTS * len(targets.order)):
        targets.draw(rng, ValuePool(rng))
    assert targets.live() == []
    assert targets.stats()["items_given_up"] == len(targets.order)
    assert targets.draw(rng, ValuePool(rng)) is None


def test_a_draw_turned_away_is_not_charged_as_a_try(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    rng = random.Random(0)
    for _ in range(MAX_ATTEMPTS * len(targets.order)):
        assert targets.draw(rng, ValuePool(rng), admit=lambda _: False) is None
    # only the items no scenario fits were charged (nothing is aimed at forever)
    assert len(targets.live()) > len(targets.order) // 2
    assert targets.draw(rng, ValuePool(rng)) is not None


def test_functions_taking_nothing_are_called_as_themselves(surface: Surface) -> None:
    targets = Targets(surface, ALL_FAMILIES, ValuePool(random.Random(0)))
    targets.done.update(n for n in targets.order if n != "toy.reset")
    drawn = targets.draw(random.Random(0), ValuePool(random.Random(0)))
    assert drawn is not None
    scenario, subject = drawn
    assert scenario.shared[0].recipe == Ref("toy.reset")
    assert {op.name for op in scenario.operations()} == {"__call__"}
    assert isinstance(subject, ArgumentSubject)


# --------------------------------------------------------------------------- generator


def draws(surface: Surface, seed: int, count: int) -> list[Any]:
    generator, tracker = generator_with_coverage(surface, seed)
    found = []
    for _ in range(count):
        scenario, drawn = generator.draw()
        tracker.observe(scenario, drawn, passed(scenario), Status.PASSED)
        generator.feedback(scenario.family, drawn.type, "passed", False)
        found.append(scenario_to_json(scenario))
    return found


def test_the_same_seed_and_coverage_give_the_same_draws(surface: Surface) -> None:
    assert draws(surface, 11, 60) == draws(surface, 11, 60)
    assert draws(surface, 11, 60) != draws(surface, 12, 60)


def test_targeting_respects_the_families_asked_for(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0, ["shared_iterator"])
    generator.attach_coverage(CoverageTracker(surface))
    generator.target_share = 1.0
    assert {generator.draw()[0].family for _ in range(30)} == {"shared_iterator"}


def test_without_coverage_the_families_draw_alone(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    families = {generator.draw()[0].family for _ in range(100)}
    assert families <= set(ALL_FAMILIES) - {"shared_argument"}  # no catalogue of calls
    assert "targeting" not in generator.weights()


def test_new_in_contract_buckets_raise_weights(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    before = generator.weights()["types"]["toy.Box"]
    generator.feedback("readers_vs_mutators", "toy.Box", "crashed", "in-contract")
    weights = generator.weights()
    assert weights["types"]["toy.Box"] > before
    assert generator.economy.factor("readers_vs_mutators", "toy.Box") > 1.0


def test_outside_contract_buckets_pay_nothing(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    before = generator.weights()["types"]["toy.Box"]
    for _ in range(5):
        generator.feedback("reinit", "toy.Box", "crashed", "outside-contract")
    assert generator.weights()["types"]["toy.Box"] == before
    assert generator.economy.factor("reinit", "toy.Box") == 1.0


def test_a_hot_arm_cools_when_it_stops_finding(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    generator.feedback("readers_vs_mutators", "toy.Box", "crashed", "in-contract")
    hot = generator.economy.factor("readers_vs_mutators", "toy.Box")
    for _ in range(100):
        generator.feedback("readers_vs_mutators", "toy.Box", "passed")
    cooled = generator.economy.factor("readers_vs_mutators", "toy.Box")
    assert 1.0 <= cooled < 1.2 < hot


def test_arms_whose_runs_always_raise_are_weighted_down(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    for _ in range(30):
        generator.feedback("lazy_first_touch", "toy.Box", "raised")
    assert generator.economy.factor("lazy_first_touch", "toy.Box") < 0.5


def test_arms_that_keep_crashing_into_known_buckets_are_weighted_down(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    generator.feedback("churn", "toy.Box", "crashed", "in-contract")
    for _ in range(40):
        generator.feedback("churn", "toy.Box", "crashed")  # the same bucket again and again
    assert generator.economy.factor("churn", "toy.Box") < 0.5


def test_outside_contract_runs_stay_under_their_cap(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0, outside=lambda s: s.family == "reinit")
    families = [generator.draw()[0].family for _ in range(400)]
    assert 0 < families.count("reinit") <= 40
    assert generator.weights()["economy"]["outside_contract_share"] <= 0.1


def test_naming_families_lifts_the_cap(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0, ["reinit"], outside=lambda s: s.family == "reinit")
    assert {generator.draw()[0].family for _ in range(50)} == {"reinit"}


def test_no_type_is_starved_however_many_buckets_it_gives(surface: Surface) -> None:
    generator = Generator(surface.subjects, 0)
    for _ in range(20):
        generator.feedback("readers_vs_mutators", "toy.Box", "crashed", "in-contract")
    weights = generator.weights()["types"]
    assert weights["toy.Box"] <= 10 * generator.type_priors["toy.Box"]  # at most ten times
    assert weights["builtins.list"] == generator.type_priors["builtins.list"]  # still drawn
