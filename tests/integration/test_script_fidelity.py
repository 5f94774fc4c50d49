"""A script allocates where the harness does, or a use-after-free the harness sees stays silent.

CPython 3.13's ``OrderedDict`` frees its fast-node array in ``__ior__``'s resize while a
concurrent ``pop`` still writes to it.  The write lands in freed memory, and only a later
allocation that reuses the block lets the debug allocator or mimalloc notice.  The harness
builds a fresh operation's arguments at every call (a list, a tuple): that churn is what reuses
the block.  A script that called ``pop(1, 1)`` (no allocation) ran 30 s without a crash three
times out of three, while the scenario crashed 6 of 10 runs in the harness; built the way the
harness builds them, ``pop(*[1, 1])``, it crashed three of three within a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.reproduce.emit import Header, render
from threadstorm.reproduce.rate import measure_script
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Operation,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.target.confined_script import Confinement
from threadstorm.target.interpreter import discover

pytestmark = [pytest.mark.integration]

RUNS = 5
LIMIT_S = 30.0

SMALL_DICT = Collection("dict", (Lit(1), Lit(2), Lit(3), Lit(4)))
ODICT_RESIZE_RACE = Scenario(
    family="readers_vs_mutators",
    imports=("collections",),
    rounds=5,
    iterations=37,
    shared=(SharedObject("obj", Call(Ref("collections.OrderedDict")), fresh=True),),
    threads=(
        ThreadPlan((Operation("method", "obj", "pop", (Lit(1), Lit(1)), fresh=True),)),
        ThreadPlan((Operation("method", "obj", "__ior__", (SMALL_DICT,)),)),
    ),
).validate()


def test_a_fresh_operations_script_reuses_freed_memory_as_the_harness_does(
    python313d: Path, tmp_path: Path
) -> None:
    script = render(ODICT_RESIZE_RACE, Header(), time_limit=LIMIT_S)
    assert "lambda: s.obj.pop(*[1, 1])" in script  # a list built at every call, as the harness
    path = tmp_path / "odict_resize.py"
    path.write_text(script)
    rate, _ = measure_script(discover(python313d), path, RUNS, LIMIT_S + 10, Confinement(threads=2))
    # crashed within a second in every run measured; four of five leaves room for a slow one
    assert rate.crashes >= RUNS - 1, rate.text
