"""The seed's race as scenario files: ``examples/seed.json`` and ``examples/seed-planted.json``.

``seed-planted.json`` is the seed's shape on ``planted.Shelf``, whose repr holds its critical
section but walks borrowed items (CPython 3.14.0a7's list-repr bug): readers first, a contender
that keeps taking the lock of the list every nested value refers to, and a late mutator that keeps
refilling the shelf with nested lists built for every call and clearing it.  It must crash the
3.13 debug target, and the same scenario on the clean twin must not.  ``seed.json`` is the same
shape on a plain list; CPython 3.13.5 and 3.14.7 hold strong references in list repr, so it runs
cleanly there.

The contender makes the nested repr block wherever the target's memory layout falls (without
it, a union's repr blocked only on a type-cache collision, so a fork server crashed nearly every
run or none): measured 10 of 10 runs on 3.13.5 and 3.14.7 debug.  The crash is still sought over
a bounded number of fresh servers (``threadstorm run`` sessions).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from helpers import describe, planted_folder, threadstorm

pytestmark = [pytest.mark.integration]

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SESSIONS = 6  # fresh fork servers (memory layouts) at most
RUNS = 4  # runs per session


@pytest.fixture(scope="module")
def planted_dir(python313d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted_folder(python313d, tmp_path_factory)


def run_scenario(python: Path, scenario: Path, runs: int, *paths: Path) -> dict[str, Any]:
    args = ["run", str(scenario), "--python", str(python), "--runs", str(runs), "--json"]
    for path in paths:
        args += ["--path", str(path)]
    done = threadstorm(*args, timeout=runs * 30 + 120)
    assert done.returncode == 0, describe(done)
    histogram: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return histogram


def crashes(histogram: dict[str, Any]) -> int:
    return sum(n for label, n in histogram["outcomes"].items() if label.startswith("crashed"))


def test_seed_planted_crashes_the_planted_shelf(python313d: Path, planted_dir: Path) -> None:
    seen = []
    for _ in range(SESSIONS):
        histogram = run_scenario(python313d, EXAMPLES / "seed-planted.json", RUNS, planted_dir)
        seen.append(histogram["outcomes"])
        if crashes(histogram):
            break
    assert any(label.startswith("crashed") for outcomes in seen for label in outcomes), (
        f"no crash in {SESSIONS} sessions of {RUNS} runs: {seen}"
    )


def test_the_same_storm_leaves_the_clean_shelf_alone(
    python313d: Path, planted_dir: Path, tmp_path: Path
) -> None:
    text = (EXAMPLES / "seed-planted.json").read_text()
    clean = tmp_path / "seed-clean.json"
    clean.write_text(
        text.replace('"planted"', '"planted_clean"').replace("planted.", "planted_clean.")
    )
    for _ in range(3):  # three layouts
        histogram = run_scenario(python313d, clean, RUNS, planted_dir)
        assert histogram["outcomes"] == {"passed": RUNS}, histogram


@pytest.mark.parametrize("target", ["python313d", "python314d"])
def test_seed_runs_cleanly_where_list_repr_is_fixed(
    target: str, request: pytest.FixtureRequest
) -> None:
    python: Path = request.getfixturevalue(target)
    histogram = run_scenario(python, EXAMPLES / "seed.json", 5)
    assert histogram["outcomes"] == {"passed": 5}, histogram
