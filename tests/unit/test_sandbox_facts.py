"""Sandbox facts: the guard refuses ``socket.sendmsg``, a run's process count is limited, and a
sandbox layer that is off is warned about, never silent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import threadstorm
from threadstorm.campaign.config import PROCESS_LIMIT, CampaignConfig
from threadstorm.target.facts import TargetFacts
from threadstorm.target.sandbox_facts import sandbox_summary, sandbox_warnings

GUARDED = textwrap.dedent(
    """\
    import socket, sys
    from threadstorm.harness.confine import SandboxViolation, install_guard
    install_guard(sys.argv[1])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.sendmsg([b"x"], [], 0, "/nowhere/threadstorm.sock")
    except SandboxViolation as error:
        print("refused:", error)
    except OSError as error:
        print("not refused:", error)
    """
)


def test_the_guard_refuses_sendmsg(tmp_path: Path) -> None:
    """In a process of its own: an audit hook cannot be removed once installed."""
    source = str(Path(threadstorm.__file__).parent.parent)
    done = subprocess.run(
        [sys.executable, "-c", GUARDED, str(tmp_path)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": source},
        check=False,
        timeout=60,
    )
    assert done.stdout.strip() == "refused: threadstorm sandbox refuses socket.sendmsg", done


def test_runs_have_a_process_limit() -> None:
    limits = CampaignConfig(python="python", out="out").limits(None)
    assert limits["processes"] == PROCESS_LIMIT > 0


def test_layers_that_are_off_are_warned_about() -> None:
    off = {"network_isolated": False, "process_limit_binds": False}
    warnings = sandbox_warnings(off)
    assert len(warnings) == 2
    assert "network isolation is OFF" in warnings[0]
    assert sandbox_summary(off) == "network NOT isolated, process limit off (root)"
    on = {"network_isolated": True, "process_limit_binds": True}
    assert sandbox_warnings(on) == []
    assert sandbox_summary(on) == "network isolated, process limit on"
    assert sandbox_summary({}) == "?, ?"  # an older store: unknown, not "on"


def test_a_pids_cgroup_binds_root() -> None:
    root = {"network_isolated": True, "process_limit_binds": False, "pids_group": True}
    assert sandbox_warnings(root) == []
    assert sandbox_summary(root) == "network isolated, process limit on (pids cgroup)"
    bare = {**root, "pids_group": False}
    assert "no pids cgroup could be made" in sandbox_warnings(bare)[0]


def test_the_report_carries_the_sandbox_warnings() -> None:
    facts = TargetFacts.from_probe({"free_threaded": True, "network_isolated": False})
    assert any("network isolation is OFF" in warning for warning in facts.warnings)
    assert TargetFacts.from_probe({"free_threaded": True}).warnings == ()
