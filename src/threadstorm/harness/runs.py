"""Serving scenario runs: forked children that run scenarios and report.  Standard library only.

A child is forked from the warm server before any thread exists, confines itself, then runs the
scenarios the server sends it, one at a time.  With ``reuse`` 1 (the default) every scenario
gets a fresh child; a larger ``reuse`` lets one child serve that many scenarios in a row until
it crashes or hangs, which saves the fork and the exit (the campaign's fast path; reproduction
and minimisation always use fresh children).  Either way each run's evidence is its own: the
messages up to its end, the stderr written meanwhile, which operation each thread was in.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import shutil
import time
import traceback
from dataclasses import dataclass
from typing import Any

from threadstorm.harness import confine
from threadstorm.harness.execute import run_scenario
from threadstorm.harness.pipes import collect, reap, send_signal
from threadstorm.harness.protocol import RunRequest, bytes_to_text, decode, encode, write_all
from threadstorm.scenario.codec import scenario_from_json

MARK_SLOTS = 256  # threads with a progress slot: two bytes each, see ``ProgressMarks``
PROGRESS_WINDOW_S = 1.5  # how long every counter must stand still for a run to count as hung
RETIRE_TIMEOUT_S = 2.0


@dataclass
class ScenarioChild:
    """A live child and the pipes to it."""

    pid: int
    request_w: int
    result_r: int
    err_r: int
    folder: str
    limits: dict[str, int]
    served: int = 0


class RunServer:
    """Answers ``run`` requests, keeping at most one child alive between them."""

    def __init__(self, sandbox: str) -> None:
        self.sandbox = sandbox
        self.marks = mmap.mmap(-1, MARK_SLOTS * 2)  # [2t]: operation (255: none), [2t+1]: counter
        self.child: ScenarioChild | None = None
        self.spawned = 0

    def serve(self, request: RunRequest) -> dict[str, Any]:
        """Run the request's scenario in a child; return the evidence as a ``result`` reply."""
        scenario = scenario_from_json(request.scenario)
        reuse = max(1, request.reuse)
        child = self._child_for(dict(request.limits), reuse)
        self.marks.seek(0)
        self.marks.write(b"\xff\x00" * MARK_SLOTS)
        started = time.monotonic()
        write_all(child.request_w, encode(request.scenario))
        child.served += 1
        last = child.served >= reuse
        if last:
            os.close(child.request_w)  # the child leaves after this scenario
            child.request_w = -1
        deadline = started + request.timeout
        got = collect(
            child.pid,
            child.result_r,
            child.err_r,
            deadline,
            until_done=not last,
            stuck=lambda: self.stuck(scenario.thread_count),
        )
        status, overran = self._finish(child, deadline) if got.closed else (0, False)
        if overran and not got.timed_out:
            return {
                "event": "harness_error",
                "id": request.id,
                "error": "the scenario closed the child's pipes and ran on past the deadline "
                "(killed); code under test that closes every fd cannot report",
            }
        return {
            "event": "result",
            "id": request.id,
            "wait_status": status,
            "exit_code": os.waitstatus_to_exitcode(status),
            "timed_out": got.timed_out,
            "duration_s": time.monotonic() - started,
            "stderr": bytes_to_text(got.stderr),
            "messages": got.messages,
            "in_flight": self.read_marks(scenario.thread_count),
            "slow": got.slow,
            "child_run": child.served,
        }

    def read_marks(self, threads: int) -> list[int | None]:
        """Which operation each thread was in when the run ended (None: not started or done)."""
        return [
            None if self.marks[2 * t] == 255 else self.marks[2 * t]
            for t in range(min(threads, MARK_SLOTS))
        ]

    def stuck(self, threads: int) -> bool:
        """Whether no busy thread completed an operation during ``PROGRESS_WINDOW_S``.

        Asked on the deadline: a run in which some thread still completes operations is slow
        (say, a scenario that grows its object without bound), not hung, and is not a finding.
        A thread stuck in C stays busy while the others finish their plans and go idle, so a
        real hang still ends with every busy thread standing still.
        """
        count = min(threads, MARK_SLOTS)
        before = self.marks[1 : 2 * count : 2]
        time.sleep(PROGRESS_WINDOW_S)
        after = self.marks[1 : 2 * count : 2]
        moved = [x != y for x, y in zip(before, after, strict=False)]
        return not any(moved)

    def close(self) -> None:
        """Let a live child go."""
        if self.child is not None:
            self._retire(self.child)

    def _child_for(self, limits: dict[str, int], reuse: int) -> ScenarioChild:
        child = self.child
        if child is not None and (child.limits != limits or child.served >= reuse):
            self._retire(child)
            child = None
        if child is None:
            child = self._spawn(limits)
        self.child = child
        return child

    def _spawn(self, limits: dict[str, int]) -> ScenarioChild:
        self.spawned += 1
        folder = os.path.join(self.sandbox, f"run-{self.spawned}")
        os.mkdir(folder)
        request_r, request_w = os.pipe()
        result_r, result_w = os.pipe()
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # child: never returns
            for fd in (request_w, result_r, err_r):
                os.close(fd)
            child_main(folder, limits, self.marks, request_r, result_w, err_w)
        for fd in (request_r, result_w, err_w):
            os.close(fd)
        return ScenarioChild(pid, request_w, result_r, err_r, folder, limits)

    def _finish(self, child: ScenarioChild, deadline: float) -> tuple[int, bool]:
        """Reap a child whose pipes closed, killing it on the deadline, and clean up after it.

        Returns its wait status and whether it was still running at the deadline.
        """
        if child.request_w >= 0:
            os.close(child.request_w)
            child.request_w = -1
        status, overran = reap(child.pid, deadline)
        shutil.rmtree(child.folder, ignore_errors=True)
        if self.child is child:
            self.child = None
        return status, overran

    def _retire(self, child: ScenarioChild) -> None:
        """End an idle child: close its request pipe (it exits on end of file), then reap it."""
        if child.request_w >= 0:
            os.close(child.request_w)
            child.request_w = -1
        deadline = time.monotonic() + RETIRE_TIMEOUT_S
        got = collect(child.pid, child.result_r, child.err_r, deadline)
        if not got.closed:
            send_signal(child.pid, 9)
        self._finish(child, deadline)


