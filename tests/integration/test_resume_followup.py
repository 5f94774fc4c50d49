"""A controller killed during follow-up: resume finishes the follow-up and cleans up after it.

A campaign over the hostile module of ``test_followup_confined`` (a method that segfaults in
worker threads) finds its crash within seconds and starts following it up.  The test kills the
controller (that pid only) with SIGKILL once the store says "following up", then checks that
the killed controller left its session folders behind, that ``fuzz --resume`` follows up every
bucket to the end (rate and repro script), reports the store's integrity as ok, and removes the
killed controller's folders.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import STARTUP_SLACK_S, cli_environment, describe, threadstorm, wait_until
from test_followup_confined import HOSTILE

from threadstorm.store.db import Store, is_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUDGET_S = 8.0
ATTEMPTS = 3  # follow-up may finish before the kill lands; start again, a bounded number of times


def status(folder: Path) -> str | None:
    if not is_store(folder):
        return None
    with Store.open(folder, readonly=True) as store:
        return store.campaign().status


def killed_during_follow_up(args: list[str], out: Path, env: dict[str, str]) -> bool:
    """Run ``threadstorm ARGS``; SIGKILL it once ``out`` says it is following up."""
    process = subprocess.Popen(
        [sys.executable, "-m", "threadstorm", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=cli_environment(env),
    )  # fmt: skip
    try:
        seen = wait_until(
            lambda: status(out) == "following up" or process.poll() is not None,
            BUDGET_S + STARTUP_SLACK_S,
            interval_s=0.05,
        )
        if not seen or process.poll() is not None:
            return False
        os.kill(process.pid, signal.SIGKILL)
        return True
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def test_resume_finishes_the_follow_up_a_kill_interrupted(python313d: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    modules = tmp_path / "modules"
    modules.mkdir()
    (modules / "hostile.py").write_text(HOSTILE.format(outside=str(outside)))
    scratch = tmp_path / "scratch"  # the controller's temporary folder
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    for attempt in range(ATTEMPTS):
        out = tmp_path / f"campaign-{attempt}"
        args = ["fuzz", "--python", str(python313d), "--modules", "hostile", "--path",
                str(modules), "--out", str(out), "--budget", f"{BUDGET_S:g}",
                "--workers", "1"]  # fmt: skip
        if killed_during_follow_up(args, out, env):
            break
    else:
        pytest.fail(f"follow-up ended before the kill in {ATTEMPTS} campaigns")
    with Store.open(out, readonly=True) as store:
        assert store.campaign().status == "following up"
        assert store.buckets()
    left_behind = sorted(scratch.glob("threadstorm-*"))
    assert left_behind, "the killed controller left no session folder (nothing to clean)"

    done = threadstorm("fuzz", "--resume", str(out), env=env, timeout=120 + STARTUP_SLACK_S)
    assert done.returncode == 0, describe(done)
    assert "store integrity: ok" in done.stdout, describe(done)
    with Store.open(out, readonly=True) as store:
        assert store.campaign().status == "finished"
        for bucket in store.buckets():
            assert bucket.reproduction is not None, bucket.key
            assert bucket.repro_script is not None, bucket.key
    assert not any(folder.exists() for folder in left_behind)
    assert sorted(outside.iterdir()) == []
