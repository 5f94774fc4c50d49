"""The evidence parsers, on captured crash texts from ``tests/corpus/texts`` and small snippets."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.triage import parsers
from threadstorm.triage.gdb import stopped_on_fatal_signal

TEXTS = Path(__file__).parent.parent / "corpus" / "texts"


def text(name: str) -> str:
    """A corpus text, decoded as the classifier decodes stderr."""
    return (TEXTS / f"{name}.txt").read_bytes().decode("utf-8", "replace")


# --------------------------------------------------------------------------- assertions


def test_glibc_assertion() -> None:
    found = parsers.parse_assertion(text("t2_product_assert"))
    assert found == parsers.Assertion(
        file="./Modules/itertoolsmodule.c",
        line=2418,
        function="product_next",
        expression="npools==0 || Py_REFCNT(result) == 1",
        message=None,
        origin="c",
    )
    assert found.basename == "itertoolsmodule.c"


def test_glibc_assertion_without_dot_slash() -> None:
    found = parsers.parse_assertion(text("odict_mixed_assert"))
    assert found is not None
    assert (found.file, found.function) == ("Objects/odictobject.c", "_odict_find_node")
    assert found.expression == "od->od_fast_nodes != NULL"


def test_cpython_negative_refcount_has_message_not_expression() -> None:
    found = parsers.parse_assertion(text("enumerate_next_enumobject"))
    assert found == parsers.Assertion(
        file="Objects/enumobject.c",
        line=252,
        function="_Py_NegativeRefcount",
        expression=None,
        message="object has negative ref count",
        origin="cpython",
    )


def test_cpython_assertion_with_expression() -> None:
    found = parsers.parse_assertion(text("t2_chain_gc_finalizing"))
    assert found is not None
    assert (found.file, found.line, found.function) == (
        "Python/gc_free_threading.c",
        407,
        "update_refs",
    )
    assert found.expression == "refcount >= 0"
    assert found.message is None


def test_cpython_assertion_failed_message_from_collector() -> None:
    found = parsers.parse_assertion(text("groupby_next_gc_validate"))
    assert found is not None
    assert found.function == "visit_validate"
    assert found.message == "PyObject_GC_Track() object is not valid"


def test_mimalloc_assertion() -> None:
    found = parsers.parse_assertion(text("bytearray_mixed_mimalloc_assert"))
    assert found == parsers.Assertion(
        file="Objects/mimalloc/alloc.c",
        line=278,
        function="mi_page_usable_size_of",
        expression="ok",
        message=None,
        origin="mimalloc",
    )


def test_first_assertion_wins_when_a_second_interrupts_the_dump() -> None:
    sample = text("t3_enumerate_nested_fatal")
    assert "_PyFrame_GetCode: Assertion" in sample  # the later, glibc-printed one
    found = parsers.parse_assertion(sample)
    assert found is not None
    assert (found.file, found.line, found.origin) == ("Objects/enumobject.c", 252, "cpython")


def test_no_assertion_in_a_plain_segfault() -> None:
    assert parsers.parse_assertion(text("product_next_segv")) is None


# --------------------------------------------------------------------------- fatal errors


@pytest.mark.parametrize(
    ("name", "function", "message"),
    [
        ("product_next_segv", None, "Segmentation fault"),
        ("t2_product_assert", None, "Aborted"),
        ("enumerate_next_brc", "_PyObject_AssertFailed", "_PyObject_AssertFailed"),
        ("t2_bytearray_bad_pad", "_PyMem_DebugRawRealloc", "bad trailing pad byte"),
        # two threads wrote the header at once: "Fatal Python error: Fatal Python error: ..."
        ("combinations_next_segv_interleaved", None, "Segmentation fault"),
        # the header starts in the middle of a line cut short by the second fault
        ("bytearray_mixed_cut_dump", None, "Segmentation fault"),
    ],
)
def test_fatal_error(name: str, function: str | None, message: str) -> None:
    assert parsers.parse_fatal_error(text(name)) == parsers.FatalError(function, message)


def test_interleaved_fatal_error_is_really_interleaved() -> None:
    assert "Fatal Python error: Fatal Python error: " in text("combinations_next_segv_interleaved")


def test_fatal_error_from_unexpected_signal() -> None:
    sample = "Fatal Python error from unexpected signum: 7\n\n"
    assert parsers.parse_fatal_error(sample) == parsers.FatalError(None, "unexpected signal 7")


def test_no_fatal_error_in_a_hang_dump() -> None:
    assert parsers.parse_fatal_error(text("sleep_hang")) is None


# --------------------------------------------------------------------------- allocators


def test_debug_allocator_pad_byte() -> None:
    found = parsers.parse_allocator_error(text("t2_bytearray_bad_pad"))
    assert found == parsers.AllocatorError("_PyMem_DebugRawRealloc", "bad trailing pad byte", "m")


def test_debug_allocator_dump_cut_short() -> None:
    found = parsers.parse_allocator_error(text("bytearray_mixed_cut_dump"))
    assert found == parsers.AllocatorError("?", "corrupt block", None)  # API id is garbage


def test_mimalloc_error_line() -> None:
    found = parsers.parse_allocator_error(text("bytearray_mixed_double_free"))
    assert found == parsers.AllocatorError("mimalloc", "double free detected", None)


def test_no_allocator_error_in_an_assertion() -> None:
    assert parsers.parse_allocator_error(text("enumerate_next_enumobject")) is None


# --------------------------------------------------------------------------- faulthandler


def test_faulthandler_threads_and_current() -> None:
    dump = parsers.parse_faulthandler(text("enumerate_next_enumobject"))
    assert dump is not None
    assert dump.fatal_error == parsers.FatalError(
        "_PyObject_AssertFailed", "_PyObject_AssertFailed"
    )
    assert len(dump.threads) == 5
    assert sum(thread.current for thread in dump.threads) == 1
    current = dump.current
    assert current is not None
    assert current.frames[0].function == "_worker"
    assert current.frames[0].file.endswith("/ship/threadstorm/harness/execute.py")
    assert current.frames[0].line == 134
    assert current.frames[-1].function == "_bootstrap"
    assert dump.c_stack == ()


def test_faulthandler_dump_on_request_has_no_fatal_error() -> None:
    dump = parsers.parse_faulthandler(text("sleep_hang"))
    assert dump is not None
    assert dump.fatal_error is None
    assert [thread.current for thread in dump.threads] == [False, True]
    assert dump.current is not None
    assert dump.current.frames[0].function == "join"
    assert dump.current.frames[-1] == parsers.PythonFrame("<string>", 1, "<module>")


def test_faulthandler_garbage_collecting_and_no_python_frame() -> None:
    dump = parsers.parse_faulthandler(text("t2_chain_gc_finalizing"))
    assert dump is not None
    assert dump.current is not None
    assert dump.current.collecting
    assert dump.current.frames == ()


def test_faulthandler_stops_at_the_second_dump() -> None:
    dump = parsers.parse_faulthandler(text("t3_enumerate_nested_fatal"))
    assert dump is not None
    ids = [thread.thread_id for thread in dump.threads]
    assert len(ids) == len(set(ids)) == 4
    assert dump.current is not None
    assert [frame.function for frame in dump.current.frames[:2]] == ["<lambda>", "w"]


def test_faulthandler_314_thread_names_and_c_stack() -> None:
    dump = parsers.parse_faulthandler(text("py314_cycle_segv_cstack"))
    assert dump is not None
    assert [thread.name for thread in dump.threads] == [
        "threadstorm-1",
        "threadstorm-0",
        "python3.14t",
    ]
    assert dump.current is not None
    assert dump.current.name == "threadstorm-0"
    stack = dump.c_stack
    assert [frame.function for frame in stack[:5]] == [
        "_Py_DumpStack",
        "faulthandler_fatal_error",
        None,  # the signal trampoline: libc, no symbol
        "cycle_next",
        "builtin_next",
    ]
    assert stack[3].function == "cycle_next"
    assert stack[3].library == "/opt/py314/bin/python3.14t"
    assert stack[3].offset == 0x51
    assert stack[3].address is not None  # kept for symbolisation, never signed
    assert stack[2].library == "/lib/x86_64-linux-gnu/libc.so.6"
    assert stack[-1].function == "clone"


def test_faulthandler_unknown_binary_and_negative_offset() -> None:
    sample = (
        "Fatal Python error: Segmentation fault\n\n"
        "Current thread 0x00007f0000000001 (most recent call first):\n"
        "  <no Python frame>\n\n"
        "Current thread's C stack trace (most recent call first):\n"
        "  Binary file '<unknown>' [0x7f0000001234]\n"
        '  Binary file "/x/ext.so", at helper-0x10 [0x7f0000005678]\n'
        '  Binary file "/x/ext.so" [0x7f0000009abc]\n'
        "  <truncated rest of calls>\n"
    )
    dump = parsers.parse_faulthandler(sample)
    assert dump is not None
    assert dump.c_stack == (
        parsers.NativeFrame(None, address=0x7F0000001234),
        parsers.NativeFrame("helper", library="/x/ext.so", offset=-0x10, address=0x7F0000005678),
        parsers.NativeFrame(None, library="/x/ext.so", address=0x7F0000009ABC),
    )


def test_no_faulthandler_dump_in_a_sanitizer_report() -> None:
    assert parsers.parse_faulthandler(text("tsan_race_read_second")) is None


# --------------------------------------------------------------------------- gdb


def test_gdb_crashing_thread_is_the_one_that_received_the_signal() -> None:
    backtrace = parsers.parse_gdb_backtrace(text("gdb_enumerate_brc"))
    assert backtrace is not None
    assert backtrace.signal == "SIGABRT"
    assert backtrace.stopped_thread == 329
    assert len(backtrace.threads) == 2  # the crashing worker and the main thread
    crashing = backtrace.crashing
    assert crashing is not None
    assert (crashing.number, crashing.name) == (329, "python3.13td")
    assert crashing.lwp is not None
    assert crashing.frames[0].function == "__pthread_kill_implementation"
    enum_next = [frame for frame in crashing.frames if frame.function == "enum_next"]
    assert enum_next == [parsers.NativeFrame("enum_next", "Objects/enumobject.c", 253)]
    brc = [frame.function for frame in crashing.frames if frame.function == "_Py_brc_queue_object"]
    assert brc == ["_Py_brc_queue_object"]


def test_gdb_frames_without_address_are_inlined_frames() -> None:
    backtrace = parsers.parse_gdb_backtrace(text("gdb_cycle_segv"))
    assert backtrace is not None
    assert backtrace.signal == "SIGSEGV"
    assert backtrace.crashing is not None
    assert backtrace.crashing.frames[:3] == (
        parsers.NativeFrame("Py_INCREF", "./Include/object.h", 810),
        parsers.NativeFrame("_Py_NewRef", "./Include/object.h", 1058),
        parsers.NativeFrame("cycle_next", "./Modules/itertoolsmodule.c", 1314),
    )


GDB_SNIPPET = """\
Program received signal SIGSEGV, Segmentation fault.
0x00007ffff7e2a8a3 in ?? () from /usr/lib/libfoo.so

