"""A small synthetic campaign store shared by the report tests (and a check that it is sound).

The data imitates what a real campaign on a 3.13 debug target writes: the seed-shaped union
assertion (in-contract, reproduced, minimised, with a gdb backtrace, variants and a script), the
classmethod repr racing ``__init__`` (outside the contract), and a hang of a shared iterator.
"""

from __future__ import annotations

import signal
from pathlib import Path

from threadstorm.bucket.identity import Signature
from threadstorm.report.model import Report, build_report
from threadstorm.scenario.model import (
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
from threadstorm.store.records import CoverageEntry, Rate, Variant
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

START = 1_750_000_000.0  # 2025-06-15T15:06:40Z

TARGET = {
    "executable": "/cache/pythons/cpython-3.13.5-debug/install/bin/python3.13td",
    "version": "3.13.5",
    "implementation": "cpython",
    "free_threaded": True,
    "gil_enabled": False,
    "debug": True,
    "sanitizer": None,
    "config_args": "'--disable-gil' '--with-pydebug'",
}
CONFIG = {"modules": ["builtins", "typing"], "seed": 7, "budget_s": 120, "target": TARGET}

UNION_SIGNATURE = Signature(
    "assertion", ("Objects/unionobject.c", "union_repr", "PyTuple_Check(alias->args)")
)
CLASSMETHOD_SIGNATURE = Signature("native", ("cm_repr", "PyObject_Repr", "list_repr"))
HANG_SIGNATURE = Signature("hang", ("listiter_next", "obj.__next__()"))

UNION_STDERR = (
    "python3.13td: Objects/unionobject.c:296: union_repr: Assertion "
    "`PyTuple_Check(alias->args)' failed.\n"
    "Fatal Python error: Aborted\n\n"
    "Thread 0x00007f3a1c5fe6c0 (most recent call first):\n"
    '  File "<threadstorm>", line 1 in run_plan\n'
)
BACKTRACE = (
    "#0  __pthread_kill_implementation (no_tid=0, signo=6, threadid=<optimized out>)\n"
    "#1  0x00007f3a1d0a0f1f in __GI_raise (sig=sig@entry=6)\n"
    "#2  0x000055d0c0a1b2c3 in union_repr (self=0x7f3a18001230) at Objects/unionobject.c:296\n"
    "#3  0x000055d0c0a0f00d in PyObject_Repr (v=0x7f3a18001230) at Objects/object.c:679\n"
    "#4  0x000055d0c09e1234 in list_repr_impl (v=0x7f3a18000f10) at Objects/listobject.c:489"
)
SCRIPT = '''"""threadstorm reproducer: repr(list) racing list.pop() over a big typing.Union."""
import threading
import typing

items = [typing.Union[int, str, bytes]]


def reader():
    for _ in range(200):
        repr(items)


threads = [threading.Thread(target=reader) for _ in range(2)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
'''


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


def union_scenario(size: int = 40, threads: int = 3) -> Scenario:
    """List repr racing pop/append/clear over a list holding a big union."""
    union = Make("big_union", (("size", size),))
    plans = [
        ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
        ThreadPlan(
            (Operation("method", "obj", "pop"), Operation("method", "obj", "append", (union,)))
        ),
        ThreadPlan((Operation("method", "obj", "clear"),)),
    ]
    return Scenario(
        shared=(
            SharedObject(
                "obj",
                Call(Ref("builtins.list"), (Collection("list", (union, Lit(1))),)),
                fresh=True,
            ),
        ),
        threads=tuple(plans[:threads]),
        iterations=200,
        imports=("typing",),
        family="readers_vs_mutators",
    )


def classmethod_scenario() -> Scenario:
    """classmethod repr racing a concurrent ``__init__`` (unsupported use)."""
    return Scenario(
        shared=(SharedObject("obj", Call(Ref("builtins.classmethod"), (Ref("builtins.len"),))),),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan((Operation("method", "obj", "__init__", (Ref("builtins.abs"),)),)),
        ),
        iterations=100,
        family="reinit",
    )


def iterator_scenario() -> Scenario:
    """One list iterator advanced by two threads."""
    items = Collection("list", (Lit(1), Lit(2), Lit(3)))
    return Scenario(
        shared=(SharedObject("obj", Call(Ref("builtins.iter"), (items,))),),
        threads=(
            ThreadPlan((Operation("method", "obj", "__next__"),)),
            ThreadPlan((Operation("method", "obj", "__next__"),)),
        ),
        iterations=50,
        family="shared_iterator",
    )


def evidence(signo: int, stderr: str, duration_s: float = 0.3, timed_out: bool = False) -> Evidence:
    return Evidence(
        wait_status=signo,  # a child killed by signal ``signo``
        exit_code=-signo,
        timed_out=timed_out,
        duration_s=duration_s,
        stderr=stderr.encode(),
    )


