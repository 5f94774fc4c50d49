"""A real campaign killed with SIGKILL keeps its findings, leaves no process behind, and resumes.

The controller is ``threadstorm fuzz`` over the planted fixture on the 3.13 debug target, in a
process of its own.  The test polls the store (read-only, as ``report`` would) until a finding
is in it, notes the controller's whole process tree from /proc, kills the controller (that pid
only) with SIGKILL, then checks that every finding it had seen or announced is in the store, that
its fork servers and their children end by themselves (they leave when their stdin closes), and
that ``fuzz --resume`` finishes the campaign.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from helpers import (
    STARTUP_SLACK_S,
    Process,
    cli_environment,
    descendants,
    describe,
    fuzz_args,
    planted_folder,
    threadstorm,
    wait_until,
)

from threadstorm.store.db import Store, is_store

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUDGET_S = 60.0  # the Bag bug is stored within seconds of fuzzing; this leaves time to resume
RUN_TIMEOUT_S = 10.0  # the campaign's --timeout: a fork server may finish one run after the kill
NEW_BUCKET = re.compile(r"new bucket ([0-9a-f]{12})")


@pytest.fixture(scope="module")
def planted_dir(python313d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted_folder(python313d, tmp_path_factory)


@contextmanager
def controller(
    args: list[str], logs: Path, env: dict[str, str]
) -> Iterator[subprocess.Popen[bytes]]:
    """``threadstorm ARGS`` in the background, output to files; killed by pid if left running."""
    with (logs / "stdout").open("wb") as out, (logs / "stderr").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "threadstorm", *args],
            stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=cli_environment(env),
        )  # fmt: skip
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=60)


def stored_findings(folder: Path) -> dict[str, set[int]]:
    """Bucket key -> ids of its stored crashes, as a reader sees them now (empty: no store)."""
    if not is_store(folder):
        return {}
    with Store.open(folder, readonly=True) as store:
        return {b.key: {crash.id for crash in store.crashes(b.key)} for b in store.buckets()}


def test_sigkill_keeps_findings_ends_servers_and_resumes(
    python313d: Path, planted_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "campaign"
    logs = tmp_path / "logs"
    logs.mkdir()
    scratch = tmp_path / "scratch"  # the sessions' sandboxes, which a killed campaign leaves
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    args = fuzz_args(python313d, out, "planted", BUDGET_S, "--timeout", f"{RUN_TIMEOUT_S:g}",
                     paths=[planted_dir])  # fmt: skip
    seen: dict[str, set[int]] = {}
    with controller(args, logs, env) as process:

        def found() -> bool:
            assert process.poll() is None, (logs / "stderr").read_text()[-3000:]
            seen.update(stored_findings(out))
            return bool(seen)

        assert wait_until(found, BUDGET_S + STARTUP_SLACK_S), "no finding stored in time"
        tree = descendants(process.pid)
        servers = [p for p in tree if "threadstorm.harness.server" in p.command]
        assert servers, f"no fork server below the controller: {tree}"
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=60) == -signal.SIGKILL

    announced = set(NEW_BUCKET.findall((logs / "stdout").read_text()))
    after = stored_findings(out)
    assert announced <= set(after), (announced, set(after))
    for key, crashes in seen.items():
        assert crashes <= after.get(key, set()), key
    with Store.open(out, readonly=True) as store:
        killed = store.campaign()
    assert killed.status == "running"  # it never got to say it finished
    assert 0 < killed.duration_s < BUDGET_S

    def all_gone() -> bool:
        return not any(p.alive() for p in tree)

    assert wait_until(all_gone, RUN_TIMEOUT_S * 3 + 60), alive_list(tree)

    done = threadstorm("fuzz", "--resume", str(out), env=env, timeout=BUDGET_S + STARTUP_SLACK_S)
    assert done.returncode == 0, describe(done)
    assert f"resuming {out}" in done.stdout
    with Store.open(out, readonly=True) as store:
        resumed = store.campaign()
        buckets = {b.key: b.count for b in store.buckets()}
    assert resumed.status == "finished"
    assert resumed.runs > killed.runs
    assert resumed.duration_s >= BUDGET_S - 1
    for key, crashes in after.items():
        assert buckets[key] >= len(crashes), key


def alive_list(processes: list[Process]) -> str:
    return "\n".join(f"{p.pid} {p.command}" for p in processes if p.alive())
