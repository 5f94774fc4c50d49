"""classify: evidence to outcome, by wait status and parsed structure, never by keywords."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest

from threadstorm.triage.classify import classify, crash_facts
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

TEXTS = Path(__file__).parent.parent / "corpus" / "texts"

DONE_PASSED = {"event": "done", "status": "passed", "exceptions": [], "gil_enabled": False}
DONE_RAISED = {
    "event": "done",
    "status": "raised",
    "exceptions": [
        {"thread": 0, "op": 0, "type": "KeyError", "count": 9, "message": "'popitem()'"},
        {"thread": 1, "op": 0, "type": "IndexError", "count": 2, "message": "pop"},
    ],
    "refused": [[0, 0]],
}
DONE_SOME_RAISED = {**DONE_RAISED, "status": "passed", "refused": []}
SETUP = {"event": "setup", "types": {"obj": "builtins.list"}}


def evidence(
    *,
    killed_by: int | None = None,
    exit_code: int = 0,
    stderr: bytes = b"",
    messages: tuple[dict[str, Any], ...] = (),
    timed_out: bool = False,
    **extra: Any,
) -> Evidence:
    """Evidence with a real wait status: killed by a signal, or exited with a code."""
    if killed_by is not None:
        wait_status, exit_code = killed_by, -killed_by
    else:
        wait_status = (exit_code & 0xFF) << 8
    return Evidence(
        wait_status=wait_status,
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=0.5,
        stderr=stderr,
        messages=messages,
        **extra,
    )


def corpus(name: str) -> Evidence:
    """Evidence as captured for a corpus entry."""
    side = json.loads((TEXTS / f"{name}.json").read_text())
    backtrace = side["backtrace"]
    return Evidence(
        wait_status=side["wait_status"],
        exit_code=side["exit_code"],
        timed_out=side["timed_out"],
        duration_s=1.0,
        stderr=(TEXTS / side["stderr"]).read_bytes(),
        messages=tuple(side["messages"]),
        in_flight=tuple(side["in_flight"]),
        backtrace=(TEXTS / backtrace).read_text() if backtrace else None,
    )


# --------------------------------------------------------------------------- our own failures


def test_harness_error_is_never_a_finding() -> None:
    outcome = classify(
        Evidence.from_reply({"event": "harness_error", "error": "Traceback\nOSError: x"})
    )
    assert outcome.status is Status.HARNESS_ERROR
    assert outcome.reason == "harness error: OSError: x"
    assert not outcome.status.is_finding


def test_setup_failed_says_the_objects_could_not_be_built() -> None:
    outcome = classify(corpus("tee_setup_failed"))
    assert outcome.status is Status.HARNESS_ERROR
    assert outcome.reason == (
        "the scenario's objects could not be built: TypeError: 'tuple' object is not an iterator"
    )


def test_child_vanished_without_result_or_signal() -> None:
    outcome = classify(evidence(exit_code=0, messages=(SETUP,)))
    assert outcome.status is Status.HARNESS_ERROR
    assert outcome.reason.startswith("child vanished: exit code 0")


def test_nonzero_exit_after_done_is_ours() -> None:
    outcome = classify(evidence(exit_code=3, messages=(SETUP, DONE_PASSED)))
    assert outcome.status is Status.HARNESS_ERROR
    assert "code 3" in outcome.reason


def test_a_signal_from_outside_is_not_a_crash() -> None:
    outcome = classify(evidence(killed_by=signal.SIGKILL, messages=(SETUP,)))
    assert outcome.status is Status.HARNESS_ERROR
    assert "SIGKILL" in outcome.reason


# --------------------------------------------------------------------------- hangs


def test_timeout_is_a_hang_even_though_we_killed_it() -> None:
    sample = corpus("sleep_hang")
    assert sample.signal == signal.SIGKILL
    outcome = classify(sample)
    assert outcome.status is Status.HUNG
    assert outcome.crash["kind"] == "signal"


def test_cpu_time_limit_is_a_hang() -> None:
    outcome = classify(evidence(killed_by=signal.SIGXCPU, messages=(SETUP,)))
    assert outcome.status is Status.HUNG
    assert "SIGXCPU" in outcome.reason


# --------------------------------------------------------------------------- sanitizers


def test_tsan_report_with_exit_66_is_a_sanitizer_finding() -> None:
    sample = corpus("tsan_race_write_second")
    assert sample.exit_code == 66
    outcome = classify(sample)
    assert outcome.status is Status.SANITIZER
    assert outcome.reason == "ThreadSanitizer: data race"
    accesses = [s for s in outcome.crash["sanitizer"]["stacks"] if "of size" in s["title"]]
    assert accesses[0]["frames"][0]["function"] == "list_append_item"


def test_asan_report_is_a_sanitizer_finding() -> None:
    outcome = classify(corpus("asan_heap_use_after_free"))
    assert outcome.status is Status.SANITIZER
    assert outcome.crash["kind"] == "sanitizer"


def test_exit_66_without_a_report_is_not_a_sanitizer_finding() -> None:
    outcome = classify(evidence(exit_code=66, messages=(SETUP,)))
    assert outcome.status is Status.HARNESS_ERROR


# --------------------------------------------------------------------------- crashes


@pytest.mark.parametrize(
    "number",
    [signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP],
)
def test_fatal_signals_are_crashes(number: int) -> None:
    outcome = classify(evidence(killed_by=number, messages=(SETUP,)))
    assert outcome.status is Status.CRASHED
    assert outcome.reason == f"killed by {signal.Signals(number).name}"
    assert outcome.crash == {"kind": "signal", "signal": signal.Signals(number).name}


def test_failed_assertion_facts() -> None:
    outcome = classify(corpus("tee_next_assert"))
    assert outcome.status is Status.CRASHED
    assert outcome.reason == (
        "SIGABRT: assertion `i == tdo->numread` failed in teedataobject_getitem "
        "(itertoolsmodule.c:818)"
    )
    assert outcome.crash["kind"] == "assertion"
    assert outcome.crash["assertion"] == {
        "file": "./Modules/itertoolsmodule.c",
        "line": 818,
        "function": "teedataobject_getitem",
        "expression": "i == tdo->numread",
        "message": None,
        "origin": "c",
    }
    assert outcome.crash["fatal_error"] == {"function": None, "message": "Aborted"}


def test_segfault_keeps_faulthandlers_name_for_it() -> None:
    outcome = classify(corpus("product_next_segv"))
    assert outcome.status is Status.CRASHED
    assert outcome.reason == "killed by SIGSEGV (Segmentation fault)"
    assert outcome.crash["kind"] == "signal"


def test_harness_and_threading_frames_are_not_the_targets() -> None:
    outcome = classify(corpus("enumerate_next_brc"))
    assert "python_frames" not in outcome.crash  # only execute.py and threading.py were there


def test_python_frames_of_a_standalone_script_are_kept() -> None:
    outcome = classify(corpus("t2_product_assert"))
    frames = outcome.crash["python_frames"]
    assert [frame["function"] for frame in frames] == ["<lambda>", "w"]
    assert frames[0]["file"] == "/tmp/t2.py"


def test_native_frames_come_from_gdb_when_a_backtrace_was_taken() -> None:
    outcome = classify(corpus("gdb_odict_segv"))
    assert outcome.crash["native_source"] == "gdb"
    assert outcome.crash["native_frames"][0]["function"] == "odictiter_nextkey"


def test_native_frames_come_from_the_314_c_stack() -> None:
    outcome = classify(corpus("py314_cycle_segv_cstack"))
    assert outcome.crash["native_source"] == "faulthandler"
    names = [frame["function"] for frame in outcome.crash["native_frames"]]
    assert names[3] == "cycle_next"


def test_collector_crash_is_flagged() -> None:
    facts = crash_facts(corpus("t2_chain_gc_finalizing"))
    assert facts.in_garbage_collector
    assert facts.assertion is not None
    assert facts.assertion.function == "update_refs"


def test_fatal_error_with_nonzero_exit_and_no_signal_is_a_crash() -> None:
    stderr = b"Fatal Python error: _PyThreadState_Attach: non-NULL old thread state\n"
    outcome = classify(evidence(exit_code=1, stderr=stderr, messages=(SETUP,)))
    assert outcome.status is Status.CRASHED
    assert outcome.crash["kind"] == "fatal_error"
    assert outcome.reason == (
        "Fatal Python error: _PyThreadState_Attach: non-NULL old thread state"
    )


def test_words_in_stderr_do_not_make_a_crash() -> None:
    stderr = b"Fatal Python error: Segmentation fault\nAssertion failed\n"
    outcome = classify(evidence(exit_code=0, stderr=stderr, messages=(SETUP, DONE_PASSED)))
    assert outcome.status is Status.PASSED


# --------------------------------------------------------------------------- clean ends


def test_passed() -> None:
    outcome = classify(corpus("list_len_passes"))
    assert outcome.status is Status.PASSED
    assert outcome.crash == {}


def test_raised_names_what_was_refused() -> None:
    outcome = classify(evidence(messages=(SETUP, DONE_RAISED)))
    assert outcome.status is Status.RAISED
    assert outcome.reason == "KeyError: 'popitem()'"  # thread 1's IndexError was now and then
    assert not outcome.status.is_finding


def test_exceptions_on_some_calls_leave_a_run_passed_and_are_named() -> None:
    outcome = classify(evidence(messages=(SETUP, DONE_SOME_RAISED)))
    assert outcome.status is Status.PASSED
    assert outcome.reason == (
        "all threads finished; some calls raised: KeyError: 'popitem()' (and 1 more kinds)"
    )


def test_raised_from_a_real_run() -> None:
    outcome = classify(corpus("dict_popitem_raises"))
    assert outcome.status is Status.RAISED
    assert outcome.reason.startswith("KeyError")


def test_outcome_json_round_trips() -> None:
    outcome = classify(corpus("gdb_enumerate_brc"))
    doc = outcome.to_json()
    assert json.loads(json.dumps(doc)) == doc
    assert doc["status"] == "crashed"


# --------------------------------------------------------------------------- slow is not hung


def test_a_run_still_making_progress_at_the_deadline_is_slow_not_hung() -> None:
    outcome = classify(evidence(killed_by=9, timed_out=True, extra={"slow": True}))
    assert outcome.status is Status.PASSED
    assert "too slow" in outcome.reason


def test_a_run_standing_still_at_the_deadline_is_hung() -> None:
    outcome = classify(evidence(killed_by=9, timed_out=True))
    assert outcome.status is Status.HUNG


def test_a_hang_that_happens_in_one_thread_too_is_not_a_finding() -> None:
    outcome = classify(evidence(killed_by=9, timed_out=True, extra={"hangs_alone": True}))
    assert outcome.status is Status.PASSED
    assert "one thread" in outcome.reason
