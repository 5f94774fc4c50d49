"""JUnit XML: one testcase per bucket; failures only for new in-contract buckets."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

from test_report_samples import sample_report

from threadstorm.report.junit import render_junit


def cases(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {case.attrib["name"].split(":")[0]: case for case in root.iter("testcase")}


def test_new_in_contract_buckets_fail(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    xml = render_junit(report)
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites')
    root = ET.fromstring(xml)
    suite = root.find("testsuite")
    assert suite is not None
    assert {k: suite.attrib[k] for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "3",
        "failures": "2",
        "errors": "0",
        "skipped": "1",
    }
    union, hang, outside = (cases(xml)[b.id] for b in report.buckets)
    failure = union.find("failure")
    assert failure is not None
    assert failure.attrib["type"] == "crashed"
    assert failure.attrib["message"].startswith("new crashed bucket: failed C assertion")
    assert failure.text is not None
    assert "thread 2: obj.pop(); obj.append(big_union(size=8))" in failure.text
    assert "--format markdown --bucket " + report.buckets[0].id in failure.text
    assert union.attrib["classname"] == "threadstorm.readers_vs_mutators"
    assert hang.find("failure") is not None
    skipped = outside.find("skipped")
    assert skipped is not None
    assert skipped.attrib["message"].startswith("outside the thread-safety contract: concurrent")
    props = {p.attrib["name"]: p.attrib["value"] for p in root.iter("property")}
    assert props["runs"] == "171"


def test_known_buckets_pass(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    xml = render_junit(report, known={b.id for b in report.buckets})
    root = ET.fromstring(xml)
    assert root.attrib["failures"] == "0"
    union = cases(xml)[report.buckets[0].id]
    assert union.find("failure") is None
    out = union.find("system-out")
    assert out is not None and out.text == "known bucket (in the baseline)\n"


def test_crash_output_that_xml_cannot_carry_is_replaced(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    dirty = replace(report.buckets[0], backtrace="#0 f\x00\x1b[31m\x07 done")
    xml = render_junit(replace(report, buckets=(dirty,)))
    failure = ET.fromstring(xml).find("testsuite/testcase/failure")
    assert failure is not None and failure.text is not None
    assert "#0 f\ufffd\ufffd[31m\ufffd done" in failure.text


def test_no_buckets(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    root = ET.fromstring(render_junit(replace(report, buckets=())))
    assert (root.attrib["tests"], root.attrib["failures"]) == ("0", "0")
