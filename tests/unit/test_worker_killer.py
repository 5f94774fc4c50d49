"""A scenario quarantined for killing its Dask workers is a crash finding of its own."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console

from threadstorm.bucket.judge import judge
from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.followup import FollowUp, FollowUpContext, unfinished
from threadstorm.contract.policy import default_policy
from threadstorm.generate.surface import Surface
from threadstorm.scenario.model import (
    Collection,
    Lit,
    Operation,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.store.db import Store
from threadstorm.target.interpreter import discover
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status


def scenario(*names: str) -> Scenario:
    return Scenario(
        shared=(SharedObject("obj", Collection("list", (Lit(1),))),),
        threads=tuple(ThreadPlan((Operation("method", "obj", name),)) for name in names),
    )


def test_the_evidence_of_a_worker_killer_says_so_and_survives_the_store() -> None:
    killer = Evidence.worker_killer()
    assert killer.killed_workers
    assert Evidence.from_json(killer.to_json()).killed_workers
    assert not Evidence(0, 0, False, 0.0, b"").killed_workers


def test_a_worker_killer_is_a_crash_whose_reason_names_the_quarantine() -> None:
    outcome = classify(Evidence.worker_killer())
    assert outcome.status is Status.CRASHED
    assert "quarantined" in outcome.reason


def test_its_signature_is_the_sorted_names_of_the_operations_it_calls() -> None:
    verdict = judge(Evidence.worker_killer(), scenario("pop", "append", "pop"))
    assert verdict.signature is not None
    assert verdict.signature.kind == "worker_killer"
    assert verdict.signature.parts == ("append", "pop")
    assert verdict.candidates == ()
    same = judge(Evidence.worker_killer(), scenario("append", "pop"))
    other = judge(Evidence.worker_killer(), scenario("clear"))
    assert same.key == verdict.key != other.key


def test_follow_up_writes_a_quarantined_scenario_s_script_and_never_runs_it(
    tmp_path: Path,
) -> None:
    """No session is given: running the scenario would fail the test, as it would risk the
    controller in a real campaign."""
    killer = scenario("append", "pop")
    with Store.create(tmp_path, {}) as store:
        verdict = judge(Evidence.worker_killer(), killer)
        assert verdict.signature is not None
        key = store.record_finding(
            verdict.signature,
            verdict.outcome.status,
            contract="in-contract",
            scenario=killer,
            evidence=verdict.evidence,
            outcome=verdict.outcome,
        ).bucket_key
        assert unfinished(store) == [key]
        context = FollowUpContext(
            config=CampaignConfig(python=sys.executable, out=str(tmp_path)),
            store=store,
            console=Console(file=io.StringIO()),
            sessions=(),
            interpreter=discover(sys.executable),
            facts={},
            policy=default_policy(),
            limits={},
            modules=(),
        )
        no_surface = Surface(sys.executable, (), (), (), (), {})
        no_session: Any = None
        FollowUp(context, no_surface).follow(no_session, key, deadline=time.monotonic() + 60)
        bucket = store.bucket(key)
        assert bucket.reproduction is None
        assert bucket.repro_script is not None
        assert "killed the Dask workers" in bucket.repro_script
        assert "append" in bucket.repro_script
        assert unfinished(store) == []