def child_main(
    folder: str, limits: dict[str, int], marks: mmap.mmap, request_r: int, result_w: int, err_w: int
) -> None:
    """The forked child: confine, then run each scenario sent until end of file; ``_exit``."""
    code = 0
    try:
        confine.confine_child(folder, limits, err_w)

        # One memoryview per thread over its own two bytes: writing through it takes no lock
        # (item access on the shared mmap object would serialise the very threads we race).
        views = [memoryview(marks)[2 * t : 2 * t + 2] for t in range(MARK_SLOTS)]

        def mark(thread: int, op: int) -> None:
            if thread < MARK_SLOTS:
                view = views[thread]
                view[0] = op if 0 <= op < 255 else 255
                view[1] = (view[1] + 1) & 0xFF

        def announce(message: dict[str, Any]) -> None:
            write_all(result_w, encode(message))

        with os.fdopen(request_r, "rb") as requests:
            for line in requests:
                try:
                    scenario = scenario_from_json(decode(line))
                    confine.renew_cpu_allowance(limits, scenario.thread_count + 1)
                    announce(run_scenario(scenario, mark, announce))
                except Exception:  # noqa: BLE001 - setup failed: reported, never a finding
                    announce({"event": "setup_failed", "error": traceback.format_exc()})
    except BaseException:  # noqa: BLE001 - confinement failed: tell the server, then leave
        with contextlib.suppress(OSError):
            write_all(result_w, encode({"event": "setup_failed", "error": traceback.format_exc()}))
        code = 3
    finally:
        os._exit(code)
