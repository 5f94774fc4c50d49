"""The campaign store: one SQLite file per campaign folder, written as results arrive.

``DIR/threadstorm.sqlite`` holds the campaign's configuration (with the target's facts), run
counters, every finding with its raw evidence, the buckets and everything later learned about
them (reproduction rate, minimised scenario, backtrace, sibling variants, repro script), the
discoveries timeline, surface coverage and the generator's weights.

Durability.  The file is in WAL mode with ``synchronous=FULL``, and every finding is committed
in its own transaction before ``record_finding`` returns, so a campaign killed with SIGKILL (or
a machine that loses power) loses no finding already observed.  Run counters are the one thing
batched: ``record_run`` keeps them in memory and writes them at most every ``flush_interval_s``
seconds, and with every finding; a kill loses at most that last second of counting.

Concurrency.  One writer (the campaign serialises its writes; a lock makes the handle safe to
share between threads) and any number of readers in other processes, which WAL lets read while
the writer writes.  Another writing process (``minimise`` beside a live campaign) waits for the
lock rather than failing.

Schema changes bump ``SCHEMA_VERSION`` (kept in ``PRAGMA user_version``); a file written by a
newer threadstorm is refused with a message that says so.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from threadstorm.bucket.identity import Signature
from threadstorm.errors import UsageError
from threadstorm.scenario import codec
from threadstorm.scenario.model import Scenario
from threadstorm.scenario.simplicity import sort_key
from threadstorm.store import merges as merge_table
from threadstorm.store.records import (
    CONTRACT_LABELS,
    IN_CONTRACT,
    BucketRecord,
    CampaignRecord,
    Confirmation,
    CoverageEntry,
    CrashRecord,
    Discovery,
    Finding,
    Minimisation,
    Rate,
    Reproduction,
    RunCount,
    Variant,
    status_from_label,
)
from threadstorm.store.schema import (
    FILENAME,
    SCHEMA_VERSION,
    build_file,
    check_schema,
    connect,
    dump,
    is_store,
    store_path,
)
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

__all__ = ["FILENAME", "SCHEMA_VERSION", "Store", "is_store", "store_path"]

KEPT_CRASHES = 32  # findings per bucket whose evidence is kept (smaller scenarios always are)
# Every column, read by name: a store of an older schema opened read-only lacks the newer ones
# (``_column`` reads those as None).
BUCKET_COLUMNS = "*"


class Store:
    """A campaign's store.  Make one with ``Store.create`` or ``Store.open``; ``close`` it."""

    def __init__(
        self,
        folder: Path,
        connection: sqlite3.Connection,
        *,
        readonly: bool,
        clock: Callable[[], float],
        flush_interval_s: float,
    ) -> None:
        self.folder = folder
        self._db = connection
        self._readonly = readonly
        self._clock = clock
        self._flush_interval_s = flush_interval_s
        self._lock = threading.RLock()
        self._pending: dict[tuple[str, str, str], int] = {}
        self._last_flush = clock()
        self._closed = False

    # ------------------------------------------------------------------ opening and closing

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike[str],
        config: Mapping[str, Any],
        *,
        clock: Callable[[], float] = time.time,
        flush_interval_s: float = 1.0,
    ) -> Store:
        """Make ``folder`` (if needed) and a new store in it; refuse a folder that has one.

        The file appears whole or not at all: it is built under a temporary name and renamed.
        """
        path = Path(folder)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UsageError(
                f"cannot create campaign folder {path}: {error.strerror}; "
                "choose a folder you can write to"
            ) from None
        if store_path(path).exists():
            raise UsageError(
                f"{path} already holds a campaign; continue it with "
                f"`threadstorm fuzz --resume {path}` or choose another --out folder"
            )
        build_file(path, config, clock())
        return cls.open(path, clock=clock, flush_interval_s=flush_interval_s)

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        readonly: bool = False,
        clock: Callable[[], float] = time.time,
        flush_interval_s: float = 1.0,
    ) -> Store:
        """Open the store of an existing campaign folder; ``UsageError`` when there is none."""
        path = Path(folder)
        if not is_store(path):
            what = "does not exist" if not path.exists() else "holds no threadstorm campaign"
            raise UsageError(
                f"{path} {what} (no {FILENAME}); start a campaign there with "
                f"`threadstorm fuzz --python PATH --out {path}`"
            )
        connection = connect(store_path(path), readonly=readonly)
        try:
            check_schema(connection, store_path(path), readonly=readonly)
        except BaseException:
            connection.close()
            raise
        return cls(
            path, connection, readonly=readonly, clock=clock, flush_interval_s=flush_interval_s
        )

    def close(self) -> None:
        """Write pending run counters and close the file.  Safe to call twice."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._pending:
                    self.flush()
            finally:
                self._closed = True
                self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return store_path(self.folder)

    # ------------------------------------------------------------------ campaign

    def update_campaign(
        self,
        *,
        status: str | None = None,
        duration_s: float | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Set the campaign's status (``running``, ``finished``...), duration or whole config."""
        with self._write() as db:
            if status is not None:
                db.execute("UPDATE campaign SET status = ?", (status,))
            if duration_s is not None:
                db.execute("UPDATE campaign SET duration_s = ?", (float(duration_s),))
            if config is not None:
                db.execute("UPDATE campaign SET config = ?", (dump(dict(config)),))
            db.execute("UPDATE campaign SET updated_at = ?", (self._clock(),))

    def campaign(self) -> CampaignRecord:
        """The campaign row (run counters as last flushed)."""
        row = self._read_one("SELECT * FROM campaign WHERE id = 1")
        assert row is not None, "checked when the store was opened"
        return CampaignRecord(
            config=json.loads(row["config"]),
            started_at=row["started_at"],
            updated_at=row["updated_at"],
            duration_s=row["duration_s"],
            runs=row["runs"],
            status=row["status"],
        )

    # ------------------------------------------------------------------ runs

    def record_run(self, status: Status, family: str, subject: str = "") -> None:
        """Count one run (every run, findings included).  Batched: see ``flush``."""
        with self._lock:
            self._require_writable()
            slot = (status.label, family, subject)
            self._pending[slot] = self._pending.get(slot, 0) + 1
            due = self._clock() - self._last_flush >= self._flush_interval_s
        if due:
            self.flush()

    def integrity_problems(self) -> list[str]:
        """What ``PRAGMA integrity_check`` finds wrong with the file; empty when it is sound."""
        rows = self._read("PRAGMA integrity_check")
        problems = [str(row[0]) for row in rows]
        return [] if problems == ["ok"] else problems

    def flush(self) -> None:
        """Write the run counters kept in memory."""
        with self._lock:  # written and forgotten under one hold, so never counted twice
            with self._write() as db:
                self._flush_runs(db)
            self._pending_written()

    def run_counts(self) -> list[RunCount]:
        """Run counters per status, family and subject (as last flushed)."""
        rows = self._read("SELECT * FROM run_counts ORDER BY family, subject, status")
        return [
            RunCount(status_from_label(row["status"]), row["family"], row["subject"], row["count"])
            for row in rows
        ]

    # ------------------------------------------------------------------ findings and buckets

    def record_finding(
        self,
        signature: Signature,
        status: Status,
        *,
        contract: str,
        scenario: Scenario,
        evidence: Evidence,
        outcome: Outcome,
        size_key: Sequence[int] | None = None,
        contract_reason: str = "",
    ) -> Finding:
        """Keep one finding and file it in its bucket; committed before this returns.

        A new signature makes a new bucket (and a discovery).  An existing bucket counts it,
        keeps the smaller scenario (by ``size_key``, the scenario's sort key by default), takes
        the stronger status, and becomes in-contract if this finding is.
        """
        if not status.is_finding:
            raise ValueError(f"{status.label} is not a finding; only hangs and crashes are kept")
        if contract not in CONTRACT_LABELS:
            raise ValueError(f"contract must be one of {CONTRACT_LABELS}, got {contract!r}")
        size = list(size_key) if size_key is not None else list(sort_key(scenario))
        now = self._clock()
        key = signature.key
        facts = _Facts(key, signature, status, contract, contract_reason, scenario, size)
        with self._lock:
            with self._write() as db:
                self._flush_runs(db)
                facts = facts._replace(key=merge_table.resolve(db, key))  # merged: filed there
                fresh = _file_finding(db, facts, evidence, outcome, now)
            self._pending_written()
        return Finding(facts.key, fresh)

    def has_bucket(self, key: str) -> bool:
        """Whether bucket ``key`` exists (or was merged into one that does)."""
        with self._lock:
            key = merge_table.resolve(self._db, key)
        return self._read_one("SELECT 1 FROM buckets WHERE key = ?", (key,)) is not None

    def merge_buckets(self, source: str, target: str, reason: str) -> None:
        """Fold bucket ``source`` into ``target`` and keep the merge in the history."""
        with self._lock, self._write() as db:
            merge_table.merge(db, source, target, reason, self._clock())

    def bucket_keys(self, key: str) -> frozenset[str]:
        """``key`` and the keys of every bucket merged into it: one bug's signatures.

        A rerun of a merged bucket's scenario may end under a source bucket's signature (on
        3.13 the same crash is named by its Python frames, which vary); it is the same bug.
        """
        with self._lock:
            sources = [merge.source_key for merge in merge_table.merges(self._db)]
            return frozenset(
                [key, *(s for s in sources if merge_table.resolve(self._db, s) == key)]
            )

    def merges(self) -> list[merge_table.Merge]:
        """Every bucket merge, oldest first."""
        with self._lock:
            return merge_table.merges(self._db)

    def buckets(self) -> list[BucketRecord]:
        """Every bucket: in-contract first, then the most frequent, then the oldest."""
        rows = self._read(
            f"SELECT {BUCKET_COLUMNS} FROM buckets "
            "ORDER BY contract = 'in-contract' DESC, count DESC, first_seen, key"
        )
        return [_bucket_from_row(row) for row in rows]

    def bucket(self, key_or_prefix: str) -> BucketRecord:
        """The bucket with this key, or the only one whose key starts with it."""
        prefix = key_or_prefix.strip().lower()
        rows = self._read(
            f"SELECT {BUCKET_COLUMNS} FROM buckets WHERE substr(key, 1, ?) = ? ORDER BY key",
            (len(prefix), prefix),
        )
        exact = [row for row in rows if row["key"] == prefix]
        if prefix and (exact or len(rows) == 1):
            return _bucket_from_row((exact or rows)[0])
        if not rows or not prefix:
            raise UsageError(
                f"no bucket {key_or_prefix!r} in {self.folder}; list the bucket ids with "
                f"`threadstorm report {self.folder}`"
            )
        shown = ", ".join(row["key"] for row in rows[:5])
        raise UsageError(
            f"bucket id {key_or_prefix!r} matches {len(rows)} buckets ({shown}); "
            "give more characters of the id"
        )

    def crashes(self, bucket_key: str) -> list[CrashRecord]:
        """Every finding kept for one bucket, oldest first."""
        rows = self._read("SELECT * FROM crashes WHERE bucket_key = ? ORDER BY id", (bucket_key,))
        return [_crash_from_row(row) for row in rows]

    def crash(self, crash_id: int) -> CrashRecord:
        """One finding by id (``BucketRecord.representative_crash``); KeyError if unknown."""
        row = self._read_one("SELECT * FROM crashes WHERE id = ?", (crash_id,))
        if row is None:
            raise KeyError(crash_id)
        return _crash_from_row(row)

    def discoveries(self) -> list[Discovery]:
        """When each bucket appeared, in order."""
        rows = self._read("SELECT * FROM discoveries ORDER BY time, rowid")
        return [Discovery(row["time"], row["bucket_key"], row["runs"]) for row in rows]

    # ------------------------------------------------------------------ what was learned later

    def update_bucket_reproduction(self, key: str, rate: Rate) -> None:
        """Record a measured reproduction rate: ``rate.crashes`` of ``rate.runs`` reruns ended in
        the bucket, and how the others ended (``rate.others``: other bucket keys, outcomes)."""
        self._update_bucket(
            key,
            repro_crashes=rate.crashes,
            repro_runs=rate.runs,
            median_time_to_crash_s=rate.median_time_to_crash_s,
            repro_others=dump(rate.others),
        )

    def set_minimised(
        self,
        key: str,
        scenario: Scenario,
        *,
        before_size: Sequence[int],
        after_size: Sequence[int],
        before_rate: Rate | None,
        after_rate: Rate | None,
    ) -> None:
        """Record the minimiser's result for a bucket."""
        self._update_bucket(
            key,
            minimised_scenario=codec.dumps(scenario),
            minimised_before_size=dump(list(before_size)),
            minimised_after_size=dump(list(after_size)),
            minimised_before_rate=None if before_rate is None else dump(before_rate.to_json()),
            minimised_after_rate=None if after_rate is None else dump(after_rate.to_json()),
        )

    def set_backtrace(self, key: str, text: str) -> None:
        """Record the symbolised native backtrace of the bucket's crash."""
        self._update_bucket(key, backtrace=text)

    def set_variants(self, key: str, variants: Sequence[Variant]) -> None:
        """Record what variant search found for the bucket's sibling types (replaces earlier)."""
        self._update_bucket(key, variants=dump([variant.to_json() for variant in variants]))

    def set_confirmation(self, key: str, confirmation: Confirmation) -> None:
        """Record what replaying the bucket's scenario on the plain debug build gave."""
        self._update_bucket(key, confirmation=dump(confirmation.to_json()))

    def set_repro_script(self, key: str, text: str) -> None:
        """Record the bucket's standalone repro script."""
        self._update_bucket(key, repro_script=text)

    # ------------------------------------------------------------------ coverage and weights

    def record_coverage(self, entries: Iterable[CoverageEntry]) -> None:
        """Merge coverage facts: reachable and exercised only ever turn on; a reason is kept."""
        rows = [
            (e.module, e.name, e.kind, int(e.reachable), int(e.exercised), e.reason)
            for e in entries
        ]
        with self._write() as db:
            db.executemany(
                "INSERT INTO coverage VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (module, name) DO "
                "UPDATE SET kind = excluded.kind, "
                "reachable = max(reachable, excluded.reachable), "
                "exercised = max(exercised, excluded.exercised), "
                "reason = CASE WHEN excluded.reason = '' THEN reason ELSE excluded.reason END",
                rows,
            )

    def coverage(self) -> list[CoverageEntry]:
        """Coverage facts, by module and name."""
        rows = self._read("SELECT * FROM coverage ORDER BY module, name")
        return [
            CoverageEntry(
                row["module"],
                row["name"],
                row["kind"],
                bool(row["reachable"]),
                bool(row["exercised"]),
                row["reason"],
            )
            for row in rows
        ]

    def set_weights(self, weights: Mapping[str, Any]) -> None:
        """Record the generator's current weights (replaces earlier ones)."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO weights VALUES (1, ?, ?)",
                (dump(dict(weights)), self._clock()),
            )

    def weights(self) -> dict[str, Any]:
        """The generator's last recorded weights ({} before any)."""
        row = self._read_one("SELECT weights FROM weights WHERE id = 1")
        return {} if row is None else dict(json.loads(row["weights"]))

    # ------------------------------------------------------------------ plumbing

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction, committed (durably) on leaving, rolled back on error."""
        with self._lock:
            self._require_writable()
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _flush_runs(self, db: sqlite3.Connection) -> None:
        now = self._clock()
        db.executemany(
            "INSERT INTO run_counts VALUES (?, ?, ?, ?) ON CONFLICT (status, family, subject) "
            "DO UPDATE SET count = count + excluded.count",
            [(*slot, count) for slot, count in self._pending.items()],
        )
        db.execute(
            "UPDATE campaign SET runs = runs + ?, updated_at = ?",
            (sum(self._pending.values()), now),
        )

    def _pending_written(self) -> None:
        with self._lock:
            self._pending.clear()
            self._last_flush = self._clock()

    def _update_bucket(self, key: str, **columns: object) -> None:
        assignments = ", ".join(f"{name} = ?" for name in columns)
        with self._write() as db:
            cursor = db.execute(
                f"UPDATE buckets SET {assignments} WHERE key = ?", (*columns.values(), key)
            )
            if cursor.rowcount != 1:
                raise UsageError(
                    f"no bucket {key!r} in {self.folder}; list the bucket ids with "
                    f"`threadstorm report {self.folder}`"
                )

    def _read(self, sql: str, parameters: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, parameters).fetchall()

    def _read_one(self, sql: str, parameters: Sequence[object] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, parameters).fetchone()
            return row

    def _require_writable(self) -> None:
        if self._closed:
            raise RuntimeError("the store is closed")
        if self._readonly:
            raise RuntimeError(f"the store of {self.folder} was opened read-only")


# ---------------------------------------------------------------------- rows


class _Facts(NamedTuple):
    """What one finding says about its bucket."""

    key: str
    signature: Signature
    status: Status
    contract: str
    reason: str
    scenario: Scenario
    size: list[int]


def _file_finding(
    db: sqlite3.Connection, facts: _Facts, evidence: Evidence, outcome: Outcome, now: float
) -> bool:
    """Keep the finding's evidence and file it in its bucket; True when the bucket is new.

    A signature whose bucket was merged into another is filed in that one.  A bucket keeps the
    evidence of its first ``KEPT_CRASHES`` findings and of every finding smaller than its
    smallest; later ones are only counted (a sanitizer campaign files a race many times, each
    with a run's whole stderr, and the store would grow without bound).
    """
    row = db.execute(
        "SELECT status, contract, smallest_size FROM buckets WHERE key = ?", (facts.key,)
    ).fetchone()
    keep = (
        row is None
        or tuple(facts.size) < tuple(json.loads(row["smallest_size"]))
        or db.execute("SELECT COUNT(*) FROM crashes WHERE bucket_key = ?", (facts.key,)).fetchone()[
            0
        ]
        < KEPT_CRASHES
    )
    crash = None
    if keep:
        crash = db.execute(
            "INSERT INTO crashes (bucket_key, time, scenario, evidence, outcome) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                facts.key,
                now,
                codec.dumps(facts.scenario),
                dump(evidence.to_json()),
                dump(outcome.to_json()),
            ),
        ).lastrowid
    if row is None:
        _insert_bucket(db, facts, crash, now)
    else:
        _merge_into_bucket(db, row, facts, crash, now)
    return row is None


def _insert_bucket(db: sqlite3.Connection, facts: _Facts, crash: int | None, now: float) -> None:
    db.execute(
        "INSERT INTO buckets (key, signature, status, contract, contract_reason, count, "
        "first_seen, last_seen, smallest_scenario, smallest_size, representative_crash) "
        "VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?)",
        (
            facts.key,
            dump(facts.signature.to_json()),
            facts.status.label,
            facts.contract,
            facts.reason,
            now,
            now,
            codec.dumps(facts.scenario),
            dump(facts.size),
            crash,
        ),
    )
    runs = db.execute("SELECT runs FROM campaign").fetchone()[0]
    db.execute("INSERT INTO discoveries VALUES (?, ?, ?)", (now, facts.key, runs))


def _merge_into_bucket(
    db: sqlite3.Connection, row: sqlite3.Row, facts: _Facts, crash: int | None, now: float
) -> None:
    key = facts.key
    db.execute("UPDATE buckets SET count = count + 1, last_seen = ? WHERE key = ?", (now, key))
    if facts.status > status_from_label(row["status"]):
        db.execute("UPDATE buckets SET status = ? WHERE key = ?", (facts.status.label, key))
    if facts.contract == IN_CONTRACT and row["contract"] != IN_CONTRACT:
        db.execute(
            "UPDATE buckets SET contract = ?, contract_reason = ? WHERE key = ?",
            (facts.contract, facts.reason, key),
        )
    if tuple(facts.size) < tuple(json.loads(row["smallest_size"])):
        db.execute(
            "UPDATE buckets SET smallest_scenario = ?, smallest_size = ?, "
            "representative_crash = ? WHERE key = ?",
            (codec.dumps(facts.scenario), dump(facts.size), crash, key),
        )


def _bucket_from_row(row: sqlite3.Row) -> BucketRecord:
    reproduction = None
    if row["repro_runs"] is not None:
        others = _load(_column(row, "repro_others")) or {}
        rate = Rate(row["repro_crashes"], row["repro_runs"], others=dict(others))
        reproduction = Reproduction(rate, row["median_time_to_crash_s"])
    minimisation = None
    if row["minimised_scenario"] is not None:
        minimisation = Minimisation(
            scenario=codec.loads(row["minimised_scenario"]),
            before_size=tuple(json.loads(row["minimised_before_size"])),
            after_size=tuple(json.loads(row["minimised_after_size"])),
            before_rate=Rate.from_json(_load(row["minimised_before_rate"])),
            after_rate=Rate.from_json(_load(row["minimised_after_rate"])),
        )
    variants = tuple(Variant.from_json(doc) for doc in _load(row["variants"]) or ())
    return BucketRecord(
        key=row["key"],
        signature=Signature.from_json(json.loads(row["signature"])),
        status=status_from_label(row["status"]),
        contract=row["contract"],
        contract_reason=row["contract_reason"],
        count=row["count"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
        smallest_scenario=codec.loads(row["smallest_scenario"]),
        smallest_size=tuple(json.loads(row["smallest_size"])),
        representative_crash=row["representative_crash"],
        reproduction=reproduction,
        minimisation=minimisation,
        backtrace=row["backtrace"],
        variants=variants,
        repro_script=row["repro_script"],
        confirmation=Confirmation.from_json(_load(_column(row, "confirmation"))),
    )


def _column(row: sqlite3.Row, name: str) -> Any:
    """A column an older store (read without upgrading) may not have yet: None there."""
    return row[name] if name in row.keys() else None  # noqa: SIM118 - `in row` tests values


def _crash_from_row(row: sqlite3.Row) -> CrashRecord:
    return CrashRecord(
        id=row["id"],
        bucket_key=row["bucket_key"],
        time=row["time"],
        scenario=codec.loads(row["scenario"]),
        evidence=Evidence.from_json(json.loads(row["evidence"])),
        outcome=json.loads(row["outcome"]),
    )


def _load(text: str | None) -> Any:
    return None if text is None else json.loads(text)
