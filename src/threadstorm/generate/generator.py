"""Seeded, deterministic scenario generation with feedback.

Each draw picks a family and a subject by weight, and the family builds the scenario.  Weights
start equal; when a run yields a new bucket or an outcome not seen before for that (family,
type), both the family's and the type's weight grow, so the campaign spends its time where the
target is weak.  Weights never fall below their start, so nothing is starved, and they are
reported as they stand.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from threadstorm.generate.families import FAMILIES, Family, SubjectLike
from threadstorm.generate.pool import ValuePool
from threadstorm.scenario.model import Scenario

NEW_BUCKET_BOOST = 4.0
NEW_OUTCOME_BOOST = 1.5
MAX_WEIGHT = 50.0
MAX_TRIES = 50


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
        self.type_weights = {subject.type_name: 1.0 for subject in self.subjects}
        self.seen_outcomes: set[tuple[str, str, str]] = set()
        self.subject_of: dict[int, str] = {}

    def draw(self) -> tuple[Scenario, str]:
        """The next scenario and the type name of its subject."""
        for _ in range(MAX_TRIES):
            family_name = self._choose(self.family_weights)
            type_name = self._choose(self.type_weights)
            subject = next(s for s in self.subjects if s.type_name == type_name)
            scenario = self.families[family_name](self.rng, subject, self.pool)
            if scenario is not None:
                return scenario.validate(), type_name
        # Nothing fits the weighted picks: walk every pair once, in order.
        for family_name, family in self.families.items():
            for subject in self.subjects:
                scenario = family(self.rng, subject, self.pool)
                if scenario is not None:
                    return scenario.validate(), subject.type_name
        raise ValueError("no scenario family applies to any subject of the surface")

    def feedback(self, family: str, type_name: str, outcome: str, new_bucket: bool) -> None:
        """Reward the family and type of a run that found something new."""
        key = (family, type_name, outcome)
        boost = 1.0
        if new_bucket:
            boost = NEW_BUCKET_BOOST
        elif key not in self.seen_outcomes:
            boost = NEW_OUTCOME_BOOST
        self.seen_outcomes.add(key)
        if boost > 1.0:
            if family in self.family_weights:
                self.family_weights[family] = min(MAX_WEIGHT, self.family_weights[family] * boost)
            if type_name in self.type_weights:
                self.type_weights[type_name] = min(MAX_WEIGHT, self.type_weights[type_name] * boost)

    def weights(self) -> dict[str, dict[str, float]]:
        """The current weights, for the report."""
        return {
            "families": dict(sorted(self.family_weights.items())),
            "types": dict(sorted(self.type_weights.items(), key=lambda kv: (-kv[1], kv[0]))),
        }

    def _choose(self, weights: dict[str, float]) -> str:
        names = list(weights)
        return self.rng.choices(names, weights=[weights[name] for name in names])[0]
