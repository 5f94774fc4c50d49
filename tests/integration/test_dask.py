"""A campaign on a real Dask cluster finds the planted bugs and survives a worker killed mid-run.

A ``dask scheduler`` and two ``dask worker`` processes (one process, two threads each) are
started on 127.0.0.1 with ports chosen by the system (the scheduler file says where); the
scheduler gives a batch up after its second dead worker (``allowed-failures`` 1).  Campaigns
over the planted fixture run through ``fuzz --scheduler`` and must file the Bag and Lazy bugs
under the same signatures the local executor files them under (``test_campaign_planted``).
During the first campaign one worker is killed with SIGKILL once the store has counted
``KILL_AFTER_RUNS`` runs: no batch may be counted twice (the runs the executor received equal
the runs the store counted, no crash row is stored twice) and no finding may be lost (every
finding the store counted is in a bucket).

Campaigns are random: one that misses a bug is followed by one with the next seed, a bounded
number of times.  Every process this test starts is ended by its pid.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    STARTUP_SLACK_S,
    cli_environment,
    describe,
    planted_folder,
    report_json,
    titles,
    wait_until,
)
from helpers import fuzz_args as make_fuzz_args
from test_campaign_planted import in_contract_crash, is_bag_repr, is_lazy_assertion

from fixtures.build_fixture import build_extension
from threadstorm.scenario.model import (
    Collection,
    Lit,
    Operation,
    Scenario,
    SharedObject,
    ThreadPlan,
)
from threadstorm.store.db import Store

pytest.importorskip("distributed")

from threadstorm.bucket.judge import judge
from threadstorm.campaign.batch import TargetSpec
from threadstorm.campaign.dask_executor import DaskExecutor
from threadstorm.campaign.executor import Feed, RunResult
from threadstorm.errors import UsageError

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUDGET_S = 90.0
ATTEMPTS = 3  # campaigns at most (seeds 0, 1, 2), until one has found both bugs
FAMILIES = "readers_vs_mutators,lazy_first_touch"  # the families that storm Bag and Lazy
KILL_AFTER_RUNS = 24  # the store's count when the second worker is killed (batches came back)
CLUSTER_START_S = 120.0
RECEIVED = re.compile(r"dask: (\d+) batches \((\d+) runs\) received")


class Cluster:
    """A scheduler and its workers, started here; ``close`` ends them all by pid."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.scheduler_file = folder / "scheduler.json"
        self.env = cli_environment(
            {
                "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1",
                "PYTHONPATH": os.pathsep.join(sys.path),  # threadstorm, as the test imports it
            }
        )
        self.processes: list[subprocess.Popen[bytes]] = []
        self.workers: list[subprocess.Popen[bytes]] = []

    def start(self, workers: int, nanny: bool = False) -> None:
        self._spawn(
            "scheduler",
            ["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
        )
        assert wait_until(self._address_known, CLUSTER_START_S), self.logs()
        for _ in range(workers):
            self.add_worker(nanny)
        self.wait_for_workers(workers)

    def add_worker(self, nanny: bool = False) -> None:
        """One worker process of two threads; with ``nanny``, one process of one thread under a
        nanny that starts it again when it dies."""
        threads = "1" if nanny else "2"
        args = ["worker", "--host", "127.0.0.1", "--nworkers", "1", "--nthreads", threads]
        args += ["--no-dashboard"] if nanny else ["--no-nanny", "--no-dashboard"]
        self.workers.append(self._spawn(f"worker-{len(self.workers)}", args))

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "dask", *args, "--scheduler-file", str(self.scheduler_file)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.folder,
            )
        finally:
            log.close()
        self.processes.append(process)
        return process

    def _address_known(self) -> bool:
        try:
            return bool(json.loads(self.scheduler_file.read_text())["address"])
        except (OSError, ValueError, KeyError):
            return False

    @property
    def address(self) -> str:
        address: str = json.loads(self.scheduler_file.read_text())["address"]
        return address

    def wait_for_workers(self, count: int) -> None:
        from distributed import Client

        with Client(self.address, timeout=CLUSTER_START_S, set_as_default=False) as client:
            client.wait_for_workers(count, timeout=CLUSTER_START_S)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL one process this cluster started, and reap it."""
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=60)

    def close(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.kill(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill(process)

    def logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text('utf-8', 'replace')[-2000:]}"
            for log in sorted(self.folder.glob("*.log"))
        )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        running.start(workers=2)
        yield running
    finally:
        running.close()


def stored_runs(folder: Path) -> int:
    """Runs the campaign's store has counted so far (0 before it exists)."""
    try:
        with Store.open(folder, readonly=True) as store:
            return sum(count.count for count in store.run_counts())
    except (sqlite3.Error, ValueError):
        return 0


