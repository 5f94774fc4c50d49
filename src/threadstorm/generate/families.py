"""Scenario families: the seed's bug classes, applicable to any object the surface can build.

- ``readers_vs_mutators``: threads reading one container (repr, str, len, iteration, copy,
  comparison, hash, containment, pickling, reader methods) while others mutate it.
- ``lazy_first_touch``: many threads touch the lazily computed attributes of a freshly made object
  at the same moment (``__parameters__`` of a union, a cached property...).
- ``shared_iterator``: one iterator advanced by many threads at once, to exhaustion.
- ``reinit``: ``__init__`` re-run on a live object while others read it (outside CPython's
  contract by default policy, reported apart).
- ``hostile``: a container holding values whose ``__repr__``/``__eq__``/``__hash__``/``__del__``
  mutate that very container while other threads read and change it.
- ``shared_argument``: several threads pass one shared object to module-level functions or
  classes (``sorted(obj)``, ``collections.deque(obj)``) while another thread mutates it.
- ``churn``: the seed's shape.  Readers walk a container of nested, slow-to-repr values; a
  mutator that starts once they are inside keeps refilling the container with values built anew
  for every call and clearing or popping them, so what it drops is really freed while a reader
  may still be inside its repr (a critical section held by the reader is suspended whenever an
  item's repr contends for another lock).

Timing is sampled too (``sample_timing``): mutators that start after the first reader has begun
and a few microseconds later, mutators whose arguments are built anew for every call, readers
that run every call in a short-lived thread of their own.

A family turns (random generator, subject, pool) into a ``Scenario`` or None when the subject does
not fit.  The random generator only chooses; the scenario it returns is the test case.  The
shapes under the families (``storm``, ``touch``, ``reinit_with``, ``pass_around``) take explicit
operations, so coverage-directed generation (``threadstorm.generate.targeting``) can aim the same
races at members and functions nothing has exercised yet.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from threadstorm.generate.pool import FunctionCall, ValuePool
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Recipe,
    Ref,
    Scenario,
    Shared,
    SharedObject,
    Start,
    ThreadPlan,
)

SHARED = "obj"
DATA_KINDS = ("getset", "member", "property", "attribute")
MAX_THREADS = 6

# Readers that apply to almost anything, as ``function`` operations on the shared object.
GENERIC_READERS: tuple[tuple[str, int], ...] = (
    ("builtins.repr", 0),
    ("builtins.str", 0),
    ("builtins.len", 0),
    ("builtins.list", 0),  # iterates
    ("copy.copy", 0),
    ("builtins.hash", 0),
    ("operator.eq", 1),
    ("operator.contains", 1),
    ("pickle.dumps", 0),
    ("builtins.sorted", 0),
    ("builtins.bool", 0),
)

READER_IMPORTS = ("copy", "operator", "pickle")

# Generic readers that run an iterator to its end: on an endless one (``itertools.count()``,
# ``repeat``, ``cycle``) they never return, and the hang would be ours, not the target's.  Shared
# iterators are consumed by ``shared_iterator`` instead, one ``next`` at a time.
CONSUMING_READERS = frozenset({"builtins.list", "builtins.sorted", "operator.contains"})


class MemberLike(Protocol):
    """What a family needs to know about one member of a subject."""

    @property
    def name(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def args(self) -> tuple[tuple[Recipe, ...], ...]: ...
    @property
    def reachable(self) -> bool: ...


class SubjectLike(Protocol):
    """What a family needs to know about a kind of object it can build."""

    @property
    def type(self) -> str: ...
    @property
    def recipe(self) -> Recipe: ...
    @property
    def iterable(self) -> bool: ...
    @property
    def iterator(self) -> bool: ...
    @property
    def accepts_iterable(self) -> bool: ...
    @property
    def members(self) -> Sequence[MemberLike]: ...


@dataclass(frozen=True)
class ArgumentSubject:
    """The shared argument of a ``shared_argument`` run when no surface subject describes it."""

    type: str  # the argument's runtime type when the recipe says it (``builtins.int``), else ""
    recipe: Recipe
    iterable: bool = False
    iterator: bool = False
    accepts_iterable: bool = False
    members: tuple[MemberLike, ...] = ()


Family = Callable[[random.Random, SubjectLike, ValuePool], Scenario | None]


@dataclass(frozen=True)
class Pace:
    """How often a scenario repeats: threads run their plans ``iterations`` times per round."""

    iterations: int
    rounds: int


def _usable(subject: SubjectLike) -> list[MemberLike]:
    """The members discovery could call on this subject."""
    return [member for member in subject.members if member.reachable]


def is_data(member: MemberLike) -> bool:
    """An attribute or descriptor, read with ``getattr`` rather than called."""
    return member.kind in DATA_KINDS


def is_init(member: MemberLike) -> bool:
    """``__init__``: re-running it is a family of its own (``reinit``)."""
    return member.kind == "init" or member.name == "__init__"


def mutators_of(subject: SubjectLike) -> list[MemberLike]:
    """Reachable methods that change the object (``__init__`` aside)."""
    return [
        m
        for m in _usable(subject)
        if m.role == "mutator" and not is_data(m) and not is_init(m) and m.kind != "staticmethod"
    ]


def module_of(path: str) -> str:
    """The importable module part of a dotted path (first component is enough to import)."""
    return path.split(".", 1)[0]


def _imports(subject: SubjectLike, *paths: str) -> tuple[str, ...]:
    named = {module_of(path) for path in (subject.type, *paths) if path}
    return tuple(sorted(named | set(READER_IMPORTS)))


def member_op(member: MemberLike, args: tuple[Recipe, ...] | None = None) -> Operation:
    """An operation on the shared object: read ``member`` or call it with ``args`` (default:
    its first known-good argument list)."""
    if is_data(member):
        return Operation("getattr", SHARED, member.name)
    if args is None:
        args = member.args[0] if member.args else ()
    return Operation("method", SHARED, member.name, args)


def _call_op(member: MemberLike, rng: random.Random, pool: ValuePool) -> Operation:
    """An operation calling ``member`` with one of its known-good argument lists."""
    if is_data(member):
        return member_op(member)
    args: tuple[Recipe, ...] = rng.choice(member.args) if member.args else ()
    if args and rng.random() < 0.3:
        args = tuple(pool.value() for _ in args)  # same arity, other values
    return member_op(member, args)


def _reader_op(subject: SubjectLike, rng: random.Random, pool: ValuePool) -> Operation:
    """A reading operation on the subject, not one known to raise on every call."""
    return pool.live_op(subject.type, lambda: _any_reader_op(subject, rng, pool))


def _mutator_op(
    subject: SubjectLike, mutators: list[MemberLike], rng: random.Random, pool: ValuePool
) -> Operation:
    """A call of one of ``mutators``, not one known to raise on every call."""
    return pool.live_op(subject.type, lambda: _call_op(rng.choice(mutators), rng, pool))


def _any_reader_op(subject: SubjectLike, rng: random.Random, pool: ValuePool) -> Operation:
    readers = [m for m in _usable(subject) if m.role == "reader" and not is_init(m)]
    if readers and rng.random() < 0.5:
        return _call_op(rng.choice(readers), rng, pool)
    generic = [r for r in GENERIC_READERS if not (subject.iterator and r[0] in CONSUMING_READERS)]
    name, arity = rng.choice(generic)
    return Operation("function", SHARED, name, tuple(pool.value() for _ in range(arity)))


def known_items(subject: SubjectLike) -> tuple[Recipe, ...]:
    """The items of the container the subject's own recipe was built from (known to work)."""
    recipe = subject.recipe
    if isinstance(recipe, Call) and recipe.args and isinstance(recipe.args[0], Collection):
        return recipe.args[0].items
    return ()


