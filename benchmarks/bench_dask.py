"""Runs per second of the local executor beside a Dask cluster of as many workers, on one machine.

One invocation starts a ``dask scheduler`` and ``--workers`` ``dask worker`` processes (one
thread each, default two) on 127.0.0.1, then runs the same small scenario for ``--seconds``
through each executor: the local one with as many fork servers, and the Dask one at every batch
size of ``--batch-sizes``.  Both sides run as many scenarios at a time, so the figures compare
the executors, not the concurrency:

    .venv/bin/python benchmarks/bench_dask.py --python PATH [--seconds 30] [--workers 2]
        [--scenario FILE]

It prints runs/s per configuration and its share of the local rate, the controller's cost per
batch (drawing, sending, receiving), the round trip of an empty batch (scheduler, network and
worker overhead with nothing to run), and the smallest batch size within 10 % of local.  The
default scenario is small (four threads, ten ``repr`` calls each), so per-batch costs weigh as
much as they ever do; ``--scenario FILE`` runs a campaign-sized one instead
(``examples/seed.json``), whose longer runs hide them.  ``--workers 1`` leaves a core free for
the scheduler, the worker's event loop and the controller on a two-core machine: the figures
then show what batching costs, not what sharing two cores with three more processes costs.
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_forkserver import small_scenario  # the same tiny scenario, measured the same way

from threadstorm.campaign.batch import Batch, TargetSpec
from threadstorm.campaign.dask_executor import DaskExecutor, describe
from threadstorm.campaign.dask_task import run_batch_task
from threadstorm.campaign.executor import Executor, Feed, RunResult
from threadstorm.campaign.workers import LocalExecutor
from threadstorm.scenario.codec import scenario_from_json
from threadstorm.scenario.model import Scenario
from threadstorm.target.interpreter import Interpreter, discover
from threadstorm.target.session import HarnessSession

MODULES = ("collections",)
WARM_UP_S = 5.0
EMPTY_ROUND_TRIPS = 200
WITHIN = 0.10  # Dask's rate may fall this far below local's


def rate(executor: Executor, seconds: float, scenario: Scenario) -> float:
    """Results per second handed over by ``executor`` after a warm-up."""
    results: queue.Queue[RunResult] = queue.Queue()
    stop = threading.Event()

    def draw() -> Any:
        return scenario, None  # no subject: nothing judges these runs

    executor.start(Feed(draw, results, stop, lambda line: None))
    try:
        count_until(results, WARM_UP_S)
        started = time.monotonic()
        counted = count_until(results, seconds)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        executor.join()
    return counted / elapsed


def count_until(results: queue.Queue[RunResult], seconds: float) -> int:
    deadline, counted = time.monotonic() + seconds, 0
    while (left := deadline - time.monotonic()) > 0:
        try:
            results.get(timeout=min(left, 0.5))
            counted += 1
        except queue.Empty:
            pass
    return counted


class Cluster:
    """A scheduler and ``workers`` single-thread workers on 127.0.0.1, ended by pid."""

    def __init__(self, folder: Path, workers: int) -> None:
        self.file = folder / "scheduler.json"
        src = str(Path(__file__).resolve().parent.parent / "src")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, *sys.path])}
        common = ["--scheduler-file", str(self.file), "--no-dashboard"]
        dask = [sys.executable, "-m", "dask"]
        self.processes = [
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", *common],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        ]
        while not self.file.exists():
            time.sleep(0.1)
        time.sleep(0.5)  # the file is written whole before the scheduler listens; be sure
        worker = ["worker", "--host", "127.0.0.1", "--nthreads", "1", "--no-nanny", *common]
        for _ in range(workers):
            self.processes.append(
                subprocess.Popen(
                    [*dask, *worker],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )

    @property
    def address(self) -> str:
        return str(json.loads(self.file.read_text())["address"])

    def close(self) -> None:
        for process in reversed(self.processes):
            os.kill(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            process.wait()


def empty_round_trip_ms(executor: DaskExecutor, target: TargetSpec) -> float:
    """Milliseconds from sending an empty batch to holding its result, one at a time."""
    empty = Batch(0, (), 1.0).to_json()
    spec = target.to_json()
    times = []
    for _ in range(EMPTY_ROUND_TRIPS):
        began = time.perf_counter()
        executor.client.submit(run_batch_task, spec, empty, pure=False).result()
        times.append(time.perf_counter() - began)
    times.sort()
    return 1000 * times[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", required=True, help="target interpreter")
    parser.add_argument("--seconds", type=float, default=30.0, help="per configuration")
    parser.add_argument("--batch-sizes", default="1,4,16,64,128", help="comma-separated")
    parser.add_argument(
        "--workers", type=int, default=2, help="fork servers and Dask workers (default 2)"
    )
    parser.add_argument(
        "--scenario",
        type=Path,
        help="a scenario JSON file to run instead of the tiny one (a campaign's runs take longer)",
    )
    args = parser.parse_args()
    workers = args.workers
    scenario = (
        scenario_from_json(json.loads(args.scenario.read_text()))
        if args.scenario
        else small_scenario()
    )
    interpreter = discover(args.python)
    sizes = [int(size) for size in args.batch_sizes.split(",")]
    before = local_rate(interpreter, args.seconds, workers, scenario)
    target = TargetSpec(str(interpreter.path), MODULES)
    empty_ms = 0.0
    local_name = f"local, {workers} fork server(s)"
    rows: list[tuple[str, float, dict[str, Any]]] = [(local_name, before, {})]
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as folder:
        cluster = Cluster(Path(folder), workers)
        try:
            for size in sizes:
                executor = DaskExecutor(
                    cluster.address, target, batch_size=size, timeout_s=10.0, reuse=16
                )
                executor.connect()
                executor.client.wait_for_workers(workers, timeout=120)
                try:
                    runs = rate(executor, args.seconds, scenario)
                    name = f"dask, {workers} worker(s), batch {size}"
                    rows.append((name, runs, describe(executor.stats)))
                    if size == sizes[-1]:
                        empty_ms = empty_round_trip_ms(executor, target)
                finally:
                    executor.close()
        finally:
            cluster.close()
    local = (before + local_rate(interpreter, args.seconds, workers, scenario)) / 2  # drifts
    rows[0] = (local_name, local, {})
    print(f"local runs/s before the Dask runs {before:.1f}, after {2 * local - before:.1f}")
    print_table(rows, local, empty_ms, sizes)


def local_rate(interpreter: Interpreter, seconds: float, workers: int, scenario: Scenario) -> float:
    """Runs/s of the local executor with ``workers`` fork servers."""
    sessions = [HarnessSession(interpreter, MODULES) for _ in range(workers)]
    for session in sessions:
        session.start()
    try:
        return rate(LocalExecutor(sessions, 10.0, 16), seconds, scenario)
    finally:
        for session in sessions:
            session.close()


def print_table(
    rows: list[tuple[str, float, dict[str, Any]]], local: float, empty_ms: float, sizes: list[int]
) -> None:
    print(f"{'configuration':30} {'runs/s':>8} {'of local':>9} {'ctrl ms/batch':>14} {'ms/run':>7}")
    for name, runs, stats in rows:
        cost = per_run = "-"
        if stats:
            cost = f"{stats['controller_ms_per_batch']:.2f}"
            size = max(stats["runs"] / max(stats["batches"], 1), 1)
            per_run = f"{stats['controller_ms_per_batch'] / size:.2f}"
        print(f"{name:30} {runs:8.1f} {runs / local:9.0%} {cost:>14} {per_run:>7}")
    print(f"empty batch round trip (median of {EMPTY_ROUND_TRIPS}): {empty_ms:.2f} ms")
    within = [
        size
        for size, (_, runs, _) in zip(sizes, rows[1:], strict=True)
        if runs >= (1 - WITHIN) * local
    ]
    print(
        f"smallest batch within {WITHIN:.0%} of local: {within[0]}"
        if within
        else f"no batch size tried came within {WITHIN:.0%} of local"
    )


if __name__ == "__main__":
    main()
