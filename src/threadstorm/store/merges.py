"""Bucket merges: when follow-up learns that two buckets crash at one native site, they merge.

A bucket signed without native frames (CPython 3.13 prints no C stack) names the crash by the
operation or Python frames that reached it; gdb in follow-up later names the C function.  Buckets
with one site are one bug: the source bucket's crashes move to the target, its counts add up, the
smaller scenario and the stronger status win, and the source row goes.  The ``merges`` table keeps
the history (which signature went where, why, when), so a report can say what was folded, and a
later finding with the source's signature is filed straight into the target.

Stores written before merges existed have no ``merges`` table: it is made on the first merge,
and reads treat its absence as "no merges".
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from threadstorm.store.records import IN_CONTRACT, status_from_label

MERGES_TABLE = """
CREATE TABLE IF NOT EXISTS merges (
    source_key TEXT PRIMARY KEY,
    target_key TEXT NOT NULL,
    signature TEXT NOT NULL,               -- JSON: the source bucket's Signature.to_json()
    count INTEGER NOT NULL,                -- findings the source bucket held
    reason TEXT NOT NULL,                  -- e.g. "native site: list_repr_impl"
    time REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Merge:
    """One bucket folded into another."""

    source_key: str
    target_key: str
    signature: dict[str, object]
    count: int
    reason: str
    time: float


def has_merges_table(db: sqlite3.Connection) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'merges'")
    return row.fetchone() is not None


def resolve(db: sqlite3.Connection, key: str) -> str:
    """The bucket a key now lives in: itself, or where it was merged (following chains)."""
    if not has_merges_table(db):
        return key
    seen = {key}
    while True:
        row = db.execute("SELECT target_key FROM merges WHERE source_key = ?", (key,)).fetchone()
        if row is None or row[0] in seen:
            return key
        key = row[0]
        seen.add(key)


def merge(db: sqlite3.Connection, source: str, target: str, reason: str, now: float) -> None:
    """Fold bucket ``source`` into ``target`` inside the caller's transaction."""
    db.execute(MERGES_TABLE)
    columns = "key, signature, status, contract, contract_reason, count, first_seen, last_seen, "
    columns += "smallest_size, smallest_scenario, representative_crash"
    rows = {
        row["key"]: row
        for row in db.execute(
            f"SELECT {columns} FROM buckets WHERE key IN (?, ?)", (source, target)
        ).fetchall()
    }
    if source == target or source not in rows or target not in rows:
        raise KeyError(f"cannot merge bucket {source} into {target}")
    old, new = rows[source], rows[target]
    db.execute("UPDATE crashes SET bucket_key = ? WHERE bucket_key = ?", (target, source))
    db.execute(
        "UPDATE buckets SET count = count + ?, first_seen = min(first_seen, ?), "
        "last_seen = max(last_seen, ?) WHERE key = ?",
        (old["count"], old["first_seen"], old["last_seen"], target),
    )
    _take_stronger(db, old, new, target)
    db.execute("DELETE FROM discoveries WHERE bucket_key = ?", (source,))
    db.execute("DELETE FROM buckets WHERE key = ?", (source,))
    db.execute(
        "INSERT OR REPLACE INTO merges VALUES (?, ?, ?, ?, ?, ?)",
        (source, target, old["signature"], old["count"], reason, now),
    )


def _take_stronger(db: sqlite3.Connection, old: sqlite3.Row, new: sqlite3.Row, target: str) -> None:
    """The target keeps the smaller scenario, the stronger status, in-contract if either is."""
    if status_from_label(old["status"]) > status_from_label(new["status"]):
        db.execute("UPDATE buckets SET status = ? WHERE key = ?", (old["status"], target))
    if old["contract"] == IN_CONTRACT and new["contract"] != IN_CONTRACT:
        db.execute(
            "UPDATE buckets SET contract = ?, contract_reason = ? WHERE key = ?",
            (old["contract"], old["contract_reason"], target),
        )
    if tuple(json.loads(old["smallest_size"])) < tuple(json.loads(new["smallest_size"])):
        db.execute(
            "UPDATE buckets SET smallest_scenario = ?, smallest_size = ?, "
            "representative_crash = ? WHERE key = ?",
            (old["smallest_scenario"], old["smallest_size"], old["representative_crash"], target),
        )


def merges(db: sqlite3.Connection) -> list[Merge]:
    """Every merge, oldest first."""
    if not has_merges_table(db):
        return []
    rows = db.execute("SELECT * FROM merges ORDER BY time, source_key").fetchall()
    return [
        Merge(
            source_key=row["source_key"],
            target_key=row["target_key"],
            signature=json.loads(row["signature"]),
            count=row["count"],
            reason=row["reason"],
            time=row["time"],
        )
        for row in rows
    ]
