"""Signatures: the identity of a failure, built by written rules.  Same signature, same bucket.

The rules (signature version ``SIGNATURE_VERSION`` in ``threadstorm.bucket.identity``; change the
version whenever a rule below changes, because stored bucket keys depend on them):

0. **Sanitizers.**  A ThreadSanitizer data race is kind ``race`` with the *unordered* pair of
   racing functions (the top normalised frame, rule 2, of each of the two access stacks, sorted),
   so "A writes while B reads" and "B reads while A writes" are one bucket; a function racing
   itself keeps both sides (``Tally_add | Tally_add``).  ``_Py_atomic_*`` helpers and the C
   library's ``mem*`` functions are skipped: a side is named by their caller (the atomic side of
   a mixed race by ``ensure_nonmanaged_dict``, not ``_Py_atomic_store_ptr_release``).  A side
   whose stack TSan could not restore is ``?``.  Any other sanitizer report is kind
   ``sanitizer``: the report's kind (``heap-use-after-free``) and the top normalised frames of
   the bad access.

1. **A specific failed C assertion** is kind ``assertion`` with parts (file basename, function,
   expression or message).  No line numbers: they move with every edit of the file.
   A ``Fatal Python error`` raised by a named C function (not a generic one below) is kind
   ``fatal`` with (function, message with addresses and numbers blanked).

   Some checks are **generic**: they fire for many unrelated bugs, and which of them fires, and
   where, depends on timing rather than on the bug.  ``_Py_NegativeRefcount`` reports the file
   and line of whichever ``Py_DECREF`` noticed: CPython 3.13's enumerate bug is seen at
   ``Objects/enumobject.c:252``, ``:253``, ``Python/brc.c:62`` (the biased-refcount merge) or
   ``Include/object.h:1042`` from run to run, and the set-iterator bug at
   ``Objects/setobject.c:878`` *and* ``Python/brc.c:62``; the groupby bug shows as a negative
   refcount or as the collector's ``visit_validate`` check; the bytearray bug as a mimalloc
   assertion, a double free or a debug allocator pad-byte check.  Generic checks come in two
   sorts:

   - *corruption detectors*: ``_Py_NegativeRefcount``, ``_Py_ForgetReference``,
     ``_PyObject_GC_TRACK``/``_PyObject_GC_UNTRACK``, any assertion in ``Python/brc.c``, in the
     garbage collector (``Python/gc*.c``), in the allocators (``Objects/obmalloc.c``,
     mimalloc), the debug allocator's complaints (bad ID, bad pad byte, a corrupt block) and
     mimalloc's errors, and the ``_PyObject_AssertFailed`` fatal error on its own.  They are
     one symptom, kind ``corruption``, whose parts are only the facts below;
   - *header preconditions*: an assertion in an inline helper under ``Include/`` (say
     ``PyTuple_GET_SIZE: PyTuple_Check(op)``) is kind ``precondition`` with (function,
     expression) and the facts below, but not the file.

   A generic check takes the facts of rule 2, or of rule 3 when there are no native frames, so
   two different bugs do not merge and one bug seen through ``brc.c`` and through
   ``enumobject.c`` does.  Checks made by the garbage collector always take rule 3's facts: the
   collector's own stack says which thread collected, not which code broke the object.
   (The parsed assertion itself stays in the outcome's crash facts, for reports.)

2. **Native frames** of the crashing thread (gdb's backtrace of the thread that received the
   signal, else the 3.14 faulthandler C stack, its frames named by ``addr2line`` when the
   judge could: ``threadstorm.triage.symbolize``) make kind ``native``: (signal or fatal error,
   top ``NATIVE_FRAMES`` frames).  Before counting, frames are normalised: addresses, offsets,
   files and line numbers are dropped; compiler clone suffixes (``.constprop.0``, ``.isra.0``,
   ``.part.0``, ``.cold``) and ``__GI_`` are stripped; and these frames are dropped:

   - every frame innermost of the outermost abort or report frame: when reporting a fatal
     error faults again (faulthandler's dump reading a corrupt frame), the frames it called
     belong to the reporter;
   - abort and report frames: ``abort``, ``raise``, ``__pthread_kill*``, ``__assert_fail*``,
     ``_Py_FatalError*``, ``fatal_error*``, ``faulthandler_*`` and its dump writers
     (``_Py_Dump*``, ``write_thread_id``...), ``_PyObject_AssertFailed``,
     ``<signal handler called>``, sanitizer runtime frames;
   - call plumbing: the eval loop (``_PyEval_*``), vectorcall and call helpers
     (``*_Vectorcall*``, ``_PyObject_Call*``, ``PyObject_Call*``, ``method_vectorcall*``,
     ``cfunction_*``, ``wrapperdescr_call``, ``wrap_*``, ``slot_tp_*``), the ``builtins``
     wrappers (``builtin_*``: ``next(it)`` and ``for x in it`` reach the same bug), thread
     bootstrap (``thread_run``, ``pythread_wrapper``, ``start_thread``, ``clone*``) and
     interpreter start-up;
   - reference counting and allocator machinery (``Py_INCREF``/``Py_DECREF`` and their inline
     helpers, ``_Py_DecRefShared*``, ``is_dead``, ``_Py_TryIncRef*``, ``PyStackRef_*``,
     ``_Py_brc_*``, ``_Py_Dealloc``, ``_Py_NegativeRefcount``, ``PyMem_*``, ``_PyMem_*``,
     ``PyObject_Malloc``/``Free``/``Realloc``, ``mi_*``, ``fill_mem_debug``): it is
     where a memory bug is *noticed*, the frame below it is where it *is*;
   - unnamed frames in the C library (signal trampolines); other unnamed frames are kept as
     ``?? (library)``.

   If nothing is left, the innermost named frame is kept (a crash inside the eval loop itself).

3. **Otherwise, Python facts** make kind ``python``: (signal or fatal error, then where the
   crashing thread was: its Python frames inside the target as ``py: path:function < ...``
   without line numbers, top ``PYTHON_FRAMES``; else ``op:`` the operation it was in, written as
   the class that *defines* the member it calls (``Counter().keys`` and ``defaultdict().keys``
   are both ``builtins.dict.keys()``: an inherited C slot folds into the class implementing
   it); else, only when the dump does not say which worker crashed, every operation in flight).
   What the *other* threads were doing at that instant is timing, not identity (version 3): it
   is context for the report.  Generic corruption (rule 1) without native frames takes the
   operation pair instead: every operation in flight, each by its implementing class, because
   the thread that notices a broken reference count is not the one that broke it.  See
   ``threadstorm.bucket.context``.  A builtin that only calls a special method is written as
   that method (``next(it)`` is ``it.__next__()``, ``repr(x)`` is ``x.__repr__()``).

4. **Hangs** are kind ``hang`` with the types and operations of every thread in flight.

5. **A scenario quarantined for killing its Dask workers** (``Evidence.killed_workers``) is kind
   ``worker_killer`` with the sorted names of the operations it calls: no child reported back,
   so what it calls is all there is to tell two of them apart.

Things to know when using signatures:

- The evidence decides the rule: the same crash signed with a gdb backtrace attached (rule 2)
  and without one (rule 3) gives two keys.  Sign a bucket's runs from the harness's own
  evidence; keep a later gdb backtrace beside the bucket rather than re-signing with it.
- Rule 3 without native frames cannot tell two C bugs reached through one operation apart;
  when follow-up learns a bucket's native crash site (gdb), buckets with one site merge
  (``threadstorm.bucket.merge``).
- A 3.14 faulthandler C stack names a *static* function after the nearest exported symbol
  before it (``PyWrapper_New+0xc27`` for ``enum_next`` in a build without the static symbol
  table on the dynamic one); such a stack buckets consistently for one build, but coarsely.
"""

