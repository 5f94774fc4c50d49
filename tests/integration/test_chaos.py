"""Chaos: a real campaign killed with SIGKILL at 20 random moments, and resumed each time.

The controller is ``threadstorm fuzz`` over the planted fixture on the 3.13 debug target, with
follow-up on.  Each time a controller has begun its campaign (its first write to the store), the
test waits a moment drawn from a seeded ``random.Random`` and kills that pid, and only it, with
SIGKILL; then it starts ``fuzz --resume`` and does it again.  The budget is small, so the first
kills land while the store says ``running`` and the later ones while it says ``following up``.
Then resumes that nobody kills run to the end, until every bucket is followed up: follow-up
stops at its own budget, and each resume takes up what the one before did not reach.

The store is polled read-only all along, as ``report`` would read it.  What must hold:

- no bucket is lost: every key seen at any poll, or announced as a new bucket on a controller's
  output, is in the final store (itself, or where the ``merges`` table says it was folded);
- every crash is counted exactly once: a bucket's count never goes backwards between polls, each
  bucket has one discovery, no crash row is stored twice, and a bucket keeps one evidence row per
  finding up to ``KEPT_CRASHES`` (``store.db._file_finding``), never more rows than its count;
- follow-up completes: every bucket has a measured reproduction and a repro script (there is
  an in-contract crash among them), and the campaign is ``finished``;
- ``PRAGMA integrity_check`` is ``ok``;
- after every kill, each process of the killed controller's tree ends within a bounded wait.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import re
import signal
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers import (
    STARTUP_SLACK_S,
    Process,
    descendants,
    describe,
    fuzz_args,
    planted_folder,
    threadstorm,
    wait_until,
)
from test_campaign_resume import alive_list, controller

from threadstorm.campaign.followup import unfinished
from threadstorm.exit_codes import EXIT_CLEAN, EXIT_NEW_BUG
from threadstorm.store.db import KEPT_CRASHES, Store, is_store, store_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KILLS = 20
KILL_SEED = 10  # seeds the moments of the kills: the same test kills at the same moments
BUDGET_S = 20.0  # fuzzing time: spent over the first kills, the later ones land in follow-up
RUN_TIMEOUT_S = 5.0  # the campaign's --timeout: a run may outlive its killed controller this long
DELAY_S = (0.5, 3.0)  # a kill lands this long after its controller began to write the store
POLL_S = 0.1
# A killed controller's fork servers leave when their stdin closes; a child finishes its run
# first, and gdb finishes its confined script (at most follow-up's GDB_SCRIPT_LIMIT_S, 20 s).
TREE_GONE_S = RUN_TIMEOUT_S * 3 + 60
FINAL_RESUMES = 4  # unkilled resumes at the end, at most: each follows up what it has time for
FINAL_TIMEOUT_S = 300.0  # one of them: 30 s of follow-up, and a step started late overruns it
NEW_BUCKET = re.compile(r"new bucket ([0-9a-f]{12})")
PHASES = ("running", "following up")


@dataclass(frozen=True)
class Poll:
    """What a reader saw in the store at one moment."""

    status: str
    updated_at: float
    counts: dict[str, int]  # bucket key -> count
    merged: dict[str, str]  # source key -> target key


@dataclass
class Kill:
    """One kill: where the campaign was, and how long the killed tree took to end."""

    delay_s: float
    phase: str
    tree: list[Process]
    gone_after_s: float


@dataclass
class Chaos:
    """Everything the kills saw: every poll, and every bucket a controller announced."""

    polls: list[Poll] = field(default_factory=list)
    announced: set[str] = field(default_factory=set)
    kills: list[Kill] = field(default_factory=list)


@pytest.fixture(scope="module")
def planted_dir(python313d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return planted_folder(python313d, tmp_path_factory)


def read_store(folder: Path) -> Poll | None:
    """The store as a reader sees it now (None before the first controller made it)."""
    if not is_store(folder):
        return None
    with Store.open(folder, readonly=True) as store:
        campaign = store.campaign()
        return Poll(
            campaign.status,
            campaign.updated_at,
            {bucket.key: bucket.count for bucket in store.buckets()},
            {merge.source_key: merge.target_key for merge in store.merges()},
        )


def resolve(key: str, merged: dict[str, str]) -> str:
    """Where a bucket key lives now: itself, or the bucket it was merged into (chains too)."""
    seen = {key}
    while key in merged and merged[key] not in seen:
        key = merged[key]
        seen.add(key)
    return key


def kill_once(args: list[str], out: Path, logs: Path, env: dict[str, str], delay_s: float,
              chaos: Chaos) -> Kill | None:  # fmt: skip
    """Start ``threadstorm ARGS``; once it writes the store, wait ``delay_s`` and SIGKILL it.

    None when the controller ended by itself before the kill (nothing left to do).
    """
    logs.mkdir()
    before = read_store(out)
    with controller(args, logs, env) as process:

        def began() -> bool:
            now = read_store(out)
            if now is not None:
                chaos.polls.append(now)
            fresh = now is not None and (before is None or now.updated_at > before.updated_at)
            return fresh or process.poll() is not None

        assert wait_until(began, STARTUP_SLACK_S, POLL_S), "the controller never wrote its store"
        moment = time.monotonic() + delay_s
        while process.poll() is None and time.monotonic() < moment:
            time.sleep(POLL_S)
            now = read_store(out)
            if now is not None:
                chaos.polls.append(now)
        tree = descendants(process.pid)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        returncode = process.wait(timeout=60)
    chaos.announced |= set(NEW_BUCKET.findall((logs / "stdout").read_text()))
    after = read_store(out)
    assert after is not None
    chaos.polls.append(after)
    if returncode != -signal.SIGKILL:
        assert returncode in (EXIT_CLEAN, EXIT_NEW_BUG), (logs / "stderr").read_text()[-3000:]
        return None
    assert any("threadstorm.harness.server" in p.command for p in tree), tree  # what must end
    killed_at = time.monotonic()
    assert wait_until(lambda: not any(p.alive() for p in tree), TREE_GONE_S), alive_list(tree)
    return Kill(delay_s, after.status, tree, time.monotonic() - killed_at)


def test_twenty_kills_lose_nothing_and_the_campaign_finishes(
    python313d: Path, planted_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "campaign"
    logs = tmp_path / "logs"
    logs.mkdir()
    scratch = tmp_path / "scratch"  # TMPDIR: the session folders killed controllers leave
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    first = fuzz_args(python313d, out, "planted", BUDGET_S, "--timeout", f"{RUN_TIMEOUT_S:g}",
                      paths=[planted_dir])  # fmt: skip
    first.remove("--no-follow-up")  # follow-up on: half the kills are meant to land in it
    moments = random.Random(KILL_SEED)
    chaos = Chaos()
    while len(chaos.kills) < KILLS:
        args = first if not chaos.kills else ["fuzz", "--resume", str(out)]
        kill = kill_once(args, out, logs / str(len(chaos.kills)), env,
                         moments.uniform(*DELAY_S), chaos)  # fmt: skip
        assert kill is not None, f"the campaign finished before kill {len(chaos.kills) + 1}"
        chaos.kills.append(kill)
    phases = [kill.phase for kill in chaos.kills]
    assert set(phases) == set(PHASES), phases  # kills landed in fuzzing and in follow-up

    finals = finish(out, env, chaos)
    final = read_store(out)
    assert final is not None
    chaos.polls.append(final)
    print(figures(chaos, final, finals))

    assert_no_bucket_lost(chaos, final)
    assert_counted_once(chaos.polls, out)
    assert final.status == "finished"
    assert_followed_up(out)
    assert integrity(out) == ["ok"]
    assert sorted(scratch.glob("threadstorm-*")) == []  # the killed controllers' folders: cleaned


def finish(out: Path, env: dict[str, str], chaos: Chaos) -> int:
    """Resume, unkilled, until every bucket is followed up; return how many resumes it took.

    Follow-up stops at its own budget (30 s here), and one bucket's rate, minimisation, gdb
    and variants may take all of it: each resume follows up what the last one did not reach.
    """
    for number in range(1, FINAL_RESUMES + 1):
        done = threadstorm("fuzz", "--resume", str(out), env=env, timeout=FINAL_TIMEOUT_S)
        assert done.returncode in (EXIT_CLEAN, EXIT_NEW_BUG), describe(done)
        assert "store integrity: ok" in done.stdout, describe(done)
        chaos.announced |= set(NEW_BUCKET.findall(done.stdout))
        with Store.open(out, readonly=True) as store:
            if not unfinished(store):
                return number
    pytest.fail(f"buckets still not followed up after {FINAL_RESUMES} resumes")


def assert_no_bucket_lost(chaos: Chaos, final: Poll) -> None:
    """Every key ever seen or announced lives on in the final store (merged or not)."""
    seen = {key for poll in chaos.polls for key in poll.counts} | chaos.announced
    assert seen, "no bucket in the whole campaign"
    lost = sorted(key for key in seen if resolve(key, final.merged) not in final.counts)
    assert lost == [], (lost, final)


def assert_counted_once(polls: list[Poll], folder: Path) -> None:
    """Counts never go backwards, and the store's rows agree with its counts."""
    for earlier, later in itertools.pairwise(polls):
        for key, count in earlier.counts.items():
            where = resolve(key, later.merged)
            assert later.counts.get(where, 0) >= count, (key, where, earlier, later)
    with read_only(folder) as db:
        counts = dict(db.execute("SELECT key, count FROM buckets").fetchall())
        rows = dict(
            db.execute("SELECT bucket_key, COUNT(*) FROM crashes GROUP BY bucket_key").fetchall()
        )
        discoveries = db.execute(
            "SELECT bucket_key, COUNT(*) FROM discoveries GROUP BY bucket_key"
        ).fetchall()
        doubles = db.execute(
            "SELECT bucket_key, time, COUNT(*) FROM crashes GROUP BY bucket_key, time, evidence "
            "HAVING COUNT(*) > 1"
        ).fetchall()
    assert set(rows) <= set(counts), "crash rows of no bucket"
    assert dict(discoveries) == dict.fromkeys(counts, 1)  # one discovery per bucket, no other
    assert doubles == [], "a finding stored twice"
    for key, count in counts.items():
        kept = rows.get(key, 0)
        assert min(count, KEPT_CRASHES) <= kept <= count, (key, count, kept)


