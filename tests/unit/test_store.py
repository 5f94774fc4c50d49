"""The campaign store: schema, findings and buckets, batching, prefixes, errors."""

from __future__ import annotations

import signal
import sqlite3
import threading
from pathlib import Path

import pytest
from test_report_samples import (
    CONFIG,
    UNION_SIGNATURE,
    Clock,
    classmethod_scenario,
    evidence,
    union_scenario,
)

from threadstorm.bucket.identity import Signature
from threadstorm.errors import UsageError
from threadstorm.scenario.simplicity import sort_key
from threadstorm.store.db import KEPT_CRASHES, Store
from threadstorm.store.records import Confirmation, CoverageEntry, Rate, Variant
from threadstorm.store.schema import FILENAME, SCHEMA_VERSION
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import CrashFacts
from threadstorm.triage.outcome import Outcome, Status

CRASH = Outcome(Status.CRASHED, "SIGSEGV")


def make_store(tmp_path: Path, interval: float = 3600.0) -> tuple[Store, Clock]:
    clock = Clock()
    return Store.create(tmp_path / "c", CONFIG, clock=clock, flush_interval_s=interval), clock


def find(
    store: Store, signature: Signature = UNION_SIGNATURE, **changes: object
) -> tuple[str, bool]:
    parts: dict[str, object] = {
        "status": Status.CRASHED,
        "contract": "in-contract",
        "scenario": union_scenario(),
        "evidence": evidence(signal.SIGSEGV, "Fatal Python error: Segmentation fault\n"),
        "outcome": CRASH,
    }
    parts.update(changes)
    return store.record_finding(signature, **parts)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- files


def test_create_writes_schema_and_campaign(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    with store:
        record = store.campaign()
        assert record.config == CONFIG
        assert (record.started_at, record.status, record.runs) == (clock.now, "running", 0)
    db = sqlite3.connect(tmp_path / "c" / FILENAME)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == [FILENAME]


def test_create_refuses_a_folder_with_a_campaign(tmp_path: Path) -> None:
    make_store(tmp_path)[0].close()
    with pytest.raises(UsageError, match="already holds a campaign; continue it with"):
        Store.create(tmp_path / "c", CONFIG)


def test_create_in_an_unwritable_place_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"cannot create campaign folder .*choose a folder"):
        Store.create(tmp_path / "file" / "c", CONFIG)


@pytest.mark.parametrize("make", ["missing", "empty", "garbage", "foreign", "newer"])
def test_open_refuses_what_is_not_a_store(tmp_path: Path, make: str) -> None:
    folder = tmp_path / "c"
    if make != "missing":
        folder.mkdir()
    if make == "garbage":
        (folder / FILENAME).write_bytes(b"not a database at all, really not" * 10)
    if make in ("foreign", "newer"):
        db = sqlite3.connect(folder / FILENAME)
        db.execute("CREATE TABLE t (x)")
        if make == "newer":
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        db.commit()
        db.close()
    expected = {
        "missing": "does not exist .*threadstorm fuzz --python PATH --out",
        "empty": "holds no threadstorm campaign",
        "garbage": "not a threadstorm campaign store|cannot write the campaign store",
        "foreign": "is not a threadstorm campaign store",
        "newer": "newer threadstorm .*upgrade threadstorm",
    }[make]
    with pytest.raises(UsageError, match=expected):
        Store.open(folder)


