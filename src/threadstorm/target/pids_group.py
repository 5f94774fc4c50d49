"""A pids cgroup around the processes that run generated code: a fork bomb meets a ceiling.

RLIMIT_NPROC does not bind root, so a fork from C code in a campaign module (or in an import
that runs before the audit guard is installed) could fill the machine's process table.  Where
this process may make cgroups with the ``pids`` controller (cgroup v2 with ``pids`` in
``cgroup.controllers``, or a cgroup v1 ``pids`` hierarchy: in practice, root), every fork server
and every confined script run gets a group of its own with ``pids.max`` set: the group's
processes *and threads* together never pass it, forks past it fail with EAGAIN.  When the run
ends, whatever is left in the group is killed (all of it started by us: only our process puts
processes in the group, and their descendants inherit it) and the group is removed.

A process is moved into its group before it runs anything: it starts as ``/bin/sh``, which
writes its own pid into the group's ``cgroup.procs`` and then execs the real command (``prefix``).
Where no group can be made, ``pids_group`` yields None and runs go on as before; the harness
session reports it in its facts (``pids_group``), and the sandbox warnings say so.  Groups are
named ``threadstorm-PID-RANDOM`` after the controller; ``clean_stale_groups`` removes the empty
ones a killed controller left.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Tasks (processes and threads) of one fork server's tree or one script run.  Scenarios run a
# few dozen threads at most; a fork bomb stops here instead of at the kernel's pid_max.
TASK_LIMIT = 512
PREFIX = "threadstorm-"
END_S = 5.0  # how long ``end`` keeps killing what is left before it gives up on the group
# ``sh -c MOVE PROCS_FILE COMMAND...``: $0 is the procs file; a failed move runs the command
# anyway (the group is a ceiling, not a gate).
MOVE = '{ echo $$ > "$0"; } 2>/dev/null; exec "$@"'


@dataclass(frozen=True)
class PidsGroup:
    """One pids cgroup of ours: its folder, e.g. ``/sys/fs/cgroup/pids/threadstorm-12-ab12cd34``."""

    folder: Path

    def prefix(self) -> tuple[str, ...]:
        """The command prefix that starts a command inside this group."""
        return ("/bin/sh", "-c", MOVE, str(self.folder / "cgroup.procs"))

    def members(self) -> list[int]:
        """The pids in the group now (empty once it is gone)."""
        try:
            text = (self.folder / "cgroup.procs").read_text("ascii")
        except OSError:
            return []
        return [int(line) for line in text.split()]

    def end(self) -> None:
        """Kill every process left in the group, then remove it (best effort, ``END_S`` at most)."""
        give_up = time.monotonic() + END_S
        with contextlib.suppress(OSError):
            (self.folder / "cgroup.kill").write_text("1")  # cgroup v2, Linux 5.14+
        while time.monotonic() < give_up:
            members = self.members()
            for pid in members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            try:
                self.folder.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


@contextmanager
def pids_group(limit: int = TASK_LIMIT) -> Iterator[PidsGroup | None]:
    """A fresh group allowing ``limit`` tasks, ended when the block ends; None where none can be
    made."""
    group = make_group(limit)
    try:
        yield group
    finally:
        if group is not None:
            group.end()


def make_group(limit: int) -> PidsGroup | None:
    """A fresh group allowing ``limit`` tasks, or None; the caller ends it."""
    root = pids_root()
    if root is None:
        return None
    folder = root / f"{PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        folder.mkdir()
    except OSError:
        return None
    try:
        (folder / "pids.max").write_text(str(limit))
    except OSError:
        with contextlib.suppress(OSError):
            folder.rmdir()
        return None
    return PidsGroup(folder)


def clean_stale_groups() -> list[Path]:
    """Remove the empty groups of ours whose controller is gone (killed before it could); return
    them.

    Only empty groups: the hierarchy may be shared with other pid namespaces, where a pid in a
    group's name says nothing, so nothing is killed here; a group that still holds processes
    stays (the kernel refuses to remove it).
    """
    root = pids_root()
    removed: list[Path] = []
    if root is None:
        return removed
    for folder in root.glob(f"{PREFIX}*-*"):
        owner = folder.name[len(PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not Path("/proc", owner).exists():
            with contextlib.suppress(OSError):
                folder.rmdir()
                removed.append(folder)
    return removed


@functools.cache
def pids_root() -> Path | None:
    """The cgroup folder under which this process can make pids groups, or None.

    cgroup v2 first (this process's own group, else its parent, with ``pids`` delegated to its
    children), then a cgroup v1 ``pids`` hierarchy.  Read once per process.
    """
    mounts = _cgroup_mounts()
    own = _own_groups()
    for mount, _options in mounts.get("cgroup2", []):
        if "" in own:
            found = _v2_root(Path(mount) / own[""].lstrip("/"))
            if found is not None:
                return found
    for mount, options in mounts.get("cgroup", []):
        if "pids" in options and "pids" in own:
            folder = Path(mount) / own["pids"].lstrip("/")
            if (folder / "cgroup.procs").is_file() and os.access(folder, os.W_OK):
                return folder
    return None


def _v2_root(own: Path) -> Path | None:
    """``own`` or its parent, whichever can give its children the pids controller."""
    for folder in (own, own.parent):
        try:
            if "pids" not in (folder / "cgroup.controllers").read_text().split():
                continue
            control = folder / "cgroup.subtree_control"
            if "pids" not in control.read_text().split():
                control.write_text("+pids")
        except OSError:
            continue
        if os.access(folder, os.W_OK):
            return folder
    return None


def _cgroup_mounts() -> dict[str, list[tuple[str, set[str]]]]:
    try:
        return parse_mounts(Path("/proc/self/mounts").read_text())
    except OSError:
        return {}


def _own_groups() -> dict[str, str]:
    try:
        return parse_own_groups(Path("/proc/self/cgroup").read_text())
    except OSError:
        return {}


def parse_mounts(text: str) -> dict[str, list[tuple[str, set[str]]]]:
    """cgroup mounts by type (``cgroup2``, ``cgroup``) in a ``/proc/self/mounts`` text: (mount
    point, mount options)."""
    found: dict[str, list[tuple[str, set[str]]]] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            found.setdefault(fields[2], []).append((fields[1], set(fields[3].split(","))))
    return found


def parse_own_groups(text: str) -> dict[str, str]:
    """A process's group per controller (``""`` for cgroup v2) in a ``/proc/PID/cgroup`` text."""
    groups: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        for name in controllers.split(",") if controllers else [""]:
            groups[name] = path
    return groups
