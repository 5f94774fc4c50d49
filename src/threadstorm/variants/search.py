"""Variant search: rerun a bucket's scenario shape on sibling types and report which crash too.

Steps, all inside one warm fork server:

1. ``plan``: find the scenario's main shared object, ask the target what it and every surface
   subject are (``HarnessSession.kinship``: ABCs, slots, methods, measured in a forked child),
   rank the siblings (``threadstorm.variants.siblings``) and move the scenario onto each.
2. ``measure``: run every sibling's variant ``runs`` times, best-ranked first; then, while the
   deadline allows, add runs in rounds until each has ``max_runs``.  Each run is judged like a
   campaign run (``threadstorm.bucket.judge``): a finding counts as a crash of the sibling and
   its bucket key is kept, whether or not it is the original bucket (a different bucket is
   information: the same shape reaching another bug).  A variant whose objects cannot be built
   stops at once with a note; siblings the deadline left out are reported with zero runs.

``search_variants`` is what campaigns call; ``search`` returns the richer ``Trial`` records the
``variants`` command prints.  Pass ``on_finding=StoreRecorder(...)`` to either to file the
variants' findings in the campaign (they are often new buckets).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from threadstorm.bucket.judge import Verdict, judge
from threadstorm.campaign.hangs import run_confirmed
from threadstorm.contract.policy import Policy
from threadstorm.generate.families import SubjectLike
from threadstorm.scenario.model import Recipe, Scenario, SharedObject
from threadstorm.scenario.simplicity import sort_key
from threadstorm.store.db import Store
from threadstorm.store.records import BucketRecord, Variant
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status
from threadstorm.variants.siblings import (
    Candidate,
    Kin,
    Sibling,
    Usage,
    candidates,
    find_subject,
    rank,
    transplant,
    usage,
)

MAX_SIBLINGS = 24
KINSHIP_TIMEOUT_S = 60.0
MAX_KINSHIP_DEATHS = 3

# Facts for each recipe (built after the shared objects), aligned with the recipes; an entry is
# ``{"error": ...}`` when that recipe did not build.
Describe = Callable[[Sequence[SharedObject], Sequence[Recipe]], list[dict[str, Any]]]
OnFinding = Callable[["Trial", Scenario, Evidence, Verdict], None]


class SessionLike(Protocol):
    """What variant search needs of a harness session."""

    def run(self, scenario: Scenario, timeout: float = ...) -> Evidence: ...

    def kinship(
        self, shared: Sequence[SharedObject], recipes: Sequence[Recipe], timeout: float = ...
    ) -> list[dict[str, Any]]: ...


class SurfaceLike(Protocol):
    @property
    def subjects(self) -> Sequence[SubjectLike]: ...


@dataclass
class Trial:
    """One sibling: how it is related, its variant scenario, and what its runs did."""

    label: str
    why: str
    scenario: Scenario | None
    notes: list[str] = field(default_factory=list)
    runs: int = 0
    keys: Counter[str] = field(default_factory=Counter)  # bucket key -> finding runs
    statuses: Counter[str] = field(default_factory=Counter)
    broken: bool = False  # its objects could not be built: no more runs
    sibling: Sibling | None = None

    @property
    def crashes(self) -> int:
        return sum(self.keys.values())

    @property
    def bucket(self) -> str | None:
        """The bucket most of its findings landed in."""
        return self.keys.most_common(1)[0][0] if self.keys else None

    @property
    def runnable(self) -> bool:
        return self.scenario is not None and not self.broken

    def variant(self, original_key: str | None = None) -> Variant:
        """The stored record: sibling, crashed or not, k of n, bucket, and a note."""
        notes = [self.why] if self.why else []
        if self.bucket is not None and original_key is not None:
            notes.append("same bucket" if self.bucket == original_key else "another bucket")
        notes.extend(f"also bucket {key} ({n})" for key, n in self.keys.most_common()[1:])
        if self.statuses.get(Status.HUNG.label) and self.bucket is not None:
            notes.append(f"hung in {self.statuses[Status.HUNG.label]} run(s)")
        notes.extend(self.notes)
        return Variant(
            subject=self.label,
            crashed=self.crashes > 0,
            crashes=self.crashes,
            runs=self.runs,
            bucket=self.bucket,
            note="; ".join(notes),
        )


# ---------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Plan:
    """The siblings to try, best first, for one scenario."""

    use: Usage
    original: Kin | None
    trials: tuple[Trial, ...]
    note: str = ""
    control: Trial | None = None  # the bucket's own scenario, rerun alongside as a baseline


def plan(
    scenario: Scenario,
    subjects: Sequence[SubjectLike],
    describe: Describe,
    limit: int = MAX_SIBLINGS,
) -> Plan:
    """Rank the siblings of ``scenario``'s main object and move the scenario onto each."""
    use = usage(scenario)
    found = candidates(use, subjects)
    recipes = [use.recipe, *(recipe for candidate in found for recipe in candidate.recipes)]
    facts = describe(scenario.shared, recipes)
    if "error" in facts[0]:
        return Plan(use, None, (), f"the bucket's object cannot be rebuilt: {facts[0]['error']}")
    original = Kin.from_json(facts[0])
    described = list(_built(found, facts[1:]))
    siblings = rank(original, use, described, limit)
    subject = find_subject(subjects, use.recipe, original)
    roles: Mapping[str, str] = {m.name: m.role for m in subject.members} if subject else {}
    trials = []
    for sibling in siblings:
        moved = transplant(scenario, use, sibling, roles)
        notes = list(moved.notes) if moved.scenario is not None else [f"skipped: {moved.note}"]
        trials.append(Trial(sibling.label, sibling.why, moved.scenario, notes, sibling=sibling))
    return Plan(use, original, tuple(trials))


