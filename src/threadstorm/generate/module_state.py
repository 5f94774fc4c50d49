"""The module-state family: threads call one module's functions at once.

Module-level C state (settings, registries, caches, switches, hook tables) is a classic
free-threading bug site, and it needs no object to be built: the module is the shared object.
Each module with reachable functions becomes a ``ModuleSubject`` whose members are those
functions, with the roles discovery gave them (a function is a *mutator* when one of its trials
moved the module's state probes, or, when discovery could not tell, when its name says it sets,
registers, enables, starts, clears...).  A ``module_state`` run pits mutators against their
counterparts: a setter against its getter, ``register`` against ``unregister``, ``enable``
against ``disable`` and ``isenabled``, ``start`` against ``stop``.  A hook setter
(``setprofile``, ``settrace``, ``set*hook``) is switched on and off in one thread while the
others run code under it.

What such a run changes outlives the run in its process: ``gc.disable`` stays disabled,
``warnings.simplefilter`` stays in force.  ``StateGuard`` tells the campaign which scenarios
touch module state, and those run in a child process of their own.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from threadstorm.generate.families import SHARED, sample_timing
from threadstorm.generate.pool import ValuePool
from threadstorm.generate.surface import Item, Surface
from threadstorm.scenario.model import (
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
    SharedObject,
    ThreadPlan,
)

MODULE_STATE = "module_state"
FUNCTION = "function"  # the member kind of a module function (other families leave it alone)
# Name pairs of opposite operations: ``set_threshold``/``get_threshold``, ``enable``/``disable``.
OPPOSITES = (
    ("set", "get"),
    ("enable", "disable"),
    ("register", "unregister"),
    ("freeze", "unfreeze"),
    ("start", "stop"),
    ("install", "uninstall"),
    ("add", "remove"),
    ("push", "pop"),
)
HOOK_WORDS = ("profile", "trace", "hook")
# A hook any profiler or tracer may call with (frame, event, arg): it returns at once.
HOOK: Recipe = Ref("builtins.slice")
CODE_READER = Operation("function", SHARED, "builtins.dir")  # code run under a hook


@dataclass(frozen=True)
class FunctionMember:
    """A module function as a member of its ``ModuleSubject`` (``families.MemberLike``)."""

    name: str
    role: str
    args: tuple[tuple[Recipe, ...], ...]
    owner: str
    kind: str = FUNCTION
    reachable: bool = True

    @property
    def is_mutator(self) -> bool:
        """Whether calling it changes its module's state."""
        return self.role == "mutator"


@dataclass(frozen=True)
class ModuleSubject:
    """A module whose functions threads call at once (``families.SubjectLike``)."""

    type: str  # the module's name: coverage finds ``type.function`` among the items
    members: tuple[FunctionMember, ...]
    iterable: bool = False
    iterator: bool = False
    accepts_iterable: bool = False

    @property
    def recipe(self) -> Recipe:
        return Ref(self.type)

    @property
    def module(self) -> str:
        return self.type

    def readers(self) -> list[FunctionMember]:
        return [m for m in self.members if not m.is_mutator]

    def mutators(self) -> list[FunctionMember]:
        return [m for m in self.members if m.is_mutator]


def module_subjects(surface: Surface) -> list[ModuleSubject]:
    """One subject per imported module that has reachable functions, in module order."""
    found = []
    for module in surface.modules:
        members = tuple(
            FunctionMember(item.name.rpartition(".")[2], item.role, item.args, module.name)
            for item in module.items
            if _callable_here(item, module.name)
        )
        if members:
            found.append(ModuleSubject(module.name, members))
    return found


def _callable_here(item: Item, module: str) -> bool:
    """A reachable function of ``module`` itself, with a known-good argument list."""
    return (
        item.is_function
        and item.reachable
        and bool(item.args)
        and item.name.startswith(module + ".")
        and "." not in item.name[len(module) + 1 :]
    )


def opposites(name: str, names: Sequence[str]) -> list[str]:
    """The functions among ``names`` that undo or observe ``name``: ``disable`` and
    ``isenabled`` for ``enable``, ``get_threshold`` for ``set_threshold``."""
    words = [name]
    for left, right in OPPOSITES:
        for one, other in ((left, right), (right, left)):
            if name.startswith(one):
                words.append(other + name[len(one) :])
    found = words[1:] + [
        form
        for word in words
        if not word.startswith("is")
        for form in ("is" + word + ("d" if word.endswith("e") else "ed"), "is" + word)
    ]
    if name.startswith("is"):
        found.append(name[2:].removesuffix("d"))
    return [n for n in dict.fromkeys(found) if n in names and n != name]


