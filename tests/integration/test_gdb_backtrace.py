"""gdb on a real 3.13 debug target: a crashing script gives a symbolised backtrace.

The program gdb runs is the confined script runner (``target.confined_script``), as in
follow-up: the backtrace comes through the confinement, and the timeout kills everything."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from threadstorm.bucket.backtrace_match import gdb_run_signature
from threadstorm.bucket.signature import native_frame_names
from threadstorm.target.confined_script import Confinement, confined_script
from threadstorm.target.interpreter import discover
from threadstorm.triage.gdb import native_backtrace
from threadstorm.triage.parsers import parse_gdb_backtrace

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed"),
]

# CPython 3.13's enumerate drops a reference twice when several threads call next() at once.
CRASHING_SCRIPT = """\
import threading

def storm():
    it = enumerate(range(1000))
    start = threading.Barrier(4)

    def worker():
        start.wait()
        for _ in range(300):
            try:
                next(it)
            except StopIteration:
                pass

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

for _ in range(400):
    storm()
"""

ATTEMPTS = 5


def backtrace_of(python: Path, script: str, timeout_s: float) -> str | None:
    """One confined run of ``script`` under gdb, as follow-up does it."""
    with confined_script(discover(python), script, Confinement(threads=4), timeout_s) as run:
        return native_backtrace(run.argv, timeout_s, run.env, run.cwd)


def test_crash_gives_a_symbolised_backtrace(python313d: Path) -> None:
    text = None
    for _ in range(ATTEMPTS):  # the crash is likely, not certain, in any one run
        text = backtrace_of(python313d, CRASHING_SCRIPT, timeout_s=120)
        if text is not None:
            break
    assert text is not None, f"no crash under gdb in {ATTEMPTS} runs"
    backtrace = parse_gdb_backtrace(text)
    assert backtrace is not None
    assert backtrace.signal in ("SIGABRT", "SIGSEGV")
    crashing = backtrace.crashing
    assert crashing is not None
    functions = [frame.function for frame in crashing.frames]
    assert "enum_next" in functions
    enum_next = crashing.frames[functions.index("enum_next")]
    assert enum_next.file is not None
    assert enum_next.file.endswith("enumobject.c")
    assert native_frame_names(crashing.frames)[0] == "enum_next"
    # what follow-up reads of the run before keeping its backtrace for a bucket
    signed = gdb_run_signature(text)
    assert signed is not None, text[-2000:]
    if signed.kind in ("native", "python"):
        assert signed.parts == (backtrace.signal,), signed
    else:  # the double decref noticed by a reference-count or allocator check
        assert signed.kind in ("corruption", "assertion", "fatal"), signed


def test_clean_exit_gives_none(python313d: Path) -> None:
    assert backtrace_of(python313d, "print(sum(range(10)))\n", timeout_s=60) is None


def test_timeout_kills_gdb_and_the_program(python313d: Path) -> None:
    started = time.monotonic()
    with confined_script(
        discover(python313d), "import time\ntime.sleep(600)\n", Confinement(), 3
    ) as run:
        assert native_backtrace(run.argv, 3, run.env, run.cwd) is None
        script = Path(run.argv[-1])
        assert time.monotonic() - started < 30
        assert _processes_running(script) == []


def _processes_running(script: Path) -> list[int]:
    """Pids whose command line names ``script`` (read-only look at /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            command = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if str(script).encode() in command:
            found.append(int(entry))
    return found
