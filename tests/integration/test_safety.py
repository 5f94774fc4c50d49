"""Fuzzed calls never harm the host: files outside the sandbox and processes outside the tree.

First, the issue's test: a campaign over ``os``, ``shutil``, ``pathlib``, ``signal`` and
``subprocess`` on the 3.13 debug target, with canary files around it (a folder of its own, the
command's working folder, a stand-in HOME) and sleeper processes of the test's own.  Afterwards
every canary is byte-for-byte, mode and mtime the same, no new file appeared beside them, every
sleeper still runs, and the sandboxes the campaign made under its TMPDIR are gone.

Second, the sandbox's own line of defence, without the deny-list in front of it: ``threadstorm
run`` executes hand-written scenarios that call the dangerous functions directly on the canaries
and the sleepers, including calls the audit hook cannot see (the child disarms those).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import describe, fuzz, report_json, threadstorm

from threadstorm.scenario.codec import dumps
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)

pytestmark = pytest.mark.integration

MODULES = "os,shutil,pathlib,signal,subprocess"
BUDGET_S = 60.0
SLEEPERS = 3

Snapshot = dict[str, tuple[int, int, int, str]]


def snapshot(*roots: Path) -> Snapshot:
    """Every path under ``roots`` (links not followed): mode, size, mtime and content digest."""
    found: Snapshot = {}
    for root in roots:
        for path in [root, *sorted(root.rglob("*"))]:
            info = path.lstat()
            if path.is_symlink():
                digest = "-> " + os.readlink(path)
            elif path.is_file():
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                digest = "folder"
            found[str(path)] = (info.st_mode, info.st_size, info.st_mtime_ns, digest)
    return found


def plant_canaries(root: Path) -> Path:
    """A small tree of files worth deleting, truncating, renaming or rewriting."""
    root.mkdir()
    (root / "notes.txt").write_text("precious notes\n")
    (root / "data.bin").write_bytes(bytes(range(256)))
    (root / "script.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "script.sh").chmod(0o755)
    (root / "sub").mkdir()
    (root / "sub" / "deep.txt").write_text("deeper\n")
    (root / "link").symlink_to(root / "notes.txt")
    return root


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes of the test's own: in its process group, in a session of their own."""
    started = [
        subprocess.Popen(["sleep", "3600"], start_new_session=number % 2 == 1)
        for number in range(SLEEPERS)
    ]
    try:
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()  # by pid: ours
            process.wait(timeout=30)


