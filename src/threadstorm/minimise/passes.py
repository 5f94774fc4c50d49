"""Reduction passes: small named transformations, each offering scenarios simpler than the current.

A pass is a generator: given the current scenario it yields candidates, most ambitious first, and
the minimiser keeps the first one that still crashes the same way.  Every candidate a pass yields
is valid (``Scenario.validate``) and strictly smaller by ``sort_key``, the one definition of
"simpler"; ``ReductionPass.candidates`` enforces both, so a pass that gets it wrong wastes no runs.

The passes, in the order the minimiser runs them (cheap, large steps first):

- ``merge_identical_threads``: threads with identical plans collapse to two copies, then one.
- ``drop_thread``: delete threads, in chunks of decreasing size (delta debugging).  Both thread
  passes keep a round's work by raising the iterations (see ``with_fewer_threads``).
- ``drop_operation``: delete operations from a thread, in chunks, keeping at least one.
- ``drop_shared_object``: delete shared objects nothing refers to any more.
- ``halve_iterations`` and ``halve_rounds``: half the repetition.
- ``shrink_value``: smaller maker parameters (a union's ``size``, ``digits``, ``length``,
  ``depth``, ``width``) and fewer items in literal collections, in shared objects and arguments.
- ``simplify_argument``: replace an operation's argument by an empty container or a literal;
  an argument naming a shared object is replaced only when that object can then go too.
- ``merge_threads``: two different threads become one that runs both plans in turn.
- ``drop_timing``: a thread starts at the barrier again, calls in place instead of spawning, or
  reuses its arguments instead of building them per call; ``halve_delay``: shorter start offsets.
  Timing the crash needs stays; timing it does not need is removed, so the script reads simply.

Making a ``fresh`` object not fresh is not a pass of its own: ``sort_key`` does not see freshness,
so on its own it is never simpler, and with several rounds it changes what the scenario does (an
exhausted iterator would stay exhausted).  With one round it changes nothing (the harness builds
every object once before the first round), so ``halve_rounds`` clears the flags when it reaches a
single round, and the reproducer then builds every object in ``setup``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

from threadstorm.scenario.model import (
    AT_BARRIER,
    Call,
    Collection,
    Lit,
    Make,
    Recipe,
    Ref,
    Scenario,
    ScenarioError,
    SharedObject,
    Start,
    ThreadPlan,
    shared_references,
)
from threadstorm.scenario.simplicity import recipe_size, sort_key

T = TypeVar("T")

# The smallest meaningful value of each maker parameter (the makers clamp below these anyway).
PARAM_FLOORS: dict[str, int] = {"size": 1, "digits": 1, "length": 12, "depth": 0, "width": 1}
MAKER_FLOORS: dict[tuple[str, str], int] = {("big_union", "size"): 2}


@dataclass(frozen=True)
class ReductionPass:
    """A named generator of simpler candidates."""

    name: str
    generate: Callable[[Scenario], Iterator[Scenario]]

    def candidates(self, scenario: Scenario) -> Iterator[Scenario]:
        """The pass's candidates for ``scenario``: valid, strictly simpler, each offered once."""
        bound = sort_key(scenario)
        seen: set[Scenario] = set()
        for candidate in self.generate(scenario):
            if candidate in seen or not sort_key(candidate) < bound or not _valid(candidate):
                continue
            seen.add(candidate)
            yield candidate


def _valid(scenario: Scenario) -> bool:
    try:
        scenario.validate()
    except ScenarioError:
        return False
    return True


# ---------------------------------------------------------------------- sequences


def chunk_deletions(length: int, keep: int = 0) -> Iterator[tuple[int, int]]:
    """``(start, stop)`` slices to delete from a sequence, largest first, leaving ``keep`` items.

    Sizes go ``length - keep`` and one less (so six threads can become two in one step), then
    ``length // 2``, ``length // 4`` ... 1; for each size the slices are aligned at multiples of
    the size, plus one flush with the end.
    """
    most = length - keep
    halves = {length >> shift for shift in range(1, length.bit_length())}
    sizes = sorted({most, most - 1} | halves, reverse=True)
    for size in (s for s in sizes if 0 < s <= most):
        starts = [*range(0, length - size + 1, size), length - size]
        for start in dict.fromkeys(starts):
            yield start, start + size


