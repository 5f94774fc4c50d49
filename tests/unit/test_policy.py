"""Contract policy: rules, labels and bad policy files."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.contract.policy import (
    IN_CONTRACT,
    OUTSIDE_CONTRACT,
    default_policy,
    load_policy,
    parse_policy,
)
from threadstorm.errors import UsageError
from threadstorm.harness.execute import python_members
from threadstorm.scenario.model import (
    Call,
    Lit,
    Operation,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)


def scenario(*ops: Operation, recipe: object = None) -> Scenario:
    return Scenario(
        shared=(
            SharedObject(
                "obj", recipe or Call(Ref("builtins.classmethod"), (Ref("builtins.len"),))
            ),
        ),  # type: ignore[arg-type]
        threads=tuple(ThreadPlan((op,)) for op in ops),
    ).validate()


def test_concurrent_init_is_outside_the_default_contract() -> None:
    label, reason = default_policy().label(
        scenario(
            Operation("method", "obj", "__init__", (Ref("builtins.len"),)),
            Operation("function", "obj", "builtins.repr"),
        )
    )
    assert label == OUTSIDE_CONTRACT
    assert "__init__" in reason


def test_gc_get_objects_is_outside_the_default_contract() -> None:
    recipe = Call(
        Ref("builtins.next"), (Call(Ref("builtins.iter"), (Call(Ref("gc.get_objects")),)),)
    )
    label, _ = default_policy().label(
        scenario(Operation("function", "obj", "builtins.repr"), recipe=recipe)
    )
    assert label == OUTSIDE_CONTRACT


def test_ordinary_use_is_in_contract() -> None:
    label, _ = default_policy().label(
        scenario(Operation("function", "obj", "builtins.repr"), Operation("method", "obj", "pop"))
    )
    assert label == IN_CONTRACT


def test_user_policy_by_family(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('[[unsupported]]\nname = "no hostile"\nreason = "ours"\nfamily = "hostile"\n')
    policy = load_policy(path)
    hostile = Scenario(
        family="hostile",
        shared=(SharedObject("obj", Lit(1)),),
        threads=(ThreadPlan((Operation("function", "obj", "builtins.repr"),)),),
    )
    assert policy.label(hostile)[0] == OUTSIDE_CONTRACT
    assert policy.label(scenario(Operation("method", "obj", "__init__")))[0] == IN_CONTRACT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[unsupported]\n", "not valid TOML"),
        ('[[unsupported]]\nname = "x"\n', "exactly one of"),
        ('[[unsupported]]\nname = "x"\noperation = "a"\nfamily = "b"\n', "exactly one of"),
    ],
)
def test_bad_policies_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_policy(text, "p.toml")


def test_missing_policy_file(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read policy"):
        load_policy(tmp_path / "nope.toml")


def test_a_python_init_is_an_ordinary_method_and_in_contract() -> None:
    reinit = scenario(Operation("method", "obj", "__init__"), Operation("function", "obj", "repr"))
    policy = default_policy()
    assert policy.label(reinit)[0] == OUTSIDE_CONTRACT
    assert policy.label(reinit, frozenset({"obj.__init__"}))[0] == IN_CONTRACT
    assert policy.label(reinit, frozenset({"other.__init__"}))[0] == OUTSIDE_CONTRACT


def test_the_child_reports_which_members_are_python() -> None:
    class Plain:
        def __init__(self, *items: object) -> None:
            self.items = list(items)

    class Inherits(list[object]):
        pass

    ops = scenario(Operation("method", "obj", "__init__"), Operation("method", "obj", "pop"))
    assert python_members(ops, {"obj": Plain()}) == ["obj.__init__"]
    assert python_members(ops, {"obj": Inherits()}) == []