def test_a_campaign_over_dangerous_modules_harms_nothing(
    python313d: Path, tmp_path: Path, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    canaries = plant_canaries(tmp_path / "canaries")
    workdir = plant_canaries(tmp_path / "workdir")
    home = plant_canaries(tmp_path / "home")
    scratch = tmp_path / "scratch"  # TMPDIR: where the campaign's sandboxes live
    scratch.mkdir()
    env = {"HOME": str(home), "TMPDIR": str(scratch), "THREADSTORM_CACHE": str(tmp_path / "cache")}
    before = snapshot(canaries, workdir, home)

    fuzz(python313d, tmp_path / "campaign", MODULES, BUDGET_S, cwd=workdir, env=env)

    assert snapshot(canaries, workdir, home) == before
    assert [p.pid for p in sleepers if p.poll() is not None] == []
    assert list(scratch.iterdir()) == []  # every sandbox removed with its session
    report = report_json(tmp_path / "campaign")
    assert report["campaign"]["runs"] > 0
    assert report["campaign"]["outcomes"].get("harness_error", 0) == 0, report["campaign"]


# --------------------------------------------------------------------------- direct calls


def one_call(obj: Recipe, function: str, *args: Recipe, method: bool = False) -> Scenario:
    """One thread, one call: ``function(obj, *args)``, or ``obj.function(*args)``."""
    kind = "method" if method else "function"
    return Scenario(
        shared=(SharedObject("obj", obj),),
        threads=(ThreadPlan((Operation(kind, "obj", function, args),)),),
        iterations=1,
        rounds=1,
    ).validate()


def attempts(canaries: Path, pid: int) -> dict[str, Scenario]:
    notes, sub = str(canaries / "notes.txt"), str(canaries / "sub")
    return {
        "os.remove": one_call(Lit(notes), "os.remove"),
        "os.rename": one_call(Lit(notes), "os.rename", Lit(notes + ".moved")),
        "os.truncate": one_call(Lit(notes), "os.truncate", Lit(0)),
        "os.chmod": one_call(Lit(notes), "os.chmod", Lit(0)),
        "os.utime": one_call(Lit(notes), "os.utime", Collection("tuple", (Lit(0), Lit(0)))),
        "os.open for writing": one_call(Lit(notes), "os.open", Lit(os.O_WRONLY | os.O_TRUNC)),
        "os.mkdir": one_call(Lit(str(canaries / "new")), "os.mkdir"),
        "os.symlink": one_call(Lit("/etc/passwd"), "os.symlink", Lit(str(canaries / "new"))),
        "shutil.rmtree": one_call(Lit(sub), "shutil.rmtree"),
        "shutil.move": one_call(Lit(sub), "shutil.move", Lit(sub + ".moved")),
        "Path.write_text": one_call(
            Call(Ref("pathlib.Path"), (Lit(notes),)), "write_text", Lit("pwned"), method=True
        ),
        "Path.unlink": one_call(Call(Ref("pathlib.Path"), (Lit(notes),)), "unlink", method=True),
        "subprocess.run": one_call(Collection("list", (Lit("rm"), Lit(notes))), "subprocess.run"),
        "os.system": one_call(Lit(f"rm -f {notes}; kill -9 {pid}"), "os.system"),
        "os.kill": one_call(Lit(pid), "os.kill", Lit(int(signal.SIGKILL))),
        "os.killpg": one_call(Lit(os.getpgid(pid)), "os.killpg", Lit(int(signal.SIGKILL))),
        "os.mkfifo": one_call(Lit(str(canaries / "new")), "os.mkfifo"),
        "os.mknod": one_call(Lit(str(canaries / "new")), "os.mknod"),
        "signal.pidfd_send_signal": one_call(
            Call(Ref("os.pidfd_open"), (Lit(pid),)),
            "signal.pidfd_send_signal",
            Lit(int(signal.SIGKILL)),
        ),
    }


# Calls no audit event reports: the child replaces them with refusing stubs (confine.disarm).
CASES = list(attempts(Path("/nowhere"), os.getpid()))
REFUSED_AT_SETUP = {"signal.pidfd_send_signal"}  # its recipe calls os.pidfd_open


def run_histogram(python: Path, scenario: Scenario, folder: Path) -> dict[str, Any]:
    path = folder / "scenario.json"
    path.write_text(dumps(scenario))
    done = threadstorm("run", str(path), "--python", str(python), "--runs", "1", "--json")
    assert done.returncode == 0, describe(done)
    histogram: dict[str, Any] = json.loads(done.stdout)
    return histogram


@pytest.mark.parametrize("name", CASES)
def test_the_sandbox_refuses_direct_calls(
    python313d: Path, tmp_path: Path, sleepers: list[subprocess.Popen[bytes]], name: str
) -> None:
    canaries = plant_canaries(tmp_path / "canaries")
    victim = sleepers[1]  # in a session and process group of its own
    before = snapshot(canaries)
    histogram = run_histogram(python313d, attempts(canaries, victim.pid)[name], tmp_path)
    assert victim.poll() is None, f"{name} killed a process outside the campaign"
    assert [p.pid for p in sleepers if p.poll() is not None] == []
    assert snapshot(canaries) == before, f"{name} changed a file outside the sandbox"
    # Refused as an exception: in the operation ("raised"), or while building the shared
    # object when the recipe itself makes the dangerous call (a setup failure, never a finding).
    refused = {"harness_error": 1} if name in REFUSED_AT_SETUP else {"raised": 1}
    assert histogram["outcomes"] == refused, histogram