def _items_for(
    subject: SubjectLike, pool: ValuePool, low: int = 3, high: int = 40
) -> tuple[Recipe, ...]:
    """Items to fill the subject: from the pool, or (for types that refused pool values, and
    sometimes anyway) the subject's own known-good items repeated."""
    known = known_items(subject)
    if known and (subject.type in pool.strict_types or pool.rng.random() < 0.3):
        count = pool.rng.randint(low, high)
        return tuple(known[i % len(known)] for i in range(count))
    return pool.items(low, high)


def _with_items(subject: SubjectLike, items: tuple[Recipe, ...]) -> Recipe:
    """The subject rebuilt from ``items`` when its constructor takes an iterable."""
    if subject.accepts_iterable and isinstance(subject.recipe, Call):
        return Call(subject.recipe.func, (Collection("list", items),))
    return subject.recipe


def _plans(
    rng: random.Random,
    make_reader: Callable[[], Operation],
    make_mutator: Callable[[], Operation] | None,
    threads: int,
) -> tuple[ThreadPlan, ...]:
    plans = []
    readers = threads if make_mutator is None else max(1, threads // 2)
    for number in range(threads):
        maker = make_reader if number < readers or make_mutator is None else make_mutator
        plans.append(ThreadPlan(tuple(maker() for _ in range(rng.randint(1, 2)))))
    return tuple(plans)


# Start offsets a staggered thread may spin after the thread it waits for has begun.
DELAYS_US = (0, 20, 100, 500, 2000)
STAGGER_SHARE = 0.35  # of the runs with mutators: mutators start after the first reader
FRESH_SHARE = 0.25  # of those: a mutator's arguments are built anew for every call
SPAWN_SHARE = 0.08  # readers run every call in a short-lived thread of their own


def sample_timing(
    rng: random.Random, plans: tuple[ThreadPlan, ...], readers: int
) -> tuple[ThreadPlan, ...]:
    """``plans`` (readers first, then mutators) with a sampled timing.

    Staggered mutators wait for thread 0 to begin, then spin a short delay: the seed's readers
    were already inside a long repr when its mutator struck.  Fresh arguments make a mutator's
    values new (and owned by it) at each call, so what it later drops is really freed.
    """
    if readers >= len(plans):
        return plans
    timed = list(plans)
    stagger = rng.random() < STAGGER_SHARE
    fresh = rng.random() < FRESH_SHARE
    delay = rng.choice(DELAYS_US)
    for number in range(readers, len(timed)):
        plan = timed[number]
        if stagger:
            plan = replace(plan, start=Start(0, delay))
        if fresh:
            ops = tuple(replace(op, fresh=True) if op.args else op for op in plan.operations)
            plan = replace(plan, operations=ops)
        timed[number] = plan
    if rng.random() < SPAWN_SHARE:
        timed = [replace(plan, spawn=True) if n < readers else plan for n, plan in enumerate(timed)]
    return tuple(timed)


def spread(ops: Sequence[Operation], per_thread: int) -> list[tuple[Operation, ...]]:
    """``ops`` dealt into consecutive runs of at most ``per_thread`` (none when there are none)."""
    size = max(1, per_thread)
    return [tuple(ops[i : i + size]) for i in range(0, len(ops), size)]


# --------------------------------------------------------------------------- shapes


def storm(
    subject: SubjectLike,
    reads: Sequence[Operation],
    writes: Sequence[Operation],
    pace: Pace,
    *,
    per_thread: int = 3,
    filler: Operation | None = None,
) -> Scenario:
    """Reader threads run ``reads`` and mutator threads ``writes`` on one fresh object.

    Every operation runs in exactly one thread, at most ``per_thread`` to a thread, and at least
    two threads always work on the object (``filler``, by default ``repr``, keeps a lone mutator
    company; a lone reader thread is split or doubled).  With mutators it is a
    ``readers_vs_mutators`` run, without them a ``lazy_first_touch`` one.
    """
    reader_plans = spread(reads, per_thread)
    writer_plans = spread(writes, per_thread)
    if len(reader_plans) + len(writer_plans) < 2:
        if writer_plans:
            reader_plans = [(filler or Operation("function", SHARED, "builtins.repr"),)]
        elif len(reads) > 1:
            half = (len(reads) + 1) // 2
            reader_plans = [tuple(reads[:half]), tuple(reads[half:])]
        else:
            reader_plans = reader_plans * 2
    plans = (reader_plans + writer_plans)[:MAX_THREADS]
    paths = [op.name for plan in plans for op in plan if op.kind == "function"]
    return Scenario(
        family="readers_vs_mutators" if writer_plans else "lazy_first_touch",
        imports=_imports(subject, *paths),
        shared=(SharedObject(SHARED, subject.recipe, fresh=True),),
        threads=tuple(ThreadPlan(ops) for ops in plans),
        iterations=pace.iterations,
        rounds=pace.rounds,
    )


def touch(subject: SubjectLike, ops: Sequence[Operation], threads: int, pace: Pace) -> Scenario:
    """Every thread runs all of ``ops`` on a fresh object at the same moment."""
    return Scenario(
        family="lazy_first_touch",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, subject.recipe, fresh=True),),
        threads=tuple(ThreadPlan(tuple(ops)) for _ in range(max(2, threads))),
        iterations=pace.iterations,
        rounds=pace.rounds,
    )


