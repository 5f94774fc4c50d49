"""Combining campaigns run apart (on other machines, or one per seed) into one campaign folder.

Buckets are matched by their signature key: counts are summed, the earliest first sighting and
the latest last sighting kept, the strongest status, in-contract when either is, the smallest
scenario (with its crash).  What follow-up learned about a bucket (rate, minimisation,
backtrace, variants, repro script) is kept from the first campaign that has it.  Every kept
crash row is copied with its evidence, run counters are summed, coverage turns on where any
campaign turned it on, and the merge history of each campaign is kept (a bucket one campaign
folded into another is folded in the result too).

The result is built in a temporary folder beside ``out`` and renamed into place: a failed merge
leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadstorm.errors import UsageError
from threadstorm.store import merges as merge_table
from threadstorm.store.db import Store
from threadstorm.store.records import IN_CONTRACT, status_from_label
from threadstorm.store.schema import check_schema, connect, is_store, store_path

FOLLOW_UP_COLUMNS = (
    "repro_crashes",
    "repro_runs",
    "median_time_to_crash_s",
    "repro_others",
    "minimised_scenario",
    "minimised_before_size",
    "minimised_after_size",
    "minimised_before_rate",
    "minimised_after_rate",
    "backtrace",
    "variants",
    "repro_script",
    "confirmation",
)


@dataclass(frozen=True)
class MergeSummary:
    """What a merge made: campaigns read, runs and buckets in the result."""

    campaigns: int
    runs: int
    buckets: int
    crashes: int


def merge_campaigns(sources: Sequence[Path], out: Path) -> MergeSummary:
    """Merge the campaign folders ``sources`` into the new campaign folder ``out``."""
    check_inputs(sources, out)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.merging-", dir=parent))
    except OSError as error:
        raise UsageError(
            f"cannot write in {parent}: {error.strerror}; pick another --out"
        ) from None
    try:
        summary = _build(sources, scratch)
        if out.exists():
            out.rmdir()  # checked empty: replaced by the finished merge
        os.replace(scratch, out)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return summary


def check_inputs(sources: Sequence[Path], out: Path) -> None:
    """One ``UsageError`` line for the first thing wrong with the command's folders."""
    if not sources:
        raise UsageError("nothing to merge: name at least one campaign folder")
    seen: set[Path] = set()
    for folder in sources:
        if not folder.exists():
            raise UsageError(f"{folder} does not exist; name campaign folders made by fuzz")
        if not is_store(folder):
            raise UsageError(
                f"{folder} is not a threadstorm campaign (no {store_path(folder).name})"
            )
        if folder.resolve() in seen:
            raise UsageError(f"{folder} is named twice; name each campaign once")
        seen.add(folder.resolve())
        with contextlib.closing(connect(store_path(folder), readonly=True)) as db:
            check_schema(db, store_path(folder))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"--out {out} exists and is not empty; pick a new folder")


def _build(sources: Sequence[Path], folder: Path) -> MergeSummary:
    inputs = [connect(store_path(source), readonly=True) for source in sources]
    try:
        first = inputs[0].execute("SELECT config FROM campaign").fetchone()["config"]
        config = {**json.loads(first), "merged_from": [str(s.absolute()) for s in sources]}
        Store.create(folder, config).close()
        db = connect(store_path(folder), readonly=False)
        try:
            db.execute("BEGIN")
            combined = _Combined()
            for source in inputs:
                combined.add(source, db)
            combined.write(db)
            db.execute("COMMIT")
            return combined.summary(db, len(inputs))
        finally:
            db.close()
    finally:
        for each in inputs:
            each.close()


