"""The one hang judge: deadline hangs and CPU-limit (SIGXCPU) ends are confirmed the same way."""

from __future__ import annotations

import signal

from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.hangs import CONTROL_TIMEOUT_S, REPEATS, confirm_hang, run_confirmed
from threadstorm.harness.confine import cpu_seconds_per_thread
from threadstorm.scenario.model import Make, Operation, Scenario, SharedObject, ThreadPlan
from threadstorm.target.confined_script import Confinement
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

PLAN = ThreadPlan((Operation("method", "obj", "clear"),))
SCENARIO = Scenario(shared=(SharedObject("obj", Make("nested_list")),), threads=(PLAN, PLAN))


def cpu_limited() -> Evidence:
    return Evidence(signal.SIGXCPU, -signal.SIGXCPU, False, 9.0, b"", in_flight=(0, None))


def deadline() -> Evidence:
    return Evidence(0, 0, True, 10.0, b"", in_flight=(0, None))


def passed() -> Evidence:
    return Evidence(0, 0, False, 0.1, b"", messages=({"event": "done", "status": "passed"},))


class Session:
    """Answers every run with the next evidence of a list; records what it ran."""

    def __init__(self, *answers: Evidence) -> None:
        self.answers = list(answers)
        self.ran: list[tuple[Scenario, float]] = []

    def run(self, scenario: Scenario, timeout: float = 10.0) -> Evidence:
        self.ran.append((scenario, timeout))
        return self.answers.pop(0)


def test_a_cpu_limit_end_whose_plan_also_spins_alone_is_not_a_finding() -> None:
    session = Session(cpu_limited(), cpu_limited())
    evidence = run_confirmed(session, SCENARIO, 10.0)
    assert evidence.hangs_alone
    assert session.ran[1] == (Scenario(SCENARIO.shared, (PLAN,)), CONTROL_TIMEOUT_S)
    assert classify(evidence).status == Status.PASSED


def test_a_cpu_limit_end_that_needs_the_other_threads_and_comes_back_is_a_hang() -> None:
    session = Session(cpu_limited(), passed(), cpu_limited())
    evidence = run_confirmed(session, SCENARIO, 10.0)
    assert not evidence.hangs_alone and not evidence.hang_not_repeated
    assert session.ran[2] == (SCENARIO, 10.0)  # the whole scenario again, its own deadline
    assert classify(evidence).status == Status.HUNG


def test_a_hang_seen_once_in_a_few_reruns_counts() -> None:
    session = Session(deadline(), passed(), passed(), deadline())
    evidence = run_confirmed(session, SCENARIO, 10.0)
    assert classify(evidence).status == Status.HUNG
    assert len(session.ran) == 2 + REPEATS


def test_a_hang_that_never_comes_back_is_not_a_finding() -> None:
    """A starved machine can stall a trivial scenario past its deadline once; a bug repeats."""
    session = Session(deadline(), passed(), *([passed()] * REPEATS))
    evidence = run_confirmed(session, SCENARIO, 10.0)
    assert evidence.hang_not_repeated
    assert classify(evidence).status == Status.PASSED
    assert len(session.ran) == 2 + REPEATS


def test_a_deadline_hang_is_confirmed_against_a_cpu_limit_end_alone() -> None:
    evidence = confirm_hang(Session(cpu_limited()), SCENARIO, deadline(), 10.0)
    assert evidence.hangs_alone
    assert classify(evidence).status == Status.PASSED


def test_a_run_that_ended_by_itself_is_not_rerun() -> None:
    session = Session(passed())
    assert run_confirmed(session, SCENARIO, 10.0) == passed()
    assert len(session.ran) == 1


def test_busy_threads_meet_the_deadline_before_the_cpu_limit() -> None:
    """However many cores, T busy threads (and the main one) use at most (T+1) x deadline."""
    config = CampaignConfig(python="python", out="out", run_timeout_s=10.0)
    per_thread = config.limits(None)["cpu_seconds"]
    assert per_thread == cpu_seconds_per_thread(10.0) > 10.0
    script = Confinement(limits=config.limits(None), threads=6).script_limits(45.0)
    assert script["cpu_seconds"] > 45.0
