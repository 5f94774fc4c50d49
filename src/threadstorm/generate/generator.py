"""Seeded, deterministic scenario generation with feedback that pays for fileable bugs.

Each draw picks a subject type by weight, then tries the families on one of its subjects in a
weighted random order until one builds a scenario.  The weights come from the economy
(``threadstorm.generate.economy``): every (family, type) arm earns rewards for new in-contract
buckets and, a little, for outcomes it had not produced; outside-contract buckets pay nothing;
bonuses cool at every pull.  A type weighs its prior (containers, iterators and types with
mutators have the most to race on) times its best arm.

With the campaign's contract policy attached (``outside``), runs the policy puts outside the
contract get at most ``outside_cap`` of all runs (10 % by default; a campaign that names its
families may ask for any share): a drawn scenario over the cap is put back and another drawn.

With the campaign's coverage attached (``attach_coverage``), a share of the draws
(``TARGET_SHARE``) aims at items of the surface nothing has exercised yet
(``threadstorm.generate.targeting``).  Given the same seed and the same sequence of feedback and
coverage, the draws are the same.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import Any

from threadstorm.generate.catalogue import FAMILIES
from threadstorm.generate.economy import Economy
from threadstorm.generate.families import Family, Pace, SubjectLike
from threadstorm.generate.pool import ValuePool
from threadstorm.generate.targeting import CoverageSource, Targets
from threadstorm.scenario.model import Operation, Scenario

MAX_TRIES = 50
TARGET_SHARE = 0.7  # of the draws, while some item is still worth aiming at
STATELESS_WEIGHT = 0.3  # a type with no mutator and no iteration, against 1.0 and up
# Abstract bases and exception classes: their instances are placeholders or carry a message.
# Module balancing (``module_balanced``) gives a module made only of them its full share anyway.
BASE_WEIGHT = 0.05
# Families tried first on a type they apply to: churn is the seed's own shape (a container read
# while it is refilled and cleared), the costliest bugs to find by chance.
FAMILY_PRIORS = {"churn": 2.0}
OUTSIDE_CAP = 0.10  # of all runs, for scenarios the contract policy calls unsupported
# The pace on a race-detector target: ThreadSanitizer reports a race without it being won, so
# a few unordered accesses suffice, and every access costs some 50-100 times more there.
DETECTOR_PACE = Pace(iterations=8, rounds=2)


def paced(scenario: Scenario, cap: Pace | None) -> Scenario:
    """``scenario`` with its iterations and rounds held to ``cap`` (unchanged without one)."""
    if cap is None:
        return scenario
    return dataclasses.replace(
        scenario,
        iterations=min(scenario.iterations, cap.iterations),
        rounds=min(scenario.rounds, cap.rounds),
    )


class Generator:
    """Draws scenarios for a campaign from the surface's subjects."""

    def __init__(
        self,
        subjects: Sequence[SubjectLike],
        seed: int,
        families: Sequence[str] | None = None,
        outside: Callable[[Scenario], bool] | None = None,
        outside_cap: float | None = None,
        pace_cap: Pace | None = None,
    ) -> None:
        """``outside`` tells whether the policy puts a scenario outside the contract; such runs
        get at most ``outside_cap`` of all runs (default ``OUTSIDE_CAP``, or no cap when the
        caller named its ``families``).  ``pace_cap`` holds every scenario's iterations and
        rounds down (``DETECTOR_PACE`` on a ThreadSanitizer target)."""
        if not subjects:
            raise ValueError("no subjects to generate scenarios from")
        self.rng = random.Random(seed)
        self.pool = ValuePool(self.rng)
        self.subjects = list(subjects)
        names = list(families) if families else list(FAMILIES)
        self.families: dict[str, Family] = {name: FAMILIES[name] for name in names}
        self.by_type: dict[str, list[SubjectLike]] = {}
        for subject in self.subjects:
            self.by_type.setdefault(subject.type, []).append(subject)
        self.type_priors = module_balanced(
            {
                name: max(prior_weight(s) for s in subjects)
                for name, subjects in self.by_type.items()
            }
        )
        self.type_weights = dict(self.type_priors)
        self.economy = Economy.empty()
        self.outside = outside
        default_cap = 1.0 if families else OUTSIDE_CAP
        self.outside_cap = default_cap if outside_cap is None else outside_cap
        self.pace_cap = pace_cap
        self.coverage: CoverageSource | None = None
        self.targets: Targets | None = None
        self.coverage_mark = 0
        self.target_share = TARGET_SHARE

    def attach_coverage(self, coverage: CoverageSource) -> None:
        """Aim part of the draws at the items ``coverage`` has not seen exercised yet."""
        self.coverage = coverage
        self.targets = Targets(coverage.surface, list(self.families), self.pool)

    def draw(self) -> tuple[Scenario, SubjectLike]:
        """The next scenario and the subject it storms.

        With coverage attached, ``target_share`` of the draws aim at an unexercised item.
        Otherwise a type is drawn by weight, then one of its subjects, then the families are
        tried in a weighted random order until one applies to that subject.  A draw the policy
        puts outside the contract is put back while such runs are at their cap (unless nothing
        else can be drawn).
        """
        drawn = None
        for _ in range(MAX_TRIES):
            drawn = self._targeted() or self._from_arms()
            outside = self.outside is not None and self.outside(drawn[0])
            if outside and self._at_cap():
                continue
            self.economy.drew(outside)
            return paced(drawn[0], self.pace_cap), drawn[1]
        if drawn is None:
            raise ValueError("no scenario family applies to any subject of the surface")
        self.economy.drew(True)  # only unsupported uses are left to try: better than nothing
        return paced(drawn[0], self.pace_cap), drawn[1]

    def _admissible(self, scenario: Scenario) -> bool:
        """False for an unsupported use while such runs are at their cap."""
        return not (self.outside is not None and self.outside(scenario) and self._at_cap())

    def _at_cap(self) -> bool:
        economy = self.economy
        return economy.outside_runs + 1 > self.outside_cap * (economy.runs + 1)

    def _from_arms(self) -> tuple[Scenario, SubjectLike]:
        for _ in range(MAX_TRIES):
            if not any(self.type_weights.values()):
                break
            type_name = self._choose(self.type_weights)
            subject = self.rng.choice(self.by_type[type_name])
            arms = {
                name: FAMILY_PRIORS.get(name, 1.0) * self.economy.factor(name, type_name)
                for name in self.families
                if self.economy.applicable(name, type_name)
            }
            for family_name in self._weighted_order(arms):
                scenario = self.families[family_name](self.rng, subject, self.pool)
                if scenario is not None:
                    return scenario.validate(), subject
                if len(self.by_type[type_name]) == 1:  # the family can never build this type
                    self._decline(family_name, type_name)
        raise ValueError("no scenario family applies to any subject of the surface")

    def _targeted(self) -> tuple[Scenario, SubjectLike] | None:
        if self.targets is None or self.coverage is None:
            return None
        self.coverage_mark, names = self.coverage.exercised_since(self.coverage_mark)
        self.targets.note(names)
        if self.rng.random() >= self.target_share:
            return None
        drawn = self.targets.draw(self.rng, self.pool, self._admissible)
        return None if drawn is None else (drawn[0].validate(), drawn[1])

    def _decline(self, family: str, type_name: str) -> None:
        """Never offer ``family`` on ``type_name`` again; a type no family builds is dropped."""
        self.economy.decline(family, type_name)
        if not any(self.economy.applicable(name, type_name) for name in self.families):
            self.type_weights[type_name] = 0.0

    def feedback(
        self,
        family: str,
        type_name: str,
        outcome: str,
        new_bucket: str | None = None,
        *,
        excepted: bool = False,
    ) -> None:
        """Learn from one run: pay its arm (see ``Economy.pay``), note what could not be built.

        ``new_bucket`` is the contract label of the bucket the run created, or None; ``excepted``
        says some call raised (counted for the report: a ``passed`` run may have).  Bonuses are
        capped (``economy.MAX_BONUS``), so one productive type never starves the others.
        """
        if outcome == "harness_error":
            self.pool.strict_types.add(type_name)
        self.economy.excepted_runs += excepted
        self.economy.pay(family, type_name, outcome, new_bucket)
        if self.type_weights.get(type_name):
            factor = self.economy.type_factor(type_name, list(self.families))
            self.type_weights[type_name] = self.type_priors[type_name] * factor

    def note_raised(self, type_name: str, ops: Sequence[Operation]) -> None:
        """These operations raised on every call of a run on ``type_name``: draw them less."""
        for op in ops:
            self.pool.note_dud(type_name, op)

    def weights(self) -> dict[str, Any]:
        """Where the runs went and the weights as they stand, for the report."""
        families: dict[str, int] = dict.fromkeys(sorted(self.families), 0)
        for (family, _), arm in self.economy.arms.items():
            families[family] = families.get(family, 0) + arm.pulls
        weights: dict[str, Any] = {
            "families": families,
            "types": dict(sorted(self.type_weights.items(), key=lambda kv: (-kv[1], kv[0]))),
            "economy": {"outside_contract_cap": self.outside_cap, **self.economy.report()},
        }
        if self.targets is not None:
            weights["targeting"] = {"share": self.target_share, **self.targets.stats()}
        return weights

    def _choose(self, weights: dict[str, float]) -> str:
        names = list(weights)
        return self.rng.choices(names, weights=[weights[name] for name in names])[0]

    def _weighted_order(self, weights: dict[str, float]) -> list[str]:
        """All names, in a random order where heavier names tend to come first."""
        keyed = [(self.rng.random() ** (1.0 / weights[name]), name) for name in weights]
        return [name for _, name in sorted(keyed, reverse=True)]


