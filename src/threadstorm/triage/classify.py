"""Classify: evidence in, outcome out, by structure and never by words in the output.

How a run ended is read in a fixed order, each step from a structured fact:

1. the harness said it failed (``harness_error``), or the child said the scenario's objects
   could not be built (``setup_failed``): ``HARNESS_ERROR``, never a finding;
2. the deadline passed (``timed_out``): ``HUNG`` when a thread stood still in one operation,
   but ``PASSED`` (reason "too slow") when every busy thread was still completing operations:
   a scenario that grows its object without bound is slow by construction, not a finding; and
   ``PASSED`` too when the stuck thread's plan hangs on its own (``hangs_alone``, see
   ``threadstorm.campaign.hangs``): an endless operation is not a concurrency hang;
3. a ThreadSanitizer or AddressSanitizer report is in stderr: ``SANITIZER``;
4. the child died of a fatal signal (SIGSEGV, SIGABRT, SIGBUS, SIGILL, SIGFPE, SIGTRAP):
   ``CRASHED``; SIGXCPU (the CPU-time limit) is a ``HUNG``; any other signal came from outside
   the scenario (a SIGKILL we did not send, say) and is a ``HARNESS_ERROR``;
5. a nonzero exit whose stderr holds a parsed ``Fatal Python error``: ``CRASHED``;
6. the child's ``done`` message: ``RAISED`` or ``PASSED``;
7. anything else (the child exited without a result and without a signal): ``HARNESS_ERROR``,
   "child vanished".

The outcome carries the parsed crash facts (``CrashFacts.to_json``) so that stores and reports
need no parser.  ``crash_facts`` is also what ``threadstorm.bucket.signature`` builds identities
from.
"""

from __future__ import annotations

import dataclasses
import signal
from dataclasses import asdict, dataclass
from typing import Any

from threadstorm.triage import parsers
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

FATAL_SIGNALS = frozenset(
    {signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE, signal.SIGTRAP}
)

# Python frames that are threadstorm's or the threading module's own, never the target's.
HARNESS_PATH_PARTS = ("/threadstorm/harness/", "/threadstorm/scenario/")
PLUMBING_PYTHON_FILES = ("threading.py",)


@dataclass(frozen=True)
class CrashFacts:
    """What the parsers found in one run's evidence, reduced to the crashing thread.

    ``python_frames`` are the crashing thread's frames without threadstorm's harness and
    ``threading`` frames, innermost first.  ``native_frames`` are its C frames exactly as
    parsed (normalising them is the signature's business), from a gdb backtrace when one was
    taken, else from a 3.14 faulthandler C stack; ``native_source`` says which.
    """

    signal: str | None
    assertion: parsers.Assertion | None = None
    fatal_error: parsers.FatalError | None = None
    allocator: parsers.AllocatorError | None = None
    python_frames: tuple[parsers.PythonFrame, ...] = ()
    native_frames: tuple[parsers.NativeFrame, ...] = ()
    native_source: str | None = None
    sanitizer: parsers.SanitizerReport | None = None
    in_garbage_collector: bool = False

    @property
    def kind(self) -> str:
        """The strongest fact: sanitizer, assertion, fatal_error, signal, else none."""
        if self.sanitizer is not None:
            return "sanitizer"
        if self.assertion is not None:
            return "assertion"
        if self.fatal_error is not None and (self.fatal_error.function or self.signal is None):
            return "fatal_error"  # a named fatal error, not faulthandler's name for a signal
        return "signal" if self.signal is not None else "none"

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict: ``kind`` first, then every fact that is present."""
        doc: dict[str, Any] = {"kind": self.kind}
        if self.signal is not None:
            doc["signal"] = self.signal
        for name in ("assertion", "fatal_error", "allocator", "sanitizer"):
            value = getattr(self, name)
            if value is not None:
                doc[name] = _plain(asdict(value))
        if self.python_frames:
            doc["python_frames"] = [_plain(asdict(frame)) for frame in self.python_frames]
        if self.native_frames:
            doc["native_frames"] = [_plain(asdict(frame)) for frame in self.native_frames]
            doc["native_source"] = self.native_source
        if self.in_garbage_collector:
            doc["in_garbage_collector"] = True
        return doc


def _plain(value: Any) -> Any:
    """Tuples become lists, recursively, so the dict equals its own JSON round trip."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def crash_facts(evidence: Evidence) -> CrashFacts:
    """Run every parser over the evidence and keep what concerns the crashing thread."""
    text = evidence.stderr_text
    dump = parsers.parse_faulthandler(text)
    current = dump.current if dump is not None else None
    native, source = _native_frames(evidence, dump)
    return CrashFacts(
        signal=evidence.signal_name,
        assertion=parsers.parse_assertion(text),
        fatal_error=parsers.parse_fatal_error(text),
        allocator=parsers.parse_allocator_error(text),
        python_frames=target_frames(current.frames) if current is not None else (),
        native_frames=native,
        native_source=source,
        sanitizer=parsers.parse_sanitizer(text),
        in_garbage_collector=current.collecting if current is not None else False,
    )


