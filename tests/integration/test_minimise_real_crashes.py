"""The minimiser against real CPython 3.13 crashes: bloated scenarios shrink to the bug.

Crashes are probabilistic: every "is there a crash" question is answered by a bounded number of
runs until the event is seen, never by one run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.judge import Verdict, judge
from threadstorm.campaign.config import CampaignConfig
from threadstorm.cli.main import main
from threadstorm.minimise.minimiser import (
    BUDGET_EXHAUSTED,
    MINIMISED,
    NOT_REPRODUCED,
    MinimiseResult,
    minimise,
)
from threadstorm.reproduce.emit import Header, code_lines, render
from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.store.db import Store
from threadstorm.store.records import IN_CONTRACT
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

pytestmark = pytest.mark.integration

NEXT = Operation("function", "it", "builtins.next")
LEN_ITEMS = Operation("function", "items", "builtins.len")
REPR_ITEMS = Operation("function", "items", "builtins.repr")
UNION_ARGS = Operation("getattr", "union", "__args__")
NOISE = (
    SharedObject("union", Make("big_union", (("size", 8),))),
    SharedObject("items", Collection("list", tuple(Lit(i) for i in range(12)))),
    SharedObject("spare", Make("big_int", (("digits", 300),))),  # used by nothing
)


def bloated_enumerate() -> Scenario:
    """CPython 3.13's shared ``enumerate`` race, with extra threads, operations and objects.

    The iterator is long (``range(1000)`` races too, but on a busy machine two threads seldom
    run together during the few microseconds it lasts), and the extra work is cheap: a round
    ends when its slowest thread is done.
    """
    enumerate_ = Call(Ref("builtins.enumerate"), (Call(Ref("builtins.range"), (Lit(100_000),)),))
    return Scenario(
        shared=(SharedObject("it", enumerate_, fresh=True), *NOISE),
        threads=(
            ThreadPlan((NEXT, LEN_ITEMS)),
            ThreadPlan((NEXT,)),
            ThreadPlan((NEXT,)),
            ThreadPlan((NEXT,)),
            ThreadPlan((REPR_ITEMS, UNION_ARGS)),
        ),
        iterations=25_000,
        rounds=4,
    ).validate()


def bloated_bytearray() -> Scenario:
    """CPython 3.13's bytearray resize race, with a reader of an unrelated list, spare objects."""
    ops = (
        Operation("method", "ba", "extend", (BytesLit(b"y" * 256),)),
        Operation("method", "ba", "clear"),
        Operation("method", "ba", "append", (Lit(65),)),
        Operation("function", "ba", "builtins.bytes"),
    )
    bytearray_ = Call(Ref("builtins.bytearray"), (BytesLit(b"x" * 64),))
    return Scenario(
        shared=(SharedObject("ba", bytearray_), *NOISE),
        threads=(*(ThreadPlan((op,)) for op in ops), ThreadPlan((LEN_ITEMS,))),
        iterations=1000,
        rounds=8,
    ).validate()


@pytest.fixture(scope="module")
def session(python313d: Path) -> Iterator[HarnessSession]:
    with HarnessSession(discover(python313d)) as started:
        yield started


def first_crash(session: HarnessSession, scenario: Scenario, runs: int = 40) -> str:
    """The bucket key of the first crash in at most ``runs`` runs (fails the test if none)."""
    for _ in range(runs):
        verdict = judge(session.run(scenario, timeout=30.0), scenario)
        if verdict.key is not None:
            return verdict.key
    pytest.fail(f"no crash in {runs} runs of the bloated scenario")


def crashes_again(session: HarnessSession, scenario: Scenario, key: str, runs: int = 40) -> bool:
    """Whether ``scenario`` ends in bucket ``key`` within ``runs`` runs."""
    return any(judge(session.run(scenario, 30.0), scenario).key == key for _ in range(runs))


def describe(result: MinimiseResult) -> str:
    """The figures of a result, for a failing assertion's message."""
    steps = ", ".join(f"{step.pass_name} ({step.runs} runs)" for step in result.steps)
    return (
        f"{result.status}: {result.before_key} -> {result.after_key}, rate "
        f"{result.before_rate.text} -> {result.after_rate.text}, confirm {result.confirm}, "
        f"{result.runs} runs in {result.wall_s:.0f} s; kept: {steps}"
    )


