"""What counts as exercised concurrently (pure: evidence is written by hand)."""

from __future__ import annotations

from typing import Any

import pytest

from threadstorm.campaign.coverage import CoverageTracker
from threadstorm.generate.families import ArgumentSubject
from threadstorm.generate.surface import Subject, Surface
from threadstorm.harness.execute import refused_operations
from threadstorm.scenario.codec import recipe_to_json
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
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

LIST = Collection("list", (Lit(1), Lit(2)))
BOX = Call(Ref("toy.Box"), (LIST,))


def item(name: str, kind: str, owner: str | None = None, attribute: str | None = None) -> Any:
    return {
        "name": name, "kind": kind, "owner": owner, "member": attribute, "signature": None,
        "implementation": "C", "reachable": True, "reason": None,
    }  # fmt: skip


def member(name: str, owner: str = "toy.Box") -> Any:
    return {
        "name": name, "kind": "method", "owner": owner, "min_args": 0, "max_args": 0,
        "args": [[]], "role": "reader", "role_source": "observed", "writable": False,
        "reachable": True, "reason": None,
    }  # fmt: skip


@pytest.fixture
def surface() -> Surface:
    unreachable = {**item("toy.gone", "builtin"), "reachable": False, "reason": "denied"}
    return Surface.from_json(
        {
            "modules": [
                {
                    "name": "toy",
                    "items": [
                        item("toy.Box", "class", "toy.Box"),
                        item("toy.Alias", "class", "toy.Box"),
                        item("toy.Box.peek", "method", "toy.Box", "peek"),
                        item("toy.Box.take", "method", "toy.Box", "take"),
                        item("toy.Alias.peek", "method", "toy.Box", "peek"),
                        item("toy.Other", "class", "toy.Other"),
                        item("toy.total", "builtin"),
                        item("toy.reset", "function"),
                        unreachable,
                    ],
                }
            ],
            "subjects": [
                {
                    "id": "toy.Box#0",
                    "type": "toy.Box",
                    "module": "toy",
                    "origin": "constructor",
                    "source": "toy.Box",
                    "recipe": recipe_to_json(BOX),
                    "depth": 0,
                    "explored": True,
                    "flags": {},
                    "members": [
                        member("peek"),
                        member("take"),
                        member("__repr__", "builtins.object"),
                    ],
                }
            ],
        }
    )


def box(surface: Surface) -> Subject:
    found = surface.subject("toy.Box#0")
    assert found is not None
    return found


def scenario(*plans: tuple[Operation, ...], rounds: int = 2, iterations: int = 5) -> Scenario:
    return Scenario(
        shared=(SharedObject("obj", BOX, fresh=True),),
        threads=tuple(ThreadPlan(ops) for ops in plans),
        rounds=rounds,
        iterations=iterations,
    )


def evidence(
    *exceptions: tuple[int, int, int],
    done: bool = True,
    run: Scenario | None = None,
    **more: Any,
) -> Evidence:
    """A run's evidence; with ``run``, its done message names what it refused, as the harness's."""
    messages: list[dict[str, Any]] = [{"event": "setup"}]
    if done:
        raised = [
            {"thread": t, "op": o, "type": "ValueError", "count": c} for t, o, c in exceptions
        ]
        refused = refused_operations(run, raised) if run is not None else []
        messages.append({"event": "done", "exceptions": raised, "refused": refused})
    return Evidence(0, 0, False, 0.01, b"", tuple(messages), **more)


def exercised(tracker: CoverageTracker) -> set[str]:
    return {e.name for e in tracker.entries() if e.exercised}


def reasons(tracker: CoverageTracker) -> dict[str, str]:
    return {e.name: e.reason for e in tracker.entries() if not e.exercised}


PEEK = Operation("method", "obj", "peek")
TAKE = Operation("method", "obj", "take")


def test_a_member_called_while_another_thread_works_counts_with_its_aliases(
    surface: Surface,
) -> None:
    tracker = CoverageTracker(surface)
    tracker.observe(scenario((PEEK,), (TAKE,)), box(surface), evidence(), Status.PASSED)
    assert exercised(tracker) == {
        "toy.Box.peek", "toy.Alias.peek", "toy.Box.take", "toy.Box", "toy.Alias"
    }  # fmt: skip
    assert tracker.summary() == {"toy": (5, 8)}


