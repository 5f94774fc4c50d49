"""Follow-up of new buckets: rate, amplification of a rare crash (``reproduce.amplify``),
minimisation, repro script, backtrace, sibling variants, and for sanitizer findings the
confirmation on the plain debug build (``campaign.confirm``).

Each step is stored as soon as it finishes, so an interrupted follow-up keeps what it learned.
Steps for one bucket run in one worker's fork server; buckets are shared out across workers,
in-contract ones first, and each gets an even share of the time left (the rate and the script
are always made; other candidates' rates, amplification, minimisation, gdb's second and third
tries and variants fit in the share), so that the last bucket is measured too.  In-contract
buckets a variant search finds are followed up the same way with the time the campaign's own
buckets left.  The whole follow-up stops at its budget; a bucket it did not reach gets a script
of its smallest scenario, unmeasured.
"""

from __future__ import annotations

import math
import queue
import shutil
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from threadstorm.bucket.backtrace_match import backtrace_shows, gdb_run_description
from threadstorm.bucket.merge import plan_merges
from threadstorm.bucket.signature import WORKER_KILLER
from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.confirm import confirm, plain_twin
from threadstorm.contract.policy import Policy
from threadstorm.generate.surface import Surface
from threadstorm.minimise.minimiser import minimise
from threadstorm.rate import Rate
from threadstorm.reproduce.amplify import TARGET_CRASHES, amplify
from threadstorm.reproduce.emit import Header, render
from threadstorm.reproduce.rate import measure_scenario
from threadstorm.scenario.model import Scenario
from threadstorm.scenario.simplicity import sort_key
from threadstorm.store.db import Store
from threadstorm.store.records import BucketRecord
from threadstorm.target.confined_script import Confinement, confined_script
from threadstorm.target.interpreter import Interpreter
from threadstorm.target.session import HarnessSession
from threadstorm.triage.gdb import native_backtrace
from threadstorm.triage.outcome import Status
from threadstorm.variants.search import StoreRecorder, search_variants

GDB_TIMEOUT_S = 60.0
GDB_ATTEMPTS = 3
GDB_SCRIPT_LIMIT_S = 20.0
CANDIDATES = 3


def unfinished(store: Store) -> list[str]:
    """Buckets whose follow-up never ended (the campaign was killed during it), in store order.

    Follow-up measures a rate first and stores the repro script after minimising, so a bucket
    without either was not followed up to the end (a quarantined scenario gets a script only).
    """
    return [
        bucket.key
        for bucket in store.buckets()
        if bucket.repro_script is None
        or (bucket.reproduction is None and bucket.signature.kind != WORKER_KILLER)
    ]


def merge_by_site(store: Store, console: Console) -> None:
    """Fold buckets that crash at one native site (``bucket.merge``): follow-up's last step."""
    for planned in plan_merges(store.buckets()):
        store.merge_buckets(planned.source, planned.target, planned.reason)
        console.print(
            f"merged bucket {planned.source} into {planned.target} ({planned.reason})",
            highlight=False,
        )


@dataclass(frozen=True)
class FollowUpContext:
    """What follow-up needs of the campaign that found the buckets, and nothing more."""

    config: CampaignConfig
    store: Store
    console: Console
    sessions: Sequence[HarnessSession]  # the campaign's warm fork servers, one per worker
    interpreter: Interpreter
    facts: dict[str, Any]  # the target's, from its fork server
    policy: Policy
    limits: dict[str, int]  # a campaign child's resource limits on this target
    modules: tuple[str, ...]  # what the campaign imports in the target


