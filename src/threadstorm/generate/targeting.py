"""Coverage-directed generation: aim races at the items nothing has exercised yet.

The coverage universe is the surface's items (module functions, classes, and the members named
``module.Owner.member``).  For every reachable item this module knows the ways to exercise it
concurrently:

- a member: a subject whose members include it (same owner, same name), read or called by one
  thread while others read or mutate the same object;
- a module function, or a class used as a callable: one of its known-good argument lists, the first
  argument shared by the calling threads while a mutator thread changes it when its type has
  mutators (``shared_argument``);
- a class: also a subject whose instances are of that class, stormed by two threads or more.

``Targets.draw`` picks one of the least-tried items that are still unexercised, chooses a way, and
packs other unexercised members of the same subject (or other calls taking the same argument) into
the same scenario, a few operations to a thread, so one short run covers several items while
staying a real race: one object, two threads or more, mutators alongside readers wherever the type
has any.  Each try of an item uses its next known-good argument list; an item tried
``MAX_ATTEMPTS`` times without success is left to the ordinary families.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from threadstorm.generate.families import (
    SHARED,
    ArgumentSubject,
    Pace,
    SubjectLike,
    call_together,
    is_data,
    is_init,
    known_items,
    member_op,
    mutators_of,
    pass_around,
    reinit_with,
    storm,
)
from threadstorm.generate.pool import FunctionCall, ValuePool
from threadstorm.generate.surface import Item, Member, Subject, Surface
from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Operation,
    Recipe,
    Ref,
    Scenario,
)

MAX_ATTEMPTS = 6  # tries of one item (each with its next argument list) before giving up on it
WAY_TRIES = 2  # tries on one way (subject or call) before the next: non-empty subjects come first
PACK = 9  # operations on one object in one targeted run, at most
PACK_CALLS = 6  # calls sharing one argument in one targeted run, at most
PER_THREAD = 3  # operations one thread of a targeted run runs in turn

# Arguments for the tries after a member's known-good lists are used up (those lists only passed
# the TypeError test: ``str.index("abc")`` is one and always raises).  Each is repeated to the
# member's arity, and the subject's own items follow: ``str.replace("", "")``,
# ``bytes.fromhex("")``, ``dict.__ior__([])``, ``list.remove(1)``.
SECOND_CHANCE: tuple[Recipe, ...] = (
    Lit(""),
    BytesLit(b""),
    Lit(1),
    Collection("list", ()),
    Lit("ab"),
)
LITERAL_TYPES = {bool: "bool", int: "int", float: "float", str: "str", type(None): "NoneType"}


class CoverageSource(Protocol):
    """What targeting needs of the campaign's coverage tracker."""

    @property
    def surface(self) -> Surface: ...

    def exercised_since(self, mark: int) -> tuple[int, list[str]]:
        """Item names first exercised after ``mark``, and the mark to ask from next time."""
        ...


@dataclass(frozen=True)
class Way:
    """One way to exercise an item: a member of a subject, a call, or a subject to storm."""

    subject: Subject | None = None
    member: Member | None = None
    call: FunctionCall | None = None


def recipe_type(recipe: Recipe, by_recipe: dict[Recipe, str]) -> str:
    """The runtime type a recipe builds, when the recipe alone says it; else ``""``."""
    if isinstance(recipe, Lit):
        name = LITERAL_TYPES.get(type(recipe.value))
        return f"builtins.{name}" if name else ""
    if isinstance(recipe, BytesLit):
        return "builtins.bytes"
    if isinstance(recipe, Collection):
        return f"builtins.{recipe.kind}"
    return by_recipe.get(recipe, "")


def function_calls(item: Item) -> list[FunctionCall]:
    """The function's known-good calls that take an argument to share; failing those, a call
    with no argument (the function is then shared and called as itself)."""
    calls = [FunctionCall(item.name, args) for args in item.args if args]
    if not calls and () in item.args:
        calls = [FunctionCall(item.name, ())]
    return calls


def step_of(ways: Sequence[Way]) -> int:
    """Tries per way: a call carries one argument list, so the next try takes the next call; a
    member is tried ``WAY_TRIES`` times on one subject (with its next argument lists) first."""
    return 1 if any(way.call is not None for way in ways) else WAY_TRIES


