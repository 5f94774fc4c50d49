"""A campaign over a module of hostile functions goes on to its end, and the host is unharmed.

The module's functions do their harm only when a worker thread calls them (discovery calls them
in the main thread, where they return at once): a fork bomb, a 100 GiB allocation, ``os._exit``,
``os.kill`` of the parent and of a process of the test's own, endless output on stdout and
stderr, closing every fd from 0 to 1023 (stdio and the result pipe among them), writing outside
the sandbox (and then a segfault, so there is a bucket to follow up) and a connection to a
socket the test listens on.

The campaign runs with follow-up on, so rate measurement, minimisation, gdb and variant search
rerun the crash's scenario, hostile neighbours included; then ``repro --runs`` and ``minimise``
run it again.  Afterwards: every command ended as it should, the report exists, canary files
(a folder of their own, the command's working folder, HOME) are byte-for-byte, mode and mtime
the same with nothing new beside them, nothing was written where the module writes, the
canary process still runs, the listener accepted no connection, no process of the campaign is
left and its sandboxes are gone.
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import (
    STARTUP_SLACK_S,
    Process,
    describe,
    read_process,
    report_json,
    threadstorm,
    wait_until,
)
from test_safety import plant_canaries, snapshot

from threadstorm.exit_codes import EXIT_CLEAN, EXIT_NEW_BUG
from threadstorm.store.db import Store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Endless output, the fork bomb's sleepers and ``flood`` run to the deadline, and a hang is
# rerun to confirm it: with a 5 s deadline a 30 s campaign made as few as 6 runs, too few to be
# sure ``exit_now`` or ``close_fds`` ran.  A 2 s deadline over 45 s makes 16 or more (seeds 0-5).
BUDGET_S = 45.0
RUN_TIMEOUT_S = 2.0
FOLLOW_UP_SLACK_S = 600.0  # follow-up: at least 30 s, and a step started late may overrun it
GONE_S = 120.0  # processes a command left (a forked child, gdb's script) end within this
# The functions whose calls coverage can see (the others end their run in a harness error).
SEEN_CALLED = {"fork_bomb", "hog_memory", "kill_parent", "kill_canary", "flood", "scribble",
               "phone_home"}  # fmt: skip

HOSTILE = '''\
"""Hostile functions: each does its harm only when a worker thread calls it."""
import faulthandler
import os
import signal
import socket
import threading
import time

OUTSIDE = {outside!r}
CANARY_PID = {canary!r}
PORT = {port!r}


def _worker():
    return threading.current_thread() is not threading.main_thread()


def fork_bomb():
    if not _worker():
        return 0
    forked = False
    for _ in range(10):  # 1,024 processes, each asleep for a minute, if the forks went through
        if os.fork() == 0:
            forked = True
    if forked:
        time.sleep(60)
        os._exit(0)
    return 1


def hog_memory():
    if not _worker():
        return 0
    hoard = []
    try:
        hoard.append(bytearray(100 * 1024**3))  # 100 GiB at once
    except MemoryError:
        pass
    for _ in range(100):  # and 100 GiB in blocks of 1 GiB, every page written
        hoard.append(b"\\xff" * 1024**3)
    return len(hoard)


def exit_now():
    if not _worker():
        return 0
    os._exit(0)


def kill_parent():
    if not _worker():
        return 0
    os.kill(os.getppid(), signal.SIGKILL)


def kill_canary():
    if not _worker():
        return 0
    os.kill(CANARY_PID, signal.SIGKILL)


def flood():
    if not _worker():
        return 0
    chunk = b"hostile output " * 4096
    while True:
        os.write(1, chunk)
        os.write(2, chunk)


def close_fds():
    if not _worker():
        return 0
    os.closerange(0, 1024)  # stdio, the result pipe, the stderr pipe: every fd
    return 1


def scribble():
    if not _worker():
        return 0
    name = os.path.join(OUTSIDE, "scribble-%d-%d" % (os.getpid(), threading.get_ident()))
    try:
        with open(name, "w") as handle:
            handle.write("escaped the sandbox")
    except OSError:
        pass
    faulthandler._sigsegv()


def phone_home():
    if not _worker():
        return 0
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as connection:
        connection.settimeout(1.0)
        connection.connect(("127.0.0.1", PORT))
        connection.sendall(b"escaped the sandbox")
    return 1
'''


@pytest.fixture
def canary_process() -> Iterator[subprocess.Popen[bytes]]:
    """A process of the test's own, in a session of its own, that nothing may kill."""
    process = subprocess.Popen(["sleep", "3600"], start_new_session=True)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()  # by pid: ours
        process.wait(timeout=30)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening loopback socket that no fuzzed call may reach."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.setblocking(False)
        yield server