def reinit_with(
    subject: SubjectLike, args: tuple[Recipe, ...], reads: Sequence[Operation], pace: Pace
) -> Scenario:
    """One thread re-runs ``__init__(*args)`` while the others each run one of ``reads``."""
    plans = [ThreadPlan((Operation("method", SHARED, "__init__", args),))]
    plans += [ThreadPlan((op,)) for op in reads[: MAX_THREADS - 1]]
    if len(plans) < 2:
        plans.append(ThreadPlan((Operation("function", SHARED, "builtins.repr"),)))
    return Scenario(
        family="reinit",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, subject.recipe, fresh=True),),
        threads=tuple(plans),
        iterations=pace.iterations,
        rounds=pace.rounds,
    )


def pass_around(
    argument: Recipe,
    calls: Sequence[FunctionCall],
    writes: Sequence[Operation],
    pace: Pace,
    *,
    per_thread: int = 2,
) -> Scenario:
    """``shared_argument``: threads call functions with one shared object as first argument while
    mutator threads change it; each call runs in one thread, and two threads at least."""
    ops = [Operation("function", SHARED, call.name, call.args[1:]) for call in calls]
    callers = spread(ops, per_thread)
    if not writes and len(callers) < 2:  # two callers at least: halve the calls, or double one
        half = (len(ops) + 1) // 2
        callers = [tuple(ops[:half]), tuple(ops[half:])] if len(ops) > 1 else callers * 2
    plans = callers + spread(writes, per_thread)
    names = [call.name for call in calls]
    return Scenario(
        family="shared_argument",
        imports=tuple(sorted({module_of(name) for name in names} | set(READER_IMPORTS))),
        shared=(SharedObject(SHARED, argument, fresh=True),),
        threads=tuple(ThreadPlan(plan) for plan in plans[:MAX_THREADS]),
        iterations=pace.iterations,
        rounds=pace.rounds,
    )


