"""The fork server: started once per target, forks one child per scenario before any thread exists.

Usage inside the target (the controller starts it)::

    python -X faulthandler -c BOOT REPLY_FD SANDBOX_DIR [MODULE ...]

It imports the campaign's modules once, reports the target's facts, then answers requests read
from stdin, one JSON line each:

- ``{"op": "run", "id": N, "scenario": {...}, "timeout": S, "limits": {...}}``: fork a child that
  confines itself, runs the scenario and reports over a result pipe, while its raw stderr goes to
  a pipe of its own.  On the deadline the child is sent SIGUSR1 (faulthandler dumps every
  thread's stack) and then SIGKILL.  The reply carries the wait status, the raw stderr, the
  child's own messages and which operation each thread was in.
- ``{"op": "quit"}``.

Standard library only.
"""

from __future__ import annotations

import faulthandler
import importlib
import mmap
import os
import selectors
import shutil
import signal
import sys
import time
import traceback
from typing import Any

from threadstorm.harness import confine, probe
from threadstorm.harness.execute import run_scenario
from threadstorm.harness.protocol import bytes_to_text, decode, encode, write_all
from threadstorm.scenario.codec import scenario_from_json

MAX_STDERR = 1 << 20  # keep at most this much raw stderr per run (head and tail)
KILL_GRACE_S = 1.0  # time between the stack dump request and SIGKILL
MARK_SLOTS = 256


def main(argv: list[str]) -> None:
    """Entry point: ``REPLY_FD SANDBOX_DIR [MODULE ...]``."""
    reply_fd, sandbox, modules = int(argv[0]), argv[1], argv[2:]
    os.chdir(sandbox)
    imported, failed = import_modules(modules)
    write_all(reply_fd, encode({"event": "ready", **probe.facts(imported, failed)}))
    marks = mmap.mmap(-1, MARK_SLOTS)
    counter = 0
    for line in sys.stdin.buffer:
        request = decode(line)
        if request.get("op") == "quit":
            break
        counter += 1
        try:
            reply = serve_run(request, sandbox, marks, counter)
        except Exception:  # noqa: BLE001 - our own failure: reported, never a finding
            reply = {"event": "harness_error", "id": request.get("id"), "error": traceback.format_exc()}
        write_all(reply_fd, encode(reply))


def import_modules(modules: list[str]) -> tuple[list[str], dict[str, str]]:
    """Import what the campaign needs; a module that fails is reported, not fatal."""
    imported: list[str] = []
    failed: dict[str, str] = {}
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException as error:  # noqa: BLE001 - any import failure is reported
            failed[name] = f"{type(error).__name__}: {error}"
        else:
            imported.append(name)
    return imported, failed


def serve_run(request: dict[str, Any], sandbox: str, marks: mmap.mmap, counter: int) -> dict[str, Any]:
    """Fork, run one scenario in the child, collect everything the child left behind."""
    scenario = scenario_from_json(request["scenario"])
    timeout = float(request.get("timeout", 10.0))
    folder = os.path.join(sandbox, f"run-{counter}")
    os.mkdir(folder)
    marks.seek(0)
    marks.write(b"\xff" * MARK_SLOTS)
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(result_r)
        os.close(err_r)
        child_main(scenario, folder, request.get("limits", {}), marks, result_w, err_w)
    os.close(result_w)
    os.close(err_w)
    messages, stderr, timed_out = collect(pid, result_r, err_r, started + timeout)
    _, status = os.waitpid(pid, 0)
    elapsed = time.monotonic() - started
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "event": "result",
        "id": request.get("id"),
        "wait_status": status,
        "exit_code": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "duration_s": elapsed,
        "stderr": bytes_to_text(stderr),
        "messages": messages,
        "in_flight": read_marks(marks, scenario.thread_count),
    }


def child_main(
    scenario: Any, folder: str, limits: dict[str, int], marks: mmap.mmap, result_w: int, err_w: int
) -> None:
    """The forked child: confine, arm faulthandler, run, report, and leave with ``_exit``."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)
        os.dup2(err_w, 2)
        os.chdir(folder)
        confine.limit_resources(limits)
        faulthandler.enable(file=sys.__stderr__ or 2, all_threads=True)
        faulthandler.register(signal.SIGUSR1, file=sys.__stderr__ or 2, all_threads=True)
        confine.install_guard(folder)

        def mark(thread: int, op: int) -> None:
            if thread < MARK_SLOTS:
                marks[thread] = op if 0 <= op < 255 else 255

        def announce(message: dict[str, Any]) -> None:
            write_all(result_w, encode(message))

        announce(run_scenario(scenario, mark, announce))
    except BaseException:  # noqa: BLE001 - setup failed: tell the server, never a finding
        try:
            write_all(result_w, encode({"event": "setup_failed", "error": traceback.format_exc()}))
        except OSError:
            pass
        code = 3
    finally:
        os._exit(code)


def collect(
    pid: int, result_r: int, err_r: int, deadline: float
) -> tuple[list[dict[str, Any]], bytes, bool]:
    """Read the child's messages and stderr until both close; enforce the deadline."""
    selector = selectors.DefaultSelector()
    selector.register(result_r, selectors.EVENT_READ)
    selector.register(err_r, selectors.EVENT_READ)
    buffers: dict[int, bytearray] = {result_r: bytearray(), err_r: bytearray()}
    timed_out = False
    kill_at: float | None = None
    give_up = float("inf")
    while selector.get_map() and time.monotonic() < give_up:
        now = time.monotonic()
        if not timed_out and now >= deadline:
            timed_out = True
            _signal(pid, signal.SIGUSR1)
            kill_at = now + KILL_GRACE_S
        elif kill_at is not None and now >= kill_at:
            _signal(pid, signal.SIGKILL)
            kill_at = None
            give_up = now + KILL_GRACE_S  # a stray holder of the pipes must not stall us
        wait = kill_at if kill_at is not None else (deadline if not timed_out else now + 0.1)
        for key, _ in selector.select(timeout=max(0.005, wait - now)):
            fd = int(key.fd)
            chunk = os.read(fd, 65536)
            if not chunk:
                selector.unregister(fd)
                os.close(fd)
            else:
                _append_capped(buffers[fd], chunk)
    for key in list(selector.get_map().values()):
        os.close(int(key.fd))
    selector.close()
    messages = [decode(line) for line in bytes(buffers[result_r]).splitlines() if line.strip()]
    return messages, bytes(buffers[err_r]), timed_out


def _append_capped(buffer: bytearray, chunk: bytes) -> None:
    """Append, keeping the head and the newest tail when the output grows past the cap."""
    buffer += chunk
    if len(buffer) > MAX_STDERR:
        half = MAX_STDERR // 2
        del buffer[half : len(buffer) - half]
        buffer[half:half] = b"\n[threadstorm: output truncated]\n"


def read_marks(marks: mmap.mmap, threads: int) -> list[int | None]:
    """Which operation each thread was in when the child ended (None: not started or done)."""
    return [None if marks[t] == 255 else marks[t] for t in range(min(threads, MARK_SLOTS))]


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass
