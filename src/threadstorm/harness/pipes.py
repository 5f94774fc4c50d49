"""Reading a forked child's pipes under a deadline.  Standard library only.

A child reports on two pipes: its protocol messages and its raw stderr.  ``collect`` reads both
until the child closes them, or (for a child that serves several scenarios) until the message
that ends the current scenario arrives.  On the deadline the child is asked to dump every
thread's stack (SIGUSR1, handled by faulthandler) and then killed.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from threadstorm.harness.protocol import decode

MAX_STDERR = 1 << 20  # keep at most this much raw stderr per run (head and tail)
TRUNCATED = b"\n[threadstorm: output truncated]\n"  # where the middle was dropped
KILL_GRACE_S = 1.0  # time between the stack dump request and SIGKILL
END_EVENTS = frozenset({"done", "setup_failed"})


@dataclass
class Collected:
    """What came out of a child for one run."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    stderr: bytes = b""
    timed_out: bool = False
    closed: bool = False  # the child closed its pipes: it has exited (or is exiting)
    slow: bool = False  # past the deadline but still making progress: killed, not hung


def collect(
    pid: int,
    result_r: int,
    err_r: int,
    deadline: float,
    until_done: bool = False,
    stuck: Callable[[], bool] | None = None,
) -> Collected:
    """Read messages and stderr until the pipes close (or an end message, with ``until_done``).

    The pipes are closed here when they reach end of file or the child is killed; with
    ``until_done`` and a live child they stay open for its next scenario.  On the deadline,
    ``stuck()`` (when given) tells a hung child from a slow one: a slow child is killed
    without a stack dump and reported ``slow``.
    """
    selector = selectors.DefaultSelector()
    selector.register(result_r, selectors.EVENT_READ)
    selector.register(err_r, selectors.EVENT_READ)
    buffers: dict[int, bytearray] = {result_r: bytearray(), err_r: bytearray()}
    timed_out, ended, slow = False, False, False
    kill_at: float | None = None
    give_up = float("inf")
    while selector.get_map() and time.monotonic() < give_up and not ended:
        now = time.monotonic()
        if not timed_out and now >= deadline:
            timed_out = True
            slow = stuck is not None and not stuck()
            send_signal(pid, signal.SIGKILL if slow else signal.SIGUSR1)
            kill_at = now if slow else now + KILL_GRACE_S
        elif kill_at is not None and now >= kill_at:
            send_signal(pid, signal.SIGKILL)
            kill_at = None
            give_up = now + KILL_GRACE_S  # a stray holder of the pipes must not stall us
        wait = kill_at if kill_at is not None else (deadline if not timed_out else now + 0.1)
        for key, _ in selector.select(timeout=max(0.005, wait - now)):
            fd = int(key.fd)
            chunk = os.read(fd, 65536)
            if not chunk:
                selector.unregister(fd)
                os.close(fd)
                continue
            append_capped(buffers[fd], chunk)
            if until_done and fd == result_r and not timed_out:
                ended = _has_end(buffers[result_r])
    open_fds = [int(key.fd) for key in selector.get_map().values()]
    selector.close()
    if ended and err_r in open_fds:
        append_capped(buffers[err_r], drain(err_r))
    closed = not ended
    if closed:
        for fd in open_fds:
            os.close(fd)
    messages = [decode(line) for line in bytes(buffers[result_r]).splitlines() if line.strip()]
    return Collected(messages, bytes(buffers[err_r]), timed_out, closed, slow)


def _has_end(buffer: bytearray) -> bool:
    if not buffer.endswith(b"\n"):
        return False
    last = bytes(buffer).rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        return decode(last).get("event") in END_EVENTS
    except ValueError:
        return False


def drain(fd: int) -> bytes:
    """Everything readable from ``fd`` right now, without blocking."""
    os.set_blocking(fd, False)
    chunks = []
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except BlockingIOError:
        pass
    finally:
        os.set_blocking(fd, True)
    return b"".join(chunks)


def append_capped(buffer: bytearray, chunk: bytes) -> None:
    """Append, keeping the head and the newest tail when the output grows past the cap."""
    buffer += chunk
    if len(buffer) > MAX_STDERR:
        half = MAX_STDERR // 2
        del buffer[half : len(buffer) - half]
        buffer[half:half] = TRUNCATED


def reap(pid: int, deadline: float) -> tuple[int, bool]:
    """Wait for our child to exit, killing it on the deadline; its wait status, and whether killed.

    A child normally exits as its pipes close, but code under test can close them itself (say,
    ``os.closerange(0, 1024)``) and run on: a blocking wait would then stall the fork server
    for as long as the scenario likes, past every deadline.
    """
    pause = 0.0005
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status, False
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.05)
    send_signal(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return status, True


def send_signal(pid: int, signum: int) -> None:
    """Signal our own child, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)
