"""Hang control on a real target: endless single-thread operations are not findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.bucket.judge import judge
from threadstorm.campaign.hangs import confirm_hang
from threadstorm.scenario.model import Call, Lit, Operation, Ref, Scenario, SharedObject, ThreadPlan
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession
from threadstorm.triage.outcome import Status

pytestmark = pytest.mark.integration


def endless() -> Scenario:
    """``sum(itertools.repeat(0))`` never returns, with or without company."""
    return Scenario(
        shared=(SharedObject("obj", Call(Ref("itertools.repeat"), (Lit(0),))),),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.sum"),)),
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
        ),
        iterations=1,
        imports=("itertools",),
    ).validate()


def deadlock() -> Scenario:
    """Two threads each take a one-slot semaphore once: the second waits forever.

    Alone, either thread takes it and finishes: the hang needs both threads.
    """
    return Scenario(
        shared=(SharedObject("obj", Call(Ref("threading.Semaphore"), (Lit(1),))),),
        threads=tuple(ThreadPlan((Operation("method", "obj", "acquire"),)) for _ in range(2)),
        iterations=1,
        imports=("threading",),
    ).validate()


def test_endless_operation_is_not_a_hang(python313d: Path) -> None:
    with HarnessSession(discover(python313d), ("itertools",)) as session:
        scenario = endless()
        evidence = confirm_hang(session, scenario, session.run(scenario, timeout=2.0), 2.0)
    assert evidence.timed_out
    assert evidence.hangs_alone
    assert judge(evidence, scenario).outcome.status is Status.PASSED


def test_a_hang_that_needs_two_threads_is_a_finding(python313d: Path) -> None:
    with HarnessSession(discover(python313d), ("threading",)) as session:
        scenario = deadlock()
        evidence = confirm_hang(session, scenario, session.run(scenario, timeout=2.0), 2.0)
    assert evidence.timed_out
    assert not evidence.hangs_alone
    verdict = judge(evidence, scenario)
    assert verdict.outcome.status is Status.HUNG
    assert verdict.signature is not None and verdict.signature.kind == "hang"
