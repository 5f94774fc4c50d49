"""Seeded, deterministic scenario generation with feedback.

Each draw picks a family and a subject by weight, and the family builds the scenario.  Weights
start equal; when a run yields a new bucket or an outcome not seen before for that (family,
type), both the family's and the type's weight grow, so the campaign spends its time where the
target is weak.  Weights never fall below their start, so nothing is starved, and they are
reported as they stand.

With the campaign's coverage attached (``attach_coverage``), a share of the draws
(``TARGET_SHARE``) aims at items of the surface nothing has exercised yet
(``threadstorm.generate.targeting``): short runs packed with unexercised members or calls.  The
rest are the families' long, repetitive runs, which is where races are found.  Given the same seed
and the same sequence of feedback and coverage, the draws are the same.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from threadstorm.generate.families import FAMILIES, Family, SubjectLike
from threadstorm.generate.pool import ValuePool
from threadstorm.generate.targeting import CoverageSource, Targets
from threadstorm.scenario.model import Scenario

NEW_BUCKET_BOOST = 2.0
NEW_OUTCOME_BOOST = 1.25
MAX_WEIGHT = 10.0  # a hot type gets at most this many times a cold one's share
MAX_TRIES = 50
TARGET_SHARE = 0.7  # of the draws, while some item is still worth aiming at


class Generator:
    """Draws scenarios for a campaign from the surface's subjects."""

    def __init__(
        self,
        subjects: Sequence[SubjectLike],
        seed: int,
        families: Sequence[str] | None = None,
    ) -> None:
        if not subjects:
            raise ValueError("no subjects to generate scenarios from")
        self.rng = random.Random(seed)
        self.pool = ValuePool(self.rng)
        self.subjects = list(subjects)
        names = list(families) if families else list(FAMILIES)
        self.families: dict[str, Family] = {name: FAMILIES[name] for name in names}
        self.family_weights = dict.fromkeys(self.families, 1.0)
        self.by_type: dict[str, list[SubjectLike]] = {}
        for subject in self.subjects:
            self.by_type.setdefault(subject.type, []).append(subject)
        self.type_weights = {
            name: max(prior_weight(s) for s in subjects) for name, subjects in self.by_type.items()
        }
        self.seen_outcomes: set[tuple[str, str, str]] = set()
        self.subject_of: dict[int, str] = {}
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
        tried in a weighted random order until one applies to that subject.
        """
        targeted = self._targeted()
        if targeted is not None:
            return targeted
        for _ in range(MAX_TRIES):
            type_name = self._choose(self.type_weights)
            subject = self.rng.choice(self.by_type[type_name])
            for family_name in self._weighted_order(self.family_weights):
                scenario = self.families[family_name](self.rng, subject, self.pool)
                if scenario is not None:
                    return scenario.validate(), subject
        raise ValueError("no scenario family applies to any subject of the surface")

    def _targeted(self) -> tuple[Scenario, SubjectLike] | None:
        if self.targets is None or self.coverage is None:
            return None
        self.coverage_mark, names = self.coverage.exercised_since(self.coverage_mark)
        self.targets.note(names)
        if self.rng.random() >= self.target_share:
            return None
        drawn = self.targets.draw(self.rng, self.pool)
        return None if drawn is None else (drawn[0].validate(), drawn[1])

    def feedback(self, family: str, type_name: str, outcome: str, new_bucket: bool) -> None:
        """Learn from one run: reward what found something new, note what could not be built.

        A new bucket multiplies its family's and its type's weights by ``NEW_BUCKET_BOOST``; an
        outcome not seen before for the (family, type) pair nudges the type.  Weights stop at
        ``MAX_WEIGHT``, so one productive type never starves the others (a campaign over two
        types with a bug each must keep drawing both).
        """
        key = (family, type_name, outcome)
        if outcome == "harness_error":
            self.pool.strict_types.add(type_name)
        if new_bucket:
            self._boost(self.family_weights, family, NEW_BUCKET_BOOST)
            self._boost(self.type_weights, type_name, NEW_BUCKET_BOOST)
        elif key not in self.seen_outcomes and outcome not in ("passed", "harness_error"):
            self._boost(self.type_weights, type_name, NEW_OUTCOME_BOOST)
        self.seen_outcomes.add(key)

    def _boost(self, weights: dict[str, float], name: str, factor: float) -> None:
        if name in weights:
            weights[name] = min(MAX_WEIGHT, weights[name] * factor)

    def weights(self) -> dict[str, dict[str, float]]:
        """The current weights, for the report."""
        weights = {
            "families": dict(sorted(self.family_weights.items())),
            "types": dict(sorted(self.type_weights.items(), key=lambda kv: (-kv[1], kv[0]))),
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


def prior_weight(subject: SubjectLike) -> float:
    """A type's starting weight: mutable containers and iterators have the most to race on."""
    mutators = sum(1 for m in subject.members if m.role == "mutator" and m.reachable)
    weight = 1.0 + 0.5 * min(mutators, 6)
    if subject.iterator or subject.iterable:
        weight += 2.0
    return weight