def _built(
    found: Sequence[Candidate], facts: Sequence[Mapping[str, Any]]
) -> list[tuple[Candidate, int, Kin]]:
    """Each candidate with the first recipe that built an object of the subject's own type."""
    result = []
    position = 0
    for candidate in found:
        docs = facts[position : position + len(candidate.recipes)]
        position += len(candidate.recipes)
        own = docs[-1]
        if "error" in own:
            continue
        chosen = next(index for index, doc in enumerate(docs) if doc.get("type") == own.get("type"))
        result.append((candidate, chosen, Kin.from_json(docs[chosen])))
    return result


# ---------------------------------------------------------------------- measuring


def measure(
    session: SessionLike,
    trials: Sequence[Trial],
    *,
    runs: int,
    max_runs: int,
    timeout_s: float,
    deadline: float | None,
    on_finding: OnFinding | None = None,
) -> None:
    """Run each trial ``runs`` times, best first, then top up to ``max_runs`` while time allows.

    A top-up round (``runs`` more each) starts only when it would, at the pace of the previous
    round, leave at least half of the time before the deadline unspent: the deadline is often
    shared with other work (a campaign's follow-up of its other buckets).
    """
    target = runs
    while True:
        started = time.monotonic()
        for trial in trials:
            while trial.runnable and trial.runs < target:
                if deadline is not None and time.monotonic() >= deadline:
                    _note_deadline(trials)
                    return
                run_once(session, trial, timeout_s, on_finding)
        spent = time.monotonic() - started
        if target >= max_runs or (deadline is not None and 2 * spent > deadline - time.monotonic()):
            return
        target = min(max_runs, target + runs)


def run_once(
    session: SessionLike, trial: Trial, timeout_s: float, on_finding: OnFinding | None
) -> None:
    """One run of a trial's scenario, judged and counted."""
    assert trial.scenario is not None
    evidence = run_confirmed(session, trial.scenario, timeout_s)  # the campaign's hang judge
    verdict = judge(evidence, trial.scenario)
    status = verdict.outcome.status
    if status == Status.HARNESS_ERROR:
        trial.broken = True
        trial.notes.append(f"could not run: {verdict.outcome.reason}")
        return
    trial.runs += 1
    trial.statuses[status.label] += 1
    if verdict.key is not None:
        trial.keys[verdict.key] += 1
        if on_finding is not None:
            on_finding(trial, trial.scenario, evidence, verdict)


def _note_deadline(trials: Sequence[Trial]) -> None:
    for trial in trials:
        if trial.runnable and trial.runs == 0:
            trial.notes.append("not run: deadline")


# ---------------------------------------------------------------------- entry points