from __future__ import annotations

import dataclasses
import re

from threadstorm.bucket.context import Context, run_context
from threadstorm.bucket.identity import UNKNOWN_SIDE, Signature
from threadstorm.scenario.model import Scenario
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import CrashFacts, crash_facts
from threadstorm.triage.outcome import Outcome, Status
from threadstorm.triage.parsers import Assertion, NativeFrame, SanitizerReport

NATIVE_FRAMES = 3
WORKER_KILLER = "worker_killer"  # rule 5's kind: never run again, not even in follow-up

# ----------------------------------------------------------------- generic checks

CORRUPTION_FUNCTIONS = frozenset(
    {"_Py_NegativeRefcount", "_Py_ForgetReference", "_PyObject_GC_TRACK", "_PyObject_GC_UNTRACK"}
)
CORRUPTION_FILES = ("Python/brc.c", "Objects/obmalloc.c", "Objects/mimalloc/")
COLLECTOR_FILES = ("Python/gc.c", "Python/gc_free_threading.c", "Python/gc_gil.c")
HEADER_FOLDER = "Include/"
GENERIC_FATAL_FUNCTIONS = frozenset({"_PyObject_AssertFailed", "_Py_NegativeRefcount"})

# ----------------------------------------------------------------- native frames to drop

ABORT_FRAMES = frozenset(
    {
        "abort",
        "raise",
        "pthread_kill",
        "__restore_rt",
        "<signal handler called>",
        "_PyObject_AssertFailed",
        "Py_FatalError",
        "_PyMem_DebugCheckAddress",
        "_PyObject_DebugDumpAddress",
        "_Py_DumpStack",
        "_Py_backtrace_symbols_fd",
        "_mi_assert_fail",
        # faulthandler's dump writers: a second fault while dumping stops gdb inside them
        "write_thread_id",
        "dump_traceback",
        "dump_frame",
        "dump_pointer",
        "_Py_write_noraise",
    }
)
ABORT_PREFIXES = (
    "__pthread_kill",
    "__assert_fail",
    "_Py_FatalError",
    "_Py_FatalRefcountError",
    "fatal_error",
    "faulthandler_",
    "_Py_Dump",  # _Py_DumpTraceback*, _Py_DumpASCII, _Py_DumpDecimal, _Py_DumpHexadecimal
    "__sanitizer",
    "__tsan",
    "__asan",
    "__interceptor_",
)
PLUMBING_FRAMES = frozenset(
    {
        "PyEval_EvalCode",
        "PyEval_EvalCodeEx",
        "_PyFunction_Vectorcall",
        "_PyVectorcall_Call",
        "PyVectorcall_Call",
        "_PyObject_MakeTpCall",
        "wrapperdescr_call",
        "wrapper_call",
        "thread_run",
        "pythread_wrapper",
        "context_run",  # 3.14's threading runs every thread's target inside Context.run
        "start_thread",
        "clone",
        "clone3",
        "main",
        "_start",
        "Py_RunMain",
        "Py_BytesMain",
        "run_eval_code_obj",
        "run_mod",
        "pyrun_file",
    }
)
PLUMBING_PREFIXES = (
    "_PyEval_",
    "_PyObject_Vectorcall",
    "PyObject_Vectorcall",
    "_PyObject_Call",
    "PyObject_Call",
    "method_vectorcall",
    "cfunction_",
    "vectorcall_",
    "slot_tp_",
    "wrap_",
    "builtin_",
    "_Py_call_instrumentation",
    "_PyRun_",
    "PyRun_",
    "pymain_",
    "__libc_start",
)
REFCOUNT_FRAMES = frozenset(
    {
        "Py_INCREF",
        "Py_DECREF",
        "Py_XINCREF",
        "Py_XDECREF",
        "Py_NewRef",
        "Py_XNewRef",
        "_Py_NewRef",
        "_Py_XNewRef",
        "Py_IncRef",
        "Py_DecRef",
        "_Py_Dealloc",
        "_Py_NegativeRefcount",
        "_Py_MergeZeroLocalRefcount",
        "_Py_ExplicitMergeRefcount",
        "_Py_IsImmortal",
        "is_dead",  # Objects/object.c: the shared-refcount decref's liveness check
    }
)
REFCOUNT_PREFIXES = (
    "_Py_DecRef",
    "_Py_IncRef",
    "_Py_INCREF",
    "_Py_DECREF",
    "_Py_brc_",
    "_Py_TryIncRef",  # the free-threaded "incref if still alive" helpers
    "_Py_TryXGetRef",
    "PyStackRef_",  # 3.14 stack references: refcounting of the eval loop's values
    "_PyStackRef_",
)
ALLOCATOR_PREFIXES = (
    "_PyMem_",
    "PyMem_",
    "PyObject_Free",
    "PyObject_Malloc",
    "PyObject_Realloc",
    "PyObject_Calloc",
    "_PyObject_Free",
    "_PyObject_Malloc",
    "_PyObject_Realloc",
    "mi_",
    "_mi_",
    "fill_mem_debug",  # the debug allocator filling a fresh or freed block
)
SYSTEM_LIBRARIES = ("libc.so", "libc-", "libpthread", "ld-linux", "linux-vdso")
SANITIZER_RUNTIME = ("libsanitizer", "libtsan", "libasan", "libclang_rt")
# Inline atomics and the C library's memory functions: a race side names their caller.
RACE_HELPER_PREFIXES = ("_Py_atomic_", "memset", "memcpy", "memmove", "__mem")