class FollowUp:
    """Runs the follow-up steps for a list of new buckets."""

    def __init__(self, context: FollowUpContext, surface: Surface) -> None:
        self.context = context
        self.surface = surface
        self.config = context.config
        self.store = context.store
        self.console = context.console
        self.lock = threading.Lock()

    @property
    def target_label(self) -> str:
        facts = self.context.facts
        kind = "free-threaded" if facts.get("free_threaded") else "with GIL"
        debug = " debug" if facts.get("debug") else ""
        return (
            f"CPython {facts.get('version', '?')} {kind}{debug} ({self.context.interpreter.path})"
        )

    def run(self, keys: list[str]) -> None:
        budget = self.config.follow_up_seconds
        deadline = time.monotonic() + budget
        ordered = [b.key for b in self.store.buckets() if b.key in set(keys)]
        todo: queue.Queue[str] = queue.Queue()
        for key in ordered:
            todo.put(key)
        later: queue.Queue[str] = queue.Queue()  # in-contract buckets variant searches found
        self.console.print(f"following up {len(ordered)} new bucket(s), at most {budget:.0f} s")
        threads = [
            threading.Thread(target=self._serve, args=(session, todo, later, deadline), daemon=True)
            for session in self.context.sessions
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.scripts_for_the_rest()
        self.merge_by_site()

    def scripts_for_the_rest(self) -> None:
        """A script of its smallest scenario for every bucket without one (the budget ended
        before it, or a variant search found it): writing one runs nothing, so each can be
        tried by hand; it says no rate, and ``--resume`` follows the bucket up."""
        for bucket in self.store.buckets():
            if bucket.repro_script is None and bucket.signature.kind != WORKER_KILLER:
                self._unmeasured_script(bucket, rate="")

    def merge_by_site(self) -> None:
        """Fold buckets that follow-up found to crash at one native site (``bucket.merge``)."""
        merge_by_site(self.store, self.console)

    def _serve(
        self,
        session: HarnessSession,
        todo: queue.Queue[str],
        later: queue.Queue[str],
        deadline: float,
    ) -> None:
        """Follow up the campaign's buckets, then, with the time they left, the in-contract
        buckets their variant searches found (which join ``later`` as they are found)."""
        workers = len(self.context.sessions)
        while time.monotonic() < deadline:
            source = todo if not todo.empty() else later
            try:
                key = source.get_nowait()
            except queue.Empty:
                return
            # this bucket's fair share of what is left, so that the last ones are measured too;
            # the variants' buckets share only what the campaign's left
            rounds_left = math.ceil((source.qsize() + 1) / workers)
            share = (deadline - time.monotonic()) / rounds_left
            for found in self.follow(session, key, min(deadline, time.monotonic() + share)):
                if self.store.bucket(found).in_contract:
                    later.put(found)

    def follow(self, session: HarnessSession, key: str, deadline: float) -> list[str]:
        """Every follow-up step for one bucket, each stored when done, its optional ones
        (amplification, minimisation, variants) within ``deadline``; the new buckets its
        variant search found."""
        bucket = self.store.bucket(key)
        if bucket.signature.kind == WORKER_KILLER:
            self._script_only(bucket)
            return []
        timeout = self.config.run_timeout_s
        scenario, rate = self.best_candidate(session, bucket, timeout, deadline)
        remaining = deadline - time.monotonic()
        if rate.crashes < TARGET_CRASHES and remaining > 10:
            scenario, rate = self.amplified(session, key, scenario, rate, remaining / 3)
        with self.lock:
            self.store.update_bucket_reproduction(key, rate)
        remaining = deadline - time.monotonic()
        if rate.crashes and remaining > 10:
            result = minimise(
                session,
                scenario,
                key,
                budget_s=min(self.config.minimise_budget_s, remaining / 2),
                timeout_s=timeout,
                known_rate=rate,  # just measured: no re-validation
            )
            # smaller, and still crashing at least half as often (a minimisation cut short by
            # its share of time may not have measured its way back)
            holds = result.after_rate.fraction >= rate.fraction / 2
            if sort_key(result.after) < sort_key(scenario) and holds:
                with self.lock:
                    self.store.set_minimised(
                        key,
                        result.after,
                        before_size=sort_key(scenario),
                        after_size=sort_key(result.after),
                        before_rate=result.before_rate,
                        after_rate=result.after_rate,
                    )
                scenario, rate = result.after, result.after_rate
        bucket = self.store.bucket(key)
        python = str(self.context.interpreter.path)
        header = Header.for_bucket(bucket, self.target_label, python, rate.text)
        paths = self.config.paths
        with self.lock:
            self.store.set_repro_script(key, render(scenario, header, paths=paths))
        if bucket.status is Status.SANITIZER:  # a report, not a crash: nothing for gdb to catch
            self._confirm(key, scenario)
        elif rate.crashes:  # a scenario that did not crash in its rate's runs keeps gdb waiting
            self._backtrace(
                key,
                render(scenario, header, time_limit=GDB_SCRIPT_LIMIT_S, paths=paths),
                self.confinement(scenario),
                deadline,
            )
        if not self.config.variants or deadline - time.monotonic() <= 5:
            return []
        recorder = StoreRecorder(self.store, self.context.policy, key, self.lock)
        variants = search_variants(
            session,
            self.surface,
            bucket,
            scenario,
            runs=3,
            timeout_s=timeout,
            deadline=deadline,
            on_finding=recorder,
        )
        with self.lock:
            self.store.set_variants(key, variants)
        return recorder.new

    def _script_only(self, bucket: BucketRecord) -> None:
        """A quarantined scenario killed the Dask workers running it: it is not run here, where
        the same escape would reach the controller; its script is written for a human to run
        on a machine they can lose."""
        not_run = "not measured: it killed the Dask workers running it, so it is not run again"
        self._unmeasured_script(bucket, rate=not_run)

    def _unmeasured_script(self, bucket: BucketRecord, rate: str) -> None:
        """Store the script of the bucket's smallest scenario, its header saying ``rate``
        (writing a script runs nothing)."""
        python = str(self.context.interpreter.path)
        header = Header.for_bucket(bucket, self.target_label, python, rate)
        script = render(bucket.smallest_scenario, header, paths=self.config.paths)
        with self.lock:
            self.store.set_repro_script(bucket.key, script)

    def best_candidate(
        self, session: HarnessSession, bucket: BucketRecord, timeout: float, deadline: float
    ) -> tuple[Scenario, Rate]:
        """The bucket's scenario that reproduces best, with its measured rate.

        The smallest scenario seen is not always a good reproducer (a short iterator races
        less), so up to ``CANDIDATES`` distinct scenarios of the bucket are measured: the
        smallest and the most recent ones; the highest rate wins, then the smaller.  The
        smallest is always measured in full; another one only within the bucket's ``deadline``,
        and only while it can still beat the best (none can beat a crash in every run).
        """
        candidates = [bucket.smallest_scenario]
        for crash in reversed(self.store.crashes(bucket.key)):
            if len(candidates) >= CANDIDATES:
                break
            if crash.scenario not in candidates:
                candidates.append(crash.scenario)
        runs = self.config.reproduce_runs
        best = (candidates[0], measure_scenario(session, candidates[0], bucket.key, runs, timeout))
        for scenario in candidates[1:]:
            if best[1].crashes >= runs or time.monotonic() >= deadline:
                break
            misses = runs - best[1].crashes  # this many misses and it cannot beat the best
            rate = measure_scenario(session, scenario, bucket.key, runs, timeout, misses, deadline)
            if rate.runs == runs:  # a cut-short measurement is no rate to compare
                best = max(
                    best, (scenario, rate), key=lambda pair: (pair[1].crashes, _smaller(pair[0]))
                )
        return best

    def amplified(
        self, session: HarnessSession, key: str, scenario: Scenario, rate: Rate, budget_s: float
    ) -> tuple[Scenario, Rate]:
        """A rarely reproducing scenario with more chances (``reproduce.amplify``), when that
        raises its rate; else the scenario as it was."""

        runs = self.config.reproduce_runs
        until = time.monotonic() + min(self.config.minimise_budget_s, budget_s)

        def measure(candidate: Scenario, needed: int) -> Rate:
            timeout = self.config.run_timeout_s
            # once more than runs - needed runs missed, the candidate cannot be kept; and no
            # run starts after the amplifier's time is up (a candidate may run 16 times longer)
            misses = runs - needed + 1
            return measure_scenario(session, candidate, key, runs, timeout, misses, until)

        found = amplify(scenario, rate, measure, until)
        if found.steps:
            self.console.print(
                f"  {key}: amplified ({', '.join(found.steps)}): {rate.text} -> {found.rate.text}"
            )
        return found.scenario, found.rate

    def confinement(self, scenario: Scenario) -> Confinement:
        """What a script run of ``scenario`` is confined by: the campaign children's limits."""
        return Confinement(
            limits=self.context.limits,
            modules=self.context.modules,
            paths=self.config.paths,
            threads=scenario.thread_count,
        )

    def _confirm(self, key: str, scenario: Scenario) -> None:
        """Replay a sanitizer finding on the plain debug build, when the build cache has one."""
        plain = plain_twin(self.context.interpreter)
        if plain is None:
            return
        confinement = Confinement(
            limits=self.config.limits(None),  # the plain build's: with the address-space limit
            modules=self.context.modules,
            paths=self.config.paths,
            threads=scenario.thread_count,
        )
        confirmation = confirm(
            plain, scenario, confinement, self.config.reproduce_runs, self.config.run_timeout_s
        )
        with self.lock:
            self.store.set_confirmation(key, confirmation)
        self.console.print(f"bucket {key}: {confirmation.text}", highlight=False)

    def _backtrace(self, key: str, script: str, confinement: Confinement, deadline: float) -> None:
        """A symbolised backtrace of every thread, from gdb running the confined script:
        one attempt always, more while the bucket's ``deadline`` allows.  A run that crashed
        another way than the bucket did (``bucket.backtrace_match``) is not kept: its stack is
        another bug's."""
        if shutil.which("gdb") is None:
            return
        for attempt in range(GDB_ATTEMPTS):
            if attempt and time.monotonic() >= deadline:
                return
            with confined_script(
                self.context.interpreter, script, confinement, GDB_TIMEOUT_S
            ) as run:
                text = native_backtrace(run.argv, GDB_TIMEOUT_S, run.env, run.cwd, run.prefix)
            if not text:
                continue
            signature = self.store.bucket(key).signature
            if backtrace_shows(signature, text):
                with self.lock:
                    self.store.set_backtrace(key, text)
                return
            self.console.print(
                f"  {key}: gdb caught another crash ({gdb_run_description(text)}), not kept",
                highlight=False,
            )


def _smaller(scenario: Scenario) -> list[int]:
    """A key under which the smaller of two scenarios is the greater (for ``max``)."""
    return [-n for n in sort_key(scenario)]
