"""The module-state family: module functions as members, counterparts, hooks, own children."""

from __future__ import annotations

import random
from typing import Any

from threadstorm.campaign.coverage import CoverageTracker
from threadstorm.generate.generator import Generator, prior_weight
from threadstorm.generate.module_state import (
    HOOK,
    MODULE_STATE,
    ModuleSubject,
    StateGuard,
    module_state,
    module_subjects,
    opposites,
)
from threadstorm.generate.pool import ValuePool
from threadstorm.generate.surface import Surface
from threadstorm.scenario.codec import recipe_to_json
from threadstorm.scenario.model import (
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status


def args(*lists: tuple[Recipe, ...]) -> list[list[Any]]:
    return [[recipe_to_json(arg) for arg in one] for one in lists]


def function(name: str, role: str = "reader", *, calls: Any = None, reachable: bool = True) -> Any:
    return {
        "name": name, "kind": "builtin", "owner": None, "member": None, "signature": None,
        "implementation": "C", "reachable": reachable, "reason": None if reachable else "denied",
        "args": args(()) if calls is None else calls, "role": role, "role_source": "observed",
    }  # fmt: skip


def module(name: str, *items: Any) -> Any:
    return {"name": name, "file": None, "version": None, "mtime": None, "error": None,
            "items": list(items)}  # fmt: skip


def surface() -> Surface:
    """``knobs``: a switch with its reader, a setter with its getter, a hook setter, a denied
    function; ``plain``: readers only."""
    return Surface.from_json(
        {
            "modules": [
                module(
                    "knobs",
                    function("knobs.enable", "mutator"),
                    function("knobs.disable", "mutator"),
                    function("knobs.isenabled"),
                    function("knobs.set_level", "mutator", calls=args((Lit(3),))),
                    function("knobs.get_level"),
                    function("knobs.setprofile", "mutator", calls=args((Lit(None),))),
                    function("knobs.kill", reachable=False),
                ),
                module("plain", function("plain.dumps", calls=args((Lit(1),)))),
            ],
            "subjects": [],
        }
    )


def knobs() -> ModuleSubject:
    return module_subjects(surface())[0]


def names(scenario: Scenario) -> set[str]:
    return {op.name for op in scenario.operations()}


def test_every_module_with_reachable_functions_is_a_subject() -> None:
    found = module_subjects(surface())
    assert [s.type for s in found] == ["knobs", "plain"]
    assert "kill" not in [m.name for m in found[0].members]
    assert [m.name for m in found[0].mutators()] == ["enable", "disable", "set_level", "setprofile"]
    assert found[0].recipe == Ref("knobs")


def test_opposites_pair_setters_with_getters_and_switches_with_each_other() -> None:
    every = ["enable", "disable", "isenabled", "set_level", "get_level", "register"]
    assert opposites("enable", every) == ["disable", "isenabled"]
    assert opposites("disable", every) == ["enable", "isenabled"]
    assert opposites("set_level", every) == ["get_level"]
    assert opposites("register", every) == []


def test_a_run_pits_a_mutator_against_its_counterparts_on_the_module_itself() -> None:
    seen: set[str] = set()
    for seed in range(40):
        scenario = module_state(random.Random(seed), knobs(), ValuePool(random.Random(seed)))
        assert scenario is not None
        scenario.validate()
        assert scenario.family == MODULE_STATE
        assert scenario.shared == (SharedObject("obj", Ref("knobs")),)
        assert scenario.thread_count >= 2
        seen |= names(scenario)
        if "set_level" in names(scenario) and "setprofile" not in names(scenario):
            assert "get_level" in names(scenario)
    assert {"enable", "disable", "isenabled", "set_level", "get_level"} <= seen


def test_a_hook_is_switched_on_and_off_while_other_threads_run_code() -> None:
    for seed in range(40):
        scenario = module_state(random.Random(seed), knobs(), ValuePool(random.Random(seed)))
        assert scenario is not None
        if "setprofile" in names(scenario):
            switch = scenario.threads[-1].operations
            assert [op.args for op in switch] == [(HOOK,), (Lit(None),)]
            assert all("setprofile" not in {op.name for op in t.operations}
                       for t in scenario.threads[:-1])  # fmt: skip
            return
    raise AssertionError("no hook run in 40 seeds")


def test_readers_only_modules_are_called_together_and_weigh_little() -> None:
    plain = module_subjects(surface())[1]
    scenario = module_state(random.Random(0), plain, ValuePool(random.Random(0)))
    assert scenario is not None
    assert names(scenario) == {"dumps"}
    assert prior_weight(plain) < prior_weight(knobs())


def test_object_subjects_are_left_to_the_other_families() -> None:
    from threadstorm.generate.families import ArgumentSubject

    assert (
        module_state(random.Random(0), ArgumentSubject("", Lit(1)), ValuePool(random.Random(0)))
        is None
    )


def test_state_changing_scenarios_run_in_a_child_of_their_own() -> None:
    guard = StateGuard(surface())
    mine = module_state(random.Random(0), knobs(), ValuePool(random.Random(0)))
    assert mine is not None and guard(mine)
    calls_enable = Scenario(
        family="shared_argument",
        shared=(SharedObject("obj", Ref("knobs.enable")),),
        threads=(ThreadPlan((Operation("method", "obj", "__call__"),)),) * 2,
    )
    assert guard(calls_enable)
    reads = Scenario(
        family="shared_argument",
        shared=(SharedObject("obj", Lit(1)),),
        threads=(ThreadPlan((Operation("function", "obj", "plain.dumps"),)),) * 2,
    )
    assert not guard(reads)


def test_coverage_credits_module_functions_called_by_module_state_runs() -> None:
    tracker = CoverageTracker(surface())
    scenario = module_state(random.Random(1), knobs(), ValuePool(random.Random(1)))
    assert scenario is not None
    done = Evidence(0, 0, False, 0.01, b"", ({"event": "setup"}, {"event": "done"}))
    tracker.observe(scenario, knobs(), done, Status.PASSED)
    credited = {e.name for e in tracker.entries() if e.exercised}
    called = {op.name for op in scenario.operations() if op.kind == "method"}
    assert credited == {f"knobs.{name}" for name in called}


def test_the_generator_draws_module_state_for_modules_and_nothing_else_fits_them() -> None:
    generator = Generator(module_subjects(surface()), seed=3)
    families = {generator.draw()[0].family for _ in range(30)}
    assert families == {MODULE_STATE}


def test_abstract_bases_and_exceptions_weigh_least_unless_their_module_has_nothing_else() -> None:
    from threadstorm.generate.generator import BASE_WEIGHT, module_balanced

    def doc(sid: str, type_name: str, **flags: Any) -> Any:
        return {
            "id": sid, "type": type_name, "module": type_name.partition(".")[0],
            "origin": "constructor", "source": type_name, "recipe": recipe_to_json(Lit(1)),
            "depth": 0, "explored": True, "flags": {"iterable": True, **flags}, "members": [],
        }  # fmt: skip

    subjects = Surface.from_json(
        {
            "modules": [],
            "subjects": [
                doc("io.IOBase#0", "io.IOBase", abstract=True),
                doc("io.Error#0", "io.Error", exception=True),
                doc("io.BytesIO#0", "io.BytesIO"),
                doc("errs.Oops#0", "errs.Oops", exception=True),
            ],
        }
    ).subjects
    weights = {s.type: prior_weight(s) for s in subjects}
    assert weights["io.IOBase"] == weights["io.Error"] == BASE_WEIGHT < weights["io.BytesIO"]
    balanced = module_balanced(weights)
    assert balanced["io.BytesIO"] > 10 * balanced["io.IOBase"]
    assert balanced["errs.Oops"] >= balanced["io.BytesIO"]  # its module has nothing else
