"""``threadstorm merge``: campaigns run apart, combined into one folder, on real store files."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from test_report_samples import (
    CLASSMETHOD_SIGNATURE,
    CONFIG,
    UNION_SIGNATURE,
    Clock,
    classmethod_scenario,
    evidence,
    union_scenario,
)

from threadstorm.bucket.identity import Signature
from threadstorm.cli.main import main
from threadstorm.errors import UsageError
from threadstorm.scenario.model import Scenario
from threadstorm.store.combine import merge_campaigns
from threadstorm.store.db import Store
from threadstorm.triage.outcome import Outcome, Status

CRASH = Outcome(Status.CRASHED, "SIGSEGV")


def campaign(
    folder: Path,
    start: float,
    findings: list[tuple[Signature, Scenario, str]],
    passed: int,
) -> Path:
    """A campaign folder made by the Store API: ``passed`` clean runs and the findings, one
    second apart from ``start``; each finding is one run too."""
    clock = Clock()
    clock.now = start
    with Store.create(folder, CONFIG, clock=clock, flush_interval_s=0) as store:
        for _ in range(passed):
            store.record_run(Status.PASSED, "readers_vs_mutators", "list")
        for signature, scenario, contract in findings:
            clock.now += 1
            store.record_run(Status.CRASHED, scenario.family, "list")
            store.record_finding(
                signature,
                Status.CRASHED,
                contract=contract,
                scenario=scenario,
                evidence=evidence(signal.SIGSEGV, f"Fatal Python error at {clock.now}\n"),
                outcome=CRASH,
            )
        store.update_campaign(duration_s=30.0, status="finished")
    return folder


@pytest.fixture
def two(tmp_path: Path) -> tuple[Path, Path]:
    union, small = union_scenario(), union_scenario(threads=2)
    first = campaign(
        tmp_path / "a",
        2000.0,
        [(UNION_SIGNATURE, union, "in-contract"), (UNION_SIGNATURE, union, "in-contract")],
        passed=10,
    )
    second = campaign(
        tmp_path / "b",
        1000.0,  # run earlier: its first sighting is the one kept
        [
            (UNION_SIGNATURE, small, "in-contract"),
            (CLASSMETHOD_SIGNATURE, classmethod_scenario(), "outside-contract"),
        ],
        passed=5,
    )
    return first, second


def test_buckets_merge_by_signature_with_counts_summed_and_earliest_first_seen(
    two: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    summary = merge_campaigns(list(two), out)
    assert (summary.campaigns, summary.runs, summary.buckets, summary.crashes) == (2, 19, 2, 4)
    with Store.open(out, readonly=True) as store:
        buckets = {bucket.key: bucket for bucket in store.buckets()}
        union = buckets[UNION_SIGNATURE.key]
        assert union.count == 3
        assert union.first_seen == 1001.0
        assert union.last_seen == 2002.0
        assert union.smallest_scenario == union_scenario(threads=2)  # the smaller one is kept
        representative = store.crash(union.representative_crash or 0)
        assert representative.scenario == union_scenario(threads=2)
        assert buckets[CLASSMETHOD_SIGNATURE.key].contract == "outside-contract"
        assert len(store.crashes(UNION_SIGNATURE.key)) == 3
        assert store.campaign().runs == 19
        assert store.campaign().duration_s == 60.0
        counts = {(c.status, c.family): c.count for c in store.run_counts()}
        assert counts[(Status.PASSED, "readers_vs_mutators")] == 15
        assert sum(c.count for c in store.run_counts()) == 19
        assert {d.bucket_key for d in store.discoveries()} == set(buckets)
        assert store.integrity_problems() == []


def test_merging_one_campaign_keeps_it_whole(two: tuple[Path, Path], tmp_path: Path) -> None:
    merge_campaigns([two[0]], tmp_path / "one")
    with Store.open(two[0], readonly=True) as before, Store.open(tmp_path / "one") as after:
        assert [b.key for b in after.buckets()] == [b.key for b in before.buckets()]
        assert after.buckets()[0].count == before.buckets()[0].count
        assert after.campaign().runs == before.campaign().runs


def test_into_an_empty_folder(two: tuple[Path, Path], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    merge_campaigns(list(two), tmp_path / "empty")
    assert Store.open(tmp_path / "empty", readonly=True).campaign().runs == 19


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("missing", "does not exist"),
        ("not a campaign", "is not a threadstorm campaign"),
        ("out not empty", "exists and is not empty"),
        ("twice", "is named twice"),
    ],
)
def test_bad_input_is_one_line_and_leaves_nothing(
    two: tuple[Path, Path],
    tmp_path: Path,
    case: str,
    words: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "out"
    sources = [str(two[0])]
    if case == "missing":
        sources.append(str(tmp_path / "nowhere"))
    elif case == "not a campaign":
        (tmp_path / "plain").mkdir()
        sources.append(str(tmp_path / "plain"))
    elif case == "out not empty":
        out.mkdir()
        (out / "x").write_text("x")
    else:
        sources.append(str(two[0]))
    before = sorted(path.name for path in tmp_path.iterdir())
    assert main(["merge", *sources, "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and words in error, error
    assert sorted(path.name for path in tmp_path.iterdir()) == before


def test_a_failed_merge_leaves_no_folder(two: tuple[Path, Path], tmp_path: Path) -> None:
    (two[1] / "threadstorm.sqlite").write_bytes(b"garbage" * 100)
    with pytest.raises(UsageError):
        merge_campaigns(list(two), tmp_path / "out")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a", "b"]
