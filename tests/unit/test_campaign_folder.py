"""A campaign folder under faults: one controller at a time, killed controllers' leftovers,
follow-up a kill interrupted, and the store's integrity check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from test_bucket_merge import BACKTRACE, INIT, NATIVE, file

from threadstorm.bucket.judge import Signature  # re-exported wherever the type lives
from threadstorm.campaign.followup import unfinished
from threadstorm.campaign.lock import campaign_lock
from threadstorm.cli import main as cli
from threadstorm.errors import UsageError
from threadstorm.rate import Rate
from threadstorm.scenario.model import Make, Operation, Scenario, SharedObject, ThreadPlan
from threadstorm.store.db import Store
from threadstorm.target.stale import OWNER_FILE, clean_stale, mark_owner
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

SCENARIO = Scenario(
    shared=(SharedObject("obj", Make("nested_list")),),
    threads=(ThreadPlan((Operation("method", "obj", "clear"),)),),
)


def test_a_second_controller_is_refused_while_the_first_holds_the_folder(tmp_path: Path) -> None:
    refused = pytest.raises(UsageError, match=r"in use by another threadstorm \(pid \d+\)")
    with campaign_lock(tmp_path), refused, campaign_lock(tmp_path):
        pass
    with campaign_lock(tmp_path):  # released when the holder is done
        pass


def test_resume_beside_a_live_controller_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "COMMANDS", ("fuzz",))
    Store.create(tmp_path, {"python": sys.executable, "modules": ["json"]}).close()
    with campaign_lock(tmp_path):
        assert cli.main(["fuzz", "--resume", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in use by another threadstorm" in err


def test_folders_of_dead_controllers_are_removed_and_live_ones_kept(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / "threadstorm-gone"
    gone.mkdir()
    (gone / OWNER_FILE).write_text(f"{dead.pid} 1\n")
    reused = tmp_path / "threadstorm-reused"  # our pid, but another process's start time
    reused.mkdir()
    (reused / OWNER_FILE).write_text(f"{os.getpid()} 1\n")
    live = tmp_path / "threadstorm-live"
    live.mkdir()
    mark_owner(live)
    unmarked = tmp_path / "threadstorm-unmarked"
    unmarked.mkdir()
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / OWNER_FILE).write_text(f"{dead.pid} 1\n")
    assert clean_stale(tmp_path) == [gone, reused]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "elsewhere",
        "threadstorm-live",
        "threadstorm-unmarked",
    ]


def test_buckets_whose_follow_up_was_interrupted_are_found(tmp_path: Path) -> None:
    with Store.create(tmp_path, {}) as store:
        keys = []
        for name in ("first", "second", "third"):
            finding = store.record_finding(
                Signature("native", (name,)),
                Status.CRASHED,
                contract="in-contract",
                scenario=SCENARIO,
                evidence=Evidence(11, -11, False, 0.1, b""),
                outcome=Outcome(Status.CRASHED, "SIGSEGV"),
            )
            keys.append(finding.bucket_key)
        store.update_bucket_reproduction(keys[0], Rate(3, 10, (0.2,)))
        store.set_repro_script(keys[0], "print('repro')\n")  # followed up to the end
        store.update_bucket_reproduction(keys[1], Rate(3, 10, (0.2,)))  # killed while minimising
        assert set(unfinished(store)) == {keys[1], keys[2]}
        assert store.integrity_problems() == []


def test_resume_finishes_a_campaign_killed_after_its_last_follow_up_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "COMMANDS", ("fuzz",))
    config = {"python": sys.executable, "out": str(tmp_path), "modules": ["json"], "budget_s": 5}
    with Store.create(tmp_path, config) as store:
        file(store, INIT)
        file(store, NATIVE)
        for key in (INIT.key, NATIVE.key):
            store.update_bucket_reproduction(key, Rate(3, 10, (0.2,)))
            store.set_repro_script(key, "print('repro')\n")
        store.set_backtrace(INIT.key, BACKTRACE)  # follow-up was killed before merging by site
        store.update_campaign(status="following up", duration_s=5.0)
    assert cli.main(["fuzz", "--resume", str(tmp_path)]) == 0  # nothing to run: no target
    assert "has used its 5 s budget" in capsys.readouterr().out
    with Store.open(tmp_path, readonly=True) as store:
        assert store.campaign().status == "finished"
        assert [b.key for b in store.buckets()] == [NATIVE.key]
        assert [(m.source_key, m.target_key) for m in store.merges()] == [(INIT.key, NATIVE.key)]
