"""Buckets follow-up's budget ended before still get a script (rendered, never run), and stay
unfinished so that ``--resume`` measures them."""

from __future__ import annotations

import io
import sys
from pathlib import Path

from rich.console import Console

from threadstorm.bucket.identity import Signature
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
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

POPS = Scenario(
    shared=(SharedObject("obj", Collection("list", (Lit(1), Lit(2))), fresh=True),),
    threads=(ThreadPlan((Operation("method", "obj", "pop"),)),) * 2,
)


def test_buckets_left_when_time_ran_out_get_an_unmeasured_script(tmp_path: Path) -> None:
    with Store.create(tmp_path, {}) as store:
        key = store.record_finding(
            Signature("native", ("list_pop_impl",)),
            Status.CRASHED,
            contract="in-contract",
            scenario=POPS,
            evidence=Evidence(11, -11, False, 0.1, b""),
            outcome=Outcome(Status.CRASHED, "SIGSEGV"),
        ).bucket_key
        context = FollowUpContext(
            config=CampaignConfig(python=sys.executable, out=str(tmp_path), budget_s=1),
            store=store,
            console=Console(file=io.StringIO()),
            sessions=(),  # no worker: the budget ends before any bucket is followed
            interpreter=discover(sys.executable),
            facts={},
            policy=default_policy(),
            limits={},
            modules=(),
        )
        FollowUp(context, Surface(sys.executable, (), (), (), (), {})).run([key])
        bucket = store.bucket(key)
        assert bucket.reproduction is None
        assert bucket.repro_script is not None
        assert "s.obj.pop" in bucket.repro_script and "Observed:" not in bucket.repro_script
        assert unfinished(store) == [key]  # --resume still measures it
