"""Words for things: scenarios, recipes, sizes, durations and times, as every report says them.

One place decides how a scenario reads in a report ("thread 2: obj.pop(); obj.append(...)"), so the
terminal, Markdown, HTML and JSON renderers agree.  The Python a user can run is not written here:
that is the reproducer's job (``threadstorm.reproduce``).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Recipe,
    Ref,
    Scenario,
    Shared,
)

SIZE_PARTS = ("thread", "operation", "shared object", "value size", "repetition")


def recipe_text(recipe: Recipe, depth: int = 0) -> str:
    """A short readable form of a value recipe, e.g. ``list([big_union(size=40), 1])``."""
    if isinstance(recipe, Lit):
        return _clip(repr(recipe.value))
    if isinstance(recipe, BytesLit):
        return _clip(repr(recipe.value))
    if isinstance(recipe, Ref):
        return recipe.path.removeprefix("builtins.")
    if isinstance(recipe, Shared):
        return recipe.name
    if isinstance(recipe, Make):
        params = ", ".join(f"{name}={value}" for name, value in recipe.params)
        return f"{recipe.maker}({params})"
    if depth >= 2:
        return "..."
    if isinstance(recipe, Collection):
        return _collection_text(recipe, depth)
    args = [recipe_text(arg, depth + 1) for arg in recipe.args]
    args += [f"{name}={recipe_text(value, depth + 1)}" for name, value in recipe.kwargs]
    return f"{recipe_text(recipe.func, depth + 1)}({', '.join(args)})"


def _collection_text(recipe: Collection, depth: int) -> str:
    items = [recipe_text(item, depth + 1) for item in recipe.items[:4]]
    if len(recipe.items) > 4:
        items.append(f"... {len(recipe.items)} items")
    inner = ", ".join(items)
    brackets = {"list": "[{}]", "tuple": "({})", "set": "{{{}}}", "dict": "dict({})"}
    return brackets.get(recipe.kind, recipe.kind + "({})").format(inner)


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def operation_text(op: Operation) -> str:
    """One operation as it would read in code, arguments abbreviated."""
    if op.kind == "method":
        args = ", ".join(recipe_text(arg, 1) for arg in op.args)
        return f"{op.target}.{op.name}({args})"
    if op.kind == "function":
        args = "".join(f", {recipe_text(arg, 1)}" for arg in op.args)
        return f"{op.name.removeprefix('builtins.')}({op.target}{args})"
    if op.kind == "setattr":
        return f"{op.target}.{op.name} = {recipe_text(op.args[0], 1)}"
    return op.label()


def subject_of(scenario: Scenario) -> str:
    """The type the scenario storms: what its first shared object is made from."""
    if not scenario.shared:
        return "?"
    return _recipe_type(scenario.shared[0].recipe)


def _recipe_type(recipe: Recipe) -> str:
    if isinstance(recipe, Call):
        if isinstance(recipe.func, Ref) and recipe.func.path == "builtins.iter" and recipe.args:
            return f"iter({_recipe_type(recipe.args[0])})"
        return _recipe_type(recipe.func) if isinstance(recipe.func, Ref) else "?"
    if isinstance(recipe, Ref):
        return recipe.path.removeprefix("builtins.")
    if isinstance(recipe, Collection):
        return recipe.kind
    if isinstance(recipe, Make):
        return recipe.maker
    if isinstance(recipe, Lit):
        return type(recipe.value).__name__
    if isinstance(recipe, BytesLit):
        return "bytes"
    return recipe.name


def scenario_lines(scenario: Scenario) -> tuple[str, ...]:
    """The scenario told in a few lines: shared objects, each thread's plan, repetition."""
    lines = [
        f"shared {obj.name} = {recipe_text(obj.recipe)}"
        + (" (rebuilt every round)" if obj.fresh else "")
        for obj in scenario.shared
    ]
    for number, plan in enumerate(scenario.threads, start=1):
        lines.append(f"thread {number}: " + "; ".join(map(operation_text, plan.operations)))
    rounds = "round" if scenario.rounds == 1 else "rounds"
    lines.append(f"{scenario.iterations} iterations x {scenario.rounds} {rounds}")
    return tuple(lines)


def size_text(size: Sequence[int]) -> str:
    """A sort key in words: ``3 threads, 4 operations, 1 shared object, value size 45, ...``."""
    return ", ".join(
        f"{name} {value}" if name == "value size" else plural(value, name)
        for value, name in zip(size, SIZE_PARTS, strict=False)
    )


def plural(count: int, noun: str) -> str:
    """``1 thread``, ``2 threads``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def times_text(count: int) -> str:
    """``once``, ``twice``, ``1,234 times``."""
    return {1: "once", 2: "twice"}.get(count, f"{count:,} times")


def duration_text(seconds: float) -> str:
    """``0 s``, ``0.42 s``, ``12 s``, ``2m 05s``, ``1h 02m``."""
    if seconds == 0:
        return "0 s"
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def offset_text(seconds: float) -> str:
    """A moment of the campaign, e.g. ``+1m 05s``."""
    return "+" + duration_text(max(seconds, 0.0))


def timestamp_text(epoch: float) -> str:
    """An absolute time in UTC, ISO 8601 to the second."""
    moment = datetime.datetime.fromtimestamp(epoch, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def count_text(value: int) -> str:
    """``1,234``."""
    return f"{value:,}"
