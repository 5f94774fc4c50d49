"""Buckets follow-up's budget ended before still get a script (rendered, never run), and stay
unfinished so that ``--resume`` measures them."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

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


def record(store: Store, function: str, contract: str = "in-contract") -> str:
    return store.record_finding(
        Signature("native", (function,)),
        Status.CRASHED,
        contract=contract,
        scenario=POPS,
        evidence=Evidence(11, -11, False, 0.1, b""),
        outcome=Outcome(Status.CRASHED, "SIGSEGV"),
    ).bucket_key


def context_for(store: Store, tmp_path: Path, sessions: tuple[Any, ...]) -> FollowUpContext:
    return FollowUpContext(
        config=CampaignConfig(python=sys.executable, out=str(tmp_path), budget_s=60),
        store=store,
        console=Console(file=io.StringIO()),
        sessions=sessions,
        interpreter=discover(sys.executable),
        facts={},
        policy=default_policy(),
        limits={},
        modules=(),
    )


def test_buckets_left_when_time_ran_out_get_an_unmeasured_script(tmp_path: Path) -> None:
    with Store.create(tmp_path, {}) as store:
        key = record(store, "list_pop_impl")
        context = context_for(store, tmp_path, sessions=())  # no worker: nothing is followed
        FollowUp(context, Surface(sys.executable, (), (), (), (), {})).run([key])
        bucket = store.bucket(key)
        assert bucket.reproduction is None
        assert bucket.repro_script is not None
        assert "s.obj.pop" in bucket.repro_script and "Observed:" not in bucket.repro_script
        assert unfinished(store) == [key]  # --resume still measures it


class VariantsFindMore(FollowUp):
    """A follow-up whose every step is a record of the order buckets were taken in, and whose
    first bucket's variant search finds one bucket in the contract and one outside it."""

    def __init__(self, context: FollowUpContext, finds: list[str]) -> None:
        super().__init__(context, Surface(sys.executable, (), (), (), (), {}))
        self.finds = finds
        self.taken: list[str] = []

    def follow(self, session: Any, key: str, deadline: float) -> list[str]:
        self.taken.append(key)
        found, self.finds = self.finds, []
        return found


def test_in_contract_buckets_variants_found_are_followed_after_the_campaigns_own(
    tmp_path: Path,
) -> None:
    with Store.create(tmp_path, {}) as store:
        own = [record(store, "list_pop_impl"), record(store, "list_append")]
        inside = record(store, "list_repr_impl")
        outside = record(store, "list_init", contract="outside-contract")
        follow_up = VariantsFindMore(context_for(store, tmp_path, (object(),)), [inside, outside])
        follow_up.run(own)
        assert follow_up.taken == [*own, inside]  # the outside-contract find gets a script only
        assert store.bucket(outside).repro_script is not None
