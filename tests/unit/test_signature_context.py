"""Signature rule 3: only the crashing thread and the crash make the identity; evidence is
parsed once on its way to a bucket."""

from __future__ import annotations

import signal
from typing import Any

import pytest

from threadstorm.bucket import judge as judge_module
from threadstorm.bucket.judge import judge
from threadstorm.scenario.model import Call, Operation, Ref, Scenario, SharedObject, ThreadPlan
from threadstorm.triage import facts as facts_module
from threadstorm.triage import parsers
from threadstorm.triage.evidence import Evidence

CRASHING, OTHER = 0xAA, 0xBB
HARNESS = "/x/threadstorm/harness/execute.py"


def box_scenario(other: Operation) -> Scenario:
    return Scenario(
        shared=(SharedObject("box", Call(Ref("box.Box"))),),
        threads=(ThreadPlan((Operation("method", "box", "explode"),)), ThreadPlan((other,))),
    ).validate()


def dump(frames: str, name: str = "") -> bytes:
    named = f" [{name}]" if name else ""
    return (
        "Fatal Python error: Segmentation fault\n\n"
        f"Current thread 0x{CRASHING:016x}{named} (most recent call first):\n{frames}"
        f'  File "{HARNESS}", line 20 in _repeat_one\n\n'
        f"Thread 0x{OTHER:016x} (most recent call first):\n"
        f'  File "{HARNESS}", line 21 in _repeat_one\n'
    ).encode()


def crashed(
    stderr: bytes, *, announced: bool = True, in_flight: tuple[int | None, ...] = (0, 0)
) -> Evidence:
    messages: list[dict[str, Any]] = [
        {"event": "setup", "types": {"box": "box.Box"}, "owners": {"box.explode": "box.Box"}}
    ]
    if announced:
        messages.append({"event": "threads", "idents": [CRASHING, OTHER]})
    return Evidence(
        wait_status=signal.SIGSEGV,
        exit_code=-signal.SIGSEGV,
        timed_out=False,
        duration_s=0.1,
        stderr=stderr,
        messages=tuple(messages),
        in_flight=in_flight,
    )


OTHERS = (
    Operation("function", "box", "copy.copy"),
    Operation("method", "box", "__len__"),
    Operation("function", "box", "builtins.repr"),
)


@pytest.mark.parametrize("frames", ["", '  File "/tmp/mods/box.py", line 9 in explode\n'])
def test_other_threads_operations_do_not_change_the_bucket(frames: str) -> None:
    keys = set()
    for other in OTHERS:
        for in_flight in ((0, 0), (0, None)):
            evidence = crashed(dump(frames), in_flight=in_flight)
            keys.add(judge(evidence, box_scenario(other)).key)
    assert len(keys) == 1


def test_the_crashing_operation_names_a_crash_without_python_frames() -> None:
    verdict = judge(crashed(dump("")), box_scenario(OTHERS[0]))
    assert verdict.signature is not None
    assert verdict.signature.parts == ("SIGSEGV", "op: box.Box.explode()")


def test_python_frames_of_the_target_name_the_site() -> None:
    frames = '  File "/tmp/mods/box.py", line 9 in explode\n'
    verdict = judge(crashed(dump(frames), announced=False), box_scenario(OTHERS[1]))
    assert verdict.signature is not None
    assert verdict.signature.parts == ("SIGSEGV", "py: box.py:explode")


def test_a_thread_name_from_314_tells_the_crashing_worker() -> None:
    evidence = crashed(dump("", name="threadstorm-0"), announced=False)
    verdict = judge(evidence, box_scenario(OTHERS[2]))
    assert verdict.signature is not None
    assert verdict.signature.parts == ("SIGSEGV", "op: box.Box.explode()")


def test_unknown_crashing_worker_falls_back_to_everything_in_flight() -> None:
    verdict = judge(crashed(dump(""), announced=False), box_scenario(OTHERS[1]))
    assert verdict.signature is not None
    assert verdict.signature.parts[-1] == "ops: box.Box.__len__(); box.Box.explode()"


CUT_SHORT = b"Fatal Python error: Segmentation fault\n\n"  # a second fault ended the dump


def test_a_dump_cut_to_nothing_names_the_one_operation_every_worker_was_in() -> None:
    """Two workers in ``explode`` fault at once and no thread survives in the dump: whichever
    crashed, it was in ``explode`` (measured on 3.13.5 debug: 4 runs in 30 filed elsewhere)."""
    explode = Operation("method", "box", "explode")
    verdict = judge(crashed(CUT_SHORT), box_scenario(explode))
    assert verdict.signature is not None
    assert verdict.signature.parts == ("SIGSEGV", "op: box.Box.explode()")
    assert verdict.candidates == ()


def test_a_dump_cut_to_nothing_with_workers_in_different_operations_has_candidates() -> None:
    verdict = judge(crashed(CUT_SHORT), box_scenario(OTHERS[1]))
    assert verdict.signature is not None
    assert verdict.signature.parts[-1] == "ops: box.Box.__len__(); box.Box.explode()"
    sites = {candidate.parts[-1] for candidate in verdict.candidates}
    assert sites == {"op: box.Box.explode()", "op: box.Box.__len__()"}


def test_judging_parses_the_evidence_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, int] = {}

    def counted(name: str) -> None:
        real = getattr(parsers, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] = calls.get(name, 0) + 1
            return real(*args, **kwargs)

        monkeypatch.setattr(parsers, name, wrapper)

    for name in (
        "parse_faulthandler",
        "parse_fatal_error",
        "parse_assertion",
        "parse_allocator_error",
        "parse_sanitizer_reports",
        "parse_gdb_backtrace",
    ):
        counted(name)
    real_facts = facts_module.crash_facts
    facts_calls = []

    def counted_facts(evidence: Evidence) -> Any:
        facts_calls.append(evidence)
        return real_facts(evidence)

    monkeypatch.setattr(judge_module, "crash_facts", counted_facts)
    evidence = crashed(dump('  File "/tmp/mods/box.py", line 9 in explode\n'))
    evidence = Evidence(
        **{**evidence.__dict__, "backtrace": "Thread 1 (LWP 5):\n#0  f () at a.c:1\n"}
    )
    verdict = judge(evidence, box_scenario(OTHERS[0]))
    assert verdict.signature is not None
    assert len(facts_calls) == 1
    assert calls == {
        "parse_faulthandler": 1,
        "parse_fatal_error": 1,
        "parse_assertion": 1,
        "parse_allocator_error": 1,
        "parse_sanitizer_reports": 1,
        "parse_gdb_backtrace": 1,
    }