def call_together(path: str, threads: int, pace: Pace) -> Scenario:
    """A function that takes no argument, shared as itself and called by every thread at once."""
    return Scenario(
        family="shared_argument",
        imports=tuple(sorted({module_of(path), *READER_IMPORTS})),
        shared=(SharedObject(SHARED, Ref(path)),),
        threads=tuple(
            ThreadPlan((Operation("method", SHARED, "__call__"),)) for _ in range(max(2, threads))
        ),
        iterations=pace.iterations,
        rounds=pace.rounds,
    )


# --------------------------------------------------------------------------- families


def readers_vs_mutators(
    rng: random.Random, subject: SubjectLike, pool: ValuePool
) -> Scenario | None:
    """Readers and mutators of one object, many iterations."""
    mutators = [m for m in mutators_of(subject) if m.kind == "method"]
    if not mutators:
        return None
    items = _items_for(subject, pool) if subject.accepts_iterable else ()
    threads = rng.choice((2, 3, 4, 4))
    plans = _plans(
        rng,
        lambda: _reader_op(subject, rng, pool),
        lambda: _mutator_op(subject, mutators, rng, pool),
        threads,
    )
    return Scenario(
        family="readers_vs_mutators",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, _with_items(subject, items), fresh=True),),
        threads=sample_timing(rng, plans, max(1, threads // 2)),
        iterations=rng.choice((50, 100, 200)),
        rounds=rng.choice((2, 5, 10)),
    )


def lazy_first_touch(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """All threads touch lazily computed attributes of a fresh object at once, every round."""
    attributes = [m for m in _usable(subject) if m.kind in ("getset", "property", "member")]
    readers = [m for m in _usable(subject) if m.role == "reader" and m.kind == "method"]
    candidates = attributes or readers
    if not candidates:
        return None
    chosen = rng.sample(candidates, k=min(len(candidates), rng.randint(1, 2)))
    ops = tuple(_call_op(member, rng, pool) for member in chosen)
    extra = (Operation("function", SHARED, "builtins.repr"),) if rng.random() < 0.3 else ()
    threads = rng.choice((2, 4, 4, 6))
    return Scenario(
        family="lazy_first_touch",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, subject.recipe, fresh=True),),
        threads=tuple(ThreadPlan(ops + (extra if n % 2 else ())) for n in range(threads)),
        iterations=1,
        rounds=rng.choice((100, 200, 300)),
    )