def _without(items: Sequence[T], start: int, stop: int) -> tuple[T, ...]:
    return (*items[:start], *items[stop:])


# ---------------------------------------------------------------------- threads


def with_fewer_threads(scenario: Scenario, threads: tuple[ThreadPlan, ...]) -> Scenario:
    """``scenario`` with only ``threads``, each running proportionally more iterations.

    The work of a round is kept: a race on a shared iterator needs the iterator exhausted, and
    two threads doing 300 ``next`` calls each do not get through ``range(1000)`` where four did.
    Fewer threads is simpler by ``sort_key`` whatever the iterations; ``halve_iterations``
    takes back what the race does not need.
    """
    iterations = math.ceil(scenario.iterations * scenario.thread_count / len(threads))
    return dataclasses.replace(scenario, threads=threads, iterations=iterations)


def merge_identical_threads(scenario: Scenario) -> Iterator[Scenario]:
    """Threads with the same plan collapse to two copies of each plan, then to one."""
    for copies in (2, 1):
        kept: list[int] = []
        for index, plan in enumerate(scenario.threads):
            if [scenario.threads[k] for k in kept].count(plan) < copies:
                kept.append(index)
        if len(kept) < scenario.thread_count:
            yield with_fewer_threads(scenario, scenario.keep_threads(tuple(kept)))


def drop_thread(scenario: Scenario) -> Iterator[Scenario]:
    """Delete chunks of threads, largest first; at least one thread stays."""
    for start, stop in chunk_deletions(scenario.thread_count, keep=1):
        kept = _without(range(scenario.thread_count), start, stop)
        yield with_fewer_threads(scenario, scenario.keep_threads(kept))


def merge_threads(scenario: Scenario) -> Iterator[Scenario]:
    """Two different threads become one running both plans in turn (one thread fewer)."""
    threads = scenario.threads
    for first in range(len(threads)):
        for second in range(first + 1, len(threads)):
            if threads[first] == threads[second]:
                continue
            kept = tuple(index for index in range(len(threads)) if index != second)
            rest = list(scenario.keep_threads(kept))
            both = threads[first].operations + threads[second].operations
            rest[first] = dataclasses.replace(rest[first], operations=both)
            yield dataclasses.replace(scenario, threads=tuple(rest))


# ---------------------------------------------------------------------- operations


def drop_operation(scenario: Scenario) -> Iterator[Scenario]:
    """Delete chunks of one thread's operations, largest first; each thread keeps one.

    Shared objects only the deleted operations used go with them, in the same candidate: one
    confirmation instead of two (a flaky crash makes every confirmation costly).
    """
    needed = referenced_names(scenario)
    for index, plan in enumerate(scenario.threads):
        for start, stop in chunk_deletions(len(plan.operations), keep=1):
            smaller = dataclasses.replace(plan, operations=_without(plan.operations, start, stop))
            candidate = _with_thread(scenario, index, smaller)
            freed = needed - referenced_names(candidate)
            yield _without_objects(candidate, freed) if freed else candidate


def _with_thread(scenario: Scenario, index: int, plan: ThreadPlan) -> Scenario:
    threads = (*scenario.threads[:index], plan, *scenario.threads[index + 1 :])
    return dataclasses.replace(scenario, threads=threads)


# ---------------------------------------------------------------------- shared objects


def recipe_names(recipe: Recipe) -> set[str]:
    """The shared objects a recipe refers to (``Shared`` nodes and hostile targets)."""
    return set(shared_references(recipe))


def referenced_names(scenario: Scenario) -> set[str]:
    """Shared objects something else needs: an operation's target or argument, another recipe."""
    names = {op.target for op in scenario.operations()}
    for op in scenario.operations():
        for arg in op.args:
            names |= recipe_names(arg)
    for obj in scenario.shared:
        names |= recipe_names(obj.recipe) - {obj.name}
    return names


def drop_shared_object(scenario: Scenario) -> Iterator[Scenario]:
    """Delete shared objects nothing refers to: all of them at once, then one at a time."""
    unused = [obj for obj in scenario.shared if obj.name not in referenced_names(scenario)]
    if unused:
        yield _without_objects(scenario, {obj.name for obj in unused})
    for obj in unused if len(unused) > 1 else ():
        yield _without_objects(scenario, {obj.name})


