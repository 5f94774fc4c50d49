"""The signature corpus: captured crash texts and the outcome and signature each must give.

Each ``texts/NAME.json`` sidecar describes one run: where its text came from (``origin``:
``captured`` or ``hand-made``, and ``how``), the evidence fields that are not text (wait
status, exit code, the child's messages, the operation each thread was in), the scenario
(null for standalone scripts), the file holding the raw stderr (and the gdb backtrace, when one
was taken), the ``addr2line`` names of a faulthandler C stack when the capture had them
(``c_stack_names``), a ``bug`` label, and ``expect``: the status, the signature kind and its
parts (and, for a sanitizer run with several reports, ``more``: the distinct ones after the
first).

Beyond each entry's own expectation, the corpus as a whole is checked both ways: entries with
the same ``bug`` label share one signature key (one bug reached through different scenarios,
different crash sites or different threads lands in one bucket), and entries with different
labels have different keys (different bugs never merge).
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from threadstorm.bucket.context import Context
from threadstorm.bucket.identity import Signature
from threadstorm.bucket.judge import judge as judge_run
from threadstorm.bucket.signature import crash_signature, native_frame_names, signature_for
from threadstorm.scenario.codec import scenario_from_json
from threadstorm.scenario.model import Lit, Operation, Scenario, SharedObject, ThreadPlan
from threadstorm.triage.classify import classify
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import CrashFacts
from threadstorm.triage.outcome import Outcome
from threadstorm.triage.parsers import Assertion, FatalError, NativeFrame

TEXTS = Path(__file__).parent / "texts"
SPLIT_RATIO_LIMIT = 1.3
ENTRIES = sorted(path.stem for path in TEXTS.glob("*.json"))

# Standalone scripts have no scenario: rule 3 then sees no shared objects and no operations.
NO_SCENARIO = Scenario(
    shared=(SharedObject("x", Lit(0)),),
    threads=(ThreadPlan((Operation("function", "x", "builtins.repr"),)),),
)


def load(name: str) -> tuple[dict[str, Any], Evidence, Scenario]:
    """The sidecar, the evidence it describes and its scenario."""
    side = json.loads((TEXTS / f"{name}.json").read_text())
    backtrace = side.get("backtrace")
    evidence = Evidence(
        wait_status=side["wait_status"],
        exit_code=side["exit_code"],
        timed_out=side["timed_out"],
        duration_s=1.0,
        stderr=(TEXTS / side["stderr"]).read_bytes(),
        messages=tuple(side["messages"]),
        in_flight=tuple(side["in_flight"]),
        backtrace=(TEXTS / backtrace).read_text() if backtrace else None,
        extra={"c_stack_names": side["c_stack_names"]} if "c_stack_names" in side else {},
    )
    scenario = scenario_from_json(side["scenario"]) if side["scenario"] else NO_SCENARIO
    return side, evidence, scenario


def judge(name: str) -> tuple[dict[str, Any], Outcome, Signature | None]:
    """Classify an entry and, for a finding, compute its signature."""
    side, evidence, scenario = load(name)
    outcome = classify(evidence)
    signature = signature_for(outcome, evidence, scenario) if outcome.status.is_finding else None
    return side, outcome, signature


def test_corpus_is_not_empty() -> None:
    assert len(ENTRIES) >= 40


@pytest.mark.parametrize("name", ENTRIES)
def test_sidecar_describes_its_origin(name: str) -> None:
    side = json.loads((TEXTS / f"{name}.json").read_text())
    assert side["origin"] in ("captured", "hand-made")
    assert side["how"]
    assert (TEXTS / side["stderr"]).is_file()


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_gives_expected_outcome_and_signature(name: str) -> None:
    side, outcome, signature = judge(name)
    expect = side["expect"]
    assert outcome.status.label == expect["status"], outcome.reason
    if signature is None:
        assert expect.get("kind") is None
        return
    assert signature.kind == expect["kind"]
    assert list(signature.parts) == expect["parts"]


@pytest.mark.parametrize("name", [n for n in ENTRIES if n.startswith(("tsan_", "asan_"))])
def test_every_distinct_report_of_a_run_is_a_finding(name: str) -> None:
    """A sanitizer run that goes on after its first report (``halt_on_error=0``) files each
    distinct report once, in order: ``expect.more`` lists those after the first."""
    side, evidence, scenario = load(name)
    verdict = judge_run(evidence, scenario)
    more = [{"kind": s.kind, "parts": list(s.parts)} for s, _ in verdict.more]
    assert more == side["expect"].get("more", [])
    for signature, _ in verdict.more:
        assert verdict.matches(signature.key)  # a rerun showing any of them counts for it


@pytest.mark.parametrize("name", ENTRIES)
def test_crash_facts_survive_json(name: str) -> None:
    _, outcome, _ = judge(name)
    assert json.loads(json.dumps(outcome.to_json()))["crash"] == outcome.crash


def filed_keys() -> dict[str, str]:
    """Entry name -> the bucket key a campaign files it under, entries taken in name order.

    A crash whose dump does not say which worker crashed has candidate signatures; like the
    campaign, it is filed under a candidate whose bucket exists already.
    """
    known: set[str] = set()
    filed: dict[str, str] = {}
    for name in ENTRIES:
        _, evidence, scenario = load(name)
        signature = judge_run(evidence, scenario).filed_under(known.__contains__)
        if signature is not None:
            known.add(signature.key)
            filed[name] = signature.key
    return filed


def _keys_by_bug() -> dict[str, set[str]]:
    keys: dict[str, set[str]] = defaultdict(set)
    for name, key in filed_keys().items():
        bug = json.loads((TEXTS / f"{name}.json").read_text())["bug"]
        if bug is not None:
            keys[bug].add(key)
    return keys


def test_one_bug_one_key() -> None:
    split = {bug: keys for bug, keys in _keys_by_bug().items() if len(keys) != 1}
    assert split == {}


def test_different_bugs_different_keys() -> None:
    owners: dict[str, list[str]] = defaultdict(list)
    for bug, keys in _keys_by_bug().items():
        for key in keys:
            owners[key].append(bug)
    merged = {key: bugs for key, bugs in owners.items() if len(bugs) > 1}
    assert merged == {}


def test_merge_errors_and_split_ratio() -> None:
    """The corpus's figures: texts of different bugs in one bucket (0), buckets per bug."""
    keys = _keys_by_bug()
    owners: dict[str, set[str]] = defaultdict(set)
    for bug, bug_keys in keys.items():
        for key in bug_keys:
            owners[key].add(bug)
    merge_errors = sum(1 for bugs in owners.values() if len(bugs) > 1)
    split_ratio = sum(len(bug_keys) for bug_keys in keys.values()) / len(keys)
    assert merge_errors == 0
    assert split_ratio <= SPLIT_RATIO_LIMIT
    assert len(keys) >= 12


