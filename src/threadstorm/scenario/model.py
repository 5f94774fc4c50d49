"""The scenario: the test case as plain, frozen data.

A scenario says which objects the threads share (built from value recipes), what each thread does
to them (a plan of operations with argument recipes), how often, and when: ``rounds`` times the
shared objects marked ``fresh`` are rebuilt and every thread is released by a barrier, then each
thread waits for its own start (at once, a number of microseconds later, or once another thread
has begun its first operation) and runs its plan ``iterations`` times.  A race is a shape in time
as much as a set of calls: readers already deep inside a slow nested repr when a mutator strikes,
a mutator that refills a container with values built anew for every call (``Operation.fresh``) so
that what it clears is really freed, or many short-lived threads, one per call
(``ThreadPlan.spawn``).  Generation makes scenarios, the harness interprets them,
the minimiser transforms them and the reproducer renders them as Python.  Nothing here draws a
random number: the scenario *is* the test case.

This module belongs to the standard-library-only zone: it is shipped into the target interpreter.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TypeAlias

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1 had no timing: every thread started at the barrier
MAX_DELAY_US = 100_000  # a start offset longer than a tenth of a second is a sleep, not a race


class ScenarioError(ValueError):
    """A scenario that is malformed or inconsistent (unknown name, bad count, wrong shape)."""


# --------------------------------------------------------------------------- value recipes


@dataclass(frozen=True)
class Lit:
    """A JSON literal: None, bool, int (any size), float or str."""

    value: bool | int | float | str | None


@dataclass(frozen=True)
class BytesLit:
    """A bytes value, kept as latin-1 text in JSON."""

    value: bytes


@dataclass(frozen=True)
class Ref:
    """An object found by dotted path, e.g. ``builtins.int`` or ``typing.Any``."""

    path: str


@dataclass(frozen=True)
class Shared:
    """Another shared object of the scenario, by name (resolved when the value is built)."""

    name: str


@dataclass(frozen=True)
class Collection:
    """A literal container: ``kind`` is list, tuple, set, frozenset or dict (items are pairs)."""

    kind: str
    items: tuple[Recipe, ...] = ()


@dataclass(frozen=True)
class Call:
    """``func(*args, **kwargs)`` with every part a recipe."""

    func: Recipe
    args: tuple[Recipe, ...] = ()
    kwargs: tuple[tuple[str, Recipe], ...] = ()


@dataclass(frozen=True)
class Make:
    """A value made by one of the named makers (see ``MAKERS``), with integer or text parameters.

    Makers exist for values a user would describe in a word rather than spell out: a union of
    ``size`` distinct types, a big integer of ``digits`` digits, a hostile object whose ``__eq__``
    clears a shared container.
    """

    maker: str
    params: tuple[tuple[str, int | str], ...] = ()

    def param(self, name: str, default: int | str | None = None) -> int | str | None:
        """The named parameter, or ``default``."""
        return dict(self.params).get(name, default)


Recipe: TypeAlias = Lit | BytesLit | Ref | Shared | Collection | Call | Make

COLLECTION_KINDS = ("list", "tuple", "set", "frozenset", "dict")


def recipe_parts(recipe: Recipe) -> Iterator[Recipe]:
    """``recipe`` and every recipe nested in it, outermost first."""
    yield recipe
    if isinstance(recipe, Collection):
        for item in recipe.items:
            yield from recipe_parts(item)
    elif isinstance(recipe, Call):
        for part in (recipe.func, *recipe.args, *(value for _, value in recipe.kwargs)):
            yield from recipe_parts(part)


def hostile_targets(recipe: Recipe) -> list[str]:
    """The shared objects hostile values in ``recipe`` reach by name (through the namespace)."""
    targets = (
        part.param("target")
        for part in recipe_parts(recipe)
        if isinstance(part, Make) and part.maker == "hostile"
    )
    return [target for target in targets if isinstance(target, str) and target]


def shared_references(recipe: Recipe) -> list[str]:
    """The shared objects ``recipe`` refers to, once per mention: ``Shared`` nodes and hostile
    values' targets."""
    named = [part.name for part in recipe_parts(recipe) if isinstance(part, Shared)]
    return named + hostile_targets(recipe)


# Makers the harness knows, with their parameter names.  Sizes are what the minimiser shrinks.
MAKERS: dict[str, tuple[str, ...]] = {
    "big_union": ("size",),  # typing.Union of `size` distinct types
    "generic_alias": ("size",),  # a parametrised generic alias with `size` arguments
    "big_int": ("digits",),
    "big_str": ("length",),
    "nested_list": ("depth", "width"),
    "fresh_class": ("name",),  # a new class, so first touches of its lazy attributes are real
    "hostile": ("dunder", "action", "target"),  # dunder method that calls target.action()
    "kept_referent": ("callable",),  # a live object for weak references (a list subclass)
}