_CLONE_SUFFIX = re.compile(r"\.(?:constprop|isra|part|cold|lto_priv|llvm)(?:\.\d+)*$")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"\b\d+\b")


# ----------------------------------------------------------------- entry point


def signature_for(outcome: Outcome, evidence: Evidence, scenario: Scenario) -> Signature:
    """The signature of a finding (``HUNG``, ``CRASHED``, ``SANITIZER``), by the rules above.

    The crash facts come from the outcome (parsed once, by ``classify``); the evidence only
    adds the child's messages and the operation each thread was in.  Raises ``ValueError`` for
    an outcome that is not a finding: asking for its identity is a programming error, not a
    property of the target.
    """
    if not outcome.status.is_finding:
        raise ValueError(f"a {outcome.status.label} run has no signature (only findings do)")
    if evidence.killed_workers:
        return worker_killer_signature(scenario)
    facts = outcome.facts if outcome.facts is not None else crash_facts(evidence)
    context = run_context(evidence, scenario, facts)
    if outcome.status is Status.HUNG:
        return Signature("hang", context.in_flight)
    if facts.sanitizer is not None:
        return sanitizer_signature(facts.sanitizer)
    return crash_signature(facts, context)


def candidate_signatures(
    outcome: Outcome, evidence: Evidence, scenario: Scenario
) -> tuple[Signature, ...]:
    """Other signatures a crash may have, when its dump does not say which worker crashed.

    One per worker that may have crashed (``Context.candidates``), each as if that worker's
    operation were the site; empty when the crashing thread is known.
    """
    if outcome.status is not Status.CRASHED or outcome.facts is None or evidence.killed_workers:
        return ()
    context = run_context(evidence, scenario, outcome.facts)
    found = (
        crash_signature(outcome.facts, dataclasses.replace(context, site=site))
        for site in context.candidates
    )
    return tuple(dict.fromkeys(found))


