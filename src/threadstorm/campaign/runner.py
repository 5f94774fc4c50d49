"""A campaign: fuzz a target within a budget, keep every finding, follow up on new buckets.

Order of work: check the target and the modules, discover the modules' surface inside the
target, then let one worker per CPU run generated scenarios while the main thread judges each
run, files findings in the store as they arrive (committed before the next run is judged, so a
SIGKILL loses nothing already seen), feeds the generator and updates the display.  When the
budget is spent, new buckets are followed up (reproduction rate, native backtrace, minimisation,
repro script, sibling variants) within the follow-up budget.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from threadstorm.bucket.judge import judge
from threadstorm.campaign.batch import TargetSpec
from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.coverage import CoverageTracker, ran_and_raised
from threadstorm.campaign.executor import Executor, Feed, RunResult
from threadstorm.campaign.followup import FollowUp, FollowUpContext, unfinished
from threadstorm.campaign.progress import ProgressDisplay, Tally, summary_table, worker_table
from threadstorm.campaign.workers import LocalExecutor
from threadstorm.contract.policy import OUTSIDE_CONTRACT, Policy, load_policy
from threadstorm.errors import UsageError
from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.generate.generator import DETECTOR_PACE, Generator
from threadstorm.generate.module_state import StateGuard, module_subjects
from threadstorm.generate.surface import Surface, load_surface
from threadstorm.scenario.simplicity import sort_key
from threadstorm.store.db import Store
from threadstorm.target.interpreter import Interpreter, discover
from threadstorm.target.pids_group import clean_stale_groups
from threadstorm.target.sandbox_facts import sandbox_warnings
from threadstorm.target.session import HarnessSession
from threadstorm.target.stale import clean_stale
from threadstorm.triage.outcome import Status

SETTLE_S = 0.2


@dataclass
class CampaignResult:
    """What a campaign ended with."""

    tally: Tally
    new_buckets: list[str]
    folder: Path


class Campaign:
    """One campaign over one target, writing to one store."""

    def __init__(self, config: CampaignConfig, console: Console) -> None:
        self.config = config.validate()
        self.console = console
        self._store: Store | None = None
        self.policy: Policy = load_policy(Path(config.policy) if config.policy else None)
        self.interpreter: Interpreter = discover(config.python, config.suppressions)
        self.sessions: list[HarnessSession] = []
        self.facts: dict[str, Any] = {}
        self.surface: Surface | None = None
        self.executor: Executor | None = None  # made in prepare() for Dask, else in fuzz()

    @property
    def store(self) -> Store:
        if self._store is None:
            raise RuntimeError("the campaign has no store yet: call run(store)")
        return self._store

    # ------------------------------------------------------------------ start-up

    def prepare(self) -> dict[str, Any]:
        """Start the fork servers and check the target; nothing is written yet.

        Raises ``UsageError`` (after stopping what it started) when the target or the modules
        cannot be used, so a bad command line leaves no half-made campaign behind.
        """
        clean_stale()  # folders of controllers killed before they could remove them
        clean_stale_groups()  # and their empty pids cgroups
        try:
            self.start_sessions()
            self.surface = self.discover_surface()
            if self.config.scheduler is not None:
                self.executor = self.new_executor(StateGuard(self.surface))
        except BaseException:
            self.close()
            raise
        return self.facts

    def start_sessions(self) -> None:
        """Start one fork server per worker; check the modules imported in the target."""
        first = self.new_session()
        self.facts = first.start()
        first.limits = self.limits()  # now that the facts say whether it is a sanitizer build
        self.sessions.append(first)
        self.check_imports(self.facts)
        local = 1 if self.config.scheduler is not None else self.config.worker_count
        for _ in range(1, local):  # with Dask the one local server discovers and follows up
            session = self.new_session()
            session.start()
            self.sessions.append(session)

    def new_session(self) -> HarnessSession:
        """A (not yet started) fork server for this campaign's target, modules and limits."""
        return HarnessSession(
            self.interpreter, self.modules_to_import(), self.limits(), self.config.paths
        )

    def modules_to_import(self) -> tuple[str, ...]:
        return (*self.config.modules, *self.config.packages)

    def limits(self) -> dict[str, int]:
        return self.config.limits(self.facts.get("sanitizer") if self.facts else None)

    def check_imports(self, facts: dict[str, Any]) -> None:
        """Unknown modules are a usage error; other import failures are warned about."""
        errors: dict[str, str] = facts.get("import_errors", {})
        for name, error in errors.items():
            if error.startswith("ModuleNotFoundError"):
                self.close()
                raise UsageError(
                    f"module {name!r} is not importable in {self.interpreter.path} ({error}); "
                    "check the name, or install it into that interpreter"
                )
            self.console.print(
                f"[yellow]warning:[/] module {name} failed to import, skipped: {error}"
            )
        for warning in sandbox_warnings(facts):
            self.console.print(f"[yellow]warning:[/] {warning}", highlight=False)
        if not facts.get("free_threaded"):
            self.console.print(
                "[bold red]WARNING: this target is NOT a free-threaded build: the GIL serialises "
                "the threads and most races cannot happen. Build one with `threadstorm "
                "build-python`.[/]"
            )
        elif facts.get("gil_enabled"):
            self.console.print(
                "[bold red]WARNING: the GIL was re-enabled after importing the campaign's modules "
                "(an extension without Py_mod_gil?); races are masked. This is in the report.[/]"
            )

    def discover_surface(self) -> Surface:
        deny = (*DEFAULT_DENY, *self.config.deny)
        surface = load_surface(
            self.sessions[0], list(self.config.modules), list(self.config.packages), list(deny)
        )
        if not surface.subjects and not module_subjects(surface):
            raise UsageError(
                f"nothing of {', '.join(self.modules_to_import())} could be built or called in "
                "the target; storm a module with classes, functions or iterables "
                "(e.g. --modules collections)"
            )
        return surface

    # ------------------------------------------------------------------ the campaign

    def run(self, store: Store, seed_offset: int = 0, already_s: float = 0.0) -> CampaignResult:
        """Fuzz for the rest of the budget, then follow up on new buckets (after ``prepare``)."""
        self._store = store
        try:
            self.store.update_campaign(
                status="running",
                config={**self.config.to_json(), "target": self.facts},
            )
            surface = self.surface
            if surface is None:
                raise RuntimeError("call prepare() before run()")
            generator = Generator(
                [*surface.subjects, *module_subjects(surface)],
                self.config.seed + seed_offset,
                self.config.families or None,
                outside=lambda scenario: self.policy.label(scenario)[0] == OUTSIDE_CONTRACT,
                outside_cap=self.config.outside_share,
                pace_cap=DETECTOR_PACE if self.interpreter.tsan else None,
            )
            coverage = CoverageTracker(surface)
            generator.attach_coverage(coverage)  # coverage-directed draws (generate.targeting)
            tally = Tally()
            left = self.config.budget_s - already_s
            if left > 0:  # a campaign killed during follow-up resumes with follow-up only
                self.fuzz(generator, coverage, tally, left, already_s)
            self.store.set_weights(generator.weights())
            self.store.record_coverage(coverage.entries())
            self.store.update_campaign(status="following up")
            pending = [*tally.new_buckets, *unfinished(self.store)]  # killed during follow-up
            pending = list(dict.fromkeys(pending))
            if self.config.follow_up and pending:
                FollowUp(self.follow_up_context(), surface).run(pending)
            self.store.update_campaign(status="finished")
            self.print_summary(tally)
            return CampaignResult(tally, tally.new_buckets, self.store.folder)
        finally:
            self.close()

    def fuzz(
        self,
        generator: Generator,
        coverage: CoverageTracker,
        tally: Tally,
        budget_s: float,
        already_s: float,
    ) -> None:
        """The main loop: the executor runs, this thread judges and stores."""
        results: queue.Queue[RunResult] = queue.Queue()
        stop = threading.Event()
        lock = threading.Lock()

        def draw() -> Any:
            with lock:
                return generator.draw()

        executor = self.executor or self.new_executor(StateGuard(coverage.surface))
        deadline = time.monotonic() + budget_s
        with ProgressDisplay(self.console, self.config.budget_s) as display:
            executor.start(Feed(draw, results, stop, display.note))
            try:
                while time.monotonic() < deadline and not stop.is_set():
                    self._drain(results, generator, coverage, tally, display, wait=SETTLE_S)
                    display.update(tally)
                    self.store.update_campaign(duration_s=already_s + tally.elapsed_s)
            finally:
                stop.set()
                try:
                    executor.join()
                finally:
                    executor.close()
                    self._drain(results, generator, coverage, tally, display, wait=0)
                    self.store.flush()
                    self.store.update_campaign(duration_s=already_s + tally.elapsed_s)

    def new_executor(self, guard: StateGuard) -> Executor:
        """The local worker threads, or Dask workers when the campaign names a scheduler (then
        connected here, so a scheduler that cannot be reached is a usage error)."""
        if self.config.scheduler is None:
            return LocalExecutor(
                self.sessions, self.config.run_timeout_s, self.config.runs_per_child, guard
            )
        from threadstorm.campaign.dask_executor import DaskExecutor  # optional: threadstorm[dask]

        executor = DaskExecutor(
            self.config.scheduler,
            self.target_spec(),
            batch_size=self.config.batch_size,
            timeout_s=self.config.run_timeout_s,
            reuse=self.config.runs_per_child,
            own_child=guard,
        )
        executor.connect()
        return executor

    def target_spec(self) -> TargetSpec:
        """The target as a Dask worker finds it: by the same paths (after ``start_sessions``)."""
        return TargetSpec(
            python=str(self.interpreter.path),
            modules=self.modules_to_import(),
            paths=tuple(str(Path(path).absolute()) for path in self.config.paths),
            suppressions=self.config.suppressions,
            limits=tuple(sorted(self.limits().items())),
        )

    def _drain(
        self,
        results: queue.Queue[RunResult],
        generator: Generator,
        coverage: CoverageTracker,
        tally: Tally,
        display: ProgressDisplay,
        wait: float,
    ) -> None:
        try:
            result = results.get(timeout=wait) if wait else results.get_nowait()
        except queue.Empty:
            return
        while True:
            self._judge(result, generator, coverage, tally, display)
            try:
                result = results.get_nowait()
            except queue.Empty:
                return

    def _judge(
        self,
        result: RunResult,
        generator: Generator,
        coverage: CoverageTracker,
        tally: Tally,
        display: ProgressDisplay,
    ) -> None:
        scenario = result.scenario
        verdict = judge(result.evidence, scenario)
        evidence = verdict.evidence
        status = verdict.outcome.status
        tally.add(status, result.worker)
        coverage.observe(scenario, result.subject, evidence, status)
        _, always_raised = ran_and_raised(scenario, evidence)
        generator.note_raised(
            result.subject.type, [scenario.threads[t].operations[o] for t, o in always_raised]
        )
        self.store.record_run(status, scenario.family, result.subject.type)
        new_bucket: str | None = None  # the contract label of a bucket this run created
        signature = verdict.filed_under(self.store.has_bucket)
        if signature is not None:
            setup = evidence.message("setup") or {}
            python = frozenset(str(name) for name in setup.get("python_members", ()))
            contract, reason = self.policy.label(scenario, python)
            for each, outcome in ((signature, verdict.outcome), *verdict.more):
                finding = self.store.record_finding(
                    each,
                    outcome.status,
                    contract=contract,
                    contract_reason=reason,
                    scenario=scenario,
                    evidence=evidence,
                    outcome=outcome,
                    size_key=sort_key(scenario),
                )
                if finding.is_new:
                    new_bucket = contract
                    tally.buckets += 1
                    tally.new_buckets.append(finding.bucket_key)
                    display.note(
                        f"[bold]new bucket[/] {finding.bucket_key} ({outcome.status.label}, "
                        f"{contract}): {each.title}"
                    )
        elif status == Status.HARNESS_ERROR and tally.count(Status.HARNESS_ERROR) <= 3:
            display.note(f"[yellow]harness error[/] ({verdict.outcome.reason})")
        done = evidence.message("done") or {}
        generator.feedback(
            scenario.family,
            result.subject.type,
            status.label,
            new_bucket,
            excepted=bool(done.get("exceptions")),
        )

    def follow_up_context(self) -> FollowUpContext:
        """What follow-up needs of this campaign (after ``prepare``)."""
        return FollowUpContext(
            config=self.config,
            store=self.store,
            console=self.console,
            sessions=self.sessions,
            interpreter=self.interpreter,
            facts=self.facts,
            policy=self.policy,
            limits=self.limits(),
            modules=self.modules_to_import(),
        )

    def print_summary(self, tally: Tally) -> None:
        rows = [
            (b.key, b.status.label, b.contract, b.count, b.signature.title)
            for b in self.store.buckets()
        ]
        self.console.print(summary_table(tally, rows))
        if len(tally.workers) > 1 or self.config.scheduler is not None:
            self.console.print(worker_table(tally))
        self.console.print(
            f"campaign folder: {self.store.folder}  (threadstorm report {self.store.folder})"
        )

    def close(self) -> None:
        """Stop every fork server this campaign started; drop its Dask connection."""
        if self.executor is not None:
            self.executor.close()
            self.executor = None
        for session in self.sessions:
            session.close()
        self.sessions.clear()
