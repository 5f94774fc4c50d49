"""The JSON report: the documented shape, values that round-trip, scenarios that decode."""

from __future__ import annotations

import json
from pathlib import Path

from test_report_samples import TARGET, UNION_SIGNATURE, sample_report, union_scenario

from threadstorm.report.json_report import REPORT_VERSION, render_bucket_json, render_json
from threadstorm.scenario.codec import scenario_from_json


def test_top_level_and_campaign(tmp_path: Path) -> None:
    doc = json.loads(render_json(sample_report(tmp_path)))
    assert list(doc) == [
        "threadstorm_report",
        "campaign",
        "bugs",
        "outside_contract",
        "buckets",
        "coverage",
        "weights",
        "discoveries",
        "matrix",
    ]
    assert doc["threadstorm_report"] == REPORT_VERSION
    campaign = doc["campaign"]
    assert (campaign["runs"], campaign["duration_s"]) == (171, 120.0)
    assert campaign["runs_per_second"] == 171 / 120
    assert campaign["started_at"] == "2025-06-15T15:06:40Z"
    assert campaign["outcomes"]["crashed"] == 3
    target = campaign["target"]
    for key in ("executable", "version", "free_threaded", "gil_enabled", "debug", "sanitizer"):
        assert target[key] == TARGET[key]
    assert target["warnings"] == []


def test_buckets(tmp_path: Path) -> None:
    buckets = json.loads(render_json(sample_report(tmp_path)))["buckets"]
    assert [b["contract"] for b in buckets] == ["in-contract", "in-contract", "outside-contract"]
    union = buckets[0]
    assert union["id"] == UNION_SIGNATURE.key
    assert (union["status"], union["count"]) == ("crashed", 2)
    assert union["signature"] == UNION_SIGNATURE.to_json()
    assert union["reproduction"] == {
        "crashes": 8,
        "runs": 10,
        "rate": 0.8,
        "median_time_to_crash_s": 0.42,
    }
    assert scenario_from_json(union["scenario"]) == union_scenario(size=8, threads=2)
    assert scenario_from_json(union["minimised"]["scenario"]) == union_scenario(2, 2)
    assert union["minimised"]["before_rate"] == {"crashes": 6, "runs": 10, "rate": 0.6}
    assert [v["subject"] for v in union["variants"]] == ["tuple", "collections.deque"]
    assert union["backtrace"].startswith("#0  __pthread_kill_implementation")
    assert union["first_seen"] == "2025-06-15T15:06:52Z"
    assert buckets[1]["reproduction"] is None
    assert buckets[1]["minimised"] is None


def test_coverage_discoveries_matrix(tmp_path: Path) -> None:
    doc = json.loads(render_json(sample_report(tmp_path)))
    assert doc["coverage"] == {
        "builtins": {
            "total": 3,
            "reachable": 2,
            "exercised": 2,
            "never_reached": [{"name": "open", "reason": "denied"}],
        },
        "typing": {
            "total": 1,
            "reachable": 1,
            "exercised": 0,
            "never_reached": [{"name": "Union.__args__", "reason": "always raised"}],
        },
    }
    assert [(d["offset_s"], d["runs"]) for d in doc["discoveries"]] == [
        (12.5, 171),
        (40.0, 171),
        (75.0, 171),
    ]
    assert {"type": "list", "family": "readers_vs_mutators",
            "outcomes": {"crashed": 2, "raised": 6, "passed": 90}} in doc["matrix"]  # fmt: skip
    assert doc["weights"]["families"]["readers_vs_mutators"] == 2.5


def test_one_bucket(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    doc = json.loads(render_bucket_json(report.buckets[2]))
    assert (doc["id"], doc["contract"], doc["type"]) == (
        report.buckets[2].id,
        "outside-contract",
        "classmethod",
    )
