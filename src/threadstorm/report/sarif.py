"""SARIF 2.1.0 for code-scanning tools: one result per bucket.

Rules are the three kinds of finding (crash, hang, sanitizer report).  Each result is an
``error`` when in-contract and a ``note`` when outside the contract; its fingerprint is the
bucket id, so a scanner tracks a bucket across campaigns, and ``baselineState`` says whether it
is new when a set of known ids is given.  A failed assertion in a source file gives a physical
location; native frames give logical ones.  A data race points at one access and lists the
other in ``relatedLocations`` (file and line where the report has them).  The rest (rate,
scenario, backtrace) rides in ``properties``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from threadstorm import __version__
from threadstorm.report.json_report import campaign_json, reproduction_json
from threadstorm.report.model import BucketReport, Report, SanitizerStackText
from threadstorm.scenario.codec import scenario_to_json

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SOURCE_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".rs", ".pyx", ".py")

RULES = (
    ("crashed", "ThreadSafetyCrash", "The interpreter crashed under concurrent use"),
    ("hung", "ThreadSafetyHang", "Concurrent use made no progress before the deadline"),
    ("sanitizer", "SanitizerReport", "A sanitizer reported an error under concurrent use"),
)


def render_sarif(report: Report, known: Collection[str] | None = None) -> str:
    """The report as SARIF 2.1.0 JSON text."""
    return json.dumps(sarif_document(report, known), indent=2) + "\n"


def sarif_document(report: Report, known: Collection[str] | None = None) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict."""
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "threadstorm",
                "version": __version__,
                "rules": [_rule(status, name, text) for status, name, text in RULES],
            }
        },
        "invocations": [
            {"executionSuccessful": True, "properties": campaign_json(report.campaign)}
        ],
        "results": [_result(bucket, known) for bucket in report.buckets],
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _rule(status: str, name: str, text: str) -> dict[str, Any]:
    return {
        "id": f"threadstorm/{status}",
        "name": name,
        "shortDescription": {"text": text},
        "fullDescription": {
            "text": f"{text}. threadstorm ran concurrent operations on shared objects in a "
            "free-threaded CPython and kept the smallest scenario that does this."
        },
        "defaultConfiguration": {"level": "error"},
        "help": {
            "text": "Run `threadstorm report DIR --format markdown --bucket ID` for a bug report."
        },
    }


def _result(bucket: BucketReport, known: Collection[str] | None) -> dict[str, Any]:
    rule_ids = [status for status, _, _ in RULES]
    status = bucket.status if bucket.status in rule_ids else "crashed"
    rate = f" ({bucket.reproduction.rate.text} reruns)" if bucket.reproduction else ""
    result: dict[str, Any] = {
        "ruleId": f"threadstorm/{status}",
        "ruleIndex": rule_ids.index(status),
        "level": "error" if bucket.in_contract else "note",
        "message": {
            "text": f"{bucket.outcome_text} when threads share a {bucket.subject}{rate}: "
            f"{bucket.title}"
        },
        "partialFingerprints": {"threadstormBucket/v1": bucket.id},
        "properties": _properties(bucket),
    }
    locations = _locations(bucket)
    if locations:
        result["locations"] = locations
    related = _related_locations(bucket)
    if related:
        result["relatedLocations"] = related
    if known is not None:
        result["baselineState"] = "unchanged" if bucket.id in known else "new"
    return result


def _locations(bucket: BucketReport) -> list[dict[str, Any]]:
    parts = bucket.signature.parts
    if bucket.signature.kind == "assertion" and parts and parts[0].endswith(SOURCE_SUFFIXES):
        logical = [{"name": part, "kind": "function"} for part in parts[1:2]]
        return [
            {
                "physicalLocation": {"artifactLocation": {"uri": parts[0]}},
                "logicalLocations": logical,
            }
        ]
    accesses = _access_stacks(bucket)
    if bucket.signature.kind == "race" and accesses:
        return [_stack_location(accesses[0])]
    if bucket.signature.kind in ("native", "race") and parts:
        return [{"logicalLocations": [{"name": part, "kind": "function"} for part in parts]}]
    return []


def _access_stacks(bucket: BucketReport) -> list[SanitizerStackText]:
    """The sanitizer report's memory accesses (a race: this access, then the other one)."""
    return [stack for stack in bucket.sanitizer_stacks if stack.access]


def _related_locations(bucket: BucketReport) -> list[dict[str, Any]]:
    """A race's other access (and any further stacks), so a viewer shows both sides."""
    if bucket.signature.kind != "race":
        return []
    accesses = _access_stacks(bucket)
    return [{"id": index, **_stack_location(stack)} for index, stack in enumerate(accesses[1:], 1)]


def _stack_location(stack: SanitizerStackText) -> dict[str, Any]:
    function = stack.frames[0].split(" ", 1)[0]
    location: dict[str, Any] = {
        "logicalLocations": [{"name": function, "kind": "function"}],
        "message": {"text": stack.title},
    }
    if stack.file:
        region = {"startLine": stack.line} if stack.line else {}
        location["physicalLocation"] = {"artifactLocation": {"uri": stack.file}, "region": region}
    return location


def _properties(bucket: BucketReport) -> dict[str, Any]:
    return {
        "bucket": bucket.id,
        "status": bucket.status,
        "contract": bucket.contract,
        "contractReason": bucket.contract_reason,
        "count": bucket.count,
        "signature": bucket.signature.to_json(),
        "reproduction": reproduction_json(bucket.reproduction),
        "family": bucket.family,
        "type": bucket.subject,
        "scenario": scenario_to_json(bucket.scenario),
        "backtrace": bucket.backtrace,
        "siblingsAffected": [variant.subject for variant in bucket.siblings_affected],
    }