Thread 1 (Thread 0x7ffff7cf2740 (LWP 4242) "python3"):
#0  0x00007ffff7e2a8a3 in ?? () from /usr/lib/libfoo.so
#1  <signal handler called>
#2  0x0000555555600000 in spam_repr (self=0x7fff, msg=0x1 "x (y) at z:1") at spam.c:17
#3  spam_call.constprop.0 (self=<optimized out>) at spam.c:40
"""


def test_gdb_snippet_from_library_signal_handler_and_odd_arguments() -> None:
    backtrace = parsers.parse_gdb_backtrace(GDB_SNIPPET)
    assert backtrace is not None
    assert (backtrace.signal, backtrace.stopped_thread) == ("SIGSEGV", None)
    crashing = backtrace.crashing  # the only thread
    assert crashing is not None
    assert crashing.lwp == 4242
    assert crashing.frames == (
        parsers.NativeFrame(None, library="/usr/lib/libfoo.so"),
        parsers.NativeFrame("<signal handler called>"),
        parsers.NativeFrame("spam_repr", "spam.c", 17),
        parsers.NativeFrame("spam_call.constprop.0", "spam.c", 40),
    )


def test_gdb_program_that_exited_has_no_signal() -> None:
    exited = "[Inferior 1 (process 10978) exited normally]\nNo stack.\n"
    assert parsers.parse_gdb_backtrace(exited) is None
    assert not stopped_on_fatal_signal(exited)


def test_stopped_on_fatal_signal() -> None:
    assert stopped_on_fatal_signal(text("gdb_odict_segv"))
    assert not stopped_on_fatal_signal(
        'Thread 2 "x" received signal SIGINT, Interrupt.\n'
        "Thread 2 (Thread 0x1 (LWP 2)):\n#0  f ()\n"
    )


# --------------------------------------------------------------------------- sanitizers


def test_tsan_data_race() -> None:
    report = parsers.parse_sanitizer(text("tsan_race_read_second"))
    assert report is not None
    assert (report.tool, report.kind) == ("ThreadSanitizer", "data race")
    assert report.summary == "data race /tmp/cap/race.c:7 in list_repr_read"
    first, second = report.accesses
    assert first.title == "Read of size 4 at 0x5612df0d7054 by thread T2"
    assert not first.is_previous
    assert first.frames[0] == parsers.NativeFrame("list_repr_read", "/tmp/cap/race.c", 7, "race")
    assert second.is_previous
    assert second.frames[0].function == "list_append_item"
    titles = [stack.title for stack in report.stacks]
    assert "Thread T2 (tid=23616, running) created by main thread at" in titles
    assert len(report.stacks) == 4


def test_every_report_of_a_real_cpython_tsan_run() -> None:
    reports = parsers.parse_sanitizer_reports(text("tsan_planted_tally"))
    assert len(reports) == 2  # halt_on_error=0: the run went on after its first race
    first, second = reports
    assert parsers.parse_sanitizer(text("tsan_planted_tally")) == first
    write, read = first.accesses
    assert write.title == "Write of size 8 at 0x7fc46c522f10 by thread T14"
    assert write.frames[0] == parsers.NativeFrame(
        "Tally_add",
        "/work/main/tests/fixtures/planted/racy.c",
        34,
        "planted_racy.cpython-314td-x86_64-linux-gnu.so",
    )
    assert read.is_previous and read.frames[0].function == "Tally_mean"
    assert first.summary == "data race /work/main/tests/fixtures/planted/racy.c:34 in Tally_add"
    assert second.summary == "data race /work/main/tests/fixtures/planted/racy.c:35 in Tally_add"
    created = first.stacks[2]
    assert (
        created.title == "Thread T14 'threadstorm-1' (tid=32349, running) created by main thread at"
    )
    assert created.frames[0].library == "libtsan.so.2"
    assert len(parsers.parse_sanitizer_reports(text("tsan_freed_block_reuse"))) == 23


def test_asan_heap_use_after_free() -> None:
    report = parsers.parse_sanitizer(text("asan_heap_use_after_free"))
    assert report is not None
    assert (report.tool, report.kind) == ("AddressSanitizer", "heap-use-after-free")
    access = report.accesses[0]
    assert access.title == "READ of size 4 at 0x602000000014 thread T0"
    assert access.frames[0] == parsers.NativeFrame("vec_repr", "/tmp/cap/uaf.c", 5)
    assert access.frames[-1] == parsers.NativeFrame("_start", library="/tmp/cap/uaf")
    freed = [stack for stack in report.stacks if stack.title == "freed by thread T0 here"]
    assert freed[0].frames[1].function == "vec_clear"
    assert report.summary == "heap-use-after-free /tmp/cap/uaf.c:5 in vec_repr"


def test_asan_segv_on_unknown_address() -> None:
    sample = (
        "==1==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000008 (pc 0x1 T2)\n"
        "==1==The signal is caused by a READ memory access.\n"
        "    #0 0x55d2194a0234 in tuple_repr Objects/tupleobject.c:230\n"
        "    #1 0x55d2194a0312 in PyObject_Repr Objects/object.c:700\n"
        "SUMMARY: AddressSanitizer: SEGV Objects/tupleobject.c:230 in tuple_repr\n"
    )
    report = parsers.parse_sanitizer(sample)
    assert report is not None
    assert report.kind == "SEGV on unknown address"
    assert report.stacks[0].frames[0] == parsers.NativeFrame(
        "tuple_repr", "Objects/tupleobject.c", 230
    )


def test_no_sanitizer_report_in_a_faulthandler_dump() -> None:
    assert parsers.parse_sanitizer(text("enumerate_next_brc")) is None
