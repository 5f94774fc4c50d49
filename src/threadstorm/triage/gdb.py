"""Native backtraces: run a program under gdb and keep every thread's C stack.

A 3.13 target's faulthandler prints Python frames only.  To say *where in C* a crash happens,
the representative script of a bucket is rerun under ``gdb -batch`` (the program gdb runs is the
confined script runner of ``target.confined_script``, so the debugged process is confined like a
campaign child, never the bare script): it runs the program, and
when the program stops on a signal, ``thread apply all bt`` prints every thread's stack with
symbol names (debug builds carry them).  The text is returned as it is, for the store and the
report; ``parsers.parse_gdb_backtrace`` reads it.  The program's own output goes into the same
text, so it is read capped (``target.capped_output``): its head and its tail, where gdb's
backtraces are, are kept however much the program prints.

Crashes are flaky: one run under gdb may pass.  Retrying is the caller's business (the same
script, a few times, within its budget); this module makes one attempt.

gdb runs in a new session that this module creates, so on a timeout exactly the processes it
started are killed: gdb's process group, and the debugged program (which gdb puts in a process
group of its own, inside that same session).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from threadstorm.target.capped_output import read_capped
from threadstorm.triage.parsers import parse_gdb_backtrace

FATAL_SIGNAL_NAMES = frozenset({"SIGSEGV", "SIGABRT", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP"})

GDB_SETUP = (
    "set pagination off",
    "set width 0",
    "set confirm off",
    "set print thread-events off",
    "set print inferior-events off",
    # the harness and faulthandler use these; they are not crashes
    "handle SIGUSR1 nostop noprint pass",
    "handle SIGUSR2 nostop noprint pass",
    "handle SIGPIPE nostop noprint pass",
    "handle SIGCHLD nostop noprint pass",
)


def find_gdb() -> str | None:
    """The gdb executable on PATH, or None (``apt-get install gdb`` provides one)."""
    return shutil.which("gdb")


def gdb_command(gdb: str, program: Sequence[str]) -> list[str]:
    """The gdb command line: batch mode, no init files, run, then every thread's backtrace."""
    command = [gdb, "-batch", "-nx", "-iex", "set debuginfod enabled off"]
    for setting in GDB_SETUP:
        command += ["-ex", setting]
    command += ["-ex", "run", "-ex", "thread apply all bt"]
    return [*command, "--args", *program]


def native_backtrace(
    program: Sequence[str],
    timeout_s: float,
    env: dict[str, str],
    cwd: Path | None = None,
    prefix: Sequence[str] = (),
) -> str | None:
    """Run ``program`` (an argv) under gdb once; the whole gdb text if it stopped on a fatal
    signal.

    ``prefix`` goes before gdb's command line (``ScriptRun.prefix``: into the run's pids
    cgroup).  Returns None when the program exited by itself (no crash this time), when the
    time ran out (gdb and the program are killed), or when gdb is not installed.
    """
    gdb = find_gdb()
    if gdb is None:
        return None
    process = subprocess.Popen(
        [*prefix, *gdb_command(gdb, program)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    captured = read_capped(process, timeout_s, lambda: _kill_session(process))
    if captured.timed_out:
        return None
    text = captured.output.decode("utf-8", "replace")
    return text if stopped_on_fatal_signal(text) else None


def stopped_on_fatal_signal(text: str) -> bool:
    """Whether a gdb text says the program received a fatal signal and has stacks to show."""
    backtrace = parse_gdb_backtrace(text)
    return (
        backtrace is not None
        and backtrace.signal in FATAL_SIGNAL_NAMES
        and any(thread.frames for thread in backtrace.threads)
    )


def _kill_session(process: subprocess.Popen[bytes]) -> None:
    """Kill gdb's group and every process of the session we created for it (reaped later).

    gdb is not reaped yet, so its pid (which is the session and group id) cannot be reused:
    whatever carries that session id was started by us.
    """
    members = _session_members(process.pid)
    for pid in members:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def _session_members(session: int) -> list[int]:
    """Pids whose session id is ``session`` (read from ``/proc``; empty where there is none)."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[3] == str(session):
            members.append(int(entry))
    return members
