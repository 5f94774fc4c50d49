"""The JSON report, for machines.

Top-level keys: ``campaign`` (runs, duration_s, runs_per_second, outcomes, target facts,
``families``: runs and share per scenario family, ``rewards``: what the search's arms earned...),
``buckets`` (id, status, signature, count, contract, reproduction, ``rerun_endings``: how the
reruns that missed the bucket ended, scenario, minimised, variants, backtrace, repro script...),
``coverage`` (per module: total, reachable, exercised, never reached), ``weights``,
``discoveries`` and ``matrix``.  ``REPORT_VERSION`` changes when a key changes meaning or
disappears; new keys may appear at any time.
"""

from __future__ import annotations

import json
from typing import Any

from threadstorm.rate import Rate
from threadstorm.report.bugs import bugs, outside_entries
from threadstorm.report.describe import timestamp_text
from threadstorm.report.model import BucketReport, CampaignSummary, Report
from threadstorm.scenario.codec import scenario_to_json
from threadstorm.store.records import Minimisation, Reproduction
from threadstorm.target.facts import TargetFacts

REPORT_VERSION = 2  # 2: outcome "raised" means an operation raised on every call


def render_json(report: Report) -> str:
    """The whole report as indented JSON text."""
    return json.dumps(report_json(report), indent=2) + "\n"


def render_bucket_json(bucket: BucketReport) -> str:
    """One bucket as indented JSON text."""
    return json.dumps(bucket_json(bucket), indent=2) + "\n"


def report_json(report: Report) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    return {
        "threadstorm_report": REPORT_VERSION,
        "campaign": {
            **campaign_json(report.campaign),
            "rewards": report.weights.get("economy", {}).get("arms", []),
        },
        "bugs": [
            {
                "id": bug.id,
                "site": bug.site,
                "status": bug.status,
                "count": bug.count,
                "buckets": [bucket.id for bucket in bug.buckets],
                "best_bucket": bug.best.id,
            }
            for bug in bugs(report.buckets)
        ],
        "outside_contract": [
            {
                "rule": entry.rule,
                "function": entry.function,
                "types": list(entry.types),
                "count": entry.count,
                "buckets": list(entry.buckets),
            }
            for entry in outside_entries(report.buckets)
        ],
        "buckets": [bucket_json(bucket) for bucket in report.buckets],
        "coverage": {
            module.module: {
                "total": module.total,
                "reachable": module.reachable,
                "exercised": module.exercised,
                "never_reached": [
                    {"name": name, "reason": reason} for name, reason in module.never_reached
                ],
            }
            for module in report.coverage
        },
        "weights": dict(report.weights),
        "discoveries": [
            {"offset_s": point.offset_s, "bucket": point.bucket_id, "runs": point.runs}
            for point in report.discoveries
        ],
        "matrix": [
            {"type": cell.subject, "family": cell.family, "outcomes": dict(cell.counts)}
            for cell in report.matrix.cells
        ],
    }


def campaign_json(campaign: CampaignSummary) -> dict[str, Any]:
    return {
        "folder": campaign.folder,
        "status": campaign.status,
        "started_at": timestamp_text(campaign.started_at),
        "runs": campaign.runs,
        "duration_s": campaign.duration_s,
        "runs_per_second": campaign.runs_per_second,
        "outcomes": dict(campaign.outcomes),
        "modules": list(campaign.modules),
        "seed": campaign.seed,
        "target": target_json(campaign.target),
        "families": campaign.family_shares(),
    }


def target_json(target: TargetFacts) -> dict[str, Any]:
    return {
        "executable": target.executable,
        "version": target.version,
        "free_threaded": target.free_threaded,
        "gil_enabled": target.gil_enabled,
        "debug": target.debug,
        "sanitizer": target.sanitizer,
        "config_args": target.config_args,
        "label": target.label,
        "warnings": list(target.warnings),
    }


def bucket_json(bucket: BucketReport) -> dict[str, Any]:
    return {
        "id": bucket.id,
        "status": bucket.status,
        "title": bucket.title,
        "signature": bucket.signature.to_json(),
        "count": bucket.count,
        "contract": bucket.contract,
        "contract_reason": bucket.contract_reason,
        "first_seen": timestamp_text(bucket.first_seen),
        "last_seen": timestamp_text(bucket.last_seen),
        "first_seen_s": bucket.first_seen_s,
        "reproduction": reproduction_json(bucket.reproduction),
        "rerun_endings": [
            {"ending": ending.label, "runs": ending.runs, "finding": ending.finding}
            for ending in bucket.rerun_endings
        ],
        "outcome": bucket.reason,
        "signal": bucket.signal,
        "family": bucket.family,
        "type": bucket.subject,
        "scenario": scenario_to_json(bucket.scenario),
        "size": list(bucket.size),
        "minimised": minimisation_json(bucket.minimisation),
        "variants": [variant.to_json() for variant in bucket.variants],
        "backtrace": bucket.backtrace,
        "crash_output": bucket.crash_output,
        "confirmation": bucket.confirmation.to_json() if bucket.confirmation else None,
        "sanitizer_stacks": [
            {
                "title": stack.title,
                "frames": list(stack.frames),
                "file": stack.file,
                "line": stack.line,
            }
            for stack in bucket.sanitizer_stacks
        ],
        "repro_script": bucket.repro_script,
    }


def rate_json(rate: Rate | None) -> dict[str, Any] | None:
    if rate is None:
        return None
    return {"crashes": rate.crashes, "runs": rate.runs, "rate": rate.fraction}


def reproduction_json(reproduction: Reproduction | None) -> dict[str, Any] | None:
    if reproduction is None:
        return None
    return {
        **(rate_json(reproduction.rate) or {}),
        "median_time_to_crash_s": reproduction.median_time_to_crash_s,
    }


def minimisation_json(done: Minimisation | None) -> dict[str, Any] | None:
    if done is None:
        return None
    return {
        "scenario": scenario_to_json(done.scenario),
        "before_size": list(done.before_size),
        "after_size": list(done.after_size),
        "before_rate": rate_json(done.before_rate),
        "after_rate": rate_json(done.after_rate),
    }
