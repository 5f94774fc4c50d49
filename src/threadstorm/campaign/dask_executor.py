"""The Dask executor: batches of scenarios on the workers of a Dask distributed cluster.

``threadstorm fuzz --scheduler tcp://HOST:8786`` keeps generation, judging, the store and
follow-up in the controller and sends batches (``campaign.batch``) to the cluster's workers,
each running them on fork servers of its own (``campaign.dask_task``).  Only JSON travels.

- **In flight**: at most ``IN_FLIGHT_PER_THREAD`` batches per worker thread, so every thread
  has its next batch waiting while the generator's feedback stays fresh.
- **Streaming**: results are judged as each batch completes (``distributed.as_completed``).
  When the budget ends, the batches in flight may finish for one run deadline; the rest are
  cancelled and not counted.
- **A worker that cannot run the target** (not at that path, or its fork server will not start)
  is named in one line and excluded; its batch goes to the others.  With no worker left the
  campaign ends with a usage error.
- **A worker that dies**: Dask runs its batches again elsewhere.  A batch whose workers died more
  than the scheduler's ``allowed-failures`` times (``KilledWorker``) is split: its scenarios go
  out again one per task, so the innocent ones run and the one that kills is found.  A single
  scenario whose workers died that often is quarantined: never sent again, and handed to the
  campaign as a finding of its own (``Evidence.worker_killer``, signature kind
  ``worker_killer``).  A batch's results come back once or not at all, so nothing is counted
  twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field
from typing import Any

from distributed import Client, Future, as_completed
from distributed.scheduler import KilledWorker

from threadstorm.campaign.batch import Batch, BatchItem, BatchResult, TargetSpec
from threadstorm.campaign.dask_task import run_batch_task
from threadstorm.campaign.executor import Feed, RunResult
from threadstorm.errors import UsageError
from threadstorm.generate.families import SubjectLike
from threadstorm.scenario.model import Scenario
from threadstorm.triage.evidence import Evidence

IN_FLIGHT_PER_THREAD = 2
CONNECT_TIMEOUT_S = 20.0
WORKERS_REFRESH_S = 1.0


@dataclass
class DaskStats:
    """What the executor did: batches and runs received, batches sent again or given up."""

    batches: int = 0
    runs: int = 0
    resubmitted: int = 0
    split: int = 0  # batches whose workers died too often, sent again one scenario per task
    quarantined: int = 0  # scenarios whose workers died too often: findings, never sent again
    excluded: list[str] = field(default_factory=list)
    controller_s: float = 0.0  # time the controller spent sending and receiving batches
    draw_s: float = 0.0  # of which drawing scenarios (the generator, not Dask)
    round_trip_s: float = 0.0  # submission to result, summed over received batches
    worker_s: float = 0.0  # time the workers spent running them, summed

    def per_batch_ms(self, seconds: float) -> float:
        """``seconds`` summed over the received batches, as milliseconds per batch."""
        return 1000 * seconds / max(self.batches, 1)

    def line(self) -> str:
        return (
            f"dask: {self.batches} batches ({self.runs} runs) received, {self.resubmitted} "
            f"resubmitted, {self.split} split, {self.quarantined} quarantined, "
            f"{len(self.excluded)} worker(s) excluded; controller cost "
            f"{self.per_batch_ms(self.controller_s):.2f} ms per batch "
            f"({self.per_batch_ms(self.draw_s):.2f} ms drawing)"
        )


@dataclass
class _Sent:
    """A batch in flight, with what the controller keeps of it (its subjects)."""

    batch: Batch
    subjects: tuple[SubjectLike, ...]
    sent_at: float = field(default_factory=time.monotonic)


class DaskExecutor:
    """Runs batches on a Dask cluster; see the module's docstring."""

    def __init__(
        self,
        address: str,
        target: TargetSpec,
        *,
        batch_size: int,
        timeout_s: float,
        reuse: int,
        own_child: Callable[[Scenario], bool] | None = None,
    ) -> None:
        self.address = address
        self.target = target
        self.target_json = target.to_json()
        self.batch_size = batch_size
        self.timeout_s = timeout_s
        self.reuse = reuse
        self.own_child = own_child
        self.stats = DaskStats()
        self.failure: BaseException | None = None
        self._client: Client | None = None
        self._flying: dict[Future[Any], _Sent] = {}
        self._lock = threading.Lock()
        self._completed: Any = None  # as_completed, made once connected (it needs the loop)
        self._thread: threading.Thread | None = None
        self._numbers = 0
        self._workers: tuple[float, dict[str, int]] | None = None

    # ------------------------------------------------------------------ connection

    def connect(self) -> None:
        """Connect to the scheduler and wait for a worker; ``UsageError`` when neither comes."""
        try:
            self._client = Client(self.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(
                f"cannot reach the Dask scheduler at {self.address} ({error}); start one with "
                "`dask scheduler` and pass its address to --scheduler"
            ) from None
        try:
            self._client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
        except TimeoutError:
            self.close()
            raise UsageError(
                f"no Dask worker joined the scheduler at {self.address} in "
                f"{CONNECT_TIMEOUT_S:.0f} s; start some with `dask worker {self.address}`"
            ) from None

    @property
    def client(self) -> Client:
        if self._client is None:
            raise RuntimeError("call connect() first")
        return self._client

    def worker_threads(self) -> dict[str, int]:
        """Threads of every worker the campaign may use, by address (asked of the scheduler at
        most every ``WORKERS_REFRESH_S``)."""
        now = time.monotonic()
        if self._workers is None or now - self._workers[0] > WORKERS_REFRESH_S:
            info = self.client.scheduler_info(n_workers=-1)["workers"]
            self._workers = (now, {a: int(w.get("nthreads", 1)) for a, w in info.items()})
        return {
            address: nthreads
            for address, nthreads in self._workers[1].items()
            if address not in self.stats.excluded
        }

    # ------------------------------------------------------------------ Executor

    def start(self, feed: Feed) -> None:
        self._completed = as_completed(loop=self.client.loop)
        self._thread = threading.Thread(
            target=self._pump, args=(feed,), name="threadstorm-dask", daemon=True
        )
        self._thread.start()

    def join(self) -> None:
        """Let the batches in flight finish, for one run deadline at most (``stop`` is set, so
        nothing new is sent); then cancel the rest, whose runs are not counted."""
        if self._thread is not None:
            self._thread.join(timeout=self.timeout_s)
        with self._lock:
            flying = list(self._flying)
        if flying:
            self.client.cancel(flying)  # wakes the pump; unfinished batches are not counted
        if self._thread is not None:
            self._thread.join()
        if self.failure is not None:
            raise self.failure

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    # ------------------------------------------------------------------ the pump

    def _pump(self, feed: Feed) -> None:
        try:
            self._fill(feed)
            for future in self._completed:
                began = time.perf_counter()
                self._settle(future, feed)
                if not feed.stop.is_set():
                    self._fill(feed)
                self.stats.controller_s += time.perf_counter() - began
                with self._lock:
                    if not self._flying:
                        break
            feed.note(self.stats.line())
        except BaseException as error:  # noqa: BLE001 - raised by join() in the campaign's thread
            self.failure = error
            feed.stop.set()

    def _fill(self, feed: Feed) -> None:
        """Send batches until every usable worker thread has ``IN_FLIGHT_PER_THREAD``."""
        threads = self.worker_threads()
        if not threads:
            raise UsageError(
                f"no Dask worker at {self.address} can run the target "
                f"({', '.join(self.stats.excluded) or 'none connected'}); see the lines above"
            )
        wanted = IN_FLIGHT_PER_THREAD * sum(threads.values())
        while len(self._flying) < wanted and not feed.stop.is_set():
            began = time.perf_counter()
            drawn = [feed.draw() for _ in range(self.batch_size)]
            self.stats.draw_s += time.perf_counter() - began
            items = tuple(BatchItem(scenario, self._reuse(scenario)) for scenario, _ in drawn)
            self._send(_Sent(self._batch(items), tuple(subject for _, subject in drawn)))

    def _batch(self, items: tuple[BatchItem, ...]) -> Batch:
        self._numbers += 1
        return Batch(self._numbers, items, self.timeout_s)

    def _reuse(self, scenario: Scenario) -> int:
        alone = self.own_child is not None and self.own_child(scenario)
        return 1 if alone else self.reuse

    def _send(self, sent: _Sent) -> None:
        restrict = sorted(self.worker_threads()) if self.stats.excluded else None
        future = self.client.submit(
            run_batch_task,
            self.target_json,
            sent.batch.to_json(),
            pure=False,
            workers=restrict,
            allow_other_workers=False,
            key=f"threadstorm-batch-{sent.batch.number}-{time.time_ns()}",
        )
        with self._lock:
            self._flying[future] = sent
        self._completed.add(future)

    def _settle(self, future: Future[Any], feed: Feed) -> None:
        """Hand a completed batch's results over, or deal with why it has none."""
        with self._lock:
            sent = self._flying.pop(future)
        if future.status == "cancelled":
            return
        if future.status == "error":
            error = future.exception()
            if not isinstance(error, KilledWorker):
                raise error
            self._killed_workers(sent, feed)
            return
        try:
            doc = future.result()
        except CancelledError:  # cancelled by join() as it finished: not counted
            return
        result = BatchResult.from_json(doc)
        if result.unusable is not None:
            self._exclude(result, feed)
            self.stats.resubmitted += 1
            self._send(_Sent(sent.batch, sent.subjects))
            return
        self._hand_over(sent, result, feed)

    def _killed_workers(self, sent: _Sent, feed: Feed) -> None:
        """A batch whose workers kept dying: split it, or quarantine its one scenario."""
        number = sent.batch.number
        if len(sent.batch.items) > 1:
            self.stats.split += 1
            feed.note(
                f"[yellow]split[/] batch {number}: its workers died while running it; its "
                f"{len(sent.batch.items)} scenarios go out one by one to find the one that kills"
            )
            for item, subject in zip(sent.batch.items, sent.subjects, strict=True):
                self._send(_Sent(self._batch((item,)), (subject,)))
            return
        self.stats.quarantined += 1
        self.stats.runs += 1  # handed over as a run, so the store's count and ours agree
        scenario = sent.batch.items[0].scenario
        feed.note(
            f"[bold red]quarantined[/] a {scenario.family} scenario (batch {number}): the Dask "
            "workers running it kept dying; filed as a finding, not sent again"
        )
        feed.results.put(RunResult(scenario, sent.subjects[0], Evidence.worker_killer()))

    def _exclude(self, result: BatchResult, feed: Feed) -> None:
        if result.worker not in self.stats.excluded:
            self.stats.excluded.append(result.worker)
            reason = result.unusable or ""
            feed.note(
                f"[yellow]excluded[/] Dask worker {result.worker}: cannot run the target "
                f"there ({reason.splitlines()[0][:200] if reason else 'no reason given'})"
            )

    def _hand_over(self, sent: _Sent, result: BatchResult, feed: Feed) -> None:
        self.stats.batches += 1
        self.stats.runs += len(result.evidence)
        self.stats.round_trip_s += time.monotonic() - sent.sent_at
        self.stats.worker_s += result.duration_s
        for item, subject, evidence in zip(
            sent.batch.items, sent.subjects, result.evidence, strict=True
        ):
            feed.results.put(RunResult(item.scenario, subject, evidence, result.worker))


def describe(stats: DaskStats) -> dict[str, Any]:
    """The executor's figures as plain data (for benchmarks)."""
    return {
        "batches": stats.batches,
        "runs": stats.runs,
        "resubmitted": stats.resubmitted,
        "split": stats.split,
        "quarantined": stats.quarantined,
        "excluded": list(stats.excluded),
        "controller_ms_per_batch": stats.per_batch_ms(stats.controller_s),
        "draw_ms_per_batch": stats.per_batch_ms(stats.draw_s),
        "round_trip_ms_per_batch": stats.per_batch_ms(stats.round_trip_s),
        "worker_ms_per_batch": stats.per_batch_ms(stats.worker_s),
    }