def is_hook_setter(member: FunctionMember) -> bool:
    """``setprofile``, ``settrace``, ``set_hook``...: a one-argument setter of a callback."""
    lowered = member.name.lower()
    return (
        member.is_mutator
        and lowered.startswith("set")
        and any(word in lowered for word in HOOK_WORDS)
        and any(len(args) == 1 for args in member.args)
    )


def call(member: FunctionMember, rng: random.Random) -> Operation:
    """A call of the module function with one of its known-good argument lists."""
    args = rng.choice(member.args) if member.args else ()
    return Operation("method", SHARED, member.name, args)


def module_state(rng: random.Random, subject: object, pool: ValuePool) -> Scenario | None:
    """Mutators of a module's state against their counterparts and other readers, all at once."""
    if not isinstance(subject, ModuleSubject):
        return None
    readers = subject.readers()
    hooks = [m for m in subject.mutators() if is_hook_setter(m)]
    mutators = [m for m in subject.mutators() if m not in hooks]  # hooks are switched, below
    names = [m.name for m in subject.members]
    by_name = {m.name: m for m in subject.members}
    if hooks and (not mutators or rng.random() < 0.5):
        return _hook_storm(rng, subject, rng.choice(hooks), readers)
    if not mutators:
        if not readers:
            return None
        ops = [call(m, rng) for m in rng.sample(readers, k=min(len(readers), 3))]
        threads = tuple(ThreadPlan(tuple(ops)) for _ in range(rng.choice((2, 3, 4))))
        return _scenario(subject, threads, rng)
    chosen = rng.choice(mutators)
    partners = [by_name[n] for n in opposites(chosen.name, names)]
    writes = [call(chosen, rng), *(call(m, rng) for m in partners if m in mutators)]
    watchers = [m for m in partners if not m.is_mutator] or rng.sample(
        readers, k=min(len(readers), 2)
    )
    read_ops = [call(m, rng) for m in watchers] or [CODE_READER]
    reader_count = rng.choice((1, 2, 3))
    plans = [ThreadPlan(tuple(read_ops)) for _ in range(reader_count)]
    plans += [ThreadPlan(tuple(writes)) for _ in range(rng.choice((1, 2)))]
    return _scenario(subject, sample_timing(rng, tuple(plans), reader_count), rng)


def _hook_storm(
    rng: random.Random,
    subject: ModuleSubject,
    hook: FunctionMember,
    readers: Sequence[FunctionMember],
) -> Scenario:
    """One thread switches a hook on and off; the others run code under it."""
    switch = ThreadPlan(
        (
            Operation("method", SHARED, hook.name, (HOOK,)),
            Operation("method", SHARED, hook.name, (Lit(None),)),
        )
    )
    work = [CODE_READER, *(call(m, rng) for m in rng.sample(readers, k=min(len(readers), 2)))]
    plans = [ThreadPlan(tuple(work)) for _ in range(rng.choice((2, 3)))]
    return _scenario(subject, (*plans, switch), rng)


def _scenario(
    subject: ModuleSubject, threads: Sequence[ThreadPlan], rng: random.Random
) -> Scenario:
    return Scenario(
        family=MODULE_STATE,
        imports=(subject.type.partition(".")[0],),
        shared=(SharedObject(SHARED, subject.recipe),),
        threads=tuple(threads),
        iterations=rng.choice((10, 20, 50)),
        rounds=rng.choice((2, 3, 5)),
    )


class StateGuard:
    """Which scenarios change module state, and so must run in a child process of their own."""

    def __init__(self, surface: Surface) -> None:
        self.mutators = frozenset(
            item.name for item in surface.items() if item.is_function and item.role == "mutator"
        )

    def __call__(self, scenario: Scenario) -> bool:
        """Whether ``scenario`` is a ``module_state`` run or calls a state-changing function."""
        if scenario.family == MODULE_STATE:
            return True
        called = {op.name for op in scenario.operations() if op.kind == "function"}
        called |= {obj.recipe.path for obj in scenario.shared if isinstance(obj.recipe, Ref)}
        return not called.isdisjoint(self.mutators)