def fill(store: Store, clock: Clock) -> None:
    """Write a whole small campaign into ``store``."""
    for _ in range(90):
        store.record_run(Status.PASSED, "readers_vs_mutators", "list")
    for _ in range(6):
        store.record_run(Status.RAISED, "readers_vs_mutators", "list")
    for _ in range(2):
        store.record_run(Status.CRASHED, "readers_vs_mutators", "list")
    for _ in range(40):
        store.record_run(Status.PASSED, "reinit", "classmethod")
    store.record_run(Status.CRASHED, "reinit", "classmethod")
    for _ in range(30):
        store.record_run(Status.PASSED, "shared_iterator", "iter(list)")
    store.record_run(Status.HUNG, "shared_iterator", "iter(list)")
    store.record_run(Status.HARNESS_ERROR, "shared_iterator", "iter(list)")

    union_outcome = Outcome(
        Status.CRASHED, "failed C assertion PyTuple_Check(alias->args) at unionobject.c:296"
    )
    clock.now = START + 12.5
    big = union_scenario(size=40)
    store.record_finding(
        UNION_SIGNATURE,
        Status.CRASHED,
        contract="in-contract",
        contract_reason="no unsupported use",
        scenario=big,
        evidence=evidence(signal.SIGABRT, UNION_STDERR),
        outcome=union_outcome,
    )
    clock.now = START + 40.0
    store.record_finding(
        CLASSMETHOD_SIGNATURE,
        Status.CRASHED,
        contract="outside-contract",
        contract_reason="concurrent-init: re-running __init__ on a shared object is unsupported",
        scenario=classmethod_scenario(),
        evidence=evidence(signal.SIGSEGV, "Fatal Python error: Segmentation fault\n"),
        outcome=Outcome(Status.CRASHED, "SIGSEGV"),
    )
    clock.now = START + 61.0
    store.record_finding(
        UNION_SIGNATURE,
        Status.CRASHED,
        contract="in-contract",
        scenario=union_scenario(size=8, threads=2),
        evidence=evidence(signal.SIGABRT, UNION_STDERR),
        outcome=union_outcome,
    )
    clock.now = START + 75.0
    store.record_finding(
        HANG_SIGNATURE,
        Status.HUNG,
        contract="in-contract",
        contract_reason="no unsupported use",
        scenario=iterator_scenario(),
        evidence=evidence(signal.SIGKILL, "Thread 0x1 (most recent call first):\n", 10.0, True),
        outcome=Outcome(Status.HUNG, "no progress for 10 s"),
    )
    key = UNION_SIGNATURE.key
    store.update_bucket_reproduction(key, Rate(8, 10, (0.42,)))
    store.set_minimised(
        key,
        union_scenario(size=2, threads=2),
        before_size=(3, 4, 1, 45, 200),
        after_size=(2, 2, 1, 5, 200),
        before_rate=Rate(6, 10),
        after_rate=Rate(8, 10),
    )
    store.set_backtrace(key, BACKTRACE)
    store.set_variants(
        key,
        [
            Variant("tuple", crashed=False, crashes=0, runs=10),
            Variant("collections.deque", crashed=True, crashes=3, runs=10, bucket=key),
        ],
    )
    store.set_repro_script(key, SCRIPT)
    store.record_coverage(
        [
            CoverageEntry("builtins", "list.pop", "method", True, True),
            CoverageEntry("builtins", "list.__repr__", "method", True, True),
            CoverageEntry("builtins", "open", "function", False, False, "denied"),
            CoverageEntry("typing", "Union.__args__", "descriptor", True, False, "always raised"),
        ]
    )
    store.set_weights({"families": {"readers_vs_mutators": 2.5, "reinit": 1.0}, "explore": 0.2})
    store.update_campaign(status="finished", duration_s=120.0)


def sample_store(folder: Path) -> Store:
    """A closed-then-reopened (read-only) store holding the sample campaign."""
    clock = Clock()
    with Store.create(folder, CONFIG, clock=clock, flush_interval_s=3600) as store:
        fill(store, clock)
    return Store.open(folder, readonly=True)


def sample_report(tmp_path: Path) -> Report:
    """The sample campaign's report, with a stable folder name for exact-text tests."""
    with sample_store(tmp_path / "campaign") as store:
        report = build_report(store)
    return _with_folder(report, "runs/demo")


def _with_folder(report: Report, folder: str) -> Report:
    from dataclasses import replace

    campaign = replace(report.campaign, folder=folder)
    buckets = tuple(replace(bucket, folder=folder) for bucket in report.buckets)
    return replace(report, campaign=campaign, buckets=buckets)


def test_sample_report_is_sound(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    assert [bucket.id for bucket in report.buckets] == [
        UNION_SIGNATURE.key,
        HANG_SIGNATURE.key,
        CLASSMETHOD_SIGNATURE.key,
    ]
    assert report.campaign.runs == 171
    assert report.campaign.runs_per_second == 171 / 120
