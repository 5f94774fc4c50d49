"""The search's economy: which (family, subject type) arm earns the next run.

An arm is one scenario family on one subject type.  Runs pay it rewards for what a user can file:

- a new in-contract bucket pays ``BUG_REWARD``;
- an outcome the arm had not produced before (raised, hung, crashed) pays ``OUTCOME_REWARD``;
- an outside-contract bucket pays nothing (the concurrent-``__init__`` family once took 61-70 %
  of default campaigns by feeding itself one fresh bucket per exception class).

Rewards go into a bonus that cools by ``DECAY`` at every pull of the arm, so an arm that stops
finding new things goes back to its base weight: libFuzzer's entropic schedule likewise rewards
new species, not repeats.  Repeats cost: an arm whose runs keep crashing into buckets already
filed (each such run also pays a crash dump and a new child) is weighted down, like an arm whose
runs keep ending ``raised`` (calls that fail at once, the cheapest way to waste a run).  The
economy draws nothing itself: the generator asks it for weights.
"""

from __future__ import annotations

from dataclasses import dataclass

BUG_REWARD = 4.0
OUTCOME_REWARD = 0.5
DECAY = 0.97  # bonus kept per pull: about 23 pulls halve it
MAX_BONUS = 9.0  # a hot arm weighs at most ten times a cold one
RAISED_MEMORY = 0.2  # weight of the latest run in the running share of raised runs
RAISED_FLOOR = 0.25  # an arm whose runs always raise keeps a quarter of its weight
REPEAT_FLOOR = 0.1  # an arm whose runs always crash into known buckets keeps a tenth
QUIET_OUTCOMES = ("passed", "harness_error")
FINDINGS = ("crashed", "hung", "sanitizer")


@dataclass
class Arm:
    """What the economy knows of one (family, type) arm."""

    bonus: float = 0.0
    pulls: int = 0
    earned: float = 0.0  # every reward ever paid, for the report
    raised_share: float = 0.0  # running share of runs that ended raised
    repeat_share: float = 0.0  # running share of runs that crashed into a known bucket
    applicable: bool = True  # False once the family declined the type

    @property
    def factor(self) -> float:
        """The arm's weight relative to its base: bonus up, always-raising and repeats down."""
        raised = 1.0 - (1.0 - RAISED_FLOOR) * self.raised_share
        repeats = 1.0 - (1.0 - REPEAT_FLOOR) * self.repeat_share
        return (1.0 + self.bonus) * raised * repeats


@dataclass
class Economy:
    """Arms by (family, type), their rewards and the share of runs outside the contract."""

    arms: dict[tuple[str, str], Arm]
    seen_outcomes: set[tuple[str, str, str]]
    runs: int = 0
    outside_runs: int = 0
    excepted_runs: int = 0  # runs in which some call raised, whatever their outcome

    @classmethod
    def empty(cls) -> Economy:
        return cls({}, set())

    def arm(self, family: str, type_name: str) -> Arm:
        key = (family, type_name)
        found = self.arms.get(key)
        if found is None:
            found = self.arms[key] = Arm()
        return found

    def factor(self, family: str, type_name: str) -> float:
        """The arm's weight relative to its base (1.0 for an arm never pulled)."""
        arm = self.arms.get((family, type_name))
        return 1.0 if arm is None else arm.factor

    def type_factor(self, type_name: str, families: list[str]) -> float:
        """A type weighs as much as its best applicable arm."""
        return max(
            (
                self.factor(family, type_name)
                for family in families
                if self.applicable(family, type_name)
            ),
            default=1.0,
        )

    def applicable(self, family: str, type_name: str) -> bool:
        arm = self.arms.get((family, type_name))
        return arm is None or arm.applicable

    def decline(self, family: str, type_name: str) -> None:
        """The family built nothing for the type: never offer that arm again."""
        self.arm(family, type_name).applicable = False

    def drew(self, outside: bool) -> None:
        """Count a run handed out, and whether the policy puts it outside the contract."""
        self.runs += 1
        self.outside_runs += outside

    def outside_share(self) -> float:
        return self.outside_runs / self.runs if self.runs else 0.0

    def pay(self, family: str, type_name: str, outcome: str, bucket: str | None) -> float:
        """Learn from one run; ``bucket`` is None, ``"in-contract"`` or ``"outside-contract"``
        for a run that made no, or a new, bucket.  Returns the reward paid."""
        arm = self.arm(family, type_name)
        arm.pulls += 1
        arm.bonus *= DECAY
        raised = 1.0 if outcome == "raised" else 0.0
        arm.raised_share += RAISED_MEMORY * (raised - arm.raised_share)
        repeat = 1.0 if outcome in FINDINGS and bucket is None else 0.0
        arm.repeat_share += RAISED_MEMORY * (repeat - arm.repeat_share)
        key = (family, type_name, outcome)
        reward = 0.0
        if bucket == "in-contract":
            reward = BUG_REWARD
        elif bucket is None and key not in self.seen_outcomes and outcome not in QUIET_OUTCOMES:
            reward = OUTCOME_REWARD
        self.seen_outcomes.add(key)
        arm.bonus = min(MAX_BONUS, arm.bonus + reward)
        arm.earned += reward
        return reward

    def report(self, top: int = 20) -> dict[str, object]:
        """Where the runs went and what paid: the busiest and the best-paid arms."""
        pulled = [(key, arm) for key, arm in self.arms.items() if arm.pulls]
        by_earned = sorted(pulled, key=lambda kv: (-kv[1].earned, -kv[1].pulls, kv[0]))
        return {
            "runs": self.runs,
            "outside_contract_runs": self.outside_runs,
            "outside_contract_share": round(self.outside_share(), 4),
            "runs_with_exceptions": self.excepted_runs,
            "arms": [
                {
                    "family": family,
                    "type": type_name,
                    "runs": arm.pulls,
                    "rewards": round(arm.earned, 3),
                    "weight": round(arm.factor, 3),
                    "raised_share": round(arm.raised_share, 3),
                    "repeat_share": round(arm.repeat_share, 3),
                }
                for (family, type_name), arm in by_earned[:top]
            ],
        }
