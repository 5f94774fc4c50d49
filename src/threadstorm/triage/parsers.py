"""Parsers: one pure function per kind of crash text, each returning small frozen values.

A crashed child leaves text behind: a faulthandler dump, a failed C assertion, a ``Fatal Python
error``, a debug-allocator complaint, a gdb backtrace, a sanitizer report.  Each parser reads one
of those kinds from the raw text and returns plain data (or None when the kind is absent); none
of them decides what the crash *means* (``classify`` does) or what its identity is
(``threadstorm.bucket.signature`` does).

Crash texts are messy: two threads can fail at once and interleave their lines, a second fatal
error can interrupt the first dump, output can be cut.  The rule everywhere is *the first event
wins*: the earliest assertion, the first fatal error and the dump that follows it.  Nothing here
raises on odd input; unparseable lines are skipped.

Formats, as CPython 3.13/3.14, glibc, gdb 13 and the GCC 12 sanitizers print them:

- glibc ``assert``: ``prog: ./Modules/x.c:2418: product_next: Assertion `expr' failed.``
- CPython ``_PyObject_ASSERT``: ``Objects/x.c:253: func: Assertion "expr" failed: msg`` or
  ``file:line: _Py_NegativeRefcount: Assertion failed: object has negative ref count``
- mimalloc: ``mimalloc: assertion failed: at "file":278, func`` then ``  assertion: "expr"``
- ``Fatal Python error: [func: ]message``; the debug allocator's fatal errors
  (``_PyMem_DebugRawFree: bad trailing pad byte``, ``bad ID: ...``) after a ``Debug memory
  block at address p=...: API 'm'`` block
- faulthandler: ``[Current ]Thread 0x... [name] (most recent call first):`` blocks of
  ``  File "path", line N in func``; 3.14 adds ``Current thread's C stack trace (most recent
  call first):`` with ``  Binary file "path", at symbol+0x1f [0x...]``
- gdb ``thread apply all bt``: ``Thread N (Thread 0x... (LWP n) "name"):`` blocks of
  ``#N  0x... in func (args) at file:line`` / ``#N  func (args) at file:line`` /
  ``#N  0x... in ?? () from lib``, and ``Thread N "name" received signal SIGSEGV, ...``
- ThreadSanitizer / AddressSanitizer: ``WARNING: ThreadSanitizer: data race``, ``==pid==ERROR:
  AddressSanitizer: heap-use-after-free ...``, stacks of ``#N [0x... in ]func file:line[:col]
  [(module+0x...)]`` under headings, and a ``SUMMARY:`` line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import EllipsisType

# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class PythonFrame:
    """One Python frame from a faulthandler dump (line is None when printed as ``???``)."""

    file: str
    line: int | None
    function: str


@dataclass(frozen=True)
class NativeFrame:
    """One C frame: from gdb, from a 3.14 faulthandler C stack or from a sanitizer stack.

    ``function`` is None when the tool could not name it (``??``, ``<null>``, no symbol).
    ``offset`` is the distance from the named symbol (or from the binary's base when unnamed) in
    a 3.14 faulthandler C stack, kept because that stack names a *static* function after the
    nearest exported symbol before it (``PyWrapper_New+0xc27`` is really ``enum_next``).
    ``address`` is the absolute address printed beside it: it differs from run to run and never
    enters a signature, but with one unnamed frame of the same binary it gives the binary's
    base, from which ``threadstorm.triage.symbolize`` finds every frame's real name.
    """

    function: str | None
    file: str | None = None
    line: int | None = None
    library: str | None = None
    offset: int | None = None
    address: int | None = None


@dataclass(frozen=True)
class ThreadStack:
    """One thread of a faulthandler dump."""

    thread_id: str
    current: bool
    frames: tuple[PythonFrame, ...]
    name: str | None = None  # 3.14 prints the thread's name: ``Thread 0x... [worker-1]``
    collecting: bool = False  # ``Garbage-collecting``: the fault happened inside the collector


@dataclass(frozen=True)
class FatalError:
    """``Fatal Python error: [function: ]message``."""

    function: str | None
    message: str


@dataclass(frozen=True)
class FaulthandlerDump:
    """The first faulthandler dump in a text: its fatal error line, threads and C stack."""

    fatal_error: FatalError | None
    threads: tuple[ThreadStack, ...]
    c_stack: tuple[NativeFrame, ...] = ()

    @property
    def current(self) -> ThreadStack | None:
        """The thread that faulted (or received the dump signal), when the dump says which."""
        for thread in self.threads:
            if thread.current:
                return thread
        return None


@dataclass(frozen=True)
class Assertion:
    """A failed C-level assertion.

    ``origin`` says who printed it: ``c`` (the C library's ``assert``), ``cpython``
    (``_PyObject_ASSERT`` and friends, which name the caller's file and line) or ``mimalloc``.
    """

    file: str
    line: int
    function: str | None
    expression: str | None
    message: str | None
    origin: str

    @property
    def basename(self) -> str:
        """The file name without its folders (``./Modules/x.c`` and ``Modules/x.c`` agree)."""
        return self.file.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class AllocatorError:
    """A debug allocator check that failed (``_PyMem_DebugRawFree: bad trailing pad byte``)."""

    function: str
    problem: str  # ``bad ID``, ``bad leading pad byte`` or ``bad trailing pad byte``
    api: str | None = None  # the block's API id as printed (``m``, ``o``, ``r``), if readable


@dataclass(frozen=True)
class GdbThread:
    """One thread of a gdb backtrace, innermost frame first."""

    number: int
    frames: tuple[NativeFrame, ...]
    lwp: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class GdbBacktrace:
    """The output of ``thread apply all bt`` plus the line saying which signal stopped it."""

    threads: tuple[GdbThread, ...]
    signal: str | None  # ``SIGSEGV``; None when the program did not stop on a signal
    stopped_thread: int | None  # gdb's number of the thread that received it

    @property
    def crashing(self) -> GdbThread | None:
        """The thread that received the signal, else the one in abort/raise, else the only one."""
        for thread in self.threads:
            if thread.number == self.stopped_thread:
                return thread
        for thread in self.threads:
            if any(_is_abort_name(frame.function) for frame in thread.frames[:6]):
                return thread
        return self.threads[0] if len(self.threads) == 1 else None


@dataclass(frozen=True)
class SanitizerStack:
    """One stack of a sanitizer report with the heading line above it."""

    title: str
    frames: tuple[NativeFrame, ...]

    @property
    def is_access(self) -> bool:
        """Whether this stack is a memory access (not an allocation, free or thread creation)."""
        return _ACCESS_TITLE.match(self.title) is not None

    @property
    def is_previous(self) -> bool:
        """Whether this is the earlier access of a race (``Previous write of size 8 ...``)."""
        return self.title.lower().startswith("previous")


@dataclass(frozen=True)
class SanitizerReport:
    """One ThreadSanitizer or AddressSanitizer report."""

    tool: str  # ``ThreadSanitizer`` or ``AddressSanitizer``
    kind: str  # ``data race``, ``heap-use-after-free``, ``SEGV on unknown address`` ...
    stacks: tuple[SanitizerStack, ...]
    summary: str | None = None

    @property
    def accesses(self) -> tuple[SanitizerStack, ...]:
        """The access stacks: the two sides of a race, or the bad access of an ASan report."""
        return tuple(stack for stack in self.stacks if stack.is_access)


# --------------------------------------------------------------------------- assertions

_GLIBC_ASSERT = re.compile(
    r"^(?:[^\n:]*): (?P<file>[^\n:]+):(?P<line>\d+): (?P<func>[^\n]*?): "
    r"Assertion `(?P<expr>.*)' failed\.\s*$",
    re.MULTILINE,
)
_CPYTHON_ASSERT = re.compile(
    r"^(?P<file>[^\s:][^\n:]*):(?P<line>\d+): (?:(?P<func>[A-Za-z_]\w*): )?"
    r"Assertion (?:\"(?P<expr>.*)\" failed|failed)(?:: (?P<msg>.*?))?\s*$",
    re.MULTILINE,
)
_MIMALLOC_ASSERT = re.compile(
    r"^mimalloc: assertion failed: at \"(?P<file>[^\"]+)\":(?P<line>\d+), (?P<func>\S+)\s*\n"
    r"\s*assertion: \"(?P<expr>.*)\"\s*$",
    re.MULTILINE,
)


def parse_assertion(text: str) -> Assertion | None:
    """The earliest failed assertion in ``text``, whichever of the three printers wrote it."""
    found: list[tuple[int, Assertion]] = []
    for origin, pattern in (
        ("c", _GLIBC_ASSERT),
        ("cpython", _CPYTHON_ASSERT),
        ("mimalloc", _MIMALLOC_ASSERT),
    ):
        match = pattern.search(text)
        if match is not None:
            found.append((match.start(), _assertion_from(match, origin)))
    if not found:
        return None
    return min(found, key=lambda pair: pair[0])[1]


def _assertion_from(match: re.Match[str], origin: str) -> Assertion:
    groups = match.groupdict()
    return Assertion(
        file=groups["file"].strip(),
        line=int(groups["line"]),
        function=groups.get("func") or None,
        expression=groups.get("expr"),
        message=groups.get("msg") or None,
        origin=origin,
    )


# --------------------------------------------------------------------------- fatal errors

_FATAL = re.compile(r"Fatal Python error: (?P<rest>[^\n]*)")
_FATAL_FUNC = re.compile(r"^(?P<func>[A-Za-z_]\w*): (?P<msg>.*)$")
_FATAL_SIGNUM = re.compile(r"Fatal Python error from unexpected signum: (?P<num>\d+)")
_DEBUG_BLOCK_API = re.compile(r"^Debug memory block at address p=0x[0-9a-fA-F]+: API '(.)'", re.M)
_ALLOCATOR_PROBLEM = re.compile(r"^(bad ID|bad leading pad byte|bad trailing pad byte)\b")
_MIMALLOC_ERROR = re.compile(
    r"^mimalloc: error: (?:thread 0x[0-9a-fA-F]+: )?(?P<problem>[^:\n]*?)"
    r"(?: of block| at | 0x|:|\(|$)",
    re.MULTILINE,
)


def parse_fatal_error(text: str) -> FatalError | None:
    """The first ``Fatal Python error`` line; two interleaved copies are folded into one."""
    match = _FATAL.search(text)
    if match is None:
        signum = _FATAL_SIGNUM.search(text)
        if signum is None:
            return None
        return FatalError(function=None, message=f"unexpected signal {signum.group('num')}")
    rest = match.group("rest").strip()
    while rest.startswith("Fatal Python error: "):  # two threads wrote the header at once
        rest = rest[len("Fatal Python error: ") :]
    rest = _undouble(rest)
    named = _FATAL_FUNC.match(rest)
    if named is None:
        return FatalError(function=None, message=rest)
    return FatalError(function=named.group("func"), message=named.group("msg").strip())


def _undouble(text: str) -> str:
    """``Segmentation faultSegmentation fault`` (two writers, one line) becomes one copy."""
    half = len(text) // 2
    if text and len(text) % 2 == 0 and text[:half] == text[half:]:
        return text[:half]
    return text


def parse_allocator_error(
    text: str, fatal: FatalError | EllipsisType | None = ...
) -> AllocatorError | None:
    """An allocator's complaint about a heap block, the first of three kinds.

    - the debug allocator's fatal error (``_PyMem_DebugRawFree: bad trailing pad byte``), with
      the block's API id from the ``Debug memory block`` dump above it;
    - a ``Debug memory block`` dump cut short by a second fault (function ``?``, problem
      ``corrupt block``);
    - mimalloc's own error line (``mimalloc: error: ... double free detected of block ...``),
      function ``mimalloc``, the problem without addresses.
    """
    api = _DEBUG_BLOCK_API.search(text)
    api_id = (
        api.group(1)
        if api is not None and api.group(1).isascii() and api.group(1).isalpha()
        else None
    )
    if isinstance(fatal, EllipsisType):
        fatal = parse_fatal_error(text)
    if fatal is not None and fatal.function is not None:
        problem = _ALLOCATOR_PROBLEM.match(fatal.message)
        if problem is not None:
            return AllocatorError(function=fatal.function, problem=problem.group(1), api=api_id)
    if api is not None:
        return AllocatorError(function="?", problem="corrupt block", api=api_id)
    mimalloc = _MIMALLOC_ERROR.search(text)
    if mimalloc is not None:
        return AllocatorError(function="mimalloc", problem=mimalloc.group("problem").strip())
    return None


# --------------------------------------------------------------------------- faulthandler

_THREAD_HEADER = re.compile(
    r"^(?P<current>Current thread|Thread) (?P<id>0x[0-9a-fA-F]+)"
    r"(?: \[(?P<name>[^\]\n]*)\])? \(most recent call first\):\s*$"
)
_STACK_HEADER = "Stack (most recent call first):"
_PY_FRAME = re.compile(
    r'^  File (?:"(?P<file>.*)"|\?\?\?), line (?P<line>\d+|\?\?\?) in (?P<func>.*)$'
)
_C_STACK_HEADER = "Current thread's C stack trace (most recent call first):"
_C_FRAME = re.compile(
    r"^  Binary file (?:\"(?P<lib>[^\"]*)\"|'<unknown>')"
    r"(?:, at (?P<sym>[^\s\[]*?)(?P<off>[+-]0x[0-9a-fA-F]+)?)? \[0x(?P<abs>[0-9a-fA-F]+)\]\s*$"
)


def parse_faulthandler(
    text: str, fatal: FatalError | EllipsisType | None = ...
) -> FaulthandlerDump | None:
    """The first faulthandler dump in ``text``: threads (which one is current) and C stack.

    The dump starts at the first fatal error line, or at the first thread header when there is
    none (a dump on request, as the harness takes on a deadline).  It ends when a second fatal
    error begins or a thread shows up twice.  ``fatal`` is the text's fatal error when the
    caller has parsed it already.
    """
    if isinstance(fatal, EllipsisType):
        fatal = parse_fatal_error(text)
    lines = text.splitlines()
    start = _dump_start(lines)
    if start is None:
        return FaulthandlerDump(fatal, ()) if fatal is not None else None
    threads: list[ThreadStack] = []
    c_stack: list[NativeFrame] = []
    seen: set[str] = set()
    index = start
    while index < len(lines):
        line = lines[index]
        header = _THREAD_HEADER.match(line)
        if header is not None or line.startswith(_STACK_HEADER):
            thread, index = _read_thread(lines, index, header)
            if thread.thread_id in seen:
                break
            seen.add(thread.thread_id)
            threads.append(thread)
            continue
        if line.startswith(_C_STACK_HEADER):
            frames, index = _read_c_stack(lines, index + 1)
            c_stack = c_stack or frames
            continue
        if threads and "Fatal Python error" in line:
            break  # a second fatal error interrupted the first dump
        index += 1
    return FaulthandlerDump(fatal, tuple(threads), tuple(c_stack))


def _dump_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if "Fatal Python error" in line:
            return index + 1
    for index, line in enumerate(lines):
        if _THREAD_HEADER.match(line) or line.startswith(_STACK_HEADER):
            return index
    return None


def _read_thread(
    lines: list[str], index: int, header: re.Match[str] | None
) -> tuple[ThreadStack, int]:
    frames: list[PythonFrame] = []
    collecting = False
    index += 1
    while index < len(lines) and lines[index].startswith("  "):
        line = lines[index]
        frame = _PY_FRAME.match(line)
        if frame is not None:
            number = frame.group("line")
            frames.append(
                PythonFrame(
                    file=frame.group("file") or "???",
                    line=int(number) if number.isdigit() else None,
                    function=frame.group("func").strip(),
                )
            )
        elif line.strip() == "Garbage-collecting":
            collecting = True
        index += 1
    if header is None:
        return ThreadStack("stack", True, tuple(frames), collecting=collecting), index
    thread = ThreadStack(
        thread_id=header.group("id").lower(),
        current=header.group("current") == "Current thread",
        frames=tuple(frames),
        name=header.group("name"),
        collecting=collecting,
    )
    return thread, index


def _read_c_stack(lines: list[str], index: int) -> tuple[list[NativeFrame], int]:
    frames: list[NativeFrame] = []
    while index < len(lines) and lines[index].startswith("  "):
        match = _C_FRAME.match(lines[index])
        if match is not None:
            offset = match.group("off")
            frames.append(
                NativeFrame(
                    function=match.group("sym") or None,
                    library=match.group("lib"),
                    offset=int(offset, 16) if offset else None,
                    address=int(match.group("abs"), 16),
                )
            )
        index += 1
    return frames, index


# --------------------------------------------------------------------------- gdb

_GDB_THREAD = re.compile(r"^Thread (?P<num>\d+) \((?P<inside>.*)\):\s*$")
_GDB_LWP = re.compile(r"\(LWP (?P<lwp>\d+)\)|LWP (?P<lwp2>\d+)")
_GDB_NAME = re.compile(r'"(?P<name>[^"]*)"\s*$')
_GDB_FRAME = re.compile(r"^#(?P<n>\d+)\s+(?:0x[0-9a-fA-F]+ in )?(?P<rest>.*)$")
_GDB_AT = re.compile(r" at (?P<file>[^\s]+):(?P<line>\d+)\s*$")
_GDB_FROM = re.compile(r" from (?P<lib>[^\s]+)\s*$")
_GDB_SIGNAL = re.compile(
    r"^(?:Thread (?P<num>\d+)(?: \"[^\"]*\")?|Program) received signal (?P<sig>SIG[A-Z0-9]+)",
    re.MULTILINE,
)


def parse_gdb_backtrace(text: str) -> GdbBacktrace | None:
    """Thread blocks of ``thread apply all bt`` and the signal that stopped the program.

    The text may hold the program's own output too (gdb and the target share the terminal):
    only thread headers, ``#N`` frame lines and the ``received signal`` line are read.
    """
    signal = _GDB_SIGNAL.search(text)
    threads: list[GdbThread] = []
    current: dict[str, object] | None = None
    frames: list[NativeFrame] = []
    for line in text.splitlines():
        header = _GDB_THREAD.match(line)
        if header is not None:
            if current is not None:
                threads.append(_gdb_thread(current, frames))
            current, frames = _gdb_header(header), []
            continue
        frame = _GDB_FRAME.match(line)
        if frame is not None and current is not None:
            frames.append(_gdb_frame(frame.group("rest")))
    if current is not None:
        threads.append(_gdb_thread(current, frames))
    if not threads and signal is None:
        return None
    stopped = signal.group("num") if signal is not None else None
    return GdbBacktrace(
        threads=tuple(threads),
        signal=signal.group("sig") if signal is not None else None,
        stopped_thread=int(stopped) if stopped else None,
    )


def _gdb_header(header: re.Match[str]) -> dict[str, object]:
    inside = header.group("inside")
    lwp = _GDB_LWP.search(inside)
    name = _GDB_NAME.search(inside)
    lwp_text = (lwp.group("lwp") or lwp.group("lwp2")) if lwp is not None else None
    return {
        "number": int(header.group("num")),
        "lwp": int(lwp_text) if lwp_text else None,
        "name": name.group("name") if name is not None else None,
    }


def _gdb_thread(header: dict[str, object], frames: list[NativeFrame]) -> GdbThread:
    number, lwp, name = header["number"], header["lwp"], header["name"]
    assert isinstance(number, int)
    return GdbThread(
        number=number,
        frames=tuple(frames),
        lwp=lwp if isinstance(lwp, int) else None,
        name=name if isinstance(name, str) else None,
    )


def _gdb_frame(rest: str) -> NativeFrame:
    """``func (args) at file:line`` / ``?? () from lib`` / ``<signal handler called>``."""
    rest = rest.strip()
    if rest.startswith("<"):
        return NativeFrame(function=rest)
    function = rest.split(" (", 1)[0].strip()
    at = _GDB_AT.search(rest)
    library = _GDB_FROM.search(rest)
    return NativeFrame(
        function=None if function in ("??", "") else function,
        file=at.group("file") if at is not None else None,
        line=int(at.group("line")) if at is not None else None,
        library=library.group("lib") if library is not None else None,
    )


# --------------------------------------------------------------------------- sanitizers

_TSAN_START = re.compile(
    r"^WARNING: ThreadSanitizer: (?P<kind>[^(\n]+?)\s*(?:\(pid=\d+\))?\s*$", re.M
)
_ASAN_START = re.compile(
    r"^(?:==\d+==)?ERROR: AddressSanitizer: (?P<kind>\S+(?: on unknown address)?)", re.M
)
_SUMMARY = re.compile(r"^SUMMARY: \w+Sanitizer: (?P<text>.*)$", re.M)
_SAN_FRAME = re.compile(r"^\s+#(?P<n>\d+) (?:0x[0-9a-fA-F]+ in )?(?P<rest>.*)$")
_SAN_BUILD_ID = re.compile(r"\s*\(BuildId: [0-9a-fA-F]+\)")
_SAN_MODULE = re.compile(r"\s*\((?P<module>[^()]*)\)\s*$")
_SAN_LOCATION = re.compile(r"\s+(?P<file>[^\s]+?):(?P<line>\d+)(?::\d+)?$")
_ACCESS_TITLE = re.compile(
    r"^(?:Previous )?(?:atomic )?(?:read|write|READ|WRITE) of size", re.IGNORECASE
)
_REPORT_END = re.compile(r"^(?:={10,}|SUMMARY: )")


def parse_sanitizer(text: str) -> SanitizerReport | None:
    """The first ThreadSanitizer or AddressSanitizer report: kind, titled stacks, summary."""
    reports = parse_sanitizer_reports(text, limit=1)
    return reports[0] if reports else None


def parse_sanitizer_reports(text: str, limit: int | None = None) -> tuple[SanitizerReport, ...]:
    """Every sanitizer report in ``text``, in order (at most ``limit``).

    With ``halt_on_error=0`` ThreadSanitizer goes on after a race and prints every race the run
    meets, each once per process: one run can show several distinct races.
    """
    starts = sorted(
        [*_TSAN_START.finditer(text), *_ASAN_START.finditer(text)], key=lambda m: m.start()
    )
    reports: list[SanitizerReport] = []
    for index, start in enumerate(starts[:limit]):
        end = starts[index + 1].start() if index + 1 < len(starts) else len(text)
        tool = "ThreadSanitizer" if "ThreadSanitizer" in start.group(0) else "AddressSanitizer"
        summary = _SUMMARY.search(text, start.end(), end)
        reports.append(
            SanitizerReport(
                tool=tool,
                kind=start.group("kind").strip(),
                stacks=tuple(_sanitizer_stacks(text[start.end() : end].splitlines())),
                summary=summary.group("text").strip() if summary is not None else None,
            )
        )
    return tuple(reports)


def _sanitizer_stacks(lines: list[str]) -> list[SanitizerStack]:
    stacks: list[SanitizerStack] = []
    title = ""
    frames: list[NativeFrame] = []
    for line in lines:
        if _REPORT_END.match(line):
            break
        frame = _SAN_FRAME.match(line)
        if frame is not None:
            frames.append(_sanitizer_frame(frame.group("rest")))
            continue
        if frames:
            stacks.append(SanitizerStack(title, tuple(frames)))
            frames = []
        if line.strip():
            title = line.strip().rstrip(":")
    if frames:
        stacks.append(SanitizerStack(title, tuple(frames)))
    return stacks


def _sanitizer_frame(rest: str) -> NativeFrame:
    """``func file:line[:col] (module+0x..)`` with any part possibly ``<null>`` or missing."""
    library = None
    rest = _SAN_BUILD_ID.sub("", rest)
    module = _SAN_MODULE.search(rest)
    if module is not None:
        library = module.group("module").split("+", 1)[0] or None
        rest = rest[: module.start()]
    rest = rest.strip()
    if rest.endswith(" <null>"):
        rest = rest[: -len(" <null>")]
    location = _SAN_LOCATION.search(rest)
    file = line = None
    if location is not None:
        file, line = location.group("file"), int(location.group("line"))
        rest = rest[: location.start()]
    function = rest.strip()
    return NativeFrame(
        function=None if function in ("", "<null>") else function,
        file=file,
        line=line,
        library=library,
    )


# --------------------------------------------------------------------------- shared names

ABORT_NAMES = (
    "abort",
    "raise",
    "__GI_abort",
    "__GI_raise",
    "__pthread_kill",
    "pthread_kill",
    "__assert_fail",
    "__GI___assert_fail",
    "__assert_fail_base",
)


def _is_abort_name(function: str | None) -> bool:
    """Whether a frame is the C library aborting (used to find gdb's crashing thread)."""
    if function is None:
        return False
    return function in ABORT_NAMES or function.startswith(("__pthread_kill", "__assert_fail"))