def test_same_bug_groups_span_different_sites() -> None:
    """The corpus really tests merging: the enumerate group holds three crash sites."""
    sites = set()
    for name in ENTRIES:
        side, outcome, _ = judge(name)
        if side["bug"] == "enumerate-refcount":
            assertion = outcome.crash["assertion"]
            sites.add((assertion["file"], assertion["line"]))
    assert {("Objects/enumobject.c", 252), ("Python/brc.c", 62)} <= sites
    assert len(sites) >= 3


# --------------------------------------------------------------------------- rules, one by one


def test_only_findings_have_signatures() -> None:
    _, evidence, scenario = load("list_len_passes")
    with pytest.raises(ValueError, match="passed run has no signature"):
        signature_for(classify(evidence), evidence, scenario)


def test_native_names_drop_plumbing_suffixes_and_system_frames() -> None:
    frames = (
        NativeFrame("<signal handler called>"),
        NativeFrame(None, library="/lib/x86_64-linux-gnu/libc.so.6"),
        NativeFrame("Py_DECREF", "./Include/object.h", 896),
        NativeFrame("spam_repr.constprop.0", "spam.c", 17),
        NativeFrame("spam_repr", "spam.c", 20),  # gdb shows an inlined call as its own frame
        NativeFrame(None, library="/usr/lib/libspam.so"),
        NativeFrame("_PyEval_EvalFrameDefault"),
        NativeFrame("PyObject_Repr"),
        NativeFrame("list_repr"),
    )
    assert native_frame_names(frames) == ("spam_repr", "?? (libspam.so)", "PyObject_Repr")


