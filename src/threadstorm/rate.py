"""One reproduction rate: k crashing runs of n, with its Wilson confidence interval.

Every place that counts crashing reruns (the campaign's follow-up, the minimiser, ``repro``,
variant search, the store, reports) uses this one value, so "8/10" means the same thing, is
printed the same way, and always comes with how uncertain it is: 8/10 is anything from about
half to nearly always (95 % Wilson interval 49-94 %).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any

Z_95 = 1.959963984540054  # the normal quantile of a two-sided 95 % interval


@dataclass(frozen=True)
class Rate:
    """``crashes`` of ``runs`` runs ended with the wanted signature.

    ``times_to_crash_s`` are the crashing runs' durations and ``others`` counts the other ways the
    runs ended (outcomes and other bucket keys), when the measurement kept them.
    """

    crashes: int
    runs: int
    times_to_crash_s: tuple[float, ...] = ()
    others: dict[str, int] = field(default_factory=dict, compare=False, hash=False)

    @property
    def fraction(self) -> float:
        """Between 0 and 1; 0 when nothing ran."""
        return self.crashes / self.runs if self.runs else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        """The 95 % Wilson score interval of the fraction; (0, 1) when nothing ran."""
        return wilson_interval(self.crashes, self.runs)

    @property
    def median_time_to_crash_s(self) -> float | None:
        return statistics.median(self.times_to_crash_s) if self.times_to_crash_s else None

    @property
    def text(self) -> str:
        """E.g. ``8/10 (80 %, 95 % CI 49-94 %)``."""
        if not self.runs:
            return "0/0"
        low, high = self.interval
        return (
            f"{self.crashes}/{self.runs} ({self.fraction * 100:.0f} %, "
            f"95 % CI {low * 100:.0f}-{high * 100:.0f} %)"
        )

    def to_json(self) -> dict[str, int]:
        return {"crashes": self.crashes, "runs": self.runs}

    @classmethod
    def from_json(cls, doc: Any) -> Rate | None:
        if not isinstance(doc, dict):
            return None
        return cls(int(doc["crashes"]), int(doc["runs"]))


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a binomial proportion (good at 0/n and n/n, unlike Wald)."""
    if trials <= 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
