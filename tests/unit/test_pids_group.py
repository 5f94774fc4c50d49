"""The pids cgroup's plumbing: reading this process's cgroups, and going on without one."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.target import pids_group
from threadstorm.target.pids_group import PidsGroup, parse_mounts, parse_own_groups

MOUNTS = """\
tmpfs /sys/fs/cgroup tmpfs rw,relatime,mode=755 0 0
cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0
cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,relatime 0 0
"""

OWN = """\
9:name=systemd:/
8:pids:/ci/job
4:memory,cpu:/other
0::/user.slice/session-1.scope
"""


def test_cgroup_mounts_by_type() -> None:
    mounts = parse_mounts(MOUNTS)
    assert [mount for mount, _ in mounts["cgroup"]] == ["/sys/fs/cgroup/cpu", "/sys/fs/cgroup/pids"]
    assert "pids" in mounts["cgroup"][1][1]
    assert mounts["cgroup2"] == [("/sys/fs/cgroup/unified", {"rw", "relatime"})]


def test_own_groups_per_controller() -> None:
    own = parse_own_groups(OWN)
    assert own["pids"] == "/ci/job"
    assert own["memory"] == own["cpu"] == "/other"
    assert own[""] == "/user.slice/session-1.scope"
    assert parse_own_groups("garbage\n") == {}


def test_without_cgroups_runs_go_on_ungrouped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pids_group, "pids_root", lambda: None)
    with pids_group.pids_group() as group:
        assert group is None


def test_the_prefix_moves_the_shell_then_execs() -> None:
    prefix = PidsGroup(Path("/sys/fs/cgroup/pids/threadstorm-1-ab")).prefix()
    assert prefix[:2] == ("/bin/sh", "-c")
    assert prefix[3] == "/sys/fs/cgroup/pids/threadstorm-1-ab/cgroup.procs"
    assert prefix[2].endswith('exec "$@"')
