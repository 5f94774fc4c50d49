"""The churn family's contended shape: a contender makes the nested repr block on a lock."""

from __future__ import annotations

import random

from test_generator import member, toy_doc

from threadstorm.generate.families import CONTENDED_SHARE, HOT, churn
from threadstorm.generate.pool import ValuePool
from threadstorm.generate.surface import Surface
from threadstorm.reproduce.emit import Header, render
from threadstorm.scenario.model import Collection, Recipe, Scenario, Shared

DRAWS = 300


def draws(type_name: str, box_adder: str = "put") -> list[Scenario]:
    """Churn scenarios on the toy surface's ``toy.Box`` (adder ``box_adder``) or
    ``builtins.list`` (adder ``append``, given a ``clear`` here)."""
    doc = toy_doc()
    listed = next(s for s in doc["subjects"] if s["type"] == "builtins.list")
    listed["members"].append(member("clear", "builtins.list", role="mutator"))
    box = next(s for s in doc["subjects"] if s["type"] == "toy.Box")
    next(m for m in box["members"] if m["name"] == "put")["name"] = box_adder
    surface = Surface.from_json(doc)
    subject = next(s for s in surface.subjects if s.type == type_name)
    rng = random.Random(7)
    pool = ValuePool(rng)
    made = [churn(rng, subject, pool) for _ in range(DRAWS)]
    return [scenario.validate() for scenario in made if scenario is not None]


def refers_to(recipe: Recipe, name: str) -> bool:
    if isinstance(recipe, Shared):
        return recipe.name == name
    return isinstance(recipe, Collection) and any(refers_to(each, name) for each in recipe.items)


def test_a_share_of_churn_runs_has_a_contender_on_the_list_the_nested_values_refer_to() -> None:
    made = draws("toy.Box")
    contended = [s for s in made if any(obj.name == HOT for obj in s.shared)]
    share = len(contended) / len(made)
    assert abs(share - CONTENDED_SHARE) < 0.1, share
    for scenario in contended:
        hot = next(obj for obj in scenario.shared if obj.name == HOT)
        assert isinstance(hot.recipe, Collection) and hot.recipe.kind == "list"
        assert not hot.fresh  # one long-lived list, whose lock the contender keeps taking
        contenders = [p for p in scenario.threads if p.operations[0].target == HOT]
        assert [p.operations[0].name for p in contenders] == ["builtins.repr"]
        mutator = scenario.threads[-1]
        assert mutator.start.after == 0 and mutator.start.delay_us > 0
        refill = mutator.operations[0]
        assert refill.fresh  # built by the mutator at every call: freed at once when dropped
        assert refers_to(refill.args[0], HOT)


def test_a_hashing_adder_gets_a_tuple_and_a_list_adder_a_list() -> None:
    def nested_kinds(type_name: str, box_adder: str = "put") -> set[str]:
        made = [s for s in draws(type_name, box_adder) if any(obj.name == HOT for obj in s.shared)]
        refills = [s.threads[-1].operations[0].args[0] for s in made]
        return {arg.kind if isinstance(arg, Collection) else "?" for arg in refills}

    assert nested_kinds("toy.Box", box_adder="add") == {"tuple"}  # add() hashes: a tuple
    assert nested_kinds("toy.Box") == {"list"}
    assert nested_kinds("builtins.list") == {"list"}


def test_the_contended_shape_renders_with_its_contender() -> None:
    scenario = next(s for s in draws("builtins.list") if any(o.name == HOT for o in s.shared))
    script = render(scenario, Header())
    assert "functools.partial(repr, s.hot)" in script
    assert "lambda: s.obj.append(*[[s.hot" in script
    compile(script, "repro.py", "exec")