def search(
    session: SessionLike,
    surface: SurfaceLike,
    scenario: Scenario,
    *,
    runs: int = 3,
    max_runs: int | None = None,
    timeout_s: float = 10.0,
    deadline: float | None = None,
    limit: int = MAX_SIBLINGS,
    on_finding: OnFinding | None = None,
    describe: Describe | None = None,
    control: bool = False,
) -> Plan:
    """Plan the variants of ``scenario`` and measure them; the plan's trials hold the results.

    ``describe`` defaults to asking the session's target (``kinship_describer``).  With
    ``control`` the original scenario is rerun as often as each sibling's, first in every round,
    so a sibling's rate can be read against the original's in the same shape and the same hour.
    """
    describe = describe or kinship_describer(session)
    planned = plan(scenario, surface.subjects, describe, limit)
    if control and planned.original is not None:
        label = f"{planned.original.type_name} (the original)"
        planned = replace(planned, control=Trial(label, "the bucket's own scenario", scenario))
    measure(
        session,
        [*([planned.control] if planned.control else []), *planned.trials],
        runs=runs,
        max_runs=max(runs, max_runs if max_runs is not None else 2 * runs),
        timeout_s=timeout_s,
        deadline=deadline,
        on_finding=on_finding,
    )
    return planned


def search_variants(
    session: SessionLike,
    surface: SurfaceLike,
    bucket: BucketRecord,
    scenario: Scenario,
    *,
    runs: int = 3,
    timeout_s: float = 10.0,
    deadline: float | None = None,
    on_finding: OnFinding | None = None,
) -> list[Variant]:
    """Siblings of ``bucket``'s object, each with crashed or not, k of n and bucket (campaigns).

    Runs every variant ``runs`` times, up to twice that when the deadline allows.  Pass
    ``on_finding`` to file the variants' findings (they may be new buckets).
    """
    planned = search(
        session,
        surface,
        scenario,
        runs=runs,
        timeout_s=timeout_s,
        deadline=deadline,
        on_finding=on_finding,
    )
    return [trial.variant(bucket.key) for trial in planned.trials]


class StoreRecorder:
    """An ``OnFinding`` that files variant findings in a campaign's store, so reports show them.

    Findings in the original bucket are left out: they would count the sibling's scenario as the
    original bug's (and could replace its smallest scenario).  ``lock`` serialises the writes
    when threads share the store.  ``new`` lists the buckets that did not exist before.
    """

    def __init__(
        self,
        store: Store,
        policy: Policy,
        original_key: str,
        lock: AbstractContextManager[object] | None = None,
    ) -> None:
        self.store = store
        self.policy = policy
        self.original_key = original_key
        self.lock = lock or contextlib.nullcontext()
        self.new: list[str] = []

    def __call__(
        self, trial: Trial, scenario: Scenario, evidence: Evidence, verdict: Verdict
    ) -> None:
        if verdict.signature is None or verdict.key == self.original_key:
            return
        contract, reason = self.policy.label(scenario)
        with self.lock:
            finding = self.store.record_finding(
                verdict.signature,
                verdict.outcome.status,
                contract=contract,
                contract_reason=reason,
                scenario=scenario,
                evidence=evidence,
                outcome=verdict.outcome,
                size_key=sort_key(scenario),
            )
        if finding.is_new:
            self.new.append(finding.bucket_key)


def kinship_describer(session: SessionLike, timeout_s: float = KINSHIP_TIMEOUT_S) -> Describe:
    """A ``Describe`` that asks the target (``HarnessSession.kinship``).

    A child that dies or hangs part way was building the first recipe it did not describe:
    that one gets an error and the rest are asked for again, ``MAX_KINSHIP_DEATHS`` times at most.
    """

    def describe(shared: Sequence[SharedObject], recipes: Sequence[Recipe]) -> list[dict[str, Any]]:
        facts: list[dict[str, Any]] = []
        deaths = 0
        while len(facts) < len(recipes):
            facts.extend(session.kinship(shared, recipes[len(facts) :], timeout=timeout_s))
            if len(facts) < len(recipes):
                deaths += 1
                facts.append({"error": "the target died or hung while building it"})
                if deaths >= MAX_KINSHIP_DEATHS:
                    facts.extend({"error": "not described"} for _ in recipes[len(facts) :])
        return facts

    return describe
