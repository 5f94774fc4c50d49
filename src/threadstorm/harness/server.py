"""The fork server: started once per target, forks one child per scenario before any thread exists.

Usage inside the target (the controller starts it)::

    python -X faulthandler -c BOOT REPLY_FD SANDBOX_DIR [MODULE ...]

It imports the campaign's modules once, reports the target's facts, then answers requests read
from stdin, one JSON line each:

- ``run`` (``protocol.RunRequest``): run the scenario in a forked child that confines itself
  and reports over a result pipe, while its raw stderr goes to a pipe of its own
  (``runs.RunServer``; with ``reuse`` K > 1 one child serves up to K scenarios in a row).  On
  the deadline the child is sent SIGUSR1 (faulthandler dumps every thread's stack) and then
  SIGKILL.  The reply carries the wait status, the raw stderr, the child's own messages and
  which operation each thread was in.
- ``surface`` (``protocol.SurfaceRequest``): discover what the modules offer
  (``introspect.discover``) in a forked, confined child; a child that crashes or hangs is
  retried past the unit it died in.  The reply is ``{"event": "surface", "id": N,
  "surface": {...}}``.
- ``kinship`` (``protocol.KinshipRequest``): what each recipe builds (type, ABCs, C slots,
  methods), for variant search (``kinship.serve_kinship``).
- ``quit``.

A line that is no request gets a ``harness_error`` reply.  Standard library only.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import mmap
import os
import shutil
import sys
import time
import traceback
from typing import Any

from threadstorm.harness import kinship, probe
from threadstorm.harness.confine import confine_child, isolate_network
from threadstorm.harness.pipes import collect as pipes_collect
from threadstorm.harness.pipes import reap
from threadstorm.harness.protocol import (
    KinshipRequest,
    ProtocolError,
    Quit,
    SurfaceRequest,
    bytes_to_text,
    encode,
    read_request,
    ready_line,
    write_all,
)
from threadstorm.harness.runs import MARK_SLOTS, RunServer


def main(argv: list[str]) -> None:
    """Entry point: ``REPLY_FD SANDBOX_DIR [MODULE ...]``."""
    reply_fd, sandbox, modules = int(argv[0]), argv[1], argv[2:]
    os.chdir(sandbox)
    isolated = isolate_network()  # before any import could open a socket
    imported, failed = import_modules(modules)
    facts = {
        **probe.facts(imported, failed),
        "network_isolated": isolated,
        # RLIMIT_NPROC does not bind root: a fork bomb in C code is then stopped by nothing
        "process_limit_binds": os.geteuid() != 0,
    }
    write_all(reply_fd, ready_line(facts))
    runs = RunServer(sandbox)
    marks = mmap.mmap(-1, MARK_SLOTS)
    for counter, line in enumerate(sys.stdin.buffer, start=1):
        try:
            request = read_request(line)
        except ProtocolError as error:
            write_all(reply_fd, encode({"event": "harness_error", "id": None, "error": str(error)}))
            continue
        if isinstance(request, Quit):
            break
        try:
            if isinstance(request, SurfaceRequest):
                reply = serve_surface(request, sandbox, marks, counter)
            elif isinstance(request, KinshipRequest):
                reply = kinship.serve_kinship(request, sandbox, counter)
            else:
                reply = runs.serve(request)
        except Exception:  # noqa: BLE001 - our own failure: reported, never a finding
            reply = {"event": "harness_error", "id": request.id, "error": traceback.format_exc()}
        write_all(reply_fd, encode(reply))
    runs.close()


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


# --------------------------------------------------------------------------- surface discovery

SURFACE_RETRIES = 4  # attempts after the first, each skipping the unit that killed the last one
SURFACE_FILE = "surface.json"
PROGRESS_BYTES = 4096


def serve_surface(
    request: SurfaceRequest, sandbox: str, marks: mmap.mmap, counter: int
) -> dict[str, Any]:
    """Discover a surface in forked children (``introspect.discover``); retry past crashes.

    Every attempt shares one deadline.  A child that dies or hangs leaves the key of the unit it
    was in (a progress mark in shared memory); the next attempt skips that unit and the surface
    lists each such death under ``crashes``: interesting, never fatal.
    """
    deadline = time.monotonic() + request.timeout
    skip: list[str] = []
    crashes: list[dict[str, Any]] = []
    for attempt in range(SURFACE_RETRIES + 1):
        outcome = _surface_attempt(request, os.path.join(sandbox, f"surface-{counter}-{attempt}"),
                                   skip, deadline)  # fmt: skip
        if "surface" in outcome:
            outcome["surface"]["crashes"] = crashes
            return {"event": "surface", "id": request.id, "surface": outcome["surface"]}
        crashes.append(outcome)
        if not outcome["at"] or outcome["at"] in skip or time.monotonic() >= deadline:
            break
        skip.append(outcome["at"])
    last = crashes[-1]
    return {
        "event": "harness_error",
        "id": request.id,
        "error": f"surface discovery failed {len(crashes)} time(s), last in {last['at'] or '?'} "
        f"(exit {last['exit_code']}, timed out: {last['timed_out']})",
        "stderr": last["stderr_tail"],
        "crashes": crashes,
    }


def _surface_attempt(
    request: SurfaceRequest, folder: str, skip: list[str], deadline: float
) -> dict[str, Any]:
    os.mkdir(folder)
    progress = mmap.mmap(-1, PROGRESS_BYTES)
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(result_r)
        os.close(err_r)
        _surface_child(request, folder, skip=skip, deadline=deadline, progress=progress,
                       result_w=result_w, err_w=err_w)  # fmt: skip
    os.close(result_w)
    os.close(err_w)
    messages, stderr, timed_out = collect(pid, result_r, err_r, deadline)
    status, overran = reap(pid, deadline)  # a unit may close the pipes and run on
    timed_out = timed_out or overran
    try:
        with open(os.path.join(folder, SURFACE_FILE), encoding="utf-8") as handle:
            surface = json.load(handle) if status == 0 else None
    except (OSError, ValueError):
        surface = None
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if surface is not None:
        return {"surface": surface}
    return {
        "at": bytes(progress).split(b"\0", 1)[0].decode("utf-8", "replace"),
        "wait_status": status,
        "exit_code": os.waitstatus_to_exitcode(status),
        "timed_out": timed_out,
        "stderr_tail": bytes_to_text(stderr[-4000:]),
        "messages": messages,
    }


def _surface_child(
    request: SurfaceRequest,
    folder: str,
    *,
    skip: list[str],
    deadline: float,
    progress: mmap.mmap,
    result_w: int,
    err_w: int,
) -> None:
    code = 0
    try:
        # imported here, in the discovery child only (before its confinement): the serving
        # process's memory layout, which some races depend on, stays independent of the
        # discovery code
        from threadstorm.harness import introspect

        limits = {k: v for k, v in request.limits.items() if k != "cpu_seconds"}
        confine_child(folder, limits, err_w)
        here = os.getcwd()  # discovery moves each unit of work into a fresh folder under it

        def mark(key: str) -> None:
            data = key.encode("utf-8", "replace")[: PROGRESS_BYTES - 1] + b"\0"
            progress[: len(data)] = data

        remaining = deadline - time.monotonic()
        surface = introspect.discover(
            list(request.modules),
            list(request.packages),
            list(request.deny),
            budget_s=max(1.0, remaining * 0.8),
            skip=skip,
            mark=mark,
            unit_timeout_s=request.unit_timeout or max(2.0, min(20.0, remaining / 4)),
            inventory_only=request.inventory_only,
            scratch=here,
            hints=request.hints,
        )
        with open(os.path.join(here, SURFACE_FILE), "w", encoding="utf-8") as handle:
            json.dump(surface, handle, separators=(",", ":"))
        write_all(result_w, encode({"event": "surface_written"}))
    except BaseException:  # noqa: BLE001 - our own failure: tell the server, never a finding
        with contextlib.suppress(OSError):
            write_all(result_w, encode({"event": "setup_failed", "error": traceback.format_exc()}))
        code = 3
    finally:
        os._exit(code)


def collect(
    pid: int, result_r: int, err_r: int, deadline: float
) -> tuple[list[dict[str, Any]], bytes, bool]:
    """Read a child's messages and stderr until both pipes close (see ``pipes.collect``)."""
    got = pipes_collect(pid, result_r, err_r, deadline)
    return got.messages, got.stderr, got.timed_out
