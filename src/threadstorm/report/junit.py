"""JUnit XML for CI systems: one testcase per bucket.

A new in-contract bucket is a ``<failure>``: a real bug nobody has accepted yet.  A bucket whose
id is in ``known`` (a project's baseline) passes and says so; an outside-contract bucket is
``<skipped>`` with the contract's reason.  Each testcase carries what a CI page needs to act on
it: the outcome, the rate, the scenario, the backtrace and the command for the full bug report.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Collection

from threadstorm.report.describe import times_text, timestamp_text
from threadstorm.report.model import BucketReport, Report

# Characters XML 1.0 cannot carry at all (crash output may hold any byte).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def render_junit(report: Report, known: Collection[str] = frozenset()) -> str:
    """The report as JUnit XML; buckets whose ids are in ``known`` do not fail."""
    campaign = report.campaign
    failures = [b for b in report.buckets if b.in_contract and b.id not in known]
    skipped = [b for b in report.buckets if not b.in_contract]
    counts = {
        "tests": str(len(report.buckets)),
        "failures": str(len(failures)),
        "errors": "0",
        "skipped": str(len(skipped)),
        "time": f"{campaign.duration_s:.3f}",
    }
    root = ET.Element("testsuites", {"name": "threadstorm", **counts})
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": f"threadstorm campaign {campaign.folder}",
            **counts,
            "timestamp": timestamp_text(campaign.started_at).removesuffix("Z"),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("target", campaign.target.label),
        ("interpreter", campaign.target.executable),
        ("runs", str(campaign.runs)),
        ("runs_per_second", f"{campaign.runs_per_second:.2f}"),
        ("modules", ",".join(campaign.modules)),
        *(("warning", warning) for warning in campaign.target.warnings),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _clean(value)})
    for bucket in report.buckets:
        _testcase(suite, bucket, known)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"


def _testcase(suite: ET.Element, bucket: BucketReport, known: Collection[str]) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        {
            "classname": f"threadstorm.{bucket.family}",
            "name": _clean(f"{bucket.id}: {bucket.title}"),
            "time": "0",
        },
    )
    if not bucket.in_contract:
        message = f"outside the thread-safety contract: {bucket.contract_reason}"
        ET.SubElement(case, "skipped", {"message": _clean(message)})
    elif bucket.id not in known:
        message = f"new {bucket.status} bucket: {bucket.outcome_text}"
        failure = ET.SubElement(
            case, "failure", {"message": _clean(message), "type": bucket.status}
        )
        failure.text = _clean(details(bucket))
    else:
        ET.SubElement(case, "system-out").text = _clean("known bucket (in the baseline)\n")


def details(bucket: BucketReport) -> str:
    """The plain-text body of a failure."""
    rate = bucket.reproduction.rate.text if bucket.reproduction else "not measured"
    lines = [
        f"{bucket.status}: {bucket.outcome_text}",
        f"signature: {bucket.title}",
        f"seen {times_text(bucket.count)}; reproduction rate {rate}",
        f"target: {bucket.target.label}",
        "",
        "scenario:",
        *(f"  {line}" for line in bucket.scenario_lines),
    ]
    if bucket.backtrace:
        lines += ["", "backtrace:", bucket.backtrace]
    lines += [
        "",
        f"bug report: threadstorm report {bucket.folder} --format markdown --bucket {bucket.id}",
    ]
    return "\n".join(lines) + "\n"


def _clean(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)