def lengthen(recipe: Recipe, length: int) -> Recipe:
    """The same recipe with its container arguments replaced by ``length`` items.

    A shared iterator races only while it lasts: ``enumerate([1, 2, 3])`` is over after three
    calls, ``enumerate(list(range(1000)))`` gives four threads a thousand chances.
    """
    if isinstance(recipe, Collection) and recipe.kind != "dict":
        many = Call(Ref("builtins.range"), (Lit(length),))
        return many if recipe.kind == "list" else Call(Ref(f"builtins.{recipe.kind}"), (many,))
    if isinstance(recipe, Call):
        return Call(recipe.func, tuple(lengthen(arg, length) for arg in recipe.args), recipe.kwargs)
    return recipe


# Types whose items are small integers: a long ``range`` cannot fill them.
SMALL_INT_TYPES = frozenset(
    {
        "builtins.bytes",
        "builtins.bytearray",
        "builtins.bytes_iterator",
        "builtins.bytearray_iterator",
    }
)


def shared_iterator(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """One iterator, fresh every round, advanced by every thread until it is exhausted."""
    length = rng.choice((50, 200, 1000))
    if subject.type in pool.strict_types or subject.type in SMALL_INT_TYPES:
        length = min(length, 256)  # bytes(range(1000)) cannot be built: items are bytes
    if subject.iterator:
        recipe = lengthen(subject.recipe, length)
    elif subject.iterable:
        source = _with_items(subject, (Lit(0),)) if subject.accepts_iterable else subject.recipe
        recipe = Call(Ref("builtins.iter"), (lengthen(source, length),))
    else:
        return None
    threads = rng.choice((2, 4, 4))
    return Scenario(
        family="shared_iterator",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, recipe, fresh=True),),
        threads=tuple(
            ThreadPlan((Operation("function", SHARED, "builtins.next"),)) for _ in range(threads)
        ),
        iterations=length // threads + 5,
        rounds=rng.choice((20, 50, 100)),
    )


def reinit(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """``__init__`` re-run on a live object while other threads read it."""
    inits = [m for m in _usable(subject) if is_init(m)]
    if not inits:
        return None
    init = inits[0]
    args: tuple[Recipe, ...] = rng.choice(init.args) if init.args else ()
    reinit_op = Operation("method", SHARED, "__init__", args)
    return Scenario(
        family="reinit",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, subject.recipe, fresh=True),),
        threads=_plans(
            rng, lambda: _reader_op(subject, rng, pool), lambda: reinit_op, rng.choice((2, 4))
        ),
        iterations=rng.choice((50, 100, 200)),
        rounds=rng.choice((2, 5, 10)),
    )