def _without_objects(scenario: Scenario, names: set[str]) -> Scenario:
    kept = tuple(obj for obj in scenario.shared if obj.name not in names)
    return dataclasses.replace(scenario, shared=kept)


# ---------------------------------------------------------------------- repetition


def halve_iterations(scenario: Scenario) -> Iterator[Scenario]:
    """Half the iterations of every round."""
    if scenario.iterations > 1:
        yield dataclasses.replace(scenario, iterations=scenario.iterations // 2)


def halve_rounds(scenario: Scenario) -> Iterator[Scenario]:
    """Half the rounds; at one round, freshness means nothing and is cleared."""
    if scenario.rounds <= 1:
        return
    rounds = scenario.rounds // 2
    shared = scenario.shared
    if rounds == 1:
        shared = tuple(dataclasses.replace(obj, fresh=False) for obj in shared)
    yield dataclasses.replace(scenario, rounds=rounds, shared=shared)


# ---------------------------------------------------------------------- values


def smaller_recipes(recipe: Recipe) -> Iterator[Recipe]:
    """Recipes like ``recipe`` with smaller maker parameters or fewer collection items."""
    if isinstance(recipe, Make):
        yield from _smaller_makes(recipe)
    elif isinstance(recipe, Collection):
        step = 2 if recipe.kind == "dict" else 1
        for start, stop in chunk_deletions(len(recipe.items) // step):
            items = _without(recipe.items, start * step, stop * step)
            yield dataclasses.replace(recipe, items=items)
        for index, item in enumerate(recipe.items):
            for smaller in smaller_recipes(item):
                items = (*recipe.items[:index], smaller, *recipe.items[index + 1 :])
                yield dataclasses.replace(recipe, items=items)
    elif isinstance(recipe, Call):
        for index, arg in enumerate(recipe.args):
            for smaller in smaller_recipes(arg):
                args = (*recipe.args[:index], smaller, *recipe.args[index + 1 :])
                yield dataclasses.replace(recipe, args=args)
        for index, (key, value) in enumerate(recipe.kwargs):
            for smaller in smaller_recipes(value):
                kwargs = (*recipe.kwargs[:index], (key, smaller), *recipe.kwargs[index + 1 :])
                yield dataclasses.replace(recipe, kwargs=kwargs)


def _smaller_makes(recipe: Make) -> Iterator[Make]:
    for index, (name, value) in enumerate(recipe.params):
        if not isinstance(value, int):
            continue
        floor = MAKER_FLOORS.get((recipe.maker, name), PARAM_FLOORS.get(name, 0))
        for smaller in dict.fromkeys((floor, max(floor, value // 2))):
            if smaller < value:
                params = (*recipe.params[:index], (name, smaller), *recipe.params[index + 1 :])
                yield dataclasses.replace(recipe, params=params)


def shrink_value(scenario: Scenario) -> Iterator[Scenario]:
    """Smaller values in shared objects and operation arguments."""
    for index, obj in enumerate(scenario.shared):
        for recipe in smaller_recipes(obj.recipe):
            yield _with_object(scenario, index, dataclasses.replace(obj, recipe=recipe))
    for site, arg in _argument_sites(scenario):
        for recipe in smaller_recipes(arg):
            yield _with_argument(scenario, site, recipe)


def _with_object(scenario: Scenario, index: int, obj: SharedObject) -> Scenario:
    shared = (*scenario.shared[:index], obj, *scenario.shared[index + 1 :])
    return dataclasses.replace(scenario, shared=shared)


Site = tuple[int, int, int]  # thread, operation, argument


def _argument_sites(scenario: Scenario) -> Iterator[tuple[Site, Recipe]]:
    for t, plan in enumerate(scenario.threads):
        for o, op in enumerate(plan.operations):
            for a, arg in enumerate(op.args):
                yield (t, o, a), arg


def _with_argument(scenario: Scenario, site: Site, recipe: Recipe) -> Scenario:
    t, o, a = site
    op = scenario.threads[t].operations[o]
    new_op = dataclasses.replace(op, args=(*op.args[:a], recipe, *op.args[a + 1 :]))
    operations = scenario.threads[t].operations
    plan = dataclasses.replace(
        scenario.threads[t], operations=(*operations[:o], new_op, *operations[o + 1 :])
    )
    return _with_thread(scenario, t, plan)


# ---------------------------------------------------------------------- arguments


def plain_literals(recipe: Recipe) -> Iterator[Recipe]:
    """Simpler stand-ins for an argument: one of the same shape where known, then ``0``."""
    if isinstance(recipe, Collection) and recipe.items:
        yield Collection(recipe.kind)
    elif isinstance(recipe, Make):
        shaped: dict[str, Recipe] = {
            "big_int": Lit(7),
            "big_str": Lit("threadstorm-"),
            "nested_list": Collection("list"),
            "big_union": Ref("builtins.int"),
            "generic_alias": Ref("builtins.tuple"),
        }
        if recipe.maker in shaped:
            yield shaped[recipe.maker]
    elif isinstance(recipe, Call):
        yield Collection("tuple")
    if recipe != Lit(0):
        yield Lit(0)


def simplify_argument(scenario: Scenario) -> Iterator[Scenario]:
    """Replace an operation's argument by a plain literal (dropping shared objects it freed)."""
    for site, arg in _argument_sites(scenario):
        for literal in plain_literals(arg):
            candidate = _with_argument(scenario, site, literal)
            freed = recipe_names(arg) - referenced_names(candidate)
            if freed:
                yield _without_objects(candidate, freed)
            elif recipe_size(literal) < recipe_size(arg):
                yield candidate


# ---------------------------------------------------------------------- timing


def drop_timing(scenario: Scenario) -> Iterator[Scenario]:
    """One timing choice fewer: all of them at once first, then each thread's start, spawning
    and fresh arguments one by one."""
    if not scenario.timed:
        return
    plain = tuple(_untimed(plan) for plan in scenario.threads)
    yield dataclasses.replace(scenario, threads=plain)
    for index, plan in enumerate(scenario.threads):
        if not plan.start.at_barrier:
            yield _with_thread(scenario, index, dataclasses.replace(plan, start=AT_BARRIER))
        if plan.spawn:
            yield _with_thread(scenario, index, dataclasses.replace(plan, spawn=False))
        for number, op in enumerate(plan.operations):
            if op.fresh:
                ops = (*plan.operations[:number], dataclasses.replace(op, fresh=False))
                ops += plan.operations[number + 1 :]
                yield _with_thread(scenario, index, dataclasses.replace(plan, operations=ops))


def _untimed(plan: ThreadPlan) -> ThreadPlan:
    ops = tuple(dataclasses.replace(op, fresh=False) for op in plan.operations)
    return ThreadPlan(ops)


def halve_delay(scenario: Scenario) -> Iterator[Scenario]:
    """Every start offset halved (an offset under 2 us becomes none)."""
    if any(plan.start.delay_us for plan in scenario.threads):
        yield dataclasses.replace(
            scenario,
            threads=tuple(
                dataclasses.replace(plan, start=Start(plan.start.after, _half(plan.start.delay_us)))
                for plan in scenario.threads
            ),
        )


def _half(delay_us: int) -> int:
    return delay_us // 2 if delay_us >= 2 else 0


# ---------------------------------------------------------------------- the catalogue

PASSES: tuple[ReductionPass, ...] = (
    ReductionPass("merge_identical_threads", merge_identical_threads),
    ReductionPass("drop_thread", drop_thread),
    ReductionPass("drop_operation", drop_operation),
    ReductionPass("drop_shared_object", drop_shared_object),
    ReductionPass("halve_iterations", halve_iterations),
    ReductionPass("halve_rounds", halve_rounds),
    ReductionPass("shrink_value", shrink_value),
    ReductionPass("simplify_argument", simplify_argument),
    ReductionPass("merge_threads", merge_threads),
    ReductionPass("drop_timing", drop_timing),
    ReductionPass("halve_delay", halve_delay),
)


def pass_named(name: str) -> ReductionPass:
    """The pass called ``name``; ``KeyError`` naming the known ones otherwise."""
    for reduction in PASSES:
        if reduction.name == name:
            return reduction
    raise KeyError(f"no reduction pass {name!r}; known: {[p.name for p in PASSES]}")