def worker_killer_signature(scenario: Scenario) -> Signature:
    """Rule 5: the operations of a scenario that killed the Dask workers running it."""
    names = sorted({op.name for plan in scenario.threads for op in plan.operations})
    return Signature(WORKER_KILLER, tuple(names))


def crash_signature(facts: CrashFacts, context: Context) -> Signature:
    """Rules 1 to 3 for a crash whose facts are parsed; ``context`` is rule 3's scenario part."""
    native = native_frame_names(facts.native_frames)
    generic = generic_check(facts)
    if generic is not None:
        kind, parts, native_allowed = generic
        if native and native_allowed:
            return Signature(kind, (*parts, *native))
        return Signature(kind, (*parts, *(context.pair if kind == "corruption" else context.site)))
    if facts.assertion is not None:
        found = facts.assertion
        what = found.expression or found.message or ""
        return Signature("assertion", (found.basename, found.function or "?", what))
    fatal = facts.fatal_error
    if fatal is not None and fatal.function is not None:
        return Signature("fatal", (fatal.function, _blank_numbers(fatal.message)))
    if native:
        return Signature("native", (_crash_name(facts), *native))
    return Signature("python", (_crash_name(facts), *context.site))


def generic_check(facts: CrashFacts) -> tuple[str, tuple[str, ...], bool] | None:
    """(kind, own parts, whether native frames may stand for it) of a generic check, else None."""
    found = facts.assertion
    if found is not None:
        sort = assertion_sort(found)
        if sort == "header":
            what = found.expression or found.message or ""
            return "precondition", (found.function or "?", what), True
        if sort is not None:
            return "corruption", (), sort != "collector"
        return None
    if facts.allocator is not None:
        return "corruption", (), True
    fatal = facts.fatal_error
    if fatal is not None and fatal.function in GENERIC_FATAL_FUNCTIONS:
        return "corruption", (), True
    return None


def assertion_sort(found: Assertion) -> str | None:
    """``corruption``, ``collector`` (a corruption check by the GC), ``header``, or None."""
    path = found.file.replace("\\", "/").removeprefix("./")
    if found.origin == "mimalloc" or found.function in CORRUPTION_FUNCTIONS:
        return "corruption"
    if path.startswith(COLLECTOR_FILES):
        return "collector"
    if path.startswith(CORRUPTION_FILES):
        return "corruption"
    if path.startswith(HEADER_FOLDER):
        return "header"
    return None


