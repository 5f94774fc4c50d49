"""One controller per campaign folder: an exclusive lock held while a campaign runs.

Two controllers writing one store would interleave their run counters, follow the same buckets
up twice and resume from each other's half-finished state.  ``fuzz``, ``fuzz --resume`` and
``check --out`` take ``DIR/.threadstorm.lock`` with ``flock`` before they touch the folder's
store; the second gets a ``UsageError`` (exit 2) naming the holder's pid.  The kernel drops the
lock when its holder dies, SIGKILL included, so a killed campaign never leaves a folder locked.
Readers (``report``) and one-bucket commands (``repro``, ``minimise``, ``variants``) do not lock:
the store lets them work beside a live campaign.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from threadstorm.errors import UsageError

LOCK_NAME = ".threadstorm.lock"


@contextlib.contextmanager
def campaign_lock(folder: Path) -> Iterator[None]:
    """Hold the campaign folder's lock for the ``with`` block; refuse when another holds it."""
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise UsageError(f"cannot lock {path}: {error.strerror}; pick a writable folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise UsageError(
                f"campaign folder {folder} is in use by another threadstorm (pid {holder}); "
                "wait for it to finish, or choose another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