def _native_frames(
    evidence: Evidence, dump: parsers.FaulthandlerDump | None
) -> tuple[tuple[parsers.NativeFrame, ...], str | None]:
    if evidence.backtrace:
        backtrace = parsers.parse_gdb_backtrace(evidence.backtrace)
        crashing = backtrace.crashing if backtrace is not None else None
        if crashing is not None and crashing.frames:
            return crashing.frames, "gdb"
    if dump is not None and dump.c_stack:
        names = evidence.extra.get("c_stack_names")
        if isinstance(names, list) and len(names) == len(dump.c_stack):
            named = tuple(
                dataclasses.replace(frame, function=name, offset=None) if name else frame
                for frame, name in zip(dump.c_stack, names, strict=False)
            )
            return named, "faulthandler+addr2line"
        return dump.c_stack, "faulthandler"
    return (), None


def target_frames(frames: tuple[parsers.PythonFrame, ...]) -> tuple[parsers.PythonFrame, ...]:
    """Frames without threadstorm's harness and the ``threading`` module's plumbing."""
    return tuple(frame for frame in frames if not is_plumbing_python_frame(frame))


def is_plumbing_python_frame(frame: parsers.PythonFrame) -> bool:
    """Whether a Python frame is threadstorm's own or ``threading``'s (never a finding's)."""
    path = frame.file.replace("\\", "/")
    if any(part in path for part in HARNESS_PATH_PARTS):
        return True
    return path.rsplit("/", 1)[-1] in PLUMBING_PYTHON_FILES and "/lib/python" in path


# --------------------------------------------------------------------------- classify


def classify(evidence: Evidence) -> Outcome:
    """The outcome of one run, decided in the order written in the module docstring."""
    own = _harness_failure(evidence)
    if own is not None:
        return own
    facts = crash_facts(evidence)
    if evidence.timed_out and evidence.slow:
        return Outcome(Status.PASSED, "too slow: past the deadline but still making progress")
    if evidence.timed_out and evidence.hangs_alone:
        return Outcome(Status.PASSED, "never returns even in one thread: not a concurrency hang")
    if evidence.timed_out:
        return Outcome(Status.HUNG, "no result before the deadline", facts.to_json())
    if facts.sanitizer is not None:
        report = facts.sanitizer
        return Outcome(Status.SANITIZER, f"{report.tool}: {report.kind}", facts.to_json())
    number = evidence.signal
    if number is not None:
        return _by_signal(number, evidence, facts)
    if evidence.exit_code != 0 and facts.fatal_error is not None:
        return Outcome(Status.CRASHED, crash_reason(facts), facts.to_json())
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
        return Outcome(Status.CRASHED, crash_reason(facts), facts.to_json())
    if number == signal.SIGXCPU:
        return Outcome(Status.HUNG, "CPU time limit reached (SIGXCPU)", facts.to_json())
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
    if done.get("status") == "raised":
        return Outcome(Status.RAISED, _raised_reason(done))
    return Outcome(Status.PASSED, "all threads finished")


def _raised_reason(done: dict[str, Any]) -> str:
    exceptions = done.get("exceptions") or []
    if not exceptions:
        return "a worker raised"
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