def is_generic_assertion(found: Assertion) -> bool:
    """Whether an assertion site fires for many unrelated bugs (see rule 1)."""
    return assertion_sort(found) is not None


def _crash_name(facts: CrashFacts) -> str:
    signal = facts.first_signal
    if signal is not None:
        return signal
    if facts.fatal_error is not None:
        return f"fatal: {_blank_numbers(facts.fatal_error.message)}"
    return "crash"


def _blank_numbers(text: str) -> str:
    return _NUMBER.sub("N", _ADDRESS.sub("0x?", text)).strip()


# ----------------------------------------------------------------- rule 0: sanitizers


def sanitizer_signature(report: SanitizerReport) -> Signature:
    """Rule 0: an unordered pair of racing functions, or the report kind and the access site."""
    accesses = report.accesses
    if report.kind.startswith("data race") and accesses:
        tops = [_race_side(stack.frames) for stack in accesses[:2]]
        if len(tops) == 1:  # "[failed to restore the stack]": the other side is unknown
            tops.append(UNKNOWN_SIDE)
        return Signature("race", tuple(sorted(tops)))
    stack = accesses[0] if accesses else (report.stacks[0] if report.stacks else None)
    frames = native_frame_names(stack.frames) if stack is not None else ()
    return Signature("sanitizer", (report.kind, *frames))


def _race_side(frames: tuple[NativeFrame, ...]) -> str:
    """One side of a race: its top frame, past ``_Py_atomic_*`` helpers (the atomic side of a
    mixed access names its caller: ``ensure_nonmanaged_dict``, not ``_Py_atomic_store_ptr``)."""
    kept = tuple(
        frame for frame in frames if not (frame.function or "").startswith(RACE_HELPER_PREFIXES)
    )
    return _top_name(kept or frames)


def _top_name(frames: tuple[NativeFrame, ...]) -> str:
    names = native_frame_names(frames)
    return names[0] if names else "?"


# ----------------------------------------------------------------- rule 2: native frames


def native_frame_names(frames: tuple[NativeFrame, ...]) -> tuple[str, ...]:
    """The top ``NATIVE_FRAMES`` normalised names, innermost first (rule 2)."""
    names: list[str] = []
    first_named: str | None = None
    for frame in frames[_past_the_report(frames) :]:
        name = normalised_name(frame)
        if name is None or is_abort_frame(name):
            continue
        first_named = first_named or name
        if is_plumbing_frame(name) or (names and names[-1] == name):
            continue
        names.append(name)
        if len(names) == NATIVE_FRAMES:
            break
    if not names and first_named is not None:
        names.append(first_named)
    return tuple(names)


def _past_the_report(frames: tuple[NativeFrame, ...]) -> int:
    """Where the failing code starts: just past the outermost abort frame, or 0 without one.

    A second fault while a fatal error is reported (faulthandler's traceback dump reading a
    corrupt frame through ``_PyFrame_GetCode``) stops the process inside the reporter; the
    frames it called are the reporter's, and the bug is below the report (rule 2).
    """
    start = 0
    for index, frame in enumerate(frames):
        name = normalised_name(frame)
        if name is not None and is_abort_frame(name):
            start = index + 1
    return start if start < len(frames) else 0


def normalised_name(frame: NativeFrame) -> str | None:
    """A frame's function without clone suffixes, ``?? (library)``, or None to drop it."""
    location = f"{frame.file or ''} {frame.library or ''}"
    if any(part in location for part in SANITIZER_RUNTIME):
        return None
    if frame.function is None:
        library = (frame.library or "").rsplit("/", 1)[-1]
        if not library or library.startswith(SYSTEM_LIBRARIES):
            return None
        return f"?? ({library})"
    name = frame.function.strip()
    while _CLONE_SUFFIX.search(name):
        name = _CLONE_SUFFIX.sub("", name)
    return name.removeprefix("__GI_") or None


def is_abort_frame(name: str) -> bool:
    """Frames that report or abort rather than fail (rule 2, first list)."""
    return name in ABORT_FRAMES or name.startswith(ABORT_PREFIXES)


def is_plumbing_frame(name: str) -> bool:
    """Call, thread, refcount and allocator machinery (rule 2, second and third lists)."""
    return (
        name in PLUMBING_FRAMES
        or name in REFCOUNT_FRAMES
        or name.startswith(PLUMBING_PREFIXES)
        or name.startswith(REFCOUNT_PREFIXES)
        or name.startswith(ALLOCATOR_PREFIXES)
    )
