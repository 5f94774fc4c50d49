"""The reproducer is the one place Python source is written: golden-tested."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from threadstorm.reproduce.emit import Header, code_lines, render
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

GOLDEN = Path(__file__).parent / "golden"


def iterator_scenario() -> Scenario:
    return Scenario(
        family="shared_iterator",
        shared=(
            SharedObject(
                "obj",
                Call(Ref("builtins.enumerate"), (Call(Ref("builtins.range"), (Lit(1000),)),)),
                fresh=True,
            ),
        ),
        threads=tuple(
            ThreadPlan((Operation("function", "obj", "builtins.next"),)) for _ in range(2)
        ),
        iterations=20,
        rounds=200,
    ).validate()


def seed_scenario() -> Scenario:
    items = tuple(Make("big_union", (("size", 30),)) for _ in range(10))
    return Scenario(
        family="readers_vs_mutators",
        imports=("typing",),
        shared=(SharedObject("obj", Collection("list", items), fresh=True),),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan((Operation("method", "obj", "pop"),)),
        ),
        iterations=100,
        rounds=5,
    ).validate()


def churn_scenario() -> Scenario:
    """The seed's shape with timing: readers first, then a mutator that refills and clears."""
    nested = Collection("list", tuple(Shared("union") for _ in range(10)))
    refill = Operation("method", "obj", "append", (Make("big_union", (("size", 40),)),), fresh=True)
    return Scenario(
        family="churn",
        imports=("typing",),
        shared=(
            SharedObject("union", Make("big_union", (("size", 40),))),
            SharedObject("obj", Collection("list", (nested,)), fresh=True),
        ),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan((Operation("function", "obj", "builtins.repr"),), spawn=True),
            ThreadPlan((refill, Operation("method", "obj", "clear")), start=Start(0, 200)),
        ),
        iterations=20,
        rounds=100,
    ).validate()


HEADER = Header(
    title="threadstorm reproducer for bucket abc123def456 (crashed)",
    target="CPython 3.13.5 free-threaded debug (/opt/python3.13td)",
    signature="assertion: enumobject.c | enum_next | negative refcount",
    rate="9/10 (90 %)",
    python="/opt/python3.13td",
)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("THREADSTORM_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_iterator_script_matches_golden() -> None:
    check_golden("repro_iterator.py.txt", render(iterator_scenario(), HEADER))


def test_seed_script_matches_golden_and_is_short() -> None:
    script = render(seed_scenario(), HEADER)
    check_golden("repro_seed.py.txt", script)
    assert code_lines(script) <= 25


def test_timed_script_matches_golden() -> None:
    script = render(churn_scenario(), HEADER)
    check_golden("repro_churn.py.txt", script)
    assert "START = {2: (0, 200)}" in script
    assert "lambda: s.obj.append(big_union(40))" in script  # fresh: built at every call
    assert "SPAWN = {1}" in script


def test_untimed_scripts_carry_no_timing_machinery() -> None:
    for scenario in (iterator_scenario(), seed_scenario()):
        script = render(scenario, HEADER)
        assert "START" not in script and "SPAWN" not in script and "begun" not in script


@pytest.mark.parametrize("scenario", [iterator_scenario(), seed_scenario(), churn_scenario()])
def test_scripts_are_valid_standalone_python(scenario: Scenario) -> None:
    script = render(scenario, HEADER)
    tree = ast.parse(script)
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert "threadstorm" not in imported
    assert "Any" not in script  # annotations stripped from copied helpers


def test_path_folders_come_first_so_an_extension_built_outside_imports(tmp_path: Path) -> None:
    script = render(seed_scenario(), HEADER, paths=[str(tmp_path)])
    tree = ast.parse(script)
    assert ast.get_docstring(tree) is not None  # still the script's docstring
    first = tree.body[1:3]
    assert ast.unparse(first[0]) == "import sys"
    assert ast.unparse(first[1]) == f"sys.path[:0] = [{str(tmp_path)!r}]"


def test_a_race_script_says_how_to_run_it_under_tsan() -> None:
    race = Header(title="t", python="/p/python3.14td", race=True)
    script = render(seed_scenario(), race)
    assert "TSAN_OPTIONS=halt_on_error=1 PYTHON_GIL=0 /p/python3.14td" in script
    assert "exit status 66" in script
    assert "TSAN_OPTIONS" not in render(seed_scenario(), HEADER)


def test_code_lines_skips_docstring_comments_and_blanks() -> None:
    assert code_lines('"""doc\n\nmore"""\n# note\n\nx = 1\n') == 1
