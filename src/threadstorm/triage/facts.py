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

# Python frames that are threadstorm's or the threading module's own, never the target's.
HARNESS_PATH_PARTS = ("/threadstorm/harness/", "/threadstorm/scenario/")
PLUMBING_PYTHON_FILES = ("threading.py",)


@dataclass(frozen=True)
class CrashFacts:
    """What the parsers found in one run's evidence, reduced to the crashing thread.

    ``python_frames`` are the crashing thread's frames without threadstorm's harness and
    ``threading`` frames, innermost first.  ``native_frames`` are its C frames exactly as
    parsed (normalising them is the signature's business), from a gdb backtrace when one was
    taken, else from a 3.14 faulthandler C stack; ``native_source`` says which.  ``thread_id``
    and ``thread_name`` are the faulting thread's, as the faulthandler dump prints them.
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
    thread_id: str | None = None
    thread_name: str | None = None

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
    facts = CrashFacts(
        signal=evidence.signal_name,
        assertion=parsers.parse_assertion(text),
        fatal_error=fatal,
        allocator=parsers.parse_allocator_error(text, fatal),
        python_frames=target_frames(current.frames) if current is not None else (),
        native_frames=native,
        native_source=source,
        sanitizer=parsers.parse_sanitizer(text),
        in_garbage_collector=current.collecting if current is not None else False,
        thread_id=current.thread_id
        if current is not None and current.thread_id != "stack"
        else None,
        thread_name=current.name if current is not None else None,
    )
    names = evidence.extra.get("c_stack_names")
    return facts.with_frame_names(names) if isinstance(names, list) else facts


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