class _Combined:
    """The merged rows, gathered campaign by campaign, then written to the new store."""

    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, Any]] = {}
        self.discoveries: dict[str, tuple[float, int]] = {}
        self.merges: dict[str, tuple[Any, ...]] = {}
        self.campaign: dict[str, float] = {}
        self.weights: tuple[str, float] | None = None

    def add(self, source: sqlite3.Connection, db: sqlite3.Connection) -> None:
        crash_ids = self._copy_crashes(source, db)
        for row in source.execute("SELECT * FROM buckets ORDER BY key"):
            bucket = dict(row)
            bucket.setdefault("confirmation", None)
            bucket["representative_crash"] = crash_ids.get(bucket["representative_crash"])
            self._add_bucket(bucket)
        for time, key, runs in source.execute("SELECT time, bucket_key, runs FROM discoveries"):
            if key not in self.discoveries or time < self.discoveries[key][0]:
                self.discoveries[key] = (time, runs)
        for row in source.execute("SELECT * FROM merges"):
            self.merges.setdefault(row["source_key"], tuple(row))
        self._add_counts(source, db)
        self._add_campaign(source)

    def _copy_crashes(self, source: sqlite3.Connection, db: sqlite3.Connection) -> dict[int, int]:
        """Copy every kept crash row; return the new id of each old one."""
        ids: dict[int, int] = {}
        rows = source.execute("SELECT * FROM crashes ORDER BY id").fetchall()
        for row in rows:
            new = db.execute(
                "INSERT INTO crashes (bucket_key, time, scenario, evidence, outcome) "
                "VALUES (?, ?, ?, ?, ?)",
                (row["bucket_key"], row["time"], row["scenario"], row["evidence"], row["outcome"]),
            ).lastrowid
            assert new is not None
            ids[row["id"]] = new
        return ids

    def _add_bucket(self, new: dict[str, Any]) -> None:
        old = self.buckets.get(new["key"])
        if old is None:
            self.buckets[new["key"]] = new
            return
        old["count"] += new["count"]
        old["first_seen"] = min(old["first_seen"], new["first_seen"])
        old["last_seen"] = max(old["last_seen"], new["last_seen"])
        if status_from_label(new["status"]) > status_from_label(old["status"]):
            old["status"] = new["status"]
        if new["contract"] == IN_CONTRACT and old["contract"] != IN_CONTRACT:
            old["contract"], old["contract_reason"] = new["contract"], new["contract_reason"]
        if tuple(json.loads(new["smallest_size"])) < tuple(json.loads(old["smallest_size"])):
            for column in ("smallest_scenario", "smallest_size", "representative_crash"):
                old[column] = new[column]
        for column in FOLLOW_UP_COLUMNS:
            if old.get(column) is None:
                old[column] = new.get(column)

    def _add_counts(self, source: sqlite3.Connection, db: sqlite3.Connection) -> None:
        db.executemany(
            "INSERT INTO run_counts VALUES (?, ?, ?, ?) ON CONFLICT (status, family, subject) "
            "DO UPDATE SET count = count + excluded.count",
            [tuple(row) for row in source.execute("SELECT * FROM run_counts")],
        )
        db.executemany(
            "INSERT INTO coverage VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (module, name) DO "
            "UPDATE SET reachable = max(reachable, excluded.reachable), "
            "exercised = max(exercised, excluded.exercised), "
            "reason = CASE WHEN reason = '' THEN excluded.reason ELSE reason END",
            [tuple(row) for row in source.execute("SELECT * FROM coverage")],
        )
        weights = source.execute("SELECT weights, updated_at FROM weights").fetchone()
        if weights is not None and self.weights is None:
            self.weights = (weights["weights"], weights["updated_at"])

    def _add_campaign(self, source: sqlite3.Connection) -> None:
        row = source.execute("SELECT * FROM campaign").fetchone()
        seen = self.campaign
        seen["started_at"] = min(seen.get("started_at", row["started_at"]), row["started_at"])
        seen["updated_at"] = max(seen.get("updated_at", row["updated_at"]), row["updated_at"])
        seen["duration_s"] = seen.get("duration_s", 0.0) + row["duration_s"]
        seen["runs"] = seen.get("runs", 0) + row["runs"]

    def write(self, db: sqlite3.Connection) -> None:
        for bucket in self.buckets.values():
            columns = ", ".join(bucket)
            marks = ", ".join("?" for _ in bucket)
            db.execute(f"INSERT INTO buckets ({columns}) VALUES ({marks})", tuple(bucket.values()))
        db.executemany(
            "INSERT INTO discoveries VALUES (?, ?, ?)",
            [(time, key, runs) for key, (time, runs) in self.discoveries.items()],
        )
        seen = self.campaign
        db.execute(
            "UPDATE campaign SET started_at = ?, updated_at = ?, duration_s = ?, runs = ?, "
            "status = 'merged'",
            (seen["started_at"], seen["updated_at"], seen["duration_s"], seen["runs"]),
        )
        if self.weights is not None:
            db.execute("INSERT INTO weights VALUES (1, ?, ?)", self.weights)
        self._replay_merges(db)

    def _replay_merges(self, db: sqlite3.Connection) -> None:
        """Keep each campaign's merge history; fold buckets another campaign folded."""
        for row in self.merges.values():
            db.execute("INSERT OR IGNORE INTO merges VALUES (?, ?, ?, ?, ?, ?)", row)
        for source, (_, target, *_rest, reason, time) in self.merges.items():
            if source not in self.buckets:
                continue
            into = _resolve_past(db, target, source)
            if into in self.buckets and into != source:
                db.execute("DELETE FROM merges WHERE source_key = ?", (source,))
                merge_table.merge(db, source, into, reason, time)
                del self.buckets[source]

    def summary(self, db: sqlite3.Connection, campaigns: int) -> MergeSummary:
        crashes = db.execute("SELECT COUNT(*) FROM crashes").fetchone()[0]
        return MergeSummary(campaigns, int(self.campaign["runs"]), len(self.buckets), crashes)


def _resolve_past(db: sqlite3.Connection, target: str, source: str) -> str:
    """Where ``target`` lives now (following merges), never back to ``source``."""
    into = merge_table.resolve(db, target)
    return target if into == source else into
