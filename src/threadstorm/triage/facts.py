"""Crash facts: what the parsers found in one run's evidence, read once, typed.

``crash_facts`` is the only place that runs the parsers over a run's stderr and backtrace; the
outcome carries the result, and everything downstream (signatures, reports, the store) reads the
typed facts instead of parsing again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any

from threadstorm.triage import parsers
from threadstorm.triage.evidence import Evidence

# faulthandler's names for the fatal signals it catches: the signal that *began* a crash,
# which a second failure while the dump is written (an abort) can hide from the wait status.
SIGNAL_MESSAGES = {
    "Segmentation fault": "SIGSEGV",
    "Aborted": "SIGABRT",
    "Bus error": "SIGBUS",
    "Illegal instruction": "SIGILL",
    "Floating-point exception": "SIGFPE",
    "Floating point exception": "SIGFPE",
}

# Python frames that are threadstorm's or the threading module's own, never the target's.
HARNESS_PATH_PARTS = ("/threadstorm/harness/", "/threadstorm/scenario/")
PLUMBING_PYTHON_FILES = ("threading.py",)
MAX_SANITIZER_REPORTS = 64  # reports parsed from one run (the stderr itself is capped too)


@dataclass(frozen=True)
class CrashFacts:
    """What the parsers found in one run's evidence, reduced to the crashing thread.

    ``python_frames`` are the crashing thread's frames without threadstorm's harness and
    ``threading`` frames, innermost first.  ``native_frames`` are its C frames exactly as
    parsed (normalising them is the signature's business), from a gdb backtrace when one was
    taken, else from a 3.14 faulthandler C stack; ``native_source`` says which.  ``thread_id``
    and ``thread_name`` are the faulting thread's, as the faulthandler dump prints them;
    ``other_threads`` the ids of the threads the dump shows as *not* faulting.

    ``secondary`` is a failed assertion that came *after* a signal's dump began (faulthandler
    walking another thread's frames while it runs trips CPython's own checks): the first event
    wins, so it is kept for the report and is not the crash's ``assertion``.
    """

    signal: str | None
    assertion: parsers.Assertion | None = None
    fatal_error: parsers.FatalError | None = None
    allocator: parsers.AllocatorError | None = None
    python_frames: tuple[parsers.PythonFrame, ...] = ()
    native_frames: tuple[parsers.NativeFrame, ...] = ()
    native_source: str | None = None
    sanitizer: parsers.SanitizerReport | None = None
    more_sanitizer: tuple[parsers.SanitizerReport, ...] = ()  # the reports after the first
    in_garbage_collector: bool = False
    thread_id: str | None = None
    thread_name: str | None = None
    other_threads: tuple[str, ...] = ()
    secondary: parsers.Assertion | None = None

    @property
    def first_signal(self) -> str | None:
        """The signal that began the crash: faulthandler's first fatal error names it."""
        fatal = self.fatal_error
        if fatal is not None and fatal.function is None and fatal.message in SIGNAL_MESSAGES:
            return SIGNAL_MESSAGES[fatal.message]
        return self.signal

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

    def with_frame_names(self, names: list[str | None]) -> CrashFacts:
        """The facts with ``addr2line`` names given to a faulthandler C stack's frames."""
        if self.native_source != "faulthandler" or len(names) != len(self.native_frames):
            return self
        named = tuple(
            dataclasses.replace(frame, function=name, offset=None) if name else frame
            for frame, name in zip(self.native_frames, names, strict=True)
        )
        return dataclasses.replace(
            self, native_frames=named, native_source="faulthandler+addr2line"
        )

    def each_sanitizer_report(self) -> tuple[CrashFacts, ...]:
        """These facts once per sanitizer report of the run, each with that report first."""
        if self.sanitizer is None:
            return ()
        return tuple(
            dataclasses.replace(self, sanitizer=report, more_sanitizer=())
            for report in (self.sanitizer, *self.more_sanitizer)
        )

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
        for name in ("thread_id", "thread_name"):
            if getattr(self, name) is not None:
                doc[name] = getattr(self, name)
        if self.other_threads:
            doc["other_threads"] = list(self.other_threads)
        if self.secondary is not None:
            doc["secondary"] = _plain(asdict(self.secondary))
        return doc


def _plain(value: Any) -> Any:
    """Tuples become lists, recursively, so the dict equals its own JSON round trip."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def crash_facts(evidence: Evidence) -> CrashFacts:
    """Run every parser over the evidence, once, and keep what concerns the crashing thread."""
    text = evidence.stderr_text
    fatal = parsers.parse_fatal_error(text)
    dump = parsers.parse_faulthandler(text, fatal)
    current = dump.current if dump is not None else None
    native, source = _native_frames(evidence, dump)
    assertion = parsers.parse_assertion(text)
    secondary = assertion if _after_dump_began(text, assertion, fatal) else None
    reports = parsers.parse_sanitizer_reports(text, limit=MAX_SANITIZER_REPORTS)
    facts = CrashFacts(
        signal=evidence.signal_name,
        assertion=None if secondary is not None else assertion,
        fatal_error=fatal,
        allocator=parsers.parse_allocator_error(text, fatal),
        python_frames=target_frames(current.frames) if current is not None else (),
        native_frames=native,
        native_source=source,
        sanitizer=reports[0] if reports else None,
        more_sanitizer=reports[1:],
        in_garbage_collector=current.collecting if current is not None else False,
        thread_id=current.thread_id
        if current is not None and current.thread_id != "stack"
        else None,
        thread_name=current.name if current is not None else None,
        other_threads=tuple(
            thread.thread_id for thread in (dump.threads if dump else ()) if not thread.current
        ),
        secondary=secondary,
    )
    names = evidence.extra.get("c_stack_names")
    return facts.with_frame_names(names) if isinstance(names, list) else facts


def _after_dump_began(
    text: str, assertion: parsers.Assertion | None, fatal: parsers.FatalError | None
) -> bool:
    """Whether ``assertion`` was printed after faulthandler began dumping a signal's crash."""
    if assertion is None or fatal is None or fatal.function is not None:
        return False
    if fatal.message not in SIGNAL_MESSAGES:
        return False
    where = text.find(f"{assertion.file}:{assertion.line}")
    return where > text.find("Fatal Python error")


def _native_frames(
    evidence: Evidence, dump: parsers.FaulthandlerDump | None
) -> tuple[tuple[parsers.NativeFrame, ...], str | None]:
    if evidence.backtrace:
        backtrace = parsers.parse_gdb_backtrace(evidence.backtrace)
        crashing = backtrace.crashing if backtrace is not None else None
        if crashing is not None and crashing.frames:
            return crashing.frames, "gdb"
    if dump is not None and dump.c_stack:
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