def test_one_thread_alone_counts_for_nothing(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    tracker.observe(scenario((PEEK, TAKE)), box(surface), evidence(), Status.PASSED)
    assert exercised(tracker) == set()
    assert reasons(tracker)["toy.Box.peek"] == "not drawn yet"
    assert reasons(tracker)["toy.gone"] == "denied"


def test_harness_errors_and_runs_that_never_set_up_count_for_nothing(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    run = scenario((PEEK,), (TAKE,))
    tracker.observe(run, box(surface), evidence(), Status.HARNESS_ERROR)
    no_setup = Evidence(0, 0, False, 0.01, b"", ({"event": "setup_failed"},))
    tracker.observe(run, box(surface), no_setup, Status.RAISED)
    assert exercised(tracker) == set()


def test_an_operation_that_raised_on_every_call_is_not_exercised(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    run = scenario((PEEK,), (TAKE,), rounds=2, iterations=5)
    tracker.observe(run, box(surface), evidence((1, 0, 10), (0, 0, 9), run=run), Status.RAISED)
    assert "toy.Box.peek" in exercised(tracker)  # raised 9 times of 10: it ran
    assert reasons(tracker)["toy.Box.take"] == "always raised"
    tracker.observe(run, box(surface), evidence(), Status.PASSED)
    assert "toy.Box.take" in exercised(tracker)


def test_a_thread_that_could_not_bind_its_operations_ran_nothing(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    run = scenario((PEEK,), (TAKE,), rounds=2)
    tracker.observe(run, box(surface), evidence((1, -1, 2), run=run), Status.RAISED)
    assert "toy.Box.take" not in exercised(tracker)
    assert "toy.Box.peek" in exercised(tracker)


def test_a_crashed_run_credits_only_what_its_threads_were_in(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    run = scenario((PEEK, TAKE), (PEEK,))
    tracker.observe(run, box(surface), evidence(done=False, in_flight=(1, None)), Status.CRASHED)
    assert exercised(tracker) == {"toy.Box.take", "toy.Box", "toy.Alias"}


def test_function_operations_and_functions_called_as_themselves(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    total = Operation("function", "obj", "toy.total")
    run = Scenario(
        shared=(SharedObject("obj", LIST),), threads=(ThreadPlan((total,)), ThreadPlan((total,)))
    )
    tracker.observe(run, ArgumentSubject("builtins.list", LIST), evidence(), Status.PASSED)
    assert exercised(tracker) == {"toy.total"}
    call = Operation("method", "obj", "__call__")
    itself = Scenario(
        shared=(SharedObject("obj", Ref("toy.reset")),),
        threads=(ThreadPlan((call,)), ThreadPlan((call,))),
    )
    tracker.observe(itself, ArgumentSubject("", Ref("toy.reset")), evidence(), Status.PASSED)
    assert exercised(tracker) == {"toy.total", "toy.reset"}


def test_a_class_called_as_a_function_counts_with_its_aliases(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    make = Operation("function", "obj", "toy.Alias")
    run = Scenario(
        shared=(SharedObject("obj", LIST),), threads=(ThreadPlan((make,)), ThreadPlan((make,)))
    )
    tracker.observe(run, ArgumentSubject("builtins.list", LIST), evidence(), Status.PASSED)
    assert exercised(tracker) == {"toy.Box", "toy.Alias"}


def test_exercised_since_reports_each_item_once_in_order(surface: Surface) -> None:
    tracker = CoverageTracker(surface)
    assert tracker.exercised_since(0) == (0, [])
    tracker.observe(scenario((PEEK,), (PEEK,)), box(surface), evidence(), Status.PASSED)
    mark, names = tracker.exercised_since(0)
    assert names == ["toy.Box.peek", "toy.Alias.peek", "toy.Box", "toy.Alias"]
    tracker.observe(scenario((PEEK,), (TAKE,)), box(surface), evidence(), Status.PASSED)
    assert tracker.exercised_since(mark) == (5, ["toy.Box.take"])
