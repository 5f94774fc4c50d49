"""Shared helpers of the integration tests: the CLI in a fresh process, reports, processes.

Every command runs as a user would run it (``python -m threadstorm`` in a new process, with a
wide terminal so rich does not wrap lines) under a generous timeout: the machines these tests run
on are small and busy, and a campaign's budget is only part of its wall time.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixtures.build_fixture import build_planted

# Seconds a command may take on top of its campaign budget: start-up, surface discovery in the
# target, shutdown.  Generous, because load on a 2-core machine makes these vary tenfold.
STARTUP_SLACK_S = 300.0
HARNESS_PATH = "/threadstorm/harness/"  # threadstorm's own frames, in any target's traceback


def threadstorm(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = STARTUP_SLACK_S,
) -> subprocess.CompletedProcess[str]:
    """Run ``threadstorm ARGS...`` in a fresh process; return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "threadstorm", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_environment(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def cli_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment with a wide terminal (rich wraps at 80 columns otherwise)."""
    return {**os.environ, "COLUMNS": "250", **(extra or {})}


def fuzz_args(
    python: Path,
    out: Path,
    modules: str,
    budget: float,
    *extra: str,
    paths: Iterable[Path] = (),
    seed: int = 0,
) -> list[str]:
    """``fuzz`` arguments for a campaign without follow-up (the tests time the campaign)."""
    args = ["fuzz", "--python", str(python), "--modules", modules, "--out", str(out)]
    args += ["--budget", f"{budget:g}", "--seed", str(seed), "--no-follow-up"]
    for path in paths:
        args += ["--path", str(path)]
    return [*args, *extra]


def fuzz(
    python: Path,
    out: Path,
    modules: str,
    budget: float,
    *extra: str,
    paths: Iterable[Path] = (),
    seed: int = 0,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a campaign to its end and check it ended well."""
    args = fuzz_args(python, out, modules, budget, *extra, paths=paths, seed=seed)
    done = threadstorm(*args, cwd=cwd, env=env, timeout=budget + STARTUP_SLACK_S)
    assert done.returncode == 0, describe(done)
    return done


def report_json(folder: Path) -> dict[str, Any]:
    """``threadstorm report FOLDER --format json``, parsed."""
    done = threadstorm("report", str(folder), "--format", "json")
    assert done.returncode == 0, describe(done)
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def describe(done: subprocess.CompletedProcess[str]) -> str:
    """A failed command's status and the tails of its output, for an assertion message."""
    return (
        f"{' '.join(map(str, done.args[3:]))}\nexit {done.returncode}\n"
        f"--- stdout (tail)\n{done.stdout[-3000:]}\n--- stderr (tail)\n{done.stderr[-3000:]}"
    )


def assert_usage_error(done: subprocess.CompletedProcess[str], *words: str) -> str:
    """Exit 2 with exactly one line on stderr that names ``words``, and no traceback."""
    assert done.returncode == 2, describe(done)
    assert "Traceback" not in done.stderr + done.stdout, describe(done)
    assert done.stderr.count("\n") == 1 and done.stderr.endswith("\n"), describe(done)
    assert done.stderr.startswith("threadstorm: error: "), describe(done)
    for word in words:
        assert word in done.stderr, describe(done)
    return done.stderr


def buckets_with(report: dict[str, Any], status: str) -> list[dict[str, Any]]:
    return [bucket for bucket in report["buckets"] if bucket["status"] == status]


def titles(report: dict[str, Any]) -> list[str]:
    """One line per bucket, for assertion messages."""
    return [f"{b['id']} {b['status']} {b['contract']}: {b['title']}" for b in report["buckets"]]


def planted_folder(python: Path, factory: Any) -> Path:
    """The planted-bug fixture extensions, built against ``python`` (cached by the builder)."""
    return build_planted(python, factory.mktemp("planted"))


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class Process:
    """A process seen in /proc: pid, start time (so a reused pid is not mistaken for it)."""

    pid: int
    ppid: int
    start: int
    command: str

    def alive(self) -> bool:
        """Still running: the same process (same start time), neither gone nor a zombie."""
        now = read_process(self.pid)
        return now is not None and now.start == self.start and state(self.pid) not in ("Z", "X")


def read_process(pid: int) -> Process | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return Process(pid, int(fields[1]), int(fields[19]), command.strip())


def state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return "gone"
    return stat[stat.rindex(")") + 2 :].split()[0]


def descendants(pid: int) -> list[Process]:
    """Every living process below ``pid``, from one scan of /proc."""
    table = [p for p in map(read_process, _pids()) if p is not None]
    found: list[Process] = []
    parents = {pid}
    while True:
        more = [p for p in table if p.ppid in parents and p not in found]
        if not more:
            return found
        found += more
        parents = {p.pid for p in more}


def _pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def wait_until(condition: Callable[[], bool], timeout_s: float, interval_s: float = 0.5) -> bool:
    """Poll ``condition`` until it holds or ``timeout_s`` passes; return whether it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval_s)
