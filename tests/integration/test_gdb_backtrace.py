"""gdb on a real 3.13 debug target: a crashing script gives a symbolised backtrace."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from threadstorm.bucket.signature import native_frame_names
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


def target_env() -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHON_GIL": "0", "LANG": "C.UTF-8"}


def test_crash_gives_a_symbolised_backtrace(python313d: Path, tmp_path: Path) -> None:
    script = tmp_path / "enumerate_storm.py"
    script.write_text(CRASHING_SCRIPT)
    text = None
    for _ in range(ATTEMPTS):  # the crash is likely, not certain, in any one run
        text = native_backtrace(python313d, script, timeout_s=120, env=target_env())
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


def test_clean_exit_gives_none(python313d: Path, tmp_path: Path) -> None:
    script = tmp_path / "fine.py"
    script.write_text("print(sum(range(10)))\n")
    assert native_backtrace(python313d, script, timeout_s=60, env=target_env()) is None


def test_timeout_kills_gdb_and_the_program(python313d: Path, tmp_path: Path) -> None:
    script = tmp_path / "sleeps.py"
    script.write_text("import time\ntime.sleep(600)\n")
    started = time.monotonic()
    assert native_backtrace(python313d, script, timeout_s=3, env=target_env()) is None
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
