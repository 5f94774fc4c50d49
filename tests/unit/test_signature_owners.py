"""Signature rule 3 names the class that defines the member called, not the instance's type."""

from __future__ import annotations

import collections
import signal
from typing import Any

from threadstorm.bucket.signature import signature_for
from threadstorm.harness.execute import member_owners
from threadstorm.scenario.model import Call, Operation, Ref, Scenario, SharedObject, ThreadPlan
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence

DUMP = b"Fatal Python error: Segmentation fault\n\nCurrent thread 0x0000000000000001:\n"


def keys_race(path: str) -> Scenario:
    return Scenario(
        shared=(SharedObject("obj", Call(Ref(path))),),
        threads=(
            ThreadPlan((Operation("method", "obj", "keys"),)),
            ThreadPlan((Operation("method", "obj", "clear"),)),
        ),
    ).validate()


def crashed(scenario: Scenario, value: Any) -> Evidence:
    """A SIGSEGV while thread 0 ran ``obj.keys()``, with the setup message a child sends."""
    setup = {
        "event": "setup",
        "types": {"obj": f"collections.{type(value).__name__}"},
        "owners": member_owners(scenario, {"obj": value}),
    }
    return Evidence(
        wait_status=signal.SIGSEGV,
        exit_code=-signal.SIGSEGV,
        timed_out=False,
        duration_s=0.1,
        stderr=DUMP,
        messages=(setup,),
        in_flight=(0, None),
    )


def test_member_owners_name_the_defining_class() -> None:
    scenario = keys_race("collections.Counter")
    owners = member_owners(scenario, {"obj": collections.Counter()})
    assert owners == {"obj.keys": "builtins.dict", "obj.clear": "builtins.dict"}


def test_one_inherited_method_is_one_bucket_whatever_the_subclass() -> None:
    keys, titles = set(), []
    for path, value in (
        ("collections.Counter", collections.Counter()),
        ("collections.defaultdict", collections.defaultdict()),
    ):
        scenario = keys_race(path)
        evidence = crashed(scenario, value)
        signature = signature_for(classify(evidence), evidence, scenario)
        keys.add(signature.key)
        titles.append(signature.title)
    assert len(keys) == 1, titles
    assert "builtins.dict.keys()" in titles[0]


def test_a_method_the_subclass_defines_itself_stays_apart() -> None:
    owners = member_owners(keys_race("collections.OrderedDict"), {"obj": collections.OrderedDict()})
    assert owners["obj.keys"] == "collections.OrderedDict"
