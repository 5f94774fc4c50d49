"""SARIF 2.1.0: one result per bucket, fingerprinted by bucket id."""

from __future__ import annotations

import json
from pathlib import Path

from test_report_samples import sample_report

from threadstorm.report.sarif import render_sarif


def test_log_shape(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    log = json.loads(render_sarif(report))
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    [run] = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "threadstorm"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert rule_ids == ["threadstorm/crashed", "threadstorm/hung", "threadstorm/sanitizer"]
    results = run["results"]
    assert len(results) == len(report.buckets) == 3
    for result, bucket in zip(results, report.buckets, strict=True):
        assert rule_ids[result["ruleIndex"]] == result["ruleId"] == f"threadstorm/{bucket.status}"
        assert result["partialFingerprints"] == {"threadstormBucket/v1": bucket.id}
        assert result["message"]["text"]
        assert "baselineState" not in result
    assert [r["level"] for r in results] == ["error", "error", "note"]
    assert run["invocations"][0]["properties"]["runs"] == 171


def test_locations_and_properties(tmp_path: Path) -> None:
    results = json.loads(render_sarif(sample_report(tmp_path)))["runs"][0]["results"]
    union, hang, native = results
    assert union["locations"] == [
        {
            "physicalLocation": {"artifactLocation": {"uri": "Objects/unionobject.c"}},
            "logicalLocations": [{"name": "union_repr", "kind": "function"}],
        }
    ]
    assert "locations" not in hang
    names = [loc["name"] for loc in native["locations"][0]["logicalLocations"]]
    assert names == ["cm_repr", "PyObject_Repr", "list_repr"]
    assert union["properties"]["reproduction"]["crashes"] == 8
    assert union["properties"]["siblingsAffected"] == ["collections.deque"]
    assert union["message"]["text"].startswith("failed C assertion PyTuple_Check(alias->args)")


def test_baseline_state(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    results = json.loads(render_sarif(report, known={report.buckets[0].id}))["runs"][0]["results"]
    assert [r["baselineState"] for r in results] == ["unchanged", "new", "new"]