@pytest.mark.xfail(
    strict=False,
    reason="open regression: the bloated enumerate race still crashes 6 runs in 10 (as before), "
    "but only about 2 in 14 land in the first crash's bucket under signature version 3, so each "
    "confirmation costs 20 runs and the budget runs out before the noise objects go",
)
def test_a_bloated_enumerate_race_shrinks(session: HarnessSession) -> None:
    scenario = bloated_enumerate()
    key = first_crash(session, scenario)
    result = minimise(session, scenario, key, budget_s=420, timeout_s=30.0)
    facts = describe(result)
    assert result.status in (MINIMISED, BUDGET_EXHAUSTED), facts
    after = result.after
    # Two threads is where it lands on a quiet machine; a loaded one may keep a third or a
    # fourth, because two threads there race too rarely to confirm (the minimiser is right to
    # keep them).  The bloated start has five.
    assert after.thread_count < scenario.thread_count, facts
    assert all(len(plan.operations) == 1 for plan in after.threads), facts
    assert [obj.name for obj in after.shared] == ["it"]
    assert result.after_key < result.before_key
    assert result.after_rate.crashes > 0 or crashes_again(session, after, key)
    assert code_lines(render(after, Header())) <= 25


def test_a_scenario_that_does_not_crash_is_not_reproduced(session: HarnessSession) -> None:
    calm = Scenario(
        shared=(NOISE[1],),
        threads=(ThreadPlan((LEN_ITEMS,)), ThreadPlan((LEN_ITEMS,))),
        iterations=10,
    ).validate()
    result = minimise(session, calm, "000000000000", budget_s=60, validate_runs=3)
    assert result.status == NOT_REPRODUCED
    assert result.after == calm and result.runs == 9  # three times 3 for a crash not seen
    assert (result.before_rate.crashes, result.before_rate.runs) == (0, 9)
    assert result.others == {"passed": 9}


def test_the_minimise_command_stores_and_prints_the_result(
    session: HarnessSession, python313d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = bloated_bytearray()
    seen: dict[str, tuple[int, Evidence, Verdict]] = {}
    for _ in range(12):  # the race shows several signatures: take the most frequent
        evidence = session.run(scenario, timeout=30.0)
        verdict = judge(evidence, scenario)
        if verdict.key is not None:
            count = seen.get(verdict.key, (0, evidence, verdict))[0]
            seen[verdict.key] = (count + 1, evidence, verdict)
    if not seen:
        pytest.fail("the bytearray race did not crash in 12 runs")
    _, evidence, verdict = max(seen.values(), key=lambda entry: entry[0])
    assert verdict.signature is not None
    config = CampaignConfig(python=str(python313d), out=str(tmp_path), modules=("builtins",))
    with Store.create(tmp_path, config.to_json()) as store:
        store.record_finding(
            verdict.signature,
            verdict.outcome.status,
            contract=IN_CONTRACT,
            scenario=scenario,
            evidence=evidence,
            outcome=verdict.outcome,
        )
    key = verdict.signature.key
    status = main(["minimise", str(tmp_path), key[:6], "--budget", "150", "--runs", "10"])
    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert f"bucket {key}" in printed.out
    assert "threads" in printed.out and "rate:" in printed.out
    assert "script (" in printed.out and "import threading" not in printed.err
    with Store.open(tmp_path, readonly=True) as store:
        done = store.bucket(key).minimisation
    assert done is not None
    assert done.after_size < done.before_size
    assert done.before_rate is not None and 10 <= done.before_rate.runs <= 30
    assert done.scenario.thread_count < scenario.thread_count


def test_the_minimise_command_reports_a_crash_that_does_not_show(
    python313d: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calm = Scenario(shared=(NOISE[1],), threads=(ThreadPlan((LEN_ITEMS,)),), iterations=5)
    config = CampaignConfig(python=str(python313d), out=str(tmp_path), modules=("builtins",))
    with HarnessSession(discover(python313d)) as own:
        evidence = own.run(calm, 10.0)
    signature = Signature("hang", ("made up for the test",))
    with Store.create(tmp_path, config.to_json()) as store:
        store.record_finding(
            signature,
            Status.HUNG,
            contract=IN_CONTRACT,
            scenario=calm,
            evidence=evidence,
            outcome=Outcome(Status.HUNG, "made up"),
        )
    status = main(["minimise", str(tmp_path), signature.key, "--runs", "2", "--budget", "30"])
    printed = capsys.readouterr()
    assert status == 3  # could not do its job: not a finding, not a pass
    assert "not reproduced" in printed.out and "0/6" in printed.out
    with Store.open(tmp_path, readonly=True) as store:
        assert store.bucket(signature.key).minimisation is None