def test_readonly_store_reads_and_refuses_writes(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    find(store)
    reader = Store.open(tmp_path / "c", readonly=True)
    assert [bucket.key for bucket in reader.buckets()] == [UNION_SIGNATURE.key]
    with pytest.raises(RuntimeError, match="read-only"):
        reader.record_run(Status.PASSED, "f")
    find(store, Signature("native", ("other",)))
    assert len(reader.buckets()) == 2  # sees the writer's later commits
    reader.close()
    store.close()


# ---------------------------------------------------------------------- findings and buckets


def test_new_then_known_finding(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    assert find(store) == (UNION_SIGNATURE.key, True)
    clock.now += 5
    small = union_scenario(size=2, threads=2)
    assert find(store, scenario=small) == (UNION_SIGNATURE.key, False)
    clock.now += 5
    assert find(store, scenario=union_scenario()) == (UNION_SIGNATURE.key, False)
    bucket = store.bucket(UNION_SIGNATURE.key)
    assert bucket.count == 3
    assert (bucket.first_seen, bucket.last_seen) == (clock.now - 10, clock.now)
    assert bucket.smallest_scenario == small
    assert bucket.smallest_size == sort_key(small)
    crashes = store.crashes(bucket.key)
    assert [crash.id for crash in crashes] == [1, 2, 3]
    assert bucket.representative_crash == 2
    assert store.crash(2).scenario == small
    assert [(d.bucket_key, d.time) for d in store.discoveries()] == [(bucket.key, clock.now - 10)]
    store.close()


def test_bucket_takes_the_strongest_status_and_in_contract_wins(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    find(store, status=Status.HUNG, contract="outside-contract", contract_reason="init: no")
    assert store.bucket(UNION_SIGNATURE.key).status is Status.HUNG
    find(store, status=Status.SANITIZER, contract="outside-contract")
    find(store, status=Status.CRASHED, contract="in-contract", contract_reason="supported")
    bucket = store.bucket(UNION_SIGNATURE.key)
    assert (bucket.status, bucket.contract, bucket.contract_reason) == (
        Status.SANITIZER,
        "in-contract",
        "supported",
    )
    find(store, contract="outside-contract", contract_reason="later")
    assert store.bucket(UNION_SIGNATURE.key).contract == "in-contract"
    store.close()


def test_explicit_size_key_decides_the_smallest(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    find(store, size_key=(1, 1))
    find(store, scenario=classmethod_scenario(), size_key=(1, 2))
    assert store.bucket(UNION_SIGNATURE.key).smallest_scenario == union_scenario()
    store.close()


def test_evidence_round_trips_exactly(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    raw = Evidence(
        wait_status=signal.SIGABRT,
        exit_code=-6,
        timed_out=False,
        duration_s=0.25,
        stderr=b"\xff\xfe binary \x00 and text\n",
        messages=({"event": "setup", "threads": 3},),
        in_flight=(0, None, 2),
        backtrace="#0 union_repr",
    )
    find(store, evidence=raw, outcome=Outcome(Status.CRASHED, "SIGABRT", CrashFacts("SIGABRT")))
    crash = store.crashes(UNION_SIGNATURE.key)[0]
    assert crash.evidence == raw
    assert crash.outcome == {
        "status": "crashed",
        "reason": "SIGABRT",
        "crash": {"kind": "signal", "signal": "SIGABRT"},
    }
    store.close()


def test_record_finding_rejects_non_findings(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    with pytest.raises(ValueError, match="not a finding"):
        find(store, status=Status.RAISED)
    with pytest.raises(ValueError, match="contract must be one of"):
        find(store, contract="maybe")
    assert store.buckets() == []
    store.close()


def test_buckets_are_in_contract_first_then_by_count(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    a, b, c = (Signature("native", (name,)) for name in "abc")
    find(store, a, contract="outside-contract")
    find(store, a, contract="outside-contract")
    find(store, a, contract="outside-contract")
    find(store, b)
    find(store, c)
    find(store, c)
    assert [bucket.key for bucket in store.buckets()] == [c.key, b.key, a.key]
    store.close()


# ---------------------------------------------------------------------- bucket ids


def two_signatures_sharing_a_first_character() -> tuple[Signature, Signature]:
    seen: dict[str, Signature] = {}
    for number in range(17):
        signature = Signature("native", (f"f{number}",))
        if signature.key[0] in seen:
            return seen[signature.key[0]], signature
        seen[signature.key[0]] = signature
    raise AssertionError("pigeonhole")


def test_bucket_by_full_id_or_unique_prefix(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    first, second = two_signatures_sharing_a_first_character()
    find(store, first)
    find(store, second)
    assert store.bucket(first.key).key == first.key
    assert store.bucket(second.key[:8].upper()).key == second.key
    with pytest.raises(UsageError, match=r"matches 2 buckets .*give more characters"):
        store.bucket(first.key[0])
    with pytest.raises(UsageError, match=r"no bucket 'zzz' .*threadstorm report"):
        store.bucket("zzz")
    with pytest.raises(UsageError, match="no bucket ''"):
        store.bucket("")
    store.close()


# ---------------------------------------------------------------------- later facts


def test_later_facts_round_trip(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    key, _ = find(store)
    small = union_scenario(size=2, threads=2)
    store.update_bucket_reproduction(key, Rate(8, 10, (0.42,)))
    store.set_minimised(
        key,
        small,
        before_size=(3, 4, 1, 45, 200),
        after_size=(2, 2, 1, 5, 200),
        before_rate=Rate(6, 10),
        after_rate=None,
    )
    store.set_backtrace(key, "#0 union_repr")
    variants = [Variant("tuple", False, 0, 10), Variant("deque", True, 3, 10, key, "same bug")]
    store.set_variants(key, variants)
    store.set_repro_script(key, "print('hi')\n")
    bucket = store.bucket(key)
    assert bucket.reproduction is not None
    assert (bucket.reproduction.rate, bucket.reproduction.median_time_to_crash_s) == (
        Rate(8, 10),
        0.42,
    )
    assert bucket.minimisation is not None
    assert bucket.minimisation.scenario == small == bucket.best_scenario
    assert bucket.minimisation.before_size == (3, 4, 1, 45, 200)
    assert (bucket.minimisation.before_rate, bucket.minimisation.after_rate) == (Rate(6, 10), None)
    assert (bucket.backtrace, bucket.repro_script) == ("#0 union_repr", "print('hi')\n")
    assert bucket.variants == tuple(variants)
    with pytest.raises(UsageError, match="no bucket 'nope'"):
        store.set_backtrace("nope", "x")
    store.close()


def test_a_bucket_keeps_the_evidence_of_its_first_findings_and_of_smaller_ones(
    tmp_path: Path,
) -> None:
    store, _ = make_store(tmp_path)
    for _ in range(KEPT_CRASHES + 8):
        key, _ = find(store)
    assert store.bucket(key).count == KEPT_CRASHES + 8
    assert len(store.crashes(key)) == KEPT_CRASHES  # the rest are counted, not kept
    small = union_scenario(size=2, threads=2)
    find(store, scenario=small)
    bucket = store.bucket(key)
    assert bucket.smallest_scenario == small
    assert store.crash(bucket.representative_crash).scenario == small
    store.close()


def test_a_confirmation_round_trips(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    key, _ = find(store)
    assert store.bucket(key).confirmation is None
    confirmation = Confirmation("/p/python3.14td", 10, 3, "assertion: x", "abc123")
    store.set_confirmation(key, confirmation)
    assert store.bucket(key).confirmation == confirmation
    assert confirmation.confirmed and "3/10" in confirmation.text
    store.close()


def test_a_store_of_the_previous_schema_is_read_and_upgraded(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    key, _ = find(store)
    store.close()
    path = tmp_path / "c" / FILENAME
    store = Store.open(tmp_path / "c")
    store.update_bucket_reproduction(key, Rate(3, 10, (0.2,)))
    store.close()
    with sqlite3.connect(path) as db:  # as version 1 wrote it: no confirmation, no others
        db.execute("ALTER TABLE buckets DROP COLUMN confirmation")
        db.execute("ALTER TABLE buckets DROP COLUMN repro_others")
        db.execute("PRAGMA user_version = 1")
    with Store.open(tmp_path / "c", readonly=True) as old:
        assert old.bucket(key).confirmation is None
        reproduction = old.bucket(key).reproduction
        assert reproduction is not None and reproduction.rate.others == {}
    with Store.open(tmp_path / "c") as upgraded:
        upgraded.set_confirmation(key, Confirmation("/p", 10, 0))
        assert upgraded.bucket(key).confirmation == Confirmation("/p", 10, 0)
        upgraded.update_bucket_reproduction(key, Rate(3, 10, (0.2,), {"passed": 7}))
        reproduction = upgraded.bucket(key).reproduction
        assert reproduction is not None and reproduction.rate.others == {"passed": 7}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_coverage_merges_and_weights_replace(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    store.record_coverage([CoverageEntry("m", "f", "function", True, False, "always raised")])
    store.record_coverage(
        [
            CoverageEntry("m", "f", "function", False, True),
            CoverageEntry("m", "g", "function", False, False, "denied"),
        ]
    )
    assert store.coverage() == [
        CoverageEntry("m", "f", "function", True, True, "always raised"),
        CoverageEntry("m", "g", "function", False, False, "denied"),
    ]
    assert store.weights() == {}
    store.set_weights({"families": {"a": 1.5}})
    store.set_weights({"families": {"b": 2}})
    assert store.weights() == {"families": {"b": 2}}
    store.close()


def test_update_campaign(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path)
    clock.now += 30
    store.update_campaign(status="finished", duration_s=29.5, config={"seed": 1})
    record = store.campaign()
    assert (record.status, record.duration_s, record.config, record.updated_at) == (
        "finished",
        29.5,
        {"seed": 1},
        clock.now,
    )
    store.close()


# ---------------------------------------------------------------------- run counters


def test_runs_are_batched_until_the_interval_a_finding_or_close(tmp_path: Path) -> None:
    store, clock = make_store(tmp_path, interval=1.0)
    reader = Store.open(tmp_path / "c", readonly=True)
    store.record_run(Status.PASSED, "fam", "list")
    store.record_run(Status.PASSED, "fam", "list")
    assert reader.campaign().runs == 0
    clock.now += 1.0
    store.record_run(Status.CRASHED, "fam", "list")
    assert reader.campaign().runs == 3
    store.record_run(Status.CRASHED, "fam", "list")
    find(store)
    assert reader.campaign().runs == 4
    assert reader.discoveries()[0].runs == 4
    store.record_run(Status.PASSED, "other")
    store.close()
    counts = {(c.status, c.family, c.subject): c.count for c in reader.run_counts()}
    assert counts == {
        (Status.PASSED, "fam", "list"): 2,
        (Status.CRASHED, "fam", "list"): 2,
        (Status.PASSED, "other", ""): 1,
    }
    assert reader.campaign().runs == 5
    reader.close()


def test_one_store_shared_by_threads(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path, interval=0.0)
    barrier = threading.Barrier(4)

    def work(number: int) -> None:
        barrier.wait()
        for _ in range(50):
            store.record_run(Status.PASSED, f"f{number}")
            find(store, Signature("native", (f"t{number}",)))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.close()
    with Store.open(tmp_path / "c", readonly=True) as reader:
        assert reader.campaign().runs == 200
        assert sorted(bucket.count for bucket in reader.buckets()) == [50, 50, 50, 50]


def test_close_twice_and_use_after_close(tmp_path: Path) -> None:
    store, _ = make_store(tmp_path)
    store.close()
    store.close()
    with pytest.raises(RuntimeError, match="closed"):
        store.record_run(Status.PASSED, "f")
