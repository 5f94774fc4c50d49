"""Nothing threadstorm causes itself becomes a finding.

Campaigns on the 3.13 debug target over pure-Python standard library modules and over the
planted fixture's clean twin.  Whatever buckets they make (a real CPython bug is always
possible in the first), none may be threadstorm's own doing: no bucket whose identity or title
names the harness's frames, no bucket for a run that only raised (hostile values raise on
purpose), no bucket reached through a deny-listed call, no harness error counted as a finding,
and on the clean twin no bucket at all.
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

import pytest
from helpers import HARNESS_PATH, fuzz, planted_folder, report_json, threadstorm, titles

from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.scenario.codec import scenario_from_json
from threadstorm.scenario.model import Scenario

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BUDGET_S = 60.0
OWN_PATHS = (HARNESS_PATH, "/threadstorm/scenario/")


@pytest.fixture(scope="module")
def planted_dir(python313d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted_folder(python313d, tmp_path_factory)


def own_frames(text: str) -> list[str]:
    return [part for part in OWN_PATHS if part in text]


def denied_calls(scenario: Scenario) -> list[str]:
    """Names of the scenario's calls that the default deny-list forbids."""
    names = [op.name for op in scenario.operations() if op.kind == "function"]
    return [n for n in names if any(fnmatch.fnmatchcase(n, pattern) for pattern in DEFAULT_DENY)]


def check_no_noise(report: dict[str, Any]) -> None:
    outcomes = report["campaign"]["outcomes"]
    assert outcomes.get("harness_error", 0) == 0, outcomes
    assert outcomes.get("passed", 0) + outcomes.get("raised", 0) > 0, outcomes
    for bucket in report["buckets"]:
        label = f"{bucket['id']} {bucket['title']}"
        assert bucket["status"] in ("crashed", "hung", "sanitizer"), label
        identity = " ".join([bucket["title"], *bucket["signature"]["parts"]])
        assert own_frames(identity) == [], label
        assert own_frames(bucket.get("backtrace") or "") == [], label
        assert denied_calls(scenario_from_json(bucket["scenario"])) == [], label


def test_pure_python_stdlib_modules_give_no_noise(python313d: Path, tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    fuzz(python313d, out, "json,textwrap,string", BUDGET_S)
    report = report_json(out)
    check_no_noise(report)
    markdown = threadstorm("report", str(out), "--format", "markdown")
    assert markdown.returncode == 0, markdown.stderr
    summary = markdown.stdout.split("```")[0]  # the prose before any evidence block
    assert own_frames(summary) == [], titles(report)


def test_clean_twin_gives_no_bucket(python313d: Path, planted_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    fuzz(python313d, out, "planted_clean", BUDGET_S, paths=[planted_dir], seed=7)
    report = report_json(out)
    check_no_noise(report)
    assert report["buckets"] == [], titles(report)
    assert report["campaign"]["outcomes"].get("crashed", 0) == 0
