"""A campaign process killed with SIGKILL loses no finding it had already recorded.

The writer is a real child process using the real store; the parent kills it with ``os.kill``
at a moment the child does not choose, then reads the file as ``report`` and ``--resume`` would.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from threadstorm.store.db import Store
from threadstorm.triage.outcome import Status

pytestmark = pytest.mark.integration

WRITER = textwrap.dedent(
    """
    import sys
    from threadstorm.bucket.identity import Signature
    from threadstorm.scenario.model import Operation, Ref, Scenario, SharedObject, ThreadPlan
    from threadstorm.store.db import Store
    from threadstorm.triage.evidence import Evidence
    from threadstorm.triage.outcome import Outcome, Status

    scenario = Scenario(
        shared=(SharedObject("obj", Ref("builtins.list")),),
        threads=(ThreadPlan((Operation("function", "obj", "builtins.repr"),)),),
        family="readers_vs_mutators",
    )
    evidence = Evidence(6, -6, False, 0.1, b"Fatal Python error: Aborted\\n")
    store = Store.create(sys.argv[1], {"seed": 1}, flush_interval_s=3600)
    number = 0
    while True:
        for _ in range(100):
            store.record_run(Status.PASSED, "readers_vs_mutators", "list")
        signature = Signature("native", (f"frame_{number}",))
        store.record_finding(
            signature,
            Status.CRASHED,
            contract="in-contract",
            scenario=scenario,
            evidence=evidence,
            outcome=Outcome(Status.CRASHED, "SIGABRT"),
        )
        print(signature.key, flush=True)  # only after record_finding returned
        number += 1
        if sys.argv[2] == "once":
            break
    sys.stdout.close()
    while True:
        store.record_run(Status.PASSED, "readers_vs_mutators", "list")  # busy, never flushed
    """
)


@contextmanager
def writer_process(folder: Path, mode: str) -> Iterator[subprocess.Popen[str]]:
    """The writer child; never left running, even when the test fails."""
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(folder), mode], stdout=subprocess.PIPE, text=True
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        assert process.stdout is not None
        process.stdout.close()


def kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


def lines(process: subprocess.Popen[str], count: int) -> list[str]:
    assert process.stdout is not None
    return [process.stdout.readline().strip() for _ in range(count)]


def test_finding_survives_sigkill_right_after_record_finding(tmp_path: Path) -> None:
    folder = tmp_path / "campaign"
    with writer_process(folder, "once") as writer:
        [key] = lines(writer, 1)
        kill(writer)
    assert (folder / "threadstorm.sqlite-wal").exists()  # killed before any checkpoint
    with Store.open(folder, readonly=True) as store:
        bucket = store.bucket(key)
        assert (bucket.count, bucket.status) == (1, Status.CRASHED)
        crash = store.crash(bucket.representative_crash)
        assert crash.evidence.stderr == b"Fatal Python error: Aborted\n"
        assert store.campaign().runs == 100  # flushed with the finding; later runs were batched
    with Store.open(folder) as resumed:  # what `fuzz --resume` does
        resumed.record_run(Status.PASSED, "readers_vs_mutators", "list")
    with Store.open(folder, readonly=True) as store:
        assert store.campaign().runs == 101


def test_every_reported_finding_survives_a_kill_mid_stream(tmp_path: Path) -> None:
    folder = tmp_path / "campaign"
    with writer_process(folder, "forever") as writer:
        reported = lines(writer, 25)
        with Store.open(folder, readonly=True) as live:  # another process reads while it writes
            assert len(live.buckets()) >= 25
        reported += lines(writer, 25)
        kill(writer)  # somewhere inside the next finding's transaction, or between two
    with Store.open(folder, readonly=True) as store:
        kept = {bucket.key for bucket in store.buckets()}
        assert set(reported) <= kept
        assert len(kept) <= len(reported) + 1
        assert all(bucket.count == 1 for bucket in store.buckets())