def module_balanced(priors: dict[str, float]) -> dict[str, float]:
    """Priors rescaled so that every module's types together weigh the same.

    ``builtins`` alone has some 150 types; an extension module stormed beside it may have three.
    Without balancing, the extension the user came to test gets a fiftieth of the runs.  Within a
    module, types keep their relative priors.  The weights are scaled so their mean stays 1-ish
    (only ratios matter to the draw).
    """
    totals: dict[str, float] = {}
    for name, prior in priors.items():
        module = module_of_type(name)
        totals[module] = totals.get(module, 0.0) + prior
    scale = len(priors) / max(1, len(totals))
    return {name: scale * prior / totals[module_of_type(name)] for name, prior in priors.items()}


def module_of_type(type_name: str) -> str:
    """``collections.deque`` -> ``collections``; a bare name is its own module."""
    return type_name.rpartition(".")[0] or type_name


def prior_weight(subject: SubjectLike) -> float:
    """A type's starting weight: mutable containers and iterators have the most to race on.

    A type with neither mutators nor iteration (immutable values) has little shared state to
    race on: it weighs ``STATELESS_WEIGHT``.  Abstract bases (``io.IOBase``) and exception
    classes weigh ``BASE_WEIGHT`` whatever they offer: a run on them rarely reaches C state of
    its own.
    """
    if getattr(subject, "abstract", False) or getattr(subject, "exception", False):
        return BASE_WEIGHT
    mutators = sum(1 for m in subject.members if m.role == "mutator" and m.reachable)
    iterates = subject.iterator or subject.iterable
    if not mutators and not iterates:
        return STATELESS_WEIGHT
    weight = 1.0 + 0.5 * min(mutators, 6)
    if iterates:
        weight += 2.0
    return weight
