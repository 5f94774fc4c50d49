"""``threadstorm run``: one scenario file, N runs in the 3.13 debug target, a histogram.

The crashing scenario is the shared-iterator case: a fresh ``enumerate(range(1000))`` every
round, advanced by four threads at once with ``next``.  On CPython 3.13.5 that races inside
``enum_next`` (a negative reference count on the reused result tuple).  Through the harness
about one run in five crashes at 1000 rounds (measured on 2 busy cores; 300 rounds gave none in
30 runs, where a bare script crashes 5 times in 6: the harness's per-operation bookkeeping
narrows the window); the command is repeated a bounded number of times until one run has
crashed.  The benign scenario reads a list nobody changes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import describe, threadstorm

from threadstorm.scenario.codec import dumps
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Operation,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)

pytestmark = pytest.mark.integration

RUNS = 10  # runs per command
ATTEMPTS = 3  # commands at most, until one of their runs crashed
RUN_TIMEOUT_S = 60  # per run: 1000 rounds take about 10 s on a busy machine, never hang
BENIGN_LABELS = {"passed", "raised"}


def shared_enumerate() -> Scenario:
    iterator = Call(Ref("builtins.enumerate"), (Call(Ref("builtins.range"), (Lit(1000),)),))
    return Scenario(
        shared=(SharedObject("obj", iterator, fresh=True),),
        threads=tuple(
            ThreadPlan((Operation("function", "obj", "builtins.next"),)) for _ in range(4)
        ),
        iterations=200,
        rounds=1000,
        family="shared_iterator",
    ).validate()


def readers_of_a_list() -> Scenario:
    items = Collection("list", tuple(Lit(n) for n in range(10)))
    reads = (
        Operation("function", "obj", "builtins.len"),
        Operation("function", "obj", "builtins.repr"),
    )
    return Scenario(
        shared=(SharedObject("obj", items),),
        threads=tuple(ThreadPlan(reads) for _ in range(4)),
        iterations=200,
        rounds=5,
        family="readers_vs_mutators",
    ).validate()


def run_json(python: Path, scenario_file: Path) -> dict[str, Any]:
    done = threadstorm(
        "run", str(scenario_file), "--python", str(python), "--runs", str(RUNS), "--json",
        "--timeout", str(RUN_TIMEOUT_S), timeout=RUNS * (RUN_TIMEOUT_S + 10) + 120,
    )  # fmt: skip
    assert done.returncode == 0, describe(done)
    histogram: dict[str, Any] = json.loads(done.stdout)
    assert histogram["runs"] == RUNS
    assert sum(histogram["outcomes"].values()) == RUNS, histogram
    return histogram


def labels(histogram: dict[str, Any]) -> set[str]:
    """Outcome labels without the bucket id a finding carries (``crashed 1a2b3c...``)."""
    return {label.split()[0] for label in histogram["outcomes"]}


def test_a_crashing_scenario_shows_crashed_runs(python313d: Path, tmp_path: Path) -> None:
    scenario_file = tmp_path / "enumerate.json"
    scenario_file.write_text(dumps(shared_enumerate()))
    seen = []
    for _ in range(ATTEMPTS):
        histogram = run_json(python313d, scenario_file)
        seen.append(histogram["outcomes"])
        if "crashed" in labels(histogram):
            break
    assert "crashed" in labels(histogram), f"no crash in {ATTEMPTS} x {RUNS} runs: {seen}"
    assert "harness_error" not in labels(histogram), histogram
    crashed = [label for label in histogram["outcomes"] if label.startswith("crashed ")]
    for label in crashed:  # every crash is filed under a signature, with its title
        assert histogram["signatures"][label], histogram


def test_a_benign_scenario_only_passes_or_raises(python313d: Path, tmp_path: Path) -> None:
    scenario_file = tmp_path / "readers.json"
    scenario_file.write_text(dumps(readers_of_a_list()))
    histogram = run_json(python313d, scenario_file)
    assert labels(histogram) <= BENIGN_LABELS, histogram
    assert histogram["signatures"] == {}, histogram


def test_the_table_names_every_outcome(python313d: Path, tmp_path: Path) -> None:
    scenario_file = tmp_path / "readers.json"
    scenario_file.write_text(dumps(readers_of_a_list()))
    done = threadstorm("run", str(scenario_file), "--python", str(python313d), "--runs", "3")
    assert done.returncode == 0, describe(done)
    rows = [line.split("│")[1:3] for line in done.stdout.splitlines() if "│" in line]
    assert [[cell.strip() for cell in row] for row in rows] == [["passed", "3"]], done.stdout


def closes_its_pipes_then_sleeps() -> Scenario:
    """One thread closes every fd (the child's result and stderr pipes too), then sleeps an hour."""
    close_all = Operation("function", "zero", "os.closerange", (Lit(1024),))
    sleep_long = Operation("function", "hour", "time.sleep")
    return Scenario(
        shared=(SharedObject("zero", Lit(0)), SharedObject("hour", Lit(3600))),
        threads=(ThreadPlan((close_all, sleep_long)),),
        iterations=1,
        rounds=1,
        family="module_state",
    ).validate()


def test_a_child_that_closes_its_pipes_still_ends_at_the_deadline(
    python313d: Path, tmp_path: Path
) -> None:
    """A child whose pipes closed is reaped under the run's deadline, not waited for an hour."""
    scenario_file = tmp_path / "closer.json"
    scenario_file.write_text(dumps(closes_its_pipes_then_sleeps()))
    done = threadstorm(
        "run", str(scenario_file), "--python", str(python313d), "--runs", "2", "--json",
        "--timeout", "3", timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, describe(done)
    histogram = json.loads(done.stdout)
    assert histogram["outcomes"] == {"harness_error": 2}, histogram
