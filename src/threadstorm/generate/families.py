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

A family turns (random generator, subject, pool) into a ``Scenario`` or None when the subject does
not fit.  The random generator only chooses; the scenario it returns is the test case.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol

from threadstorm.generate.pool import ValuePool
from threadstorm.scenario.model import (
    Call,
    Collection,
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)

SHARED = "obj"

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


Family = Callable[[random.Random, SubjectLike, ValuePool], Scenario | None]


def _usable(subject: SubjectLike) -> list[MemberLike]:
    """The members discovery could call on this subject."""
    return [member for member in subject.members if member.reachable]


def module_of(path: str) -> str:
    """The importable module part of a dotted path (first component is enough to import)."""
    return path.split(".", 1)[0]


def _imports(subject: SubjectLike) -> tuple[str, ...]:
    return tuple(sorted({module_of(subject.type), *READER_IMPORTS}))


def _call_op(member: MemberLike, rng: random.Random, pool: ValuePool) -> Operation:
    """An operation calling ``member`` with one of its known-good argument lists."""
    if member.kind in ("getset", "member", "property", "attribute"):
        return Operation("getattr", SHARED, member.name)
    args: tuple[Recipe, ...] = rng.choice(member.args) if member.args else ()
    if args and rng.random() < 0.3:
        args = tuple(pool.value() for _ in args)  # same arity, other values
    return Operation("method", SHARED, member.name, args)


def _reader_op(subject: SubjectLike, rng: random.Random, pool: ValuePool) -> Operation:
    readers = [m for m in _usable(subject) if m.role == "reader"]
    if readers and rng.random() < 0.5:
        return _call_op(rng.choice(readers), rng, pool)
    name, arity = rng.choice(GENERIC_READERS)
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


def readers_vs_mutators(
    rng: random.Random, subject: SubjectLike, pool: ValuePool
) -> Scenario | None:
    """Readers and mutators of one object, many iterations."""
    mutators = [m for m in _usable(subject) if m.role == "mutator" and m.kind == "method"]
    if not mutators:
        return None
    items = _items_for(subject, pool) if subject.accepts_iterable else ()
    return Scenario(
        family="readers_vs_mutators",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, _with_items(subject, items), fresh=True),),
        threads=_plans(
            rng,
            lambda: _reader_op(subject, rng, pool),
            lambda: _call_op(rng.choice(mutators), rng, pool),
            rng.choice((2, 3, 4, 4)),
        ),
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


def shared_iterator(rng: random.Random, subject: SubjectLike, pool: ValuePool) -> Scenario | None:
    """One iterator, fresh every round, advanced by every thread until it is exhausted."""
    length = rng.choice((50, 200, 1000))
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
    inits = [m for m in _usable(subject) if m.kind == "init" or m.name == "__init__"]
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
    mutators = [m for m in _usable(subject) if m.role == "mutator" and m.kind == "method"]
    actions = tuple(m.name for m in mutators if not m.args or () in m.args)
    items = tuple(
        pool.hostile(SHARED, actions) if rng.random() < 0.5 else item
        for item in _items_for(subject, pool, 2, 12)
    )
    return Scenario(
        family="hostile",
        imports=_imports(subject),
        shared=(SharedObject(SHARED, _with_items(subject, items), fresh=True),),
        threads=_plans(
            rng,
            lambda: _reader_op(subject, rng, pool),
            (lambda: _call_op(rng.choice(mutators), rng, pool)) if mutators else None,
            rng.choice((2, 3, 4)),
        ),
        iterations=rng.choice((20, 50, 100)),
        rounds=rng.choice((2, 5, 10)),
    )


FAMILIES: dict[str, Family] = {
    "readers_vs_mutators": readers_vs_mutators,
    "lazy_first_touch": lazy_first_touch,
    "shared_iterator": shared_iterator,
    "reinit": reinit,
    "hostile": hostile,
}
