"""Baselines for CI: the buckets a project already knows about.

A baseline is a small JSON file (``{"threadstorm_baseline": 1, "buckets": [...]}``) kept in the
project's repository.  ``threadstorm check`` fails only on in-contract buckets that are not in it;
known buckets and outside-contract ones are listed, never failed.  Updating a baseline keeps the
buckets it had (a flaky bug not hit this time is still known) and adds the new ones.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadstorm.errors import UsageError
from threadstorm.files import write_atomically
from threadstorm.store.records import BucketRecord

BASELINE_VERSION = 1


@dataclass(frozen=True)
class KnownBucket:
    """One bucket a baseline knows: its key and, for people reading the file, its title."""

    key: str
    title: str
    contract: str


@dataclass(frozen=True)
class Verdict:
    """How a campaign's buckets compare with the baseline."""

    new_in_contract: tuple[BucketRecord, ...]
    known: tuple[BucketRecord, ...]
    outside_contract: tuple[BucketRecord, ...]

    @property
    def failed(self) -> bool:
        return bool(self.new_in_contract)


def load_baseline(path: Path) -> dict[str, KnownBucket]:
    """The baseline's buckets by key; a missing file is an empty baseline."""
    if not path.exists():
        return {}
    try:
        doc: Any = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise UsageError(
            f"baseline {path} is not readable JSON ({error}); fix or delete it"
        ) from None
    if not isinstance(doc, dict) or doc.get("threadstorm_baseline") != BASELINE_VERSION:
        raise UsageError(
            f"{path} is not a threadstorm baseline (version {BASELINE_VERSION}); "
            "write one with --update-baseline"
        )
    known = {}
    for entry in doc.get("buckets", []):
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise UsageError(f"baseline {path}: every bucket needs a string 'key'")
        known[entry["key"]] = KnownBucket(
            entry["key"], str(entry.get("title", "")), str(entry.get("contract", ""))
        )
    return known


def compare(buckets: list[BucketRecord], known: dict[str, KnownBucket]) -> Verdict:
    """Sort a campaign's buckets into new in-contract, known, and outside-contract."""
    new = tuple(b for b in buckets if b.in_contract and b.key not in known)
    old = tuple(b for b in buckets if b.key in known)
    outside = tuple(b for b in buckets if not b.in_contract and b.key not in known)
    return Verdict(new, old, outside)


def save_baseline(path: Path, buckets: list[BucketRecord], known: dict[str, KnownBucket]) -> int:
    """Write the union of ``known`` and ``buckets`` atomically; return how many it holds."""
    merged = dict(known)
    for bucket in buckets:
        merged[bucket.key] = KnownBucket(bucket.key, bucket.signature.title, bucket.contract)
    doc = {
        "threadstorm_baseline": BASELINE_VERSION,
        "buckets": [
            {"key": k.key, "title": k.title, "contract": k.contract}
            for k in sorted(merged.values(), key=lambda k: k.key)
        ],
    }
    write_atomically(path, json.dumps(doc, indent=2) + "\n")
    return len(merged)
