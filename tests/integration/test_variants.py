"""Variant search against the real 3.13 debug target: the seed-shaped case, end to end.

Starting from a shared ``enumerate`` advanced by four threads, the iterator siblings are tried.
On CPython 3.13.5 the set iterator's exhaustion races (a double ``Py_DECREF`` of the set) and
crashes; the list iterator's does not.  Crashes are probabilistic: a search is repeated a
bounded number of times until the set iterator has crashed once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from threadstorm.bucket.identity import Signature
from threadstorm.campaign.config import CampaignConfig
from threadstorm.cli.main import main
from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.generate.surface import Subject, Surface, load_surface
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
from threadstorm.store.db import Store
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status
from threadstorm.variants.search import Trial, search

pytestmark = pytest.mark.integration

# A shared-iterator scenario as the family makes it from the surface's ``enumerate([1, 2, 3])``:
# exhausted at once every round, so many rounds mean many exhaustion races.
ITEMS = Collection("list", (Lit(1), Lit(2), Lit(3)))
ENUMERATE = Scenario(
    shared=(SharedObject("obj", Call(Ref("builtins.enumerate"), (ITEMS,)), fresh=True),),
    threads=tuple(ThreadPlan((Operation("function", "obj", "builtins.next"),)) for _ in range(4)),
    iterations=5,
    rounds=1000,
    imports=("builtins",),
    family="shared_iterator",
)
SET_ITERATOR = "builtins.set_iterator"
LIST_ITERATOR = "builtins.list_iterator"
ATTEMPTS = 20  # searches at most, until the set iterator has crashed once (it is rare)


@dataclass(frozen=True)
class Narrowed:
    """A surface cut down to a few subjects, to keep the test short."""

    subjects: Sequence[Subject]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def session(python313d: Path) -> Iterator[HarnessSession]:
    with HarnessSession(discover(str(python313d)), ("builtins",)) as started:
        yield started


@pytest.fixture(scope="module")
def surface(session: HarnessSession, cache: Path) -> Surface:
    return load_surface(session, ["builtins"], [], DEFAULT_DENY, cache_dir=cache)


def test_kinship_describes_objects_in_the_target(session: HarnessSession) -> None:
    recipes = [
        Call(Ref("builtins.iter"), (Call(Ref("builtins.set"), (Lit("abc"),)),)),
        Call(Ref("builtins.no_such_thing")),
    ]
    first, second = session.kinship(ENUMERATE.shared, recipes)
    assert first["type"] == SET_ITERATOR
    assert "Iterator" in first["abcs"]
    assert "tp_iternext" in first["slots"]
    assert second["error"].startswith("ScenarioError") or "AttributeError" in second["error"]


def test_set_iterator_crashes_and_list_iterator_does_not(
    session: HarnessSession, surface: Surface
) -> None:
    wanted = {SET_ITERATOR, LIST_ITERATOR, "builtins.tuple_iterator"}
    narrowed = Narrowed([s for s in surface.subjects if s.type in wanted])
    assert {s.type for s in narrowed.subjects} == wanted
    totals: dict[str, Trial] = {}
    started = time.monotonic()
    for _ in range(ATTEMPTS):
        planned = search(session, narrowed, ENUMERATE, runs=3, max_runs=3, timeout_s=60.0)
        for trial in planned.trials:
            merge(totals, trial)
        if totals[SET_ITERATOR].crashes:
            break
        narrowed = Narrowed([s for s in narrowed.subjects if s.type == SET_ITERATOR])
    elapsed = time.monotonic() - started
    crashed, clean = totals[SET_ITERATOR], totals[LIST_ITERATOR]
    assert crashed.crashes > 0, f"set iterator never crashed in {crashed.runs} runs"
    assert crashed.bucket is not None
    assert clean.runs >= 3 and clean.crashes == 0, clean.keys
    assert crashed.why == "also Iterator; fills tp_iternext; same module builtins"
    assert crashed.scenario is not None
    assert crashed.scenario.shared[0].recipe == Call(
        Ref("builtins.iter"), (Call(Ref(crashed_constructor(crashed)), (ITEMS,)),)
    )
    variant = crashed.variant("not-the-original")
    assert (variant.subject, variant.crashed, variant.bucket) == (
        SET_ITERATOR,
        True,
        crashed.bucket,
    )
    assert variant.rate.fraction > 0
    print(f"set iterator {crashed.crashes}/{crashed.runs}, list 0/{clean.runs}, {elapsed:.0f} s")


def crashed_constructor(trial: Trial) -> str:
    """``builtins.set`` or ``builtins.frozenset``, whichever the surface made its iterator from."""
    assert trial.sibling is not None
    recipe = trial.sibling.candidate.subject.recipe
    assert isinstance(recipe, Call) and isinstance(recipe.args[0], Call)
    func = recipe.args[0].func
    assert isinstance(func, Ref)
    return func.path


def merge(totals: dict[str, Trial], trial: Trial) -> None:
    kept = totals.setdefault(trial.label, trial)
    if kept is trial:
        return
    kept.runs += trial.runs
    kept.keys.update(trial.keys)


def test_variants_command_stores_and_files_findings(
    python313d: Path, tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("THREADSTORM_CACHE", str(cache))
    monkeypatch.setenv("COLUMNS", "250")
    folder = tmp_path / "campaign"
    config = CampaignConfig(
        python=str(python313d), out=str(folder), modules=("builtins",), run_timeout_s=60.0
    )
    with Store.create(folder, config.to_json()) as store:
        original = store.record_finding(
            Signature("python", ("SIGSEGV", "types: builtins.enumerate")),
            Status.CRASHED,
            contract="in-contract",
            scenario=replace(ENUMERATE, rounds=200),  # short: no crash is needed here
            evidence=Evidence(
                wait_status=11, exit_code=-11, timed_out=False, duration_s=1.0, stderr=b""
            ),
            outcome=Outcome(Status.CRASHED, "SIGSEGV"),
        )
    status = main(
        [
            "variants",
            str(folder),
            original.bucket_key[:6],
            "--runs",
            "2",
            "--max-runs",
            "2",
            "--budget",
            "240",
        ]
    )
    assert status == 0
    out = capsys.readouterr().out
    assert f"bucket {original.bucket_key}" in out
    assert SET_ITERATOR in out and LIST_ITERATOR in out
    assert "builtins.enumerate (the original)" in out  # rerun alongside, as a baseline
    with Store.open(folder) as store:
        bucket = store.bucket(original.bucket_key)
        by_subject = {v.subject: v for v in bucket.variants}
        assert {SET_ITERATOR, LIST_ITERATOR} <= set(by_subject)
        assert all(v.runs <= 2 for v in bucket.variants)
        assert by_subject[LIST_ITERATOR].crashes == 0
        filed = {b.key for b in store.buckets()}
        for variant in bucket.variants:
            assert variant.crashed == (variant.crashes > 0)
            if variant.bucket is not None:
                assert variant.bucket in filed  # findings of variants are in the campaign
    assert main(["variants", str(folder), original.bucket_key, "--runs", "0"]) == 2