def test_native_names_keep_the_crash_site_when_everything_is_plumbing() -> None:
    frames = (NativeFrame("abort"), NativeFrame("_PyEval_EvalFrameDefault"), NativeFrame("main"))
    assert native_frame_names(frames) == ("_PyEval_EvalFrameDefault",)


def test_a_fault_while_reporting_is_named_by_the_code_below_the_report() -> None:
    # a refcount check fails in enum_next; faulthandler's dump then faults on a corrupt frame
    reporting = (
        NativeFrame("_PyFrame_GetCode", "./Include/internal/pycore_frame.h", 81),
        NativeFrame("dump_frame", "Python/traceback.c", 900),
        NativeFrame("dump_traceback", "Python/traceback.c", 960),
        NativeFrame("_Py_DumpTracebackThreads", "Python/traceback.c", 1040),
        NativeFrame("fatal_error", "Python/pylifecycle.c", 3000),
        NativeFrame("_PyObject_AssertFailed", "Objects/object.c", 2900),
        NativeFrame("_Py_NegativeRefcount", "Objects/object.c", 240),
        NativeFrame("Py_DECREF", "./Include/object.h", 896),
    )
    below = (NativeFrame("enum_next", "Objects/enumobject.c", 160), NativeFrame("builtin_next"))
    assert native_frame_names(reporting + below) == native_frame_names(below)
    assert native_frame_names(reporting + below)[0] == "enum_next"


def test_header_precondition_keeps_function_and_expression_but_not_the_file() -> None:
    facts = CrashFacts(
        signal="SIGABRT",
        assertion=Assertion(
            "./Include/cpython/tupleobject.h",
            23,
            "PyTuple_GET_SIZE",
            "PyTuple_Check(op)",
            None,
            "c",
        ),
        native_frames=(NativeFrame("union_repr"), NativeFrame("builtin_repr")),
    )
    signature = crash_signature(facts, Context(site=("op: typing.Union.__repr__()",)))
    assert signature == Signature(
        "precondition", ("PyTuple_GET_SIZE", "PyTuple_Check(op)", "union_repr")
    )


def test_collector_checks_use_the_scenario_not_the_collectors_stack() -> None:
    facts = CrashFacts(
        signal="SIGABRT",
        assertion=Assertion(
            "Python/gc_free_threading.c", 407, "update_refs", "refcount >= 0", None, "cpython"
        ),
        native_frames=(NativeFrame("update_refs"), NativeFrame("gc_collect_main")),
    )
    pair = ("ops: itertools.chain.__next__()",)
    signature = crash_signature(facts, Context(site=("op: x",), pair=pair))
    assert signature == Signature("corruption", pair)


def test_specific_fatal_error_blanks_addresses_and_numbers() -> None:
    facts = CrashFacts(
        signal="SIGABRT",
        fatal_error=FatalError("tstate_delete_common", "tstate 0x7f00dead is still current (3)"),
    )
    assert crash_signature(facts, Context()) == Signature(
        "fatal", ("tstate_delete_common", "tstate 0x? is still current (N)")
    )


def test_hang_names_operations_by_type() -> None:
    _, evidence, scenario = load("sleep_hang")
    assert scenario.shared[0].name == "secs"
    signature = signature_for(classify(evidence), evidence, scenario)
    assert signature.parts == ("types: builtins.int", "ops: sleep(builtins.int)")


def test_renaming_shared_objects_keeps_the_signature() -> None:
    _, evidence, scenario = load("enumerate_next_brc")
    renamed_ops = tuple(
        ThreadPlan(tuple(dataclasses.replace(op, target="other") for op in plan.operations))
        for plan in scenario.threads
    )
    renamed = dataclasses.replace(
        scenario,
        shared=tuple(dataclasses.replace(obj, name="other") for obj in scenario.shared),
        threads=renamed_ops,
    )
    moved = dataclasses.replace(
        evidence, messages=({"event": "setup", "types": {"other": "builtins.enumerate"}},)
    )
    outcome = classify(evidence)
    assert signature_for(outcome, moved, renamed) == signature_for(outcome, evidence, scenario)
