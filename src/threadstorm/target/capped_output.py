"""Reading a controller-started process's output under a deadline, keeping a bounded amount.

Generated code may print without end.  A follow-up or ``repro --runs`` run of a script, and gdb
running one, are read through ``read_capped``: the output is read as it comes (so the process
never blocks on a full pipe), and only its head and its newest tail are kept, by the same rule
as a campaign child's stderr (``harness.pipes.append_capped``, at most ``MAX_STDERR`` bytes).
The end of the output, where a crash report or gdb's backtraces are, is always kept.
``read_file_capped`` keeps the same of a file a process wrote (a fork server's own stderr).
"""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from threadstorm.harness.pipes import KILL_GRACE_S, MAX_STDERR, TRUNCATED, append_capped

CAP_BYTES = MAX_STDERR + len(TRUNCATED)  # the most kept: the cap and the truncation note


@dataclass(frozen=True)
class Captured:
    """The kept output of one process, and whether the deadline ended it."""

    output: bytes
    timed_out: bool


def read_capped(
    process: subprocess.Popen[bytes], timeout_s: float, kill: Callable[[], None]
) -> Captured:
    """Read the process's one piped stream (stdout, else stderr) to its end, keeping at most
    ``CAP_BYTES``; close it and reap the process.

    Past ``timeout_s`` seconds ``kill()`` is called once (it must end every process holding the
    pipe), and what is still written in the next ``KILL_GRACE_S`` seconds is read; a stray
    holder of the pipe cannot stall the caller longer than that.  A process that closes its
    stream early and runs on is killed at the deadline too.
    """
    stream = process.stdout or process.stderr
    if stream is None:
        raise ValueError("read_capped needs a process with stdout or stderr piped")
    deadline = time.monotonic() + timeout_s
    kept, timed_out = _read(stream, deadline, kill)
    if not timed_out:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
            kill()
    process.wait()
    return Captured(kept, timed_out)


def _read(stream: IO[bytes], deadline: float, kill: Callable[[], None]) -> tuple[bytes, bool]:
    """The kept output of ``stream`` until its end (or the deadline and the grace after the
    kill), and whether the deadline came first."""
    fd = stream.fileno()
    kept = bytearray()
    give_up, timed_out = float("inf"), False
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while (now := time.monotonic()) < give_up:
            if not timed_out and now >= deadline:
                timed_out = True
                kill()
                give_up = time.monotonic() + KILL_GRACE_S
                continue
            limit = give_up if timed_out else deadline
            if not selector.select(timeout=max(0.005, limit - now)):
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            append_capped(kept, chunk)
    stream.close()
    return bytes(kept), timed_out


def read_file_capped(path: Path) -> bytes:
    """The head and the tail of the file at ``path`` (``CAP_BYTES`` at most), as
    ``read_capped`` keeps them; empty when it cannot be read."""
    half = MAX_STDERR // 2
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(0)
            if size <= MAX_STDERR:
                return handle.read()
            head = handle.read(half)
            handle.seek(size - half)
            return head + TRUNCATED + handle.read(half)
    except OSError:
        return b""
