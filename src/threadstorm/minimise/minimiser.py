"""The minimiser: shrink a crashing scenario while it keeps crashing the same way.

Shaped like shrinkray: a reduction problem holds the ``current`` scenario and answers
``is_interesting(candidate)``; small named passes (``threadstorm.minimise.passes``) offer
candidates that are strictly simpler by ``sort_key``; passes run, in order, until a whole sweep
makes no progress (a fixed point) or the budget is spent.

Interesting means: the candidate ends in the same bucket (same signature key) in ``k`` of at most
``n`` runs.  The starting scenario is run first (``validate_runs`` times, and up to three times
as many while fewer than two runs crashed) to check that the crash is real and to measure its
rate ``p``; ``(k, n)`` then follows from ``p`` (``adaptive_confirm``).
A crash with the wanted signature is never a false positive, so 1 of ``n`` would do if keeping
the bug were all that mattered; but every repetition pass trades rate for size, and with 1 of
``n`` the minimiser walks down to the edge of reproducibility (measured: the 3.13 enumerate race
went from 3/10 to 0/10 that way).  So the test also has to fail candidates that crash much less
often than the original: the smallest ``n`` and the largest ``k`` such that a candidate as crashy
as the original passes with 90 % probability and one four times less crashy with at most 25 %
(2 of 2 at ``p`` = 1, 2 of 3 at 0.9, 2 of 7 at 0.5, 2 of 12 at 0.3).  Crashes rarer than about
0.2 cannot be held to that within ``MAX_CONFIRM_RUNS`` and get 1 of ``n``, with ``n`` enough to
see them with 90 % probability.  A candidate is dropped as soon as ``k`` is out of reach and
kept as soon as it is reached.  ``p`` is estimated by the rule of succession,
``(crashes + 1) / (runs + 2)``, so 10 of 10 is not taken for certainty.

Even so, several halvings that each lose a little rate add up, so the result is measured again
(``validate_runs`` runs) and, when it crashes less than half as often as the start, its
structure is rerun with the repetition of earlier kept scenarios, least first, until the rate
comes back (``restore_repetition``, a step of its own in the result).  A lost rate that
repetition cannot bring back (a thread removed that the race needed, kept on a lucky 2 of 3:
measured, the 3.13 set-iterator race went from 10/10 to 2/10 with more repetition than it
started with) is found by bisection over the kept scenarios: the latest one that still crashes
at least half as often as the start wins, or the start itself (``step_back``).

Ways to end, by name: ``minimised`` (a fixed point was reached), ``budget_exhausted`` (the best
scenario so far is returned) and ``not_reproduced`` (the starting crash did not show in any
validation run: a flaky or stale crash is an outcome, not an error).  The clock is checked
before every run, so the minimiser overruns its budget by at most one run's timeout.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from threadstorm.minimise.passes import PASSES, ReductionPass
from threadstorm.rate import Rate
from threadstorm.reproduce.rate import measure_scenario
from threadstorm.scenario.model import Scenario
from threadstorm.scenario.simplicity import sort_key

if TYPE_CHECKING:
    from threadstorm.store.records import BucketRecord
    from threadstorm.target.session import HarnessSession

MINIMISED = "minimised"
NOT_REPRODUCED = "not_reproduced"
BUDGET_EXHAUSTED = "budget_exhausted"

VALIDATE_RUNS = 10
VALIDATE_EXTENSION = 3  # validation goes on up to 3 x validate_runs while it has seen
RATE_HITS = 2  # fewer than this many crashes
KEEP = 0.9  # a candidate crashing as often as the original is kept with this probability
RATE_DROP = 4.0  # and one crashing this many times less often
DROP_PASS = 0.25  # passes with at most this probability
MAX_CONFIRM_RUNS = 20
RESERVE_SHARE = 0.25  # at most this share of the budget is kept back to measure the result

Confirm = tuple[int, int] | Literal["adaptive"]


@dataclass(frozen=True)
class Step:
    """One accepted reduction: which pass made it and the size key it reached."""

    pass_name: str
    key: tuple[int, ...]
    runs: int  # runs it took to confirm


@dataclass(frozen=True)
class Progress:
    """Where the minimiser is, for a progress display.

    ``phase`` is ``validate``, ``reduce``, ``measure`` or ``restore`` (repetition given back).
    """

    phase: str
    pass_name: str
    key: tuple[int, ...]
    runs: int
    elapsed_s: float
    accepted: bool | None = None  # for a judged candidate: kept or not


@dataclass(frozen=True)
class MinimiseResult:
    """Before and after: scenarios, size keys, rates; what it cost; how it ended."""

    status: str
    before: Scenario
    after: Scenario
    before_rate: Rate
    after_rate: Rate
    runs: int
    wall_s: float
    confirm: tuple[int, int] | None  # k of n for candidates (None when not reproduced)
    steps: tuple[Step, ...] = ()
    others: dict[str, int] = field(default_factory=dict)  # other outcomes seen on validation

    @property
    def before_key(self) -> tuple[int, ...]:
        return sort_key(self.before)

    @property
    def after_key(self) -> tuple[int, ...]:
        return sort_key(self.after)

    @property
    def reduced(self) -> bool:
        """Whether the result is strictly simpler than the start."""
        return self.after_key < self.before_key


def adaptive_confirm(rate: float, max_runs: int = MAX_CONFIRM_RUNS) -> tuple[int, int]:
    """``(k, n)`` for candidates of a crash measured at ``rate``; see the module docstring.

    The smallest ``n`` (then the largest ``k``) for which a candidate crashing as often as the
    original passes with ``KEEP`` probability and one crashing ``RATE_DROP`` times less often
    passes with at most ``DROP_PASS``.  Rare crashes, where no such test fits in ``max_runs``,
    fall back to 1 of the ``n`` runs that show the crash with ``KEEP`` probability.
    """
    for runs in range(2, max_runs + 1):
        for hits in range(runs, 0, -1):
            kept = _at_least(hits, runs, rate) >= KEEP
            if kept and _at_least(hits, runs, rate / RATE_DROP) <= DROP_PASS:
                return hits, runs
    if rate <= 0.0:
        return 1, max_runs
    if rate >= 1.0:
        return 1, 2
    needed = math.ceil(math.log(1.0 - KEEP) / math.log(1.0 - rate))
    return 1, max(2, min(max_runs, needed))


def _at_least(hits: int, runs: int, rate: float) -> float:
    """The probability of at least ``hits`` crashes in ``runs`` runs at ``rate``."""
    return sum(
        math.comb(runs, k) * rate**k * (1.0 - rate) ** (runs - k) for k in range(hits, runs + 1)
    )


class _OutOfBudget(Exception):
    """Raised inside the reduction loop when the next run would start after the deadline."""


@dataclass
class ReductionProblem:
    """The current scenario and the judge of candidates, with a run counter and a deadline."""

    session: HarnessSession
    signature_key: str | Set[str]  # a bucket's key, or with those merged into it
    current: Scenario
    timeout_s: float
    deadline: float
    clock: Callable[[], float]
    confirm: tuple[int, int] = (1, 2)
    runs: int = 0
    run_seconds: list[float] = field(default_factory=list)
    rejected: set[Scenario] = field(default_factory=set)

    def run_once(self, scenario: Scenario) -> tuple[bool, str | None]:
        """One run: whether it hit the signature, else what it ended with instead."""
        if self.clock() >= self.deadline:
            raise _OutOfBudget
        started = self.clock()
        measured = measure_scenario(
            self.session, scenario, self.signature_key, runs=1, timeout_s=self.timeout_s
        )
        self.runs += 1
        self.run_seconds.append(self.clock() - started)
        return measured.crashes == 1, next(iter(measured.others), None)

    def is_interesting(self, candidate: Scenario) -> bool:
        """Same signature in ``k`` of at most ``n`` runs (stops as soon as the answer is known)."""
        wanted, most = self.confirm
        hits = misses = 0
        while hits < wanted and misses <= most - wanted:
            hit, _ = self.run_once(candidate)
            hits, misses = hits + hit, misses + (not hit)
        if hits < wanted:
            self.rejected.add(candidate)
        return hits >= wanted


Listener = Callable[[Progress], None]


@dataclass
class _Reducer:
    """Runs the passes over a problem to a fixed point, measuring and reporting as it goes."""

    problem: ReductionProblem
    passes: Sequence[ReductionPass]
    progress: Listener
    started: float
    steps: list[Step] = field(default_factory=list)
    kept: list[Scenario] = field(default_factory=list)  # every accepted candidate, in order

    def sweep_until_fixed(self) -> None:
        """Run every pass in turn until a whole sweep changes nothing."""
        progressed = True
        while progressed:
            progressed = False
            for reduction in self.passes:
                progressed = self.run_pass(reduction) or progressed

    def run_pass(self, reduction: ReductionPass) -> bool:
        """Apply one pass until none of its candidates is interesting; whether any was."""
        progressed, position = False, 0
        while (found := self._next_interesting(reduction, position)) is not None:
            progressed, position = True, found
        return progressed

    def _next_interesting(self, reduction: ReductionPass, start: int) -> int | None:
        """Try the current scenario's candidates from ``start`` round to ``start - 1``.

        The first interesting one becomes current and its position is returned.  Resuming where
        the last success was (instead of at the top) spends runs on untried candidates first.
        """
        candidates = list(reduction.candidates(self.problem.current))
        for offset in range(len(candidates)):
            position = (start + offset) % len(candidates)
            candidate = candidates[position]
            if candidate in self.problem.rejected:
                continue
            runs_before = self.problem.runs
            accepted = self.problem.is_interesting(candidate)
            if accepted:
                self.problem.current = candidate
                self.kept.append(candidate)
                cost = self.problem.runs - runs_before
                self.steps.append(Step(reduction.name, sort_key(candidate), cost))
            self.report("reduce", reduction.name, accepted)
            if accepted:
                return position
        return None

    def restore_repetition(self, before: Scenario, start: Rate, after: Rate) -> Rate:
        """Give back repetition when the result crashes far less often than the start did.

        Each halving of iterations or rounds is kept on a few runs, and several of them can
        each lose a little rate, so the result may crash much less often than the original
        (measured: the 3.13 bytearray race went from 2/10 to 0/10).  Repetition costs one
        number in the script, not readability, so here the result's structure is rerun with
        the repetition of earlier kept scenarios, least first, until one crashes at least half
        as often as the start; the best measured wins.  Returns the result's rate.
        """
        if after.fraction >= start.fraction / 2:
            return after
        current, best = self.problem.current, (after, self.problem.current)
        runs_before = self.problem.runs
        for rounds, iterations in _more_repetition(current, [before, *self.kept]):
            candidate = _with_repetition(current, before, rounds, iterations)
            rate, _ = self.measure("restore", candidate, after.runs)
            best = max(best, (rate, candidate), key=lambda pair: pair[0].fraction)
            if rate.fraction >= start.fraction / 2 or rate.runs < after.runs:
                break
        rate, scenario = best
        if scenario != current:
            self.problem.current = scenario
            cost = self.problem.runs - runs_before
            self.steps.append(Step("restore_repetition", sort_key(scenario), cost))
        return rate

    def step_back(self, before: Scenario, start: Rate, after: Rate) -> Rate:
        """When the result still crashes less than half as often as the start: the latest kept
        scenario that does not, by bisection over the kept ones (reductions pile up, so rates
        fall roughly in order), else the start itself.  Returns the chosen scenario's rate.

        A measurement cut short by the budget settles nothing: the search stops there, with
        the latest scenario known to hold the rate.
        """
        if after.fraction >= start.fraction / 2 or not self.kept:
            return after
        runs_before = self.problem.runs
        holding, holding_rate = -1, start  # -1: the starting scenario
        failing = len(self.kept) - 1
        while failing - holding > 1:
            middle = (holding + failing) // 2
            rate, _ = self.measure("step back", self.kept[middle], after.runs)
            if rate.runs < after.runs:
                break
            if rate.fraction >= start.fraction / 2:
                holding, holding_rate = middle, rate
            else:
                failing = middle
        self.problem.current = self.kept[holding] if holding >= 0 else before
        cost = self.problem.runs - runs_before
        self.steps.append(Step("step_back", sort_key(self.problem.current), cost))
        return holding_rate

    def measure(
        self, phase: str, scenario: Scenario, runs: int, most: int = 0
    ) -> tuple[Rate, dict[str, int]]:
        """``runs`` runs of ``scenario``, continued up to ``most`` while fewer than
        ``RATE_HITS`` crashed (a rare crash needs more runs to be seen and measured); fewer if
        the budget ends first."""
        hits, done, others = 0, 0, Counter[str]()
        while done < runs or (hits < RATE_HITS and done < most):
            try:
                hit, other = self.problem.run_once(scenario)
            except _OutOfBudget:
                break
            hits, done = hits + hit, done + 1
            others.update([other] if other is not None else [])
            self.report(phase, f"{done}/{max(runs, most) if hits < RATE_HITS else runs}")
        return Rate(hits, done), dict(others)

    def report(self, phase: str, pass_name: str, accepted: bool | None = None) -> None:
        """Tell the listener where things stand."""
        self.progress(
            Progress(
                phase=phase,
                pass_name=pass_name,
                key=sort_key(self.problem.current),
                runs=self.problem.runs,
                elapsed_s=self.problem.clock() - self.started,
                accepted=accepted,
            )
        )

    def result(
        self, status: str, before: Scenario, rates: tuple[Rate, Rate], others: dict[str, int]
    ) -> MinimiseResult:
        """The result, as things stand now."""
        return MinimiseResult(
            status=status,
            before=before,
            after=self.problem.current,
            before_rate=rates[0],
            after_rate=rates[1],
            runs=self.problem.runs,
            wall_s=self.problem.clock() - self.started,
            confirm=self.problem.confirm if status != NOT_REPRODUCED else None,
            steps=tuple(self.steps),
            others=others,
        )


def minimise(
    session: HarnessSession,
    scenario: Scenario,
    signature_key: str | Set[str],
    *,
    budget_s: float = 300.0,
    timeout_s: float = 10.0,
    confirm: Confirm = "adaptive",
    validate_runs: int = VALIDATE_RUNS,
    passes: Sequence[ReductionPass] = PASSES,
    progress: Listener | None = None,
    known_rate: Rate | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> MinimiseResult:
    """Shrink ``scenario`` while it keeps ending in bucket ``signature_key``; see the module doc.

    ``known_rate``, when the caller has just measured the scenario (a campaign's follow-up
    does), stands for the validation runs; it must count runs of this very scenario.
    """
    if confirm != "adaptive" and not 1 <= confirm[0] <= confirm[1]:
        raise ValueError(f"confirm must be (k, n) with 1 <= k <= n, got {confirm}")
    started = clock()
    deadline = started + budget_s
    problem = ReductionProblem(session, signature_key, scenario, timeout_s, deadline, clock)
    reducer = _Reducer(problem, passes, progress or (lambda _: None), started)
    others: dict[str, int] = {}
    if known_rate is None:
        most = validate_runs * VALIDATE_EXTENSION
        before, others = reducer.measure("validate", scenario, validate_runs, most)
    else:
        before = known_rate
    if before.crashes == 0:
        status = NOT_REPRODUCED if before.runs >= validate_runs else BUDGET_EXHAUSTED
        return reducer.result(status, scenario, (before, before), others)
    estimate = (before.crashes + 1) / (before.runs + 2)
    problem.confirm = confirm if confirm != "adaptive" else adaptive_confirm(estimate)
    problem.deadline = deadline - _reserve(problem, validate_runs, budget_s)
    try:
        reducer.sweep_until_fixed()
        status = MINIMISED
    except _OutOfBudget:
        status = BUDGET_EXHAUSTED
    problem.deadline = deadline
    after = before
    if problem.current != scenario:
        after, _ = reducer.measure("measure", problem.current, validate_runs)
        after = reducer.restore_repetition(scenario, before, after)
        after = reducer.step_back(scenario, before, after)
    return reducer.result(status, scenario, (before, after), others)


def _more_repetition(current: Scenario, earlier: Sequence[Scenario]) -> list[tuple[int, int]]:
    """(rounds, iterations) of earlier scenarios that repeat more than ``current``, least first."""
    pairs = {(s.rounds, s.iterations) for s in earlier}
    more = [pair for pair in pairs if pair[0] * pair[1] > current.rounds * current.iterations]
    return sorted(more, key=lambda pair: (pair[0] * pair[1], pair))


def _with_repetition(current: Scenario, before: Scenario, rounds: int, iterations: int) -> Scenario:
    """``current`` repeated as asked; with several rounds, objects are fresh as they were before."""
    shared = current.shared
    if rounds > 1:
        fresh = {obj.name: obj.fresh for obj in before.shared}
        shared = tuple(
            dataclasses.replace(obj, fresh=fresh.get(obj.name, obj.fresh)) for obj in shared
        )
    return dataclasses.replace(current, shared=shared, rounds=rounds, iterations=iterations)


def _reserve(problem: ReductionProblem, runs: int, budget_s: float) -> float:
    """Time kept back to measure the result: as long as validation took, within a share."""
    seconds = problem.run_seconds
    average = sum(seconds) / len(seconds) if seconds else problem.timeout_s
    return min(average * runs, budget_s * RESERVE_SHARE)


def minimise_for_bucket(
    session: HarnessSession,
    bucket: BucketRecord,
    *,
    from_minimised: bool = False,
    budget_s: float = 300.0,
    timeout_s: float = 10.0,
    confirm: Confirm = "adaptive",
    validate_runs: int = VALIDATE_RUNS,
    progress: Listener | None = None,
) -> MinimiseResult:
    """Minimise a stored bucket's smallest scenario (or, asked, its earlier minimised one)."""
    start = bucket.best_scenario if from_minimised else bucket.smallest_scenario
    return minimise(
        session,
        start,
        bucket.signature.key,
        budget_s=budget_s,
        timeout_s=timeout_s,
        confirm=confirm,
        validate_runs=validate_runs,
        progress=progress,
    )