HOSTILE_DUNDERS = ("__repr__", "__eq__", "__hash__", "__del__", "__lt__", "__len__", "__index__")


# --------------------------------------------------------------------------- operations

OPERATION_KINDS = ("method", "function", "getattr", "setattr", "delattr")
# Special methods asked of a class rather than of its instances: bound like ordinary methods.
CLASS_LEVEL_DUNDERS = frozenset(
    {"__new__", "__init_subclass__", "__subclasshook__", "__class_getitem__"}
)


def through_type(name: str) -> bool:
    """Whether a ``method`` operation named ``name`` is a special method, looked up on the
    object's type as the interpreter's own protocols do: ``type(obj).__getitem__(obj, key)``.

    Through the object, a weak proxy answers ``proxy.__getitem__`` with its referent's method and
    a generic alias with its origin's, so the object's own slot (the C code under test) would
    never run.
    """
    dunder = len(name) > 4 and name.startswith("__") and name.endswith("__")
    return dunder and name not in CLASS_LEVEL_DUNDERS


@dataclass(frozen=True)
class Operation:
    """One thing a thread does to a shared object.

    - ``method``: ``getattr(target, name)(*args)``; a special method through the type,
      ``type(target).name(target, *args)`` (see ``through_type``)
    - ``function``: ``resolve(name)(target, *args)``, e.g. ``builtins.repr`` or ``copy.copy``
    - ``getattr``: ``getattr(target, name)``
    - ``setattr``: ``setattr(target, name, args[0])``
    - ``delattr``: ``delattr(target, name)``
    """

    kind: str
    target: str
    name: str
    args: tuple[Recipe, ...] = ()
    fresh: bool = False  # arguments built anew for every call (churn), not once per round

    def label(self) -> str:
        """A short, stable text for reports and signatures, e.g. ``repr(obj)`` or ``obj.pop()``."""
        if self.kind == "method":
            return f"{self.target}.{self.name}()"
        if self.kind == "function":
            return f"{self.name.rpartition('.')[2]}({self.target})"
        if self.kind == "getattr":
            return f"{self.target}.{self.name}"
        if self.kind == "setattr":
            return f"{self.target}.{self.name} = ..."
        return f"del {self.target}.{self.name}"


@dataclass(frozen=True)
class Start:
    """When a thread begins its plan after the round's barrier has released it.

    ``after`` names another thread (by index) that must have begun its first operation; then the
    thread spins ``delay_us`` microseconds.  The default, neither, starts at the barrier with
    everyone else.
    """

    after: int | None = None
    delay_us: int = 0

    @property
    def at_barrier(self) -> bool:
        """True for the plain start: released with every other thread, no wait, no offset."""
        return self.after is None and self.delay_us == 0


AT_BARRIER = Start()


@dataclass(frozen=True)
class ThreadPlan:
    """The operations one thread runs, in order, once per iteration, and when it starts.

    With ``spawn`` every call runs in a short-lived thread of its own, started and joined by this
    one (a thread's birth and death are part of some races: biased reference counts are merged
    when a thread exits).
    """

    operations: tuple[Operation, ...]
    start: Start = AT_BARRIER
    spawn: bool = False

    @property
    def timed(self) -> bool:
        """True when anything about this plan is more than "start at the barrier, call"."""
        return not self.start.at_barrier or self.spawn or any(op.fresh for op in self.operations)


@dataclass(frozen=True)
class SharedObject:
    """An object every thread can reach by ``name``; ``fresh`` ones are rebuilt every round."""

    name: str
    recipe: Recipe
    fresh: bool = False


