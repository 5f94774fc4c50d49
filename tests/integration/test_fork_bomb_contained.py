"""A fork bomb under the confined script runner meets the run's pids cgroup, and ends with it.

Root is not bound by RLIMIT_NPROC, so the ceiling is the pids cgroup each script run and each
fork server gets (``target.pids_group``).  The bomb is in a campaign module's import, which
runs before the audit guard (that refuses ``os.fork``) is installed: every process it makes
forks again, without end.  The run's processes never pass the group's limit, the run ends at
its deadline, and afterwards no process of the bomb and no group of ours is left.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from threadstorm.reproduce.rate import run_script
from threadstorm.target.confined_script import Confinement
from threadstorm.target.interpreter import discover
from threadstorm.target.pids_group import PREFIX, pids_root
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(pids_root() is None, reason="no pids cgroup can be made here"),
]

TASKS = 24
DEADLINE_S = 8.0

BOMB = """\
import os
import time


def _bomb():
    while True:
        try:
            os.fork()  # parent and child both go on forking
        except OSError:
            time.sleep(0.005)


if os.fork() == 0:
    _bomb()
"""


def processes_with(text: str) -> list[int]:
    """Pids whose command line contains ``text``."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path("/proc", entry, "cmdline").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(entry))
    return found


def our_groups() -> list[Path]:
    root = pids_root()
    assert root is not None
    return sorted(root.glob(f"{PREFIX}{os.getpid()}-*"))


def test_a_fork_bomb_stays_under_the_limit_and_ends(python313d: Path, tmp_path: Path) -> None:
    name = f"bomb_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(BOMB)
    script = tmp_path / "sleep.py"
    script.write_text("import time\ntime.sleep(600)\n")
    confinement = Confinement(modules=(name,), paths=(str(tmp_path),), tasks=TASKS)
    done: list[Evidence] = []
    runner = threading.Thread(
        target=lambda: done.append(
            run_script(discover(python313d), script, DEADLINE_S, confinement)
        )
    )
    started = time.monotonic()
    runner.start()
    peak = 0
    while runner.is_alive():
        peak = max(peak, len(processes_with(name)))
        time.sleep(0.05)
    runner.join()
    assert time.monotonic() - started < DEADLINE_S + 30
    assert done and done[0].timed_out
    assert 3 < peak <= TASKS, peak  # the bomb went off, and stopped at the ceiling
    assert processes_with(name) == []
    assert our_groups() == []


def test_a_fork_server_runs_in_a_group_removed_at_close(python313d: Path) -> None:
    with HarnessSession(discover(python313d)) as session:
        assert session.facts["pids_group"] is True
        assert len(our_groups()) == 1
    assert our_groups() == []
