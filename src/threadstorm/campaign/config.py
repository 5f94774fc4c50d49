"""One typed campaign configuration, validated in one place.

Every command that runs a campaign (``fuzz``, ``check``) builds a ``CampaignConfig`` and calls
``validate()``; whatever is wrong comes back as one ``UsageError`` line saying how to fix it.  The
configuration is stored in the campaign folder, so ``fuzz --resume DIR`` continues with exactly
the settings it started with.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from threadstorm.errors import UsageError
from threadstorm.generate.catalogue import FAMILIES
from threadstorm.harness.confine import cpu_seconds_per_thread

DEFAULT_MODULES = ("builtins", "types", "typing", "collections")
CPUS_PER_WORKER = 2  # a run's threads need cores of their own to race (see default_workers)
# RLIMIT_NPROC of a run: counted over all the user's processes and threads, so set well above a
# busy desktop's count and far below what exhausts a machine; a fork bomb meets it.
PROCESS_LIMIT = 4096
DEFAULT_BATCH_SIZE = 16  # the knee of benchmarks/bench_dask.py: larger batches gain little
MIN_FOLLOW_UP_S = 30.0  # follow-up time of a short campaign: a few buckets measured
MODULE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


@dataclass(frozen=True)
class CampaignConfig:
    """Everything a campaign needs to run, or to be resumed."""

    python: str
    out: str
    modules: tuple[str, ...] = DEFAULT_MODULES
    packages: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()  # extra folders on the target's sys.path (PYTHONPATH)
    budget_s: float = 600.0
    seed: int = 0
    workers: int = 0  # 0: one per CPUS_PER_WORKER CPUs of the machine
    run_timeout_s: float = 10.0
    runs_per_child: int = 16  # scenarios one forked child may serve in a row while fuzzing
    families: tuple[str, ...] = ()  # empty: all
    # largest share of runs for scenarios the policy calls unsupported; None: 10 % when no
    # families are named, no cap when they are
    outside_share: float | None = None
    policy: str | None = None
    deny: tuple[str, ...] = ()  # extra deny-list patterns on top of the default
    suppressions: tuple[str, ...] = ()  # the user's ThreadSanitizer suppression files
    memory_mb: int = 4096
    core_files: bool = False
    follow_up: bool = True  # reproduction rate, backtrace, minimisation, variants per new bucket
    follow_up_budget_s: float | None = None  # None: half the budget, at least MIN_FOLLOW_UP_S
    reproduce_runs: int = 10
    minimise_budget_s: float = 60.0
    variants: bool = True
    scheduler: str | None = None  # a Dask scheduler's address: run batches on its workers
    batch_size: int = DEFAULT_BATCH_SIZE  # scenarios per Dask task (see benchmarks/bench_dask.py)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def follow_up_seconds(self) -> float:
        """The time follow-up may take after fuzzing."""
        if self.follow_up_budget_s is not None:
            return self.follow_up_budget_s
        return max(MIN_FOLLOW_UP_S, self.budget_s / 2)

    @property
    def worker_count(self) -> int:
        """The number of fork servers to run side by side."""
        return self.workers if self.workers > 0 else default_workers(os.cpu_count() or 1)

    def limits(self, sanitizer: str | None) -> dict[str, int]:
        """Per-run resource limits (no address-space limit on sanitizer builds).

        ``cpu_seconds`` is per running thread (the child multiplies it by the scenario's threads
        plus one): twice the deadline and a margin, so busy threads meet the deadline first.
        """
        return {
            "address_space": 0 if sanitizer else self.memory_mb * 1024 * 1024,
            "cpu_seconds": cpu_seconds_per_thread(self.run_timeout_s),
            "file_size": 64 * 1024 * 1024,
            "processes": PROCESS_LIMIT,
            "core_size": -1 if self.core_files else 0,
        }

    def validate(self) -> CampaignConfig:
        """Return self when sound; raise ``UsageError`` with the fix otherwise."""
        if not self.budget_s > 0:
            raise UsageError(f"budget must be a positive number of seconds, got {self.budget_s:g}")
        if not self.run_timeout_s > 0:
            raise UsageError("--timeout must be a positive number of seconds")
        if self.workers < 0:
            raise UsageError("--workers must be 0 (one per two CPUs) or more")
        if not self.modules and not self.packages:
            raise UsageError("nothing to storm: pass --modules NAME[,NAME...] or --package NAME")
        for name in (*self.modules, *self.packages):
            if not MODULE_NAME.match(name):
                raise UsageError(
                    f"{name!r} is not a module name; use dotted names like collections"
                )
        for folder in self.paths:
            if not Path(folder).is_dir():
                raise UsageError(f"--path {folder} is not a folder; pass where your modules live")
        for name in self.suppressions:
            if not Path(name).is_file():
                raise UsageError(
                    f"--suppressions {name} does not exist; pass a ThreadSanitizer suppression file"
                )
        unknown = sorted(set(self.families) - set(FAMILIES))
        if unknown:
            raise UsageError(f"unknown family {unknown[0]!r}; choose from {', '.join(FAMILIES)}")
        if self.outside_share is not None and not 0.0 <= self.outside_share <= 1.0:
            raise UsageError(
                f"--outside-share must be a fraction from 0 to 1, got {self.outside_share:g}"
            )
        if self.follow_up_budget_s is not None and not self.follow_up_budget_s > 0:
            raise UsageError(
                "--follow-up-budget must be a positive number of seconds "
                f"(or --no-follow-up), got {self.follow_up_budget_s:g}"
            )
        if self.runs_per_child < 1:
            raise UsageError("--runs-per-child must be at least 1")
        if self.reproduce_runs < 1:
            raise UsageError("--reproduce-runs must be at least 1")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")
        if self.scheduler is not None:
            check_dask_installed()
        return self

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> CampaignConfig:
        known = {name: doc[name] for name in cls.__dataclass_fields__ if name in doc}
        for name in ("modules", "packages", "paths", "families", "deny", "suppressions"):
            if name in known:
                known[name] = tuple(known[name])
        return cls(**known)

    def with_changes(self, **changes: Any) -> CampaignConfig:
        return replace(self, **changes)


def default_workers(cpus: int) -> int:
    """Fork servers side by side when the user does not say: one per ``CPUS_PER_WORKER`` CPUs.

    A race needs its threads truly in parallel.  A run has two to six threads; with one fork
    server per CPU the threads of two runs share the cores and rarely overlap.  Measured on two
    cores, default modules plus the planted fixture, 120 s, seed 1: two workers ran 1,031 runs
    and filed 5 buckets, none for the planted Shelf (0 of its 36 churn runs crashed); one worker
    ran 699 runs and filed 12 buckets (24 of 68 Shelf churn runs crashed).
    """
    return max(1, cpus // CPUS_PER_WORKER)


def check_dask_installed() -> None:
    """``--scheduler`` needs Dask distributed (an optional extra); say how to get it."""
    if importlib.util.find_spec("distributed") is None:
        raise UsageError(
            "--scheduler needs Dask distributed, which is not installed: "
            "pip install threadstorm[dask]"
        )


def split_names(text: str | None) -> tuple[str, ...]:
    """``"a, b,c"`` -> ``("a", "b", "c")``."""
    if not text:
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def prepare_out_dir(path_text: str, resume: bool) -> Path:
    """Check the campaign folder can be written; create it (empty) for a new campaign."""
    path = Path(path_text)
    if path.exists() and not path.is_dir():
        raise UsageError(f"--out {path} is a file; pass a folder for the campaign")
    if not resume and path.exists() and any(path.iterdir()):
        raise UsageError(
            f"--out {path} is not empty; pick a new folder, or continue it with --resume {path}"
        )
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".threadstorm-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"cannot write to {path}: {error.strerror}; pick a writable folder"
        ) from None
    return path
