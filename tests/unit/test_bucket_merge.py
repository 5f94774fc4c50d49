"""Buckets that follow-up finds to crash at one native site merge, and the store keeps history."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from test_report_samples import CONFIG, Clock, evidence, iterator_scenario, union_scenario

from threadstorm.bucket.identity import Signature
from threadstorm.bucket.merge import native_site, plan_merges
from threadstorm.reproduce import rate
from threadstorm.scenario.simplicity import sort_key
from threadstorm.store.db import Store
from threadstorm.triage.outcome import Outcome, Status

INIT = Signature("python", ("SIGSEGV", "op: builtins.ImportError.__init__()"))
NAME = Signature("python", ("SIGSEGV", "op: builtins.NameError.__init__()"))
OTHER = Signature("python", ("SIGSEGV", "op: builtins.list.pop()"))
NATIVE = Signature("native", ("SIGSEGV", "list_repr_impl", "PyObject_Repr"))

BACKTRACE = """Thread 2 "python3.13td" received signal SIGSEGV, Segmentation fault.
Thread 2 (Thread 0x7f (LWP 11) "python3.13td"):
#0  0x00005555 in list_repr_impl (v=0x0) at Objects/listobject.c:606
#1  0x00005556 in PyObject_Repr (v=0x1) at Objects/object.c:700
#2  0x00005557 in _PyEval_EvalFrameDefault (tstate=0x2) at Python/ceval.c:10
"""


def file(store: Store, signature: Signature, times: int = 1, small: bool = False) -> None:
    scenario = union_scenario(size=2) if small else iterator_scenario()
    for _ in range(times):
        store.record_finding(
            signature,
            Status.CRASHED,
            contract="in-contract",
            scenario=scenario,
            evidence=evidence(signal.SIGSEGV, "Fatal Python error: Segmentation fault\n"),
            outcome=Outcome(Status.CRASHED, "SIGSEGV"),
        )


def test_buckets_with_one_native_site_merge_into_the_native_one(tmp_path: Path) -> None:
    with Store.create(tmp_path / "c", CONFIG, clock=Clock()) as store:
        file(store, INIT, 3)
        file(store, NAME, 1, small=True)
        file(store, NATIVE, 2)
        file(store, OTHER, 1)
        store.set_backtrace(INIT.key, BACKTRACE)
        store.set_backtrace(NAME.key, BACKTRACE)
        by_key = {bucket.key: bucket for bucket in store.buckets()}
        assert native_site(by_key[INIT.key]) == ("list_repr_impl", "PyObject_Repr")
        assert native_site(by_key[OTHER.key]) is None
        planned = plan_merges(store.buckets())
        assert {(p.source, p.target) for p in planned} == {
            (INIT.key, NATIVE.key),
            (NAME.key, NATIVE.key),
        }
        for merge in planned:
            store.merge_buckets(merge.source, merge.target, merge.reason)

        keys = {bucket.key: bucket for bucket in store.buckets()}
        assert set(keys) == {NATIVE.key, OTHER.key}
        merged = keys[NATIVE.key]
        assert merged.count == 6
        smallest = min(union_scenario(size=2), iterator_scenario(), key=sort_key)
        assert merged.smallest_scenario == smallest
        assert len(store.crashes(NATIVE.key)) == 6
        history = {m.source_key: m for m in store.merges()}
        assert set(history) == {INIT.key, NAME.key}
        assert history[INIT.key].count == 3
        assert history[INIT.key].signature["parts"] == list(INIT.parts)
        assert store.bucket_keys(NATIVE.key) == {NATIVE.key, INIT.key, NAME.key}
        assert store.bucket_keys(OTHER.key) == {OTHER.key}
        assert "list_repr_impl" in history[INIT.key].reason

        file(store, INIT, 1)  # a later finding of a merged signature lands in the target
        assert store.bucket(NATIVE.key).count == 7
        assert store.has_bucket(INIT.key)
        assert [b.key for b in store.buckets()].count(INIT.key) == 0


CRASH = Outcome(Status.CRASHED, "SIGSEGV")


@dataclass(frozen=True)
class Landed:
    """A judged rerun that ended in bucket ``key`` (what ``measure_scenario`` reads of it)."""

    key: str
    outcome: Outcome = CRASH

    def matches(self, key: str) -> bool:
        return key == self.key


def test_a_rerun_under_a_merged_signature_counts_for_the_bucket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    landed = iter([INIT.key, NATIVE.key, OTHER.key, NAME.key])
    monkeypatch.setattr(rate, "run_confirmed", lambda *args: evidence(signal.SIGSEGV, ""))
    monkeypatch.setattr(rate, "judge", lambda *args: Landed(next(landed)))
    session: Any = None
    keys = frozenset({NATIVE.key, INIT.key, NAME.key})  # Store.bucket_keys of the merged bucket
    measured = rate.measure_scenario(session, iterator_scenario(), keys, runs=4, timeout_s=1.0)
    assert (measured.crashes, measured.runs) == (3, 4)
    assert measured.others == {OTHER.key: 1}
