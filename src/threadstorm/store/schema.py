"""The store's file: its schema, how it is made whole or not at all, and how it is opened.

``SCHEMA_VERSION`` lives in ``PRAGMA user_version``; bump it with every change to ``SCHEMA``.  A
new store is built under a temporary name and renamed into place, so a folder never holds a
half-made store.  Opening checks the version and turns every way of not being a store into one
``UsageError`` line that says what to do.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import urllib.parse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from threadstorm.errors import UsageError

SCHEMA_VERSION = 3
# How to bring a store of each older version up to the next one (done when opened for writing;
# a read-only open of an older store reads it as it is, missing columns read as empty).
UPGRADES = {
    1: "ALTER TABLE buckets ADD COLUMN confirmation TEXT;",
    2: "ALTER TABLE buckets ADD COLUMN repro_others TEXT;",
}
FILENAME = "threadstorm.sqlite"
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE campaign (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config TEXT NOT NULL,                  -- JSON: options and the target's facts
    started_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    duration_s REAL NOT NULL DEFAULT 0,
    runs INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE run_counts (
    status TEXT NOT NULL,
    family TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',      -- the shared object's type, '' when not told
    count INTEGER NOT NULL,
    PRIMARY KEY (status, family, subject)
) WITHOUT ROWID;
CREATE TABLE buckets (
    key TEXT PRIMARY KEY,
    signature TEXT NOT NULL,               -- JSON: Signature.to_json()
    status TEXT NOT NULL,                  -- crashed, hung or sanitizer (the strongest seen)
    contract TEXT NOT NULL CHECK (contract IN ('in-contract', 'outside-contract')),
    contract_reason TEXT NOT NULL DEFAULT '',
    count INTEGER NOT NULL,
    first_seen REAL NOT NULL,
    last_seen REAL NOT NULL,
    smallest_scenario TEXT NOT NULL,       -- JSON scenario
    smallest_size TEXT NOT NULL,           -- JSON list: the scenario's sort key
    representative_crash INTEGER,          -- crashes.id of the smallest scenario's crash
    repro_crashes INTEGER,
    repro_runs INTEGER,
    median_time_to_crash_s REAL,
    repro_others TEXT,                     -- JSON {bucket key or outcome: runs}
    minimised_scenario TEXT,
    minimised_before_size TEXT,
    minimised_after_size TEXT,
    minimised_before_rate TEXT,            -- JSON {"crashes": k, "runs": n}
    minimised_after_rate TEXT,
    backtrace TEXT,
    variants TEXT,                         -- JSON list of Variant.to_json()
    repro_script TEXT,
    confirmation TEXT                      -- JSON: a race replayed on the plain debug build
);
CREATE TABLE crashes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    bucket_key TEXT NOT NULL REFERENCES buckets(key) DEFERRABLE INITIALLY DEFERRED,
    time REAL NOT NULL,
    scenario TEXT NOT NULL,
    evidence TEXT NOT NULL,                -- JSON: Evidence.to_json()
    outcome TEXT NOT NULL                  -- JSON: Outcome.to_json()
);
CREATE INDEX crashes_by_bucket ON crashes (bucket_key);
CREATE TABLE discoveries (
    time REAL NOT NULL,
    bucket_key TEXT NOT NULL REFERENCES buckets(key) DEFERRABLE INITIALLY DEFERRED,
    runs INTEGER NOT NULL                  -- campaign runs when the bucket appeared
);
CREATE TABLE coverage (
    module TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    reachable INTEGER NOT NULL,
    exercised INTEGER NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (module, name)
) WITHOUT ROWID;
CREATE TABLE merges (
    source_key TEXT PRIMARY KEY,           -- a bucket folded into another (its row is gone)
    target_key TEXT NOT NULL,
    signature TEXT NOT NULL,               -- JSON: the source bucket's Signature.to_json()
    count INTEGER NOT NULL,                -- findings the source bucket held
    reason TEXT NOT NULL,                  -- e.g. "native site: list_repr_impl"
    time REAL NOT NULL
);
CREATE TABLE weights (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    weights TEXT NOT NULL,
    updated_at REAL NOT NULL
);
"""


def store_path(folder: str | os.PathLike[str]) -> Path:
    """Where the store of a campaign folder lives."""
    return Path(folder) / FILENAME


def is_store(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` holds a campaign store (without opening it)."""
    return store_path(folder).is_file()


def build_file(folder: Path, config: Mapping[str, Any], now: float) -> None:
    """Write a new store under a temporary name, then rename it into place."""
    try:
        handle, temporary = tempfile.mkstemp(prefix=".threadstorm-", suffix=".sqlite", dir=folder)
    except OSError as error:
        raise UsageError(
            f"cannot write in {folder}: {error.strerror}; choose a folder you can write to"
        ) from None
    os.close(handle)
    try:
        connection = sqlite3.connect(temporary, isolation_level=None)
        try:
            connection.executescript(f"BEGIN; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION};")
            connection.execute(
                "INSERT INTO campaign (id, config, started_at, updated_at) VALUES (1, ?, ?, ?)",
                (dump(dict(config)), now, now),
            )
            connection.execute("COMMIT")
        finally:
            connection.close()
        os.replace(temporary, store_path(folder))
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    mode = "ro" if readonly else "rw"
    uri = f"file:{urllib.parse.quote(str(path.absolute()))}?mode={mode}"
    try:
        connection = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_S
        )
        connection.row_factory = sqlite3.Row
        if not readonly:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
    except sqlite3.DatabaseError as error:
        what = "read" if readonly else "write"
        raise UsageError(
            f"cannot {what} the campaign store {path}: {error}; check the folder's permissions"
        ) from None
    return connection


def check_schema(connection: sqlite3.Connection, path: Path, *, readonly: bool = True) -> None:
    """Check ``connection`` holds a store this version reads; upgrade an older one if writable."""
    try:
        version = connection.execute("PRAGMA user_version").fetchone()[0]
        if (
            0 < version < SCHEMA_VERSION
            and connection.execute("SELECT 1 FROM sqlite_master WHERE name = 'campaign'").fetchone()
        ):
            if readonly:
                return
            while version < SCHEMA_VERSION:
                connection.executescript(
                    f"BEGIN; {UPGRADES[version]} PRAGMA user_version = {version + 1}; COMMIT;"
                )
                version += 1
        if version > SCHEMA_VERSION:
            raise UsageError(
                f"{path} was written by a newer threadstorm (store schema {version}, this one "
                f"reads {SCHEMA_VERSION}); upgrade threadstorm to read it"
            )
        if version != SCHEMA_VERSION or not connection.execute("SELECT 1 FROM campaign").fetchone():
            raise UsageError(f"{path} is not a threadstorm campaign store (schema {version})")
    except sqlite3.DatabaseError as error:
        raise UsageError(f"{path} is not a threadstorm campaign store ({error})") from None


def dump(value: object) -> str:
    """Compact, stable JSON for a column."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