def assert_followed_up(folder: Path) -> None:
    """Every bucket: rate measured, repro script written; in-contract crashes among them."""
    with Store.open(folder, readonly=True) as store:
        buckets = store.buckets()
    assert [b.key for b in buckets if b.reproduction is None or b.repro_script is None] == []
    crashes = [b for b in buckets if b.contract == "in-contract" and b.status.label == "crashed"]
    assert crashes, [(b.key, b.status.label, b.contract) for b in buckets]


def integrity(folder: Path) -> list[str]:
    with read_only(folder) as db:
        return [str(row[0]) for row in db.execute("PRAGMA integrity_check").fetchall()]


def read_only(folder: Path) -> contextlib.closing[sqlite3.Connection]:
    """A read-only SQLite connection to a campaign folder's store, closed on leaving ``with``."""
    uri = f"file:{store_path(folder).absolute()}?mode=ro"
    return contextlib.closing(sqlite3.connect(uri, uri=True))


def figures(chaos: Chaos, final: Poll, finals: int) -> str:
    """One line of figures for the log (``pytest -s``): where the kills landed, what survived."""
    phases = [kill.phase for kill in chaos.kills]
    slowest = max(kill.gone_after_s for kill in chaos.kills)
    processes = sum(len(kill.tree) for kill in chaos.kills)
    return (
        f"chaos: {len(chaos.kills)} kills, {phases.count('running')} while fuzzing, "
        f"{phases.count('following up')} during follow-up; {len(chaos.polls)} polls; "
        f"{len(final.counts)} buckets, counts {sorted(final.counts.values(), reverse=True)}; "
        f"{len(final.merged)} merged; {processes} processes in the killed trees, the slowest "
        f"tree ended {slowest:.1f} s after its kill; "
        f"{finals} unkilled resume(s) to finish"
    )
