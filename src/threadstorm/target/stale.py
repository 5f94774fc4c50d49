"""Temporary folders of killed controllers: marked with their owner, removed at the next start.

Harness sessions and confined script runs each make a folder under the system's temporary
folder (``threadstorm-*``) and remove it when they close.  A controller killed with SIGKILL
cannot, so every such folder carries an ``owner`` file: the pid and start time of the process
that made it.  ``clean_stale`` removes the folders whose owner no longer runs (a pid reused by
another process has another start time); folders of live controllers, other users' sessions
among them, are left alone, and so is anything without an owner file.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

OWNER_FILE = "owner"
PREFIX = "threadstorm-"


def process_start(pid: int) -> str | None:
    """The start time of ``pid`` in clock ticks since boot (``/proc``), or None when it is gone."""
    try:
        stat = Path("/proc", str(pid), "stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def mark_owner(folder: Path) -> None:
    """Record this process as the owner of ``folder``."""
    pid = os.getpid()
    (folder / OWNER_FILE).write_text(f"{pid} {process_start(pid) or '?'}\n", encoding="ascii")


def owner_alive(folder: Path) -> bool | None:
    """Whether the process that made ``folder`` still runs; None when the folder has no owner."""
    try:
        pid_text, started = (folder / OWNER_FILE).read_text("ascii").split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    current = process_start(pid)
    return current is not None and started in ("?", current)


def clean_stale(root: Path | None = None) -> list[Path]:
    """Remove the ``threadstorm-*`` folders under ``root`` whose owner is gone; return them."""
    root = root or Path(tempfile.gettempdir())
    removed: list[Path] = []
    try:
        candidates = sorted(root.glob(f"{PREFIX}*"))
    except OSError:
        return removed
    for folder in candidates:
        if folder.is_dir() and not folder.is_symlink() and owner_alive(folder) is False:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