def test_a_campaign_over_hostile_functions_goes_on_and_harms_nothing(
    python313d: Path,
    tmp_path: Path,
    canary_process: subprocess.Popen[bytes],
    listener: socket.socket,
) -> None:
    outside = tmp_path / "outside"  # where scribble writes
    outside.mkdir()
    canaries = plant_canaries(tmp_path / "canaries")
    workdir = plant_canaries(tmp_path / "workdir")
    home = plant_canaries(tmp_path / "home")
    modules = tmp_path / "modules"
    modules.mkdir()
    port = listener.getsockname()[1]
    (modules / "hostile.py").write_text(
        HOSTILE.format(outside=str(outside), canary=canary_process.pid, port=port)
    )
    scratch = tmp_path / "scratch"  # TMPDIR: the sessions' sandboxes and script folders
    scratch.mkdir()
    env = {"HOME": str(home), "TMPDIR": str(scratch), "THREADSTORM_CACHE": str(tmp_path / "cache")}
    before = snapshot(canaries, workdir, home)
    out = tmp_path / "campaign"

    args = ["fuzz", "--python", str(python313d), "--modules", "hostile", "--path", str(modules),
            "--out", str(out), "--budget", f"{BUDGET_S:g}", "--timeout", f"{RUN_TIMEOUT_S:g}",
            "--workers", "1", "--seed", "0"]  # fmt: skip
    timeout = BUDGET_S + FOLLOW_UP_SLACK_S + STARTUP_SLACK_S  # follow-up on: the point
    done = threadstorm(*args, cwd=workdir, env=env, timeout=timeout)
    assert done.returncode in (EXIT_CLEAN, EXIT_NEW_BUG), describe(done)
    assert "following up" in done.stdout, describe(done)
    report = report_json(out)
    outcomes = report["campaign"]["outcomes"]
    assert report["campaign"]["status"] == "finished", report["campaign"]
    assert outcomes.get("harness_error", 0) > 0, outcomes  # os._exit and closerange ran
    assert outcomes.get("raised", 0) > 0, outcomes  # the sandbox refused something
    assert called_by_workers(out) >= SEEN_CALLED, called_by_workers(out)
    crashes = [b for b in report["buckets"] if b["status"] == "crashed"]
    assert any("scribble" in b["title"] for b in crashes), [b["title"] for b in crashes]
    followed = [b for b in crashes if b["reproduction"] and b["reproduction"]["crashes"]]
    assert followed, "follow-up measured no crashing rerun"

    bucket = followed[0]["id"]
    repro = threadstorm(
        "repro", str(out), bucket, "--out", str(tmp_path / "repro.py"), "--runs", "3",
        "--time-limit", "5", cwd=workdir, env=env,
    )  # fmt: skip
    assert repro.returncode == EXIT_CLEAN, describe(repro)
    shrink = threadstorm("minimise", str(out), bucket, "--budget", "20", "--runs", "3",
                         cwd=workdir, env=env)  # fmt: skip
    assert shrink.returncode == EXIT_CLEAN, describe(shrink)

    assert snapshot(canaries, workdir, home) == before
    assert sorted(outside.iterdir()) == []
    assert canary_process.poll() is None, "a fuzzed call killed a process outside the campaign"
    readable, _, _ = select.select([listener], [], [], 0)
    assert readable == [], "a fuzzed call connected to the host's loopback listener"
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert wait_until(lambda: left_behind(tmp_path) == [], GONE_S), left_behind(tmp_path)
    assert sorted(scratch.iterdir()) == []  # every sandbox and script folder removed


def called_by_workers(folder: Path) -> set[str]:
    """The hostile functions the campaign's coverage saw a worker thread call.

    Coverage credits an operation that ran, or that was in flight when a run crashed, and names
    as "always raised" one that raised on every call: both only happen in a worker thread,
    since in the main thread every function returns 0.  Runs that end in a harness error
    (``exit_now``, ``close_fds``) credit nothing.
    """
    with Store.open(folder, readonly=True) as store:
        entries = store.coverage()
    return {
        entry.name.rpartition(".")[2]
        for entry in entries
        if entry.exercised or entry.reason == "always raised"
    }


def left_behind(root: Path) -> list[Process]:
    """Living processes that name a path under ``root``: fork servers, children, gdb, scripts."""
    found = [read_process(int(name)) for name in os.listdir("/proc") if name.isdigit()]
    return [p for p in found if p is not None and str(root) in p.command and p.alive()]