def run_campaign(
    cluster: Cluster, python: Path, planted: Path, out: Path, seed: int, kill: bool
) -> subprocess.CompletedProcess[str]:
    """One ``fuzz --scheduler`` campaign; with ``kill``, one worker dies once runs were counted."""
    args = make_fuzz_args(python, out, "planted", BUDGET_S, paths=[planted], seed=seed)
    args += ["--families", FAMILIES, "--scheduler", cluster.address]
    with subprocess.Popen(
        [sys.executable, "-m", "threadstorm", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=cli_environment(),
    ) as process:
        try:
            if kill:
                counted = wait_until(
                    lambda: stored_runs(out) >= KILL_AFTER_RUNS or process.poll() is not None,
                    BUDGET_S + STARTUP_SLACK_S,
                )
                assert counted and process.poll() is None, "the campaign ended before the kill"
                cluster.kill(cluster.workers[1])
            stdout, stderr = process.communicate(timeout=BUDGET_S + STARTUP_SLACK_S)
        except BaseException:
            process.kill()
            raise
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def assert_counted_once(out: Path, done: subprocess.CompletedProcess[str]) -> None:
    """Runs received == runs stored; no crash row twice; every finding run is in a bucket."""
    received = RECEIVED.search(done.stdout)
    assert received is not None, describe(done)
    with Store.open(out, readonly=True) as store:
        counts = store.run_counts()
        runs = sum(count.count for count in counts)
        assert int(received[2]) == runs == store.campaign().runs, describe(done)
        findings = sum(count.count for count in counts if count.status.is_finding)
        buckets = store.buckets()
        assert sum(bucket.count for bucket in buckets) >= findings
        rows = [
            (crash.time, json.dumps(crash.evidence.to_json(), sort_keys=True))
            for bucket in buckets
            for crash in store.crashes(bucket.key)
        ]
    evidence = [text for _, text in rows]
    assert len(set(evidence)) == len(evidence), "a crash was stored twice"


def test_dask_campaign_finds_the_planted_bugs_through_a_dying_worker(
    cluster: Cluster, python313d: Path, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    planted = planted_folder(python313d, tmp_path_factory)
    tried: list[str] = []
    report: dict[str, Any] = {}
    for seed in range(ATTEMPTS):
        out = tmp_path / f"campaign-{seed}"
        done = run_campaign(cluster, python313d, planted, out, seed, kill=seed == 0)
        assert done.returncode == 0, describe(done) + cluster.logs()
        assert_counted_once(out, done)
        if seed == 0:
            assert "per worker" in done.stdout, describe(done)
            cluster.add_worker()  # two workers again for the next campaigns
            cluster.wait_for_workers(2)
        report = report_json(out)
        tried.append(f"seed {seed}: {titles(report)}")
        if in_contract_crash(report, is_bag_repr) and in_contract_crash(report, is_lazy_assertion):
            break
    bag = in_contract_crash(report, is_bag_repr)
    lazy = in_contract_crash(report, is_lazy_assertion)
    assert bag is not None, tried
    assert lazy is not None, tried
    assert bag["id"] != lazy["id"]
    assert lazy["signature"]["parts"][-1] == "PyTuple_Check(value)"
    assert report["campaign"]["outcomes"].get("harness_error", 0) == 0, report["campaign"]


def test_workers_without_the_target_are_named_and_excluded(cluster: Cluster) -> None:
    """A target missing on every worker: one line per worker, then one usage error."""
    executor = DaskExecutor(
        cluster.address, TargetSpec("/nonexistent/python"), batch_size=2, timeout_s=5, reuse=1
    )
    executor.connect()
    notes: list[str] = []
    results: queue.Queue[RunResult] = queue.Queue()
    stop = threading.Event()
    scenario = Scenario(
        shared=(SharedObject("obj", Collection("list", (Lit(1),))),),
        threads=(ThreadPlan((Operation("function", "obj", "builtins.repr"),)),) * 2,
    )
    try:

        def draw() -> Any:
            return scenario, None

        executor.start(Feed(draw, results, stop, notes.append))
        assert stop.wait(STARTUP_SLACK_S), notes
        with pytest.raises(UsageError, match=r"no Dask worker at .* can run the target"):
            executor.join()
    finally:
        executor.close()
    excluded = [note for note in notes if "excluded" in note]
    alive = sum(worker.poll() is None for worker in cluster.workers)
    assert len(excluded) == alive == len(executor.stats.excluded), notes
    assert all("/nonexistent/python" in note for note in excluded), notes
    assert results.empty()


def test_batches_in_flight_when_the_budget_ends_are_received(
    cluster: Cluster, python313d: Path
) -> None:
    """Stop while batches run: each one drawn comes back (none is cancelled unfinished)."""
    executor = DaskExecutor(
        cluster.address, TargetSpec(str(python313d)), batch_size=8, timeout_s=10, reuse=4
    )
    executor.connect()
    scenario = Scenario(
        shared=(SharedObject("obj", Collection("list", (Lit(1),) * 50)),),
        threads=(ThreadPlan((Operation("function", "obj", "builtins.repr"),)),) * 2,
        iterations=2000,
    )
    drawn: list[Scenario] = []

    def draw() -> Any:
        drawn.append(scenario)
        return scenario, None

    results: queue.Queue[RunResult] = queue.Queue()
    stop = threading.Event()
    try:
        executor.start(Feed(draw, results, stop, lambda _: None))
        assert wait_until(lambda: results.qsize() >= 8, STARTUP_SLACK_S)
        stop.set()
        executor.join()
    finally:
        executor.close()
    assert results.qsize() == len(drawn) == executor.stats.runs
    assert executor.stats.batches * 8 == len(drawn)


# The killer must be C: the sandbox refuses ``os.kill`` to Python code under test.
KILLER = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* SIGKILL the grandparent of this child: the Dask worker whose fork server forked it. */
static PyObject *
kill_my_worker(PyObject *module, PyObject *arg)
{
    char path[64], text[512], state;
    int grandparent = 0;
    snprintf(path, sizeof path, "/proc/%d/stat", (int)getppid());
    FILE *stat = fopen(path, "r");
    if (stat == NULL) {
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    size_t length = fread(text, 1, sizeof text - 1, stat);
    fclose(stat);
    text[length] = 0;
    char *end = strrchr(text, ')');
    if (end == NULL || sscanf(end + 1, " %c %d", &state, &grandparent) != 2 || grandparent <= 1) {
        PyErr_SetString(PyExc_RuntimeError, "no grandparent to kill");
        return NULL;
    }
    kill(grandparent, SIGKILL);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"kill_my_worker", kill_my_worker, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

static PyModuleDef_Slot slots[] = {
#ifdef Py_GIL_DISABLED
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef definition = {
    PyModuleDef_HEAD_INIT, "worker_killer", NULL, 0, methods, slots,
};

PyMODINIT_FUNC
PyInit_worker_killer(void)
{
    return PyModuleDef_Init(&definition);
}
"""
QUARANTINE_WAIT_S = 180.0


@pytest.fixture
def nanny_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """Two one-thread workers under nannies, which start a killed worker again."""
    running = Cluster(tmp_path / "nanny-cluster")
    running.folder.mkdir()
    try:
        running.start(workers=2, nanny=True)
        yield running
    finally:
        running.close()


def test_a_scenario_that_kills_its_workers_is_found_and_filed_as_a_finding(
    nanny_cluster: Cluster, python313d: Path, tmp_path: Path
) -> None:
    """A batch holding one scenario that SIGKILLs its own Dask worker is split; the killer alone
    is quarantined and handed over as a ``worker_killer`` crash; its batch mates still run."""
    folder = tmp_path / "module"
    folder.mkdir()
    (tmp_path / "worker_killer.c").write_text(KILLER)
    build_extension(python313d, tmp_path / "worker_killer.c", folder)
    target = TargetSpec(str(python313d), modules=("worker_killer",), paths=(str(folder),))
    shared = (SharedObject("obj", Collection("list", (Lit(1),))),)
    harmless = Scenario(
        shared=shared, threads=(ThreadPlan((Operation("function", "obj", "builtins.repr"),)),) * 2
    )
    killer = Scenario(
        imports=("worker_killer",),
        shared=shared,
        threads=(ThreadPlan((Operation("function", "obj", "worker_killer.kill_my_worker"),)),),
    )
    drawn: list[Scenario] = []

    def draw() -> Any:
        drawn.append(killer if len(drawn) == 1 else harmless)  # the first batch holds it
        return drawn[-1], None

    executor = DaskExecutor(nanny_cluster.address, target, batch_size=4, timeout_s=10, reuse=1)
    executor.connect()
    notes: list[str] = []
    results: queue.Queue[RunResult] = queue.Queue()
    stop = threading.Event()
    received: list[RunResult] = []
    try:
        executor.start(Feed(draw, results, stop, notes.append))
        give_up = time.monotonic() + QUARANTINE_WAIT_S
        while time.monotonic() < give_up and not stop.is_set():
            try:
                received.append(results.get(timeout=1.0))
            except queue.Empty:
                continue
            if received[-1].evidence.killed_workers:
                break
        stop.set()
        executor.join()
    finally:
        executor.close()
    while not results.empty():
        received.append(results.get_nowait())
    quarantined = [result for result in received if result.evidence.killed_workers]
    assert any(result.scenario == killer for result in quarantined), notes
    assert executor.stats.split >= 1, notes
    verdict = judge(quarantined[0].evidence, quarantined[0].scenario)
    assert verdict.signature is not None
    assert verdict.signature.kind == "worker_killer", verdict.signature
    if quarantined[0].scenario == killer:
        assert verdict.signature.parts == ("worker_killer.kill_my_worker",)
    ran = [r for r in received if not r.evidence.killed_workers and r.scenario == harmless]
    assert len(ran) >= 3, notes  # at least the killer's three batch mates, run one by one
    assert all(judge(r.evidence, r.scenario).outcome.status.label == "passed" for r in ran)
