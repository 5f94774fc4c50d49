"""The reproducer is the one place Python source is written: golden-tested."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
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
    assert "lambda: s.obj.append(*[big_union(40)])" in script  # fresh: built at every call
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


def contended_scenario() -> Scenario:
    """The planted seed's contended shape: ``union`` lives only inside ``hot``."""
    nested = Collection("list", tuple(Shared("hot") for _ in range(10)))
    return Scenario(
        family="churn",
        imports=("typing",),
        shared=(
            SharedObject("union", Make("big_union", (("size", 8),))),
            SharedObject("hot", Collection("list", (Shared("union"),))),
            SharedObject("obj", Collection("list", (nested,)), fresh=True),
        ),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan((Operation("function", "hot", "builtins.repr"),)),
            ThreadPlan((Operation("method", "obj", "clear"),), start=Start(0, 100)),
        ),
        iterations=5,
        rounds=3,
    ).validate()


def test_an_object_only_one_recipe_uses_is_written_in_place() -> None:
    script = render(contended_scenario(), HEADER)
    assert "s = types.SimpleNamespace(hot=[big_union(8)])" in script
    assert "s.union" not in script and "def setup" not in script


def test_objects_used_twice_or_by_operations_keep_their_names() -> None:
    twice = Collection("tuple", (Shared("base"), Shared("base")))
    scenario = Scenario(
        shared=(
            SharedObject("base", Collection("list", (Lit(1),))),
            SharedObject("pair", twice),
            SharedObject("copy", Call(Ref("builtins.list"), (Shared("pair"),))),
        ),
        threads=(ThreadPlan((Operation("method", "copy", "pop"),)),),
    ).validate()
    script = render(scenario, HEADER)
    # ``pair`` is used once (by ``copy``) and goes in place; ``base`` is used twice and stays
    assert "    s.base = [1]\n    s.copy = list(tuple([s.base, s.base]))\n" in script
    assert "s.pair" not in script


def test_a_hostile_values_target_keeps_its_name() -> None:
    hostile = Make("hostile", (("dunder", "__eq__"), ("action", "clear"), ("target", "box")))
    scenario = Scenario(
        shared=(
            SharedObject("box", Collection("list", (Lit(1),))),
            SharedObject("holder", Collection("list", (hostile, Shared("box")))),
        ),
        threads=(ThreadPlan((Operation("method", "holder", "count", (Lit(1),)),)),),
    ).validate()
    assert "s.box = [1]" in render(scenario, HEADER)


def fixed_hostile_scenario() -> Scenario:
    """A fixed object holding a hostile value, which reaches ``box`` through the namespace."""
    hostile = Make("hostile", (("dunder", "__eq__"), ("action", "clear"), ("target", "box")))
    return Scenario(
        shared=(
            SharedObject("box", Collection("list", (Lit(1),))),
            SharedObject("bait", Collection("list", (hostile,))),
        ),
        threads=(ThreadPlan((Operation("method", "box", "count", (Shared("bait"),)),)),),
        iterations=5,
    ).validate()


def weak_proxy_scenario() -> Scenario:
    """Threads storm weak proxies of kept referents: the script must carry the referent class
    and its keep-alive list, as written in the harness (an empty list, not what it holds)."""
    kept = Make("kept_referent", (("callable", 0),))
    callable_kept = Make("kept_referent", (("callable", 1),))
    return Scenario(
        family="readers_vs_mutators",
        imports=("weakref",),
        shared=(
            SharedObject("obj", Call(Ref("weakref.proxy"), (kept,)), fresh=True),
            SharedObject("call", Call(Ref("weakref.proxy"), (callable_kept,)), fresh=True),
        ),
        threads=(
            ThreadPlan((Operation("method", "obj", "__ior__", (Collection("list", (Lit(1),)),)),)),
            ThreadPlan((Operation("method", "obj", "__getitem__", (Lit(0),)),)),
            ThreadPlan((Operation("method", "call", "__call__"),)),
        ),
        iterations=5,
        rounds=3,
    ).validate()


def test_a_kept_referent_is_written_with_its_class_and_an_empty_keep_list() -> None:
    script = render(weak_proxy_scenario(), HEADER)
    assert "_KEPT = []\n" in script
    assert "class Referent(list):" in script and "class CallableReferent(Referent):" in script
    assert "weakref.proxy(kept_referent(1))" in script


def test_a_fixed_hostile_value_is_made_once_the_namespace_exists() -> None:
    script = render(fixed_hostile_scenario(), HEADER)
    assert "    s = types.SimpleNamespace()\n    s.box = [1]\n" in script
    assert "    s.bait = [hostile('__eq__', 'clear', 'box', vars(s))]\n" in script


@pytest.mark.parametrize(
    "scenario",
    [
        iterator_scenario(),
        seed_scenario(),
        churn_scenario(),
        contended_scenario(),
        fixed_hostile_scenario(),
        weak_proxy_scenario(),
    ],
)
def test_scripts_run_to_their_time_limit_on_a_plain_interpreter(
    scenario: Scenario, tmp_path: Path
) -> None:
    """Nothing crashes a GIL build: the script must build, storm and stop cleanly."""
    script = tmp_path / "repro.py"
    script.write_text(render(scenario, HEADER, time_limit=0.3))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == "no crash within 0.3 s\n"