def hostile(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """A container of values whose dunders mutate the container, read and changed by threads."""
    if not subject.accepts_iterable:
        return None
    mutators = [m for m in mutators_of(subject) if m.kind == "method"]
    actions = tuple(m.name for m in mutators if not m.args or () in m.args)
    items = tuple(
        pool.hostile(SHARED, actions) if rng.random() < 0.5 else item
        for item in _items_for(subject, pool, 2, 12)
    )
    threads = rng.choice((2, 3, 4))
    plans = _plans(
        rng,
        lambda: _reader_op(subject, rng, pool),
        (lambda: _mutator_op(subject, mutators, rng, pool)) if mutators else None,
        threads,
    )
    return Scenario(
        family="hostile",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, _with_items(subject, items), fresh=True),),
        threads=sample_timing(rng, plans, max(1, threads // 2) if mutators else threads),
        iterations=rng.choice((20, 50, 100)),
        rounds=rng.choice((2, 5, 10)),
    )


def shared_argument(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """Functions of the surface called on one object of the subject's type while it changes.

    The calls come from the pool's catalogue of known-good calls (``ValuePool.calls``) whose first
    argument has the subject's type; the object is that argument, sometimes made longer, and the
    subject's mutators change it.
    """
    groups = pool.calls_taking(subject.type)
    if not groups:
        return None
    argument, calls = groups[rng.randrange(len(groups))]
    chosen = rng.sample(calls, k=min(len(calls), rng.randint(2, 4)))
    mutators = mutators_of(subject)
    count = rng.randint(1, 2) if mutators else 0
    writes = [_mutator_op(subject, mutators, rng, pool) for _ in range(count)]
    return pass_around(
        longer(argument, rng.choice((50, 200))) if rng.random() < 0.5 else argument,
        chosen,
        writes,
        Pace(rng.choice((20, 50, 100)), rng.choice((2, 5))),
    )


def longer(recipe: Recipe, length: int) -> Recipe:
    """A list or set recipe of small ints made ``length`` long (same type); others unchanged."""
    if length and isinstance(recipe, Collection) and recipe.kind in ("list", "set"):
        many = Call(Ref("builtins.range"), (Lit(length),))
        return Call(Ref(f"builtins.{recipe.kind}"), (many,))
    return recipe


# Mutators that put one value into a container, by name; any other one-argument mutator will do
# when none of these exists.  Removers take no argument.
ADDER_NAMES = ("append", "add", "extend", "appendleft", "push", "put", "put_nowait", "update")
HASHING_ADDERS = ("add",)  # set-like: a nested value must be hashable
ITEM = "item"
HOT = "hot"
CONTENDED_SHARE = 0.6  # of churn runs: a contender thread makes the nested repr block


def churn(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """Readers walk nested slow values while a late mutator refills with fresh ones and clears.

    The seed's race: a container's repr holds its critical section and walks its items by
    borrowed reference; an item's repr blocks on another lock, which suspends the section, and a
    concurrent ``clear()`` frees the item under it.  Two shapes, both with readers that
    ``repr``/``str`` the container from the barrier on and a mutator that waits until the first
    reader has begun, spins a short delay, then alternates adding a value built anew for every
    call (owned by the mutator, so dropping it frees it at once) with clearing or popping:

    - **contended** (``CONTENDED_SHARE``): a shared list ``hot`` holds the slow value and a
      contender thread keeps taking its lock (``repr(hot)``); the nested values are containers
      of references to ``hot``, so a reader inside one blocks on ``hot`` and its sections are
      suspended while the mutator frees the nested value.  This does not depend on luck in the
      target's memory layout (a type-cache collision that makes a union's repr take the type
      lock): measured on the planted Shelf, 6 of 6 runs crashed on 3.13.5 and 3.14.7 debug, 0 of
      6 without the contender;
    - **plain**: the container starts filled with a list of references to one slow value; the
      nested repr blocks only when the slow value's own repr contends for a lock.
    """
    if not subject.accepts_iterable or subject.type in SMALL_INT_TYPES:
        return None
    if subject.type in pool.strict_types:  # refused values of other types: nothing to nest
        return None
    mutators = [m for m in mutators_of(subject) if m.kind == "method"]
    removers = [m for m in mutators if not m.args or () in m.args]
    one_arg = [m for m in mutators if any(len(args) == 1 for args in m.args)]
    adders = [m for m in one_arg if m.name in ADDER_NAMES] or one_arg
    if not removers or not adders:
        return None
    adder = rng.choice(adders)
    # clear() drops everything at once, the nested container included: the seed's mutator
    clearing = [m for m in removers if m.name == "clear"]
    remover = rng.choice(clearing) if clearing and rng.random() < 0.8 else rng.choice(removers)
    remove = Operation("method", SHARED, remover.name)
    if rng.random() < CONTENDED_SHARE:
        return _contended_churn(rng, subject, adder.name, remove)
    readers = rng.choice((3, 3, 4))  # two readers rarely overlap inside one repr
    value = pool.slow_value(unions=0.7)
    add_arg = Collection("list", (value,)) if adder.name in ("extend", "update") else value
    refill = Operation("method", SHARED, adder.name, (add_arg,), fresh=True)
    width = rng.choice((5, 10))
    # a list, not a tuple: its repr takes the list's own critical section, so readers queue on
    # it and the container's section is suspended and resumed again and again (measured on the
    # planted Shelf: 12 of 12 runs crashed with a nested list, 0 of 9 with a tuple)
    nested = Collection("list", tuple(Shared(ITEM) for _ in range(width)))
    reader_plans = tuple(_repr_plan(rng) for _ in range(readers))
    start = Start(0, rng.choice(DELAYS_US)) if rng.random() < 0.8 else Start()
    mutator = ThreadPlan((refill, remove), start=start)
    return Scenario(
        family="churn",
        imports=_imports(subject),
        shared=(
            SharedObject(ITEM, value),
            SharedObject(SHARED, _with_items(subject, (nested,)), fresh=True),
        ),
        threads=(*reader_plans, mutator),
        # every round rebuilds the container and starts the mutator late again: the first
        # clear() of a round, while readers are deep in the nested repr, is the moment
        # (measured on the planted Shelf: 100 rounds of 20 iterations crashed 12 of 12 runs, 200
        # rounds of 5 crashed 2 of 9, 20 rounds of 10 none of 30)
        iterations=rng.choice((10, 20)),
        rounds=100,
    )


def _repr_plan(rng: random.Random) -> ThreadPlan:
    """A reader of the shared container: ``repr`` or ``str`` of it, once per iteration."""
    name = rng.choice(("builtins.repr", "builtins.str"))
    return ThreadPlan((Operation("function", SHARED, name),))


def _contended_churn(
    rng: random.Random, subject: SubjectLike, adder: str, remove: Operation
) -> Scenario:
    """The contended shape of ``churn`` (see there).

    Measured on the planted Shelf (3.14.7 debug, 6 runs each): a nested value of 10 references
    crashed 5-6 of 6 runs, of 3 none, of 30 three; two readers 5 of 6, three 2 of 6; a ``hot``
    list holding one slow value 5 of 6, ten of them or none 0 of 6 (held too long, or too
    briefly, to meet the reader at the right moment).
    """
    # a small union: on 3.13.5 a 40-member one crashed 0 of 6 runs where an 8-member one
    # crashed 6 of 6 (the contender's hold must be short beside the nested walk)
    value = Make("big_union", (("size", rng.choice((8, 8, 20))),))
    hashing = adder in HASHING_ADDERS
    width = rng.choice((8, 10, 10, 16))
    refs = tuple(Shared(HOT) for _ in range(width))
    # a tuple where the adder hashes its argument; a list (whose repr takes its own lock too)
    # elsewhere
    nested = Collection("tuple" if hashing else "list", refs)
    add_arg = Collection("list", (nested,)) if adder in ("extend", "update") else nested
    refill = Operation("method", SHARED, adder, (add_arg,), fresh=True)
    mutator = ThreadPlan((refill, remove), start=Start(0, rng.choice((100, 200, 200, 500))))
    return Scenario(
        family="churn",
        imports=_imports(subject),
        shared=(
            SharedObject(ITEM, value),
            SharedObject(HOT, Collection("list", (Shared(ITEM),))),
            SharedObject(SHARED, _with_items(subject, (nested,)), fresh=True),
        ),
        threads=(
            _repr_plan(rng),
            _repr_plan(rng),
            ThreadPlan((Operation("function", HOT, "builtins.repr"),)),  # the contender
            mutator,
        ),
        iterations=20,
        rounds=100,
    )


FAMILIES: dict[str, Family] = {
    "readers_vs_mutators": readers_vs_mutators,
    "lazy_first_touch": lazy_first_touch,
    "shared_iterator": shared_iterator,
    "reinit": reinit,
    "hostile": hostile,
    "shared_argument": shared_argument,
    "churn": churn,
}
