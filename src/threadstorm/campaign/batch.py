"""The unit of work: a batch of scenarios on a target in, their evidence out.

A batch is plain data (``Batch``: scenarios, each with how many runs its forked child may serve,
and the run deadline) and so is the target it runs on (``TargetSpec``: the interpreter's path,
the modules to import, the folders on its ``sys.path``, the run limits).  ``run_batch`` runs it
on a warm fork server and returns a ``BatchResult``: one ``Evidence`` per scenario, in order.
Both travel as JSON (the scenario codec, ``Evidence.to_json``), so any executor can carry them:
worker threads in this process, or Dask workers on other machines.

The controller keeps everything that needs the whole campaign: generation, judging, the store
and follow-up.  A batch knows nothing of subjects, buckets or feedback; that keeps feedback
central and one SQLite file per campaign.

``SessionPool`` keeps warm fork servers per target in the process that runs batches (a Dask
worker holds one per thread that asks), started on first use, restarted when one dies or when its
memory layout is older than ``LAYOUT_REFRESH_S`` (see ``campaign.workers``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from threadstorm.campaign.hangs import confirm_hang
from threadstorm.errors import HarnessError, TargetError
from threadstorm.scenario.codec import scenario_from_json, scenario_to_json
from threadstorm.scenario.model import Scenario
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession
from threadstorm.triage.evidence import Evidence

LAYOUT_REFRESH_S = 20.0


@dataclass(frozen=True)
class TargetSpec:
    """Where and how to run scenarios: found by path on whichever machine runs the batch."""

    python: str
    modules: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    suppressions: tuple[str, ...] = ()
    limits: tuple[tuple[str, int], ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "modules": list(self.modules),
            "paths": list(self.paths),
            "suppressions": list(self.suppressions),
            "limits": dict(self.limits),
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> TargetSpec:
        return cls(
            python=str(doc["python"]),
            modules=tuple(doc.get("modules", ())),
            paths=tuple(doc.get("paths", ())),
            suppressions=tuple(doc.get("suppressions", ())),
            limits=tuple(sorted((str(k), int(v)) for k, v in doc.get("limits", {}).items())),
        )

    def new_session(self) -> HarnessSession:
        """A (not yet started) fork server for this target; ``TargetError`` when unusable."""
        interpreter = discover(self.python, self.suppressions)
        return HarnessSession(interpreter, self.modules, dict(self.limits), self.paths)


@dataclass(frozen=True)
class BatchItem:
    """One scenario of a batch and the runs its forked child may serve in a row."""

    scenario: Scenario
    reuse: int = 1


@dataclass(frozen=True)
class Batch:
    """Scenarios to run one after another on one fork server."""

    number: int
    items: tuple[BatchItem, ...]
    timeout_s: float

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "timeout_s": self.timeout_s,
            "items": [
                {"scenario": scenario_to_json(item.scenario), "reuse": item.reuse}
                for item in self.items
            ],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Batch:
        items = tuple(
            BatchItem(scenario_from_json(each["scenario"]), int(each["reuse"]))
            for each in doc["items"]
        )
        return cls(int(doc["number"]), items, float(doc["timeout_s"]))


@dataclass(frozen=True)
class BatchResult:
    """What a batch left behind: one ``Evidence`` per item, in order, and where it ran.

    ``unusable`` is set (and ``evidence`` empty) when the target could not be started there.
    """

    number: int
    worker: str
    evidence: tuple[Evidence, ...] = ()
    unusable: str | None = None
    duration_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "worker": self.worker,
            "evidence": [each.to_json() for each in self.evidence],
            "unusable": self.unusable,
            "duration_s": self.duration_s,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> BatchResult:
        return cls(
            number=int(doc["number"]),
            worker=str(doc["worker"]),
            evidence=tuple(Evidence.from_json(each) for each in doc["evidence"]),
            unusable=doc.get("unusable"),
            duration_s=float(doc.get("duration_s", 0.0)),
        )


def run_item(session: HarnessSession, item: BatchItem, timeout_s: float) -> Evidence:
    """One scenario on ``session``; a fork server that dies is a ``HARNESS_ERROR`` run, and is
    restarted (``HarnessError`` when it will not start again)."""
    try:
        evidence = session.run(item.scenario, timeout=timeout_s, reuse=item.reuse)
        return confirm_hang(session, item.scenario, evidence, timeout_s)
    except HarnessError as error:
        detail = str(error)
        restart(session)
        return Evidence(0, 0, False, 0.0, b"", harness_error=detail)


def restart(session: HarnessSession) -> None:
    """Start ``session``'s fork server again."""
    session.close()
    try:
        session.start()
    except TargetError as error:
        raise HarnessError(f"the fork server could not be restarted: {error}") from error


@dataclass
class _Warm:
    session: HarnessSession
    since: float = field(default_factory=time.monotonic)


class SessionPool:
    """Warm fork servers per target, lent to one batch at a time."""

    def __init__(self) -> None:
        self._idle: dict[TargetSpec, list[_Warm]] = {}
        self._lock = threading.Lock()

    def run(self, target: TargetSpec, batch: Batch, worker: str) -> BatchResult:
        """Run ``batch`` on a fork server of ``target`` (one is started if none is idle)."""
        started = time.monotonic()
        try:
            warm = self._take(target)
        except TargetError as error:
            return BatchResult(batch.number, worker, unusable=str(error))
        try:
            evidence = tuple(run_item(warm.session, item, batch.timeout_s) for item in batch.items)
        except BaseException:
            warm.session.close()
            raise
        self._give_back(target, warm)
        return BatchResult(batch.number, worker, evidence, duration_s=time.monotonic() - started)

    def _take(self, target: TargetSpec) -> _Warm:
        with self._lock:
            idle = self._idle.setdefault(target, [])
            warm = idle.pop() if idle else None
        if warm is not None and (
            not warm.session.alive() or time.monotonic() - warm.since > LAYOUT_REFRESH_S
        ):
            warm.session.close()  # dead, or a memory layout old enough to draw a new one
            warm = None
        if warm is None:
            session = target.new_session()
            session.start()
            warm = _Warm(session)
        return warm

    def _give_back(self, target: TargetSpec, warm: _Warm) -> None:
        with self._lock:
            self._idle.setdefault(target, []).append(warm)

    def close(self) -> None:
        """Stop every fork server the pool holds."""
        with self._lock:
            held = [warm for idle in self._idle.values() for warm in idle]
            self._idle.clear()
        for warm in held:
            warm.session.close()