class Targets:
    """The unexercised items of a surface, the ways to each, and the runs that aim at them."""

    def __init__(self, surface: Surface, allowed: Sequence[str], pool: ValuePool) -> None:
        self.allowed = frozenset(allowed)
        self.subjects = surface.subjects
        self.by_type: dict[str, list[Subject]] = {}
        for subject in self.subjects:
            self.by_type.setdefault(subject.type, []).append(subject)
        self.by_recipe = {subject.recipe: subject.type for subject in self.subjects}
        self.items_of: dict[tuple[str, str], list[str]] = {}  # (owner, member) -> item names
        self.ways: dict[str, list[Way]] = {}
        self.done: set[str] = set()
        self.attempts: dict[str, int] = {}
        self.targeted_runs = 0
        self._index(surface, pool)
        self.order = [name for name, ways in self.ways.items() if ways]

    # ----------------------------------------------------------------- the index

    def _index(self, surface: Surface, pool: ValuePool) -> None:
        constructors = self._constructor_calls()
        members = self._member_ways()
        for item in surface.items():
            if not item.reachable:
                continue
            owner = item.owner or ""
            if item.kind == "class":
                self.ways[item.name] = [Way(call=c) for c in constructors.get(owner, [])] + [
                    Way(subject=s) for s in self.by_type.get(owner, [])
                ]
            elif item.member is not None:
                self.items_of.setdefault((owner, item.member), []).append(item.name)
                self.ways[item.name] = members.get((owner, item.member), [])
            else:
                self.ways[item.name] = [Way(call=call) for call in function_calls(item)]
        for ways in self.ways.values():
            for way in ways:
                if way.call is not None and way.call.args:
                    pool.add_call(recipe_type(way.call.args[0], self.by_recipe), way.call)

    def _constructor_calls(self) -> dict[str, list[FunctionCall]]:
        """Known-good calls of each class, by the dotted name of the type they build."""
        found: dict[str, list[FunctionCall]] = {}
        for subject in self.subjects:
            recipe = subject.recipe
            if subject.origin != "constructor" or not isinstance(recipe, Call):
                continue
            if isinstance(recipe.func, Ref) and recipe.args and not recipe.kwargs:
                found.setdefault(subject.type, []).append(
                    FunctionCall(recipe.func.path, recipe.args)
                )
        return found

    def _member_ways(self) -> dict[tuple[str, str], list[Way]]:
        """Subjects offering each (owner, member), those known not to be empty first."""
        found: dict[tuple[str, str], list[Way]] = {}
        for subject in sorted(self.subjects, key=lambda s: s.empty is not False):
            for member in subject.members:
                if member.reachable:
                    key = (member.owner, member.name)
                    found.setdefault(key, []).append(Way(subject=subject, member=member))
        return found

    # ----------------------------------------------------------------- progress

    def note(self, names: Sequence[str]) -> None:
        """Items the campaign has now exercised."""
        self.done.update(names)

    def live(self) -> list[str]:
        """Items still worth aiming at: unexercised and not yet tried ``MAX_ATTEMPTS`` times."""
        return [
            name
            for name in self.order
            if name not in self.done and self.attempts.get(name, 0) < MAX_ATTEMPTS
        ]

    def is_live(self, name: str) -> bool:
        return (
            name in self.ways
            and name not in self.done
            and self.attempts.get(name, 0) < MAX_ATTEMPTS
        )

    def stats(self) -> dict[str, float]:
        """Figures for the report's weights section."""
        live = self.live()
        retired = sum(
            1 for n in self.order if n not in self.done and self.attempts.get(n, 0) >= MAX_ATTEMPTS
        )
        return {
            "targeted_runs": float(self.targeted_runs),
            "items_live": float(len(live)),
            "items_given_up": float(retired),
        }

    # ----------------------------------------------------------------- drawing

    def draw(
        self,
        rng: random.Random,
        pool: ValuePool,
        admit: Callable[[Scenario], bool] = lambda _: True,
    ) -> tuple[Scenario, SubjectLike] | None:
        """A scenario aimed at one of the least-tried live items (and others packed with it).

        A scenario ``admit`` turns away (an unsupported use while such runs are at their cap) is
        not charged as a try: the item waits for a draw that can run, and is not given up
        unexercised because of runs that never happened.
        """
        live = self.live()
        if not live:
            return None
        fewest = min(self.attempts.get(name, 0) for name in live)
        name = rng.choice([n for n in live if self.attempts.get(n, 0) == fewest])
        ways = self.ways[name]
        tries = self.attempts.get(name, 0)
        way = ways[(tries // step_of(ways)) % len(ways)]
        drawn = self._build(rng, pool, way)
        if drawn is not None and not admit(drawn[0]):
            return None
        # A try counts even when no scenario fits: nothing is aimed at forever.  A member's
        # aliases (``types.FunctionType.__call__``, ``builtins.function.__call__``) go together.
        if way.member is not None:
            self._charge(way.member)
        else:
            self.attempts[name] = tries + 1
        if drawn is None or drawn[0].family not in self.allowed:
            return None
        self.targeted_runs += 1
        return drawn

    def _build(
        self, rng: random.Random, pool: ValuePool, way: Way
    ) -> tuple[Scenario, SubjectLike] | None:
        if way.call is not None and not way.call.args:
            pace = Pace(rng.choice((4, 8, 16)), rng.choice((2, 3)))
            scenario = call_together(way.call.name, rng.choice((2, 3, 4)), pace)
            return scenario, ArgumentSubject("", Ref(way.call.name))
        if way.call is not None:
            return self._pass_around(rng, way.call)
        if way.subject is None:
            return None
        if way.member is not None and is_init(way.member):
            return self._reinit(rng, way.subject, way.member), way.subject
        return self._storm(rng, way.subject, way.member), way.subject

    def _args(self, subject: Subject, member: Member, item: str | None) -> tuple[Recipe, ...]:
        """The arguments for this try of ``member``: its known-good lists in turn, then second
        chances (``SECOND_CHANCE``, then the subject's own items) at the same arity."""
        tries = self.attempts.get(item or "", 0)
        if tries < len(member.args):
            return member.args[tries]
        arity = len(member.args[0]) if member.args else member.min_args
        if not arity:
            return member.args[0] if member.args else ()
        candidates = (*SECOND_CHANCE, *known_items(subject)[:2])
        return (candidates[(tries - len(member.args)) % len(candidates)],) * arity

    def _item_of(self, member: Member) -> str | None:
        names = self.items_of.get((member.owner, member.name), [])
        return names[0] if names else None

    def _pending_members(self, subject: Subject) -> list[Member]:
        """Members of ``subject`` whose items are live (``__init__`` aside)."""
        return [
            member
            for member in subject.members
            if member.reachable
            and not is_init(member)
            and any(self.is_live(n) for n in self.items_of.get((member.owner, member.name), []))
        ]

    def _charge(self, member: Member) -> None:
        for name in self.items_of.get((member.owner, member.name), []):
            self.attempts[name] = self.attempts.get(name, 0) + 1

    def _storm(self, rng: random.Random, subject: Subject, primary: Member | None) -> Scenario:
        """Readers and mutators of one fresh object: ``primary`` and other pending members."""
        others = [m for m in self._pending_members(subject) if m != primary]
        chosen = rng.sample(others, k=min(len(others), PACK - (primary is not None)))
        if primary is not None:
            chosen.insert(0, primary)
        reads: list[Operation] = []
        writes: list[Operation] = []
        for member in chosen:
            op = member_op(member, self._args(subject, member, self._item_of(member)))
            (writes if member.is_mutator and not is_data(member) else reads).append(op)
            if member is not primary:
                self._charge(member)
        known = [m for m in mutators_of(subject) if isinstance(m, Member)]
        if not writes and known:
            extra = rng.choice(known)
            writes.append(member_op(extra, rng.choice(extra.args) if extra.args else ()))
        if not reads and not writes:
            reads.append(Operation("function", SHARED, "builtins.repr"))
        pace = (
            Pace(rng.choice((4, 8, 16)), rng.choice((2, 3)))
            if writes
            else Pace(rng.choice((1, 2, 4)), rng.choice((4, 8)))
        )
        return storm(subject, reads, writes, pace, per_thread=PER_THREAD)

    def _reinit(self, rng: random.Random, subject: Subject, init: Member) -> Scenario:
        """``__init__`` re-run with its next known-good arguments while others read."""
        reads = [
            Operation("function", SHARED, "builtins.repr"),
            Operation("function", SHARED, "builtins.str"),
        ]
        pace = Pace(rng.choice((4, 8, 16)), rng.choice((2, 3)))
        return reinit_with(
            subject,
            self._args(subject, init, self._item_of(init)),
            reads[: rng.randint(1, 2)],
            pace,
        )

    def _pass_around(self, rng: random.Random, call: FunctionCall) -> tuple[Scenario, SubjectLike]:
        """Threads call ``call`` and other pending calls on one shared argument; a mutator thread
        changes the argument when its type has mutators."""
        argument = call.args[0]
        type_name = recipe_type(argument, self.by_recipe)
        company = [
            c
            for name in self.live()
            for way in self.ways[name]
            if (c := way.call) is not None and c.args[:1] == (argument,) and c != call
        ]
        unique = list(dict.fromkeys(company))
        chosen = [call, *rng.sample(unique, k=min(len(unique), PACK_CALLS - 1))]
        for other in chosen[1:]:
            self._charge_call(other)
        subject = self._mutable_subject(type_name)
        writes: list[Operation] = []
        if subject is not None:
            pending = [m for m in self._pending_members(subject) if m.is_mutator and not is_data(m)]
            pool = pending or [m for m in mutators_of(subject) if isinstance(m, Member)]
            for member in rng.sample(pool, k=min(len(pool), rng.randint(1, 2))):
                writes.append(member_op(member, self._args(subject, member, self._item_of(member))))
                if member in pending:
                    self._charge(member)
        pace = Pace(rng.choice((4, 8, 16)), rng.choice((2, 3)))
        scenario = pass_around(argument, chosen, writes, pace, per_thread=2)
        return scenario, subject or ArgumentSubject(type_name, argument)

    def _charge_call(self, call: FunctionCall) -> None:
        for name in self.live():
            if any(way.call == call for way in self.ways[name]):
                self.attempts[name] = self.attempts.get(name, 0) + 1

    def _mutable_subject(self, type_name: str) -> Subject | None:
        """A subject of ``type_name`` with mutators, to change a shared argument of that type."""
        for subject in self.by_type.get(type_name, []):
            if mutators_of(subject):
                return subject
        return None