@dataclass(frozen=True)
class Scenario:
    """A complete, replayable concurrent test case."""

    shared: tuple[SharedObject, ...]
    threads: tuple[ThreadPlan, ...]
    iterations: int = 100
    rounds: int = 1
    imports: tuple[str, ...] = ()
    family: str = "custom"
    version: int = field(default=SCHEMA_VERSION)

    @property
    def thread_count(self) -> int:
        """How many threads run at once."""
        return len(self.threads)

    def operations(self) -> tuple[Operation, ...]:
        """Every operation of every thread, in thread order."""
        return tuple(op for plan in self.threads for op in plan.operations)

    @property
    def timed(self) -> bool:
        """True when some thread has a start of its own, spawns, or churns fresh arguments."""
        return any(plan.timed for plan in self.threads)

    def keep_threads(self, indices: tuple[int, ...]) -> tuple[ThreadPlan, ...]:
        """The plans at ``indices``, in that order, with ``Start.after`` renumbered to match.

        A start that waited for a thread no longer kept waits for nobody (its offset stays).
        """
        position = {old: new for new, old in enumerate(indices)}
        kept = []
        for old in indices:
            plan = self.threads[old]
            after = plan.start.after
            if after is not None:
                start = Start(position.get(after), plan.start.delay_us)
                plan = replace(plan, start=start)
            kept.append(plan)
        return tuple(kept)

    def validate(self) -> Scenario:
        """Raise ``ScenarioError`` naming the first inconsistency; return self when sound."""
        if self.version not in READABLE_VERSIONS:
            raise ScenarioError(
                f"scenario schema version {self.version} is not supported (this threadstorm "
                f"reads versions {', '.join(map(str, READABLE_VERSIONS))})"
            )
        if not self.threads:
            raise ScenarioError("a scenario needs at least one thread")
        if self.iterations < 1 or self.rounds < 1:
            raise ScenarioError("iterations and rounds must be at least 1")
        known: set[str] = set()
        for obj in self.shared:
            if not obj.name.isidentifier():
                raise ScenarioError(f"shared object name {obj.name!r} is not an identifier")
            if obj.name in known:
                raise ScenarioError(f"shared object {obj.name!r} is defined twice")
            known.add(obj.name)
        for obj in self.shared:
            _check_recipe(obj.recipe, known)
        for number, plan in enumerate(self.threads):
            if not plan.operations:
                raise ScenarioError(f"thread {number} has no operations")
            for op in plan.operations:
                _check_operation(op, known)
            _check_start(plan.start, number, self.thread_count)
        _check_start_order(self.threads)
        return self


def _check_start(start: Start, number: int, threads: int) -> None:
    if start.after is not None and not 0 <= start.after < threads:
        raise ScenarioError(f"thread {number} starts after thread {start.after}, which is absent")
    if start.after == number:
        raise ScenarioError(f"thread {number} cannot start after itself")
    if not 0 <= start.delay_us <= MAX_DELAY_US:
        raise ScenarioError(
            f"thread {number} has a start delay of {start.delay_us} us; use 0 to {MAX_DELAY_US}"
        )


def _check_start_order(threads: tuple[ThreadPlan, ...]) -> None:
    """Waits must end somewhere: no thread may wait, through others, for itself."""
    for number in range(len(threads)):
        seen = {number}
        after = threads[number].start.after
        while after is not None:
            if after in seen:
                raise ScenarioError(f"thread {number} waits for itself through thread {after}")
            seen.add(after)
            after = threads[after].start.after


def _check_operation(op: Operation, known: set[str]) -> None:
    if op.kind not in OPERATION_KINDS:
        raise ScenarioError(f"unknown operation kind {op.kind!r}; use one of {OPERATION_KINDS}")
    if op.target not in known:
        raise ScenarioError(f"operation {op.label()} targets unknown shared object {op.target!r}")
    if not op.name:
        raise ScenarioError(f"operation on {op.target!r} has an empty name")
    if op.kind == "setattr" and len(op.args) != 1:
        raise ScenarioError(f"setattr {op.name!r} needs exactly one argument")
    if op.fresh and not op.args:
        raise ScenarioError(f"operation {op.label()} is marked fresh but has no argument")
    for arg in op.args:
        _check_recipe(arg, known)


def _check_recipe(recipe: Recipe, known: set[str]) -> None:
    if isinstance(recipe, Shared) and recipe.name not in known:
        raise ScenarioError(f"recipe refers to unknown shared object {recipe.name!r}")
    if isinstance(recipe, Collection):
        if recipe.kind not in COLLECTION_KINDS:
            raise ScenarioError(f"unknown collection kind {recipe.kind!r}")
        if recipe.kind == "dict" and len(recipe.items) % 2:
            raise ScenarioError("a dict recipe needs key, value pairs")
        for item in recipe.items:
            _check_recipe(item, known)
    elif isinstance(recipe, Call):
        for part in (recipe.func, *recipe.args, *(v for _, v in recipe.kwargs)):
            _check_recipe(part, known)
    elif isinstance(recipe, Make):
        if recipe.maker not in MAKERS:
            raise ScenarioError(f"unknown maker {recipe.maker!r}; known: {sorted(MAKERS)}")
        unknown = {name for name, _ in recipe.params} - set(MAKERS[recipe.maker])
        if unknown:
            raise ScenarioError(f"maker {recipe.maker!r} has no parameter {sorted(unknown)[0]!r}")
        target = recipe.param("target")
        if recipe.maker == "hostile" and recipe.param("dunder", "__eq__") not in HOSTILE_DUNDERS:
            raise ScenarioError(f"hostile values can define only {HOSTILE_DUNDERS}")
        if recipe.maker == "hostile" and target is not None and target not in known:
            raise ScenarioError(f"hostile value targets unknown shared object {target!r}")
