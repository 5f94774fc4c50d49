"""Classify: evidence in, outcome out, by structure and never by words in the output.

How a run ended is read in a fixed order, each step from a structured fact:

0. the scenario's Dask workers died running it, until it was quarantined (``killed_workers``):
   ``CRASHED``: something in it takes down the process around the fork server, a finding of
   its own (it cannot be told apart further: no child ever reported back);
1. the harness said it failed (``harness_error``), or the child said the scenario's objects
   could not be built (``setup_failed``): ``HARNESS_ERROR``, never a finding;
2. the deadline passed (``timed_out``): ``HUNG`` when a thread stood still in one operation,
   but ``PASSED`` (reason "too slow") when every busy thread was still completing operations:
   a scenario that grows its object without bound is slow by construction, not a finding; and
   ``PASSED`` too when the stuck thread's plan hangs on its own (``hangs_alone``, see
   ``threadstorm.campaign.hangs``): an endless operation is not a concurrency hang; and when no
   rerun of the scenario hangs again (``hang_not_repeated``): a starved machine, not a bug;
3. a ThreadSanitizer or AddressSanitizer report is in stderr: ``SANITIZER``;
4. the child died of a fatal signal (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGTRAP):
   ``CRASHED``; SIGXCPU (the CPU-time limit) is a ``HUNG``, or ``PASSED`` when the stuck plan
   also runs out of time alone (``hangs_alone``, as for a deadline); any other signal came from
   outside the scenario (a SIGKILL we did not send, say) and is a ``HARNESS_ERROR``;
5. a nonzero exit whose stderr holds a parsed ``Fatal Python error``: ``CRASHED``;
6. the child's ``done`` message: ``RAISED`` when an operation raised on every one of its calls
   (the scenario was refused in part: ``execute.refused_operations``), else ``PASSED``, with
   any exceptions along the way named in the reason;
7. anything else (the child exited without a result and without a signal): ``HARNESS_ERROR``,
   "child vanished".

The outcome carries the parsed crash facts (``threadstorm.triage.facts.CrashFacts``), parsed
here once: stores, reports and ``threadstorm.bucket.signature`` read them and parse nothing.
"""

from __future__ import annotations

import signal
from typing import Any

from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import CrashFacts, crash_facts
from threadstorm.triage.outcome import Outcome, Status

__all__ = ["FATAL_SIGNALS", "CrashFacts", "classify", "crash_facts", "crash_reason"]

FATAL_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
)


# --------------------------------------------------------------------------- classify


def classify(evidence: Evidence, facts: CrashFacts | None = None) -> Outcome:
    """The outcome of one run, decided in the order written in the module docstring.

    ``facts`` are the evidence's crash facts when the caller has them already.
    """
    if evidence.killed_workers:
        return Outcome(
            Status.CRASHED,
            "the Dask workers running it kept dying (more often than the scheduler's "
            "allowed-failures): quarantined",
        )
    own = _harness_failure(evidence)
    if own is not None:
        return own
    facts = facts if facts is not None else crash_facts(evidence)
    if evidence.timed_out and evidence.slow:
        return Outcome(Status.PASSED, "too slow: past the deadline but still making progress")
    if evidence.timed_out and evidence.hangs_alone:
        return Outcome(Status.PASSED, "never returns even in one thread: not a concurrency hang")
    if evidence.hang_not_repeated and (evidence.timed_out or evidence.signal == signal.SIGXCPU):
        return Outcome(Status.PASSED, "hung once but not again when rerun: not a finding")
    if evidence.timed_out:
        return Outcome(Status.HUNG, "no result before the deadline", facts)
    if facts.sanitizer is not None:
        report = facts.sanitizer
        return Outcome(Status.SANITIZER, f"{report.tool}: {report.kind}", facts)
    number = evidence.signal
    if number is not None:
        return _by_signal(number, evidence, facts)
    if evidence.exit_code != 0 and facts.fatal_error is not None:
        return Outcome(Status.CRASHED, crash_reason(facts), facts)
    return _by_done_message(evidence)


def _harness_failure(evidence: Evidence) -> Outcome | None:
    if evidence.harness_error is not None:
        return Outcome(Status.HARNESS_ERROR, f"harness error: {_last_line(evidence.harness_error)}")
    failed = evidence.message("setup_failed")
    if failed is not None:
        error = _last_line(str(failed.get("error", "unknown error")))
        return Outcome(Status.HARNESS_ERROR, f"the scenario's objects could not be built: {error}")
    return None


def _by_signal(number: int, evidence: Evidence, facts: CrashFacts) -> Outcome:
    name = evidence.signal_name or f"signal {number}"
    if number in FATAL_SIGNALS:
        return Outcome(Status.CRASHED, crash_reason(facts), facts)
    if number == signal.SIGXCPU and evidence.hangs_alone:
        return Outcome(Status.PASSED, "out of CPU time even in one thread: not a concurrency hang")
    if number == signal.SIGXCPU:
        return Outcome(Status.HUNG, "CPU time limit reached (SIGXCPU)", facts)
    return Outcome(
        Status.HARNESS_ERROR,
        f"child killed by {name} from outside the scenario (not a crash of the target)",
    )


def _by_done_message(evidence: Evidence) -> Outcome:
    done = evidence.message("done")
    if done is None:
        return Outcome(
            Status.HARNESS_ERROR,
            f"child vanished: exit code {evidence.exit_code} without a result or a signal",
        )
    if evidence.exit_code != 0:
        return Outcome(
            Status.HARNESS_ERROR,
            f"child exited with code {evidence.exit_code} after reporting its result",
        )
    exceptions = done.get("exceptions") or []
    if done.get("status") == "raised":
        refused = {tuple(pair) for pair in done.get("refused", ())}
        first = [e for e in exceptions if (e.get("thread"), e.get("op")) in refused] or exceptions
        return Outcome(Status.RAISED, _exceptions_reason(first) or "a worker raised")
    if exceptions:
        return Outcome(
            Status.PASSED,
            f"all threads finished; some calls raised: {_exceptions_reason(exceptions)}",
        )
    return Outcome(Status.PASSED, "all threads finished")


def _exceptions_reason(exceptions: list[dict[str, Any]]) -> str:
    if not exceptions:
        return ""
    first = exceptions[0]
    kinds = len(exceptions)
    more = f" (and {kinds - 1} more kinds)" if kinds > 1 else ""
    return f"{first.get('type', 'Exception')}: {str(first.get('message', ''))[:120]}{more}"


def crash_reason(facts: CrashFacts) -> str:
    """One line naming the crash: the assertion, else the fatal error, else the signal."""
    prefix = f"{facts.signal}: " if facts.signal else ""
    if facts.assertion is not None:
        found = facts.assertion
        what = found.expression or found.message or "assertion"
        where = f"{found.basename}:{found.line}"
        return f"{prefix}assertion `{what}` failed in {found.function or '?'} ({where})"
    if facts.fatal_error is not None and facts.fatal_error.function is None and facts.signal:
        return f"killed by {facts.signal} ({facts.fatal_error.message})"
    if facts.fatal_error is not None:
        fatal = facts.fatal_error
        named = f"{fatal.function}: " if fatal.function else ""
        return f"{prefix}Fatal Python error: {named}{fatal.message}"
    return f"killed by {facts.signal}" if facts.signal else "crashed"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no detail"
