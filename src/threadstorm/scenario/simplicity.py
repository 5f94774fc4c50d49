"""What "simpler" means, defined once: the minimiser keeps a change only if it lowers this key.

Fewer threads first (a two-thread race is the easiest to read), then fewer operations, then
smaller values, then less repetition, then less timing (threads that start at the barrier, call in
place and reuse their arguments read more simply than staggered, spawning or churning ones), then
shorter start offsets.  Standard library only.
"""

from __future__ import annotations

from threadstorm.scenario.model import Call, Collection, Make, Recipe, Scenario


def recipe_size(recipe: Recipe) -> int:
    """A size for a value recipe: one per node, plus the sizes a maker is asked for."""
    if isinstance(recipe, Collection):
        return 1 + sum(recipe_size(item) for item in recipe.items)
    if isinstance(recipe, Call):
        parts = (recipe.func, *recipe.args, *(value for _, value in recipe.kwargs))
        return 1 + sum(recipe_size(part) for part in parts)
    if isinstance(recipe, Make):
        return 1 + sum(value for _, value in recipe.params if isinstance(value, int))
    return 1


def value_size(scenario: Scenario) -> int:
    """Total size of every value recipe in the scenario."""
    shared = sum(recipe_size(obj.recipe) for obj in scenario.shared)
    args = sum(recipe_size(arg) for op in scenario.operations() for arg in op.args)
    return shared + args


def timing_features(scenario: Scenario) -> int:
    """How many timing choices a scenario makes: own starts, spawning plans, fresh arguments."""
    starts = sum(1 for plan in scenario.threads if plan.start.after is not None)
    offsets = sum(1 for plan in scenario.threads if plan.start.delay_us)
    spawns = sum(1 for plan in scenario.threads if plan.spawn)
    fresh = sum(1 for op in scenario.operations() if op.fresh)
    return starts + offsets + spawns + fresh


def sort_key(scenario: Scenario) -> tuple[int, int, int, int, int, int, int]:
    """Smaller is simpler: (threads, operations, shared objects, value size, repetitions,
    timing choices, total start offset in microseconds)."""
    return (
        scenario.thread_count,
        len(scenario.operations()),
        len(scenario.shared),
        value_size(scenario),
        scenario.rounds * scenario.iterations,
        timing_features(scenario),
        sum(plan.start.delay_us for plan in scenario.threads),
    )
