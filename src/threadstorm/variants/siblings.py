"""Siblings of a crashing object, and the crashing scenario moved onto each of them.  Pure.

When one type crashes, the same bug usually sits in its siblings.  Variant search keeps the
bucket's scenario *shape* (threads, operations, iterations) and replaces the shared object the
operations act on with an object of a related type.  Related means, in order of weight:

1. **same ABC or protocol**: the specific ``collections.abc`` kinds both objects fit (Iterator,
   MutableSequence, Mapping, Set, MappingView...) and the protocols that are no ABC (descriptor,
   data descriptor, class), 3 points each;
2. **same C slots used**: the slots the scenario's operations go through (``next(obj)`` uses
   ``tp_iternext``, ``len(obj)`` ``sq_length/mp_length``, ``obj.__init__()`` ``tp_init``) that the
   sibling's type fills too, 3 points each, 1 for the slots nearly every type fills
   (``tp_repr``, ``tp_hash``...);
3. **same module**, 2 points.

A candidate needs ``MIN_SCORE`` points; each point comes with a reason the report shows.

Candidates are the surface's subjects, iterators and views included (the surface derives
``iter(set(...))``, the set iterator, from ``set``).  A candidate is refilled with the original
object's items where both recipes show them (``enumerate(range(1000))`` makes the set iterator
``iter(set(range(1000)))``), so the variant storms an object of the same size; the subject's own
surface recipe is the fallback.  What each candidate really is (type, ABCs, slots, methods) is
measured in the target (``threadstorm.harness.kinship``) and arrives here as ``Kin``.

The transformation (``transplant``) keeps function operations (``repr``, ``next``) whose slot the
sibling fills, keeps methods and attributes the sibling has by name, maps a missing method to the
sibling's most similar member of the same role (reader or mutator), and drops the rest.  When a
thread is left with nothing to do the variant is skipped, with a note saying why.
"""

from __future__ import annotations

import difflib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from threadstorm.generate.families import MemberLike, SubjectLike
from threadstorm.harness.kinship import ABC_NAMES
from threadstorm.scenario.model import (
    Call,
    Collection,
    Operation,
    Recipe,
    Ref,
    Scenario,
    ScenarioError,
    SharedObject,
)

MIN_SCORE = 3
KIND_POINTS = 3
SLOT_POINTS = 3
COMMON_SLOT_POINTS = 1
MODULE_POINTS = 2

# ABCs and protocols specific enough to make two objects siblings (Hashable, Sized, Iterable...
# are not: nearly everything is).
GENERIC_ABCS = frozenset(
    {"Reversible", "Collection", "Sized", "Container", "Iterable", "Callable", "Hashable"}
)
SPECIFIC_KINDS = (
    *(name for name in ABC_NAMES if name not in GENERIC_ABCS),
    "descriptor",
    "data-descriptor",
    "class",
)

# Slots nearly every type fills: sharing one says little.
COMMON_SLOTS = frozenset(
    {"tp_repr", "tp_str", "tp_hash", "tp_richcompare", "tp_init", "tp_new", "tp_getattro",
     "tp_setattro", "tp_call"}
)  # fmt: skip


@dataclass(frozen=True)
class SlotUse:
    """What a function operation needs of its target: any one of ``slots``, or it just raises."""

    slots: tuple[str, ...]
    required: bool


_ITERATES = SlotUse(("tp_iter", "mp_subscript/sq_item"), required=True)
# Function operations (by resolved name) and the slots they reach.  Unknown functions are kept
# as they are on every sibling.
FUNCTION_SLOTS: dict[str, SlotUse] = {
    "builtins.next": SlotUse(("tp_iternext",), required=True),
    "builtins.iter": _ITERATES,
    "builtins.list": _ITERATES,
    "builtins.tuple": _ITERATES,
    "builtins.sorted": _ITERATES,
    "builtins.set": _ITERATES,
    "builtins.frozenset": _ITERATES,
    "builtins.sum": _ITERATES,
    "builtins.min": _ITERATES,
    "builtins.max": _ITERATES,
    "builtins.any": _ITERATES,
    "builtins.all": _ITERATES,
    "builtins.enumerate": _ITERATES,
    "builtins.repr": SlotUse(("tp_repr",), required=False),
    "builtins.str": SlotUse(("tp_str", "tp_repr"), required=False),
    "builtins.len": SlotUse(("sq_length/mp_length",), required=True),
    "builtins.hash": SlotUse(("tp_hash",), required=True),
    "builtins.bool": SlotUse(("nb_bool", "sq_length/mp_length"), required=False),
    "operator.eq": SlotUse(("tp_richcompare",), required=False),
    "operator.ne": SlotUse(("tp_richcompare",), required=False),
    "operator.lt": SlotUse(("tp_richcompare",), required=True),
    "operator.contains": SlotUse(("sq_contains", "tp_iter"), required=True),
    "operator.getitem": SlotUse(("mp_subscript/sq_item",), required=True),
    "operator.setitem": SlotUse(("mp_ass_subscript/sq_ass_item",), required=True),
    "operator.delitem": SlotUse(("mp_ass_subscript/sq_ass_item",), required=True),
    "operator.length_hint": SlotUse(("sq_length/mp_length",), required=False),
}

# Methods called by their dunder name reach a slot too.
DUNDER_SLOTS = {
    "__next__": "tp_iternext",
    "__iter__": "tp_iter",
    "__init__": "tp_init",
    "__repr__": "tp_repr",
    "__len__": "sq_length/mp_length",
    "__getitem__": "mp_subscript/sq_item",
    "__setitem__": "mp_ass_subscript/sq_ass_item",
    "__delitem__": "mp_ass_subscript/sq_ass_item",
    "__get__": "tp_descr_get",
    "__set__": "tp_descr_set",
    "__call__": "tp_call",
}

# When the surface gives no role: names that change their object.
MUTATOR_NAMES = frozenset(
    {"append", "appendleft", "extend", "extendleft", "insert", "pop", "popleft", "popitem",
     "remove", "clear", "add", "discard", "update", "setdefault", "sort", "reverse", "rotate",
     "move_to_end", "difference_update", "intersection_update", "symmetric_difference_update",
     "send", "throw", "close", "write", "put", "truncate", "seek", "__init__", "__setitem__",
     "__delitem__", "__setstate__", "__set__", "__delete__", "__set_name__"}
)  # fmt: skip
ATTRIBUTE_KINDS = ("getset", "member", "property", "attribute")
ITEM_KINDS = ("list", "tuple", "set", "frozenset")


# ---------------------------------------------------------------------- what the surface offers


# ---------------------------------------------------------------------- facts from the target


@dataclass(frozen=True)
class Kin:
    """What the target says an object is (``threadstorm.harness.kinship.describe``)."""

    type_name: str
    module: str
    abcs: tuple[str, ...] = ()
    protocols: tuple[str, ...] = ()
    slots: frozenset[str] = frozenset()
    native: bool = True
    methods: frozenset[str] = frozenset()
    attributes: frozenset[str] = frozenset()

    @property
    def kinds(self) -> tuple[str, ...]:
        """The specific ABCs and protocols, most specific first."""
        present = {*self.abcs, *self.protocols}
        return tuple(kind for kind in SPECIFIC_KINDS if kind in present)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Kin:
        return cls(
            type_name=str(doc["type"]),
            module=str(doc.get("module", "")),
            abcs=tuple(str(name) for name in doc.get("abcs", ())),
            protocols=tuple(str(name) for name in doc.get("protocols", ())),
            slots=frozenset(str(name) for name in doc.get("slots", ())),
            native=bool(doc.get("native", True)),
            methods=frozenset(str(name) for name in doc.get("methods", ())),
            attributes=frozenset(str(name) for name in doc.get("attributes", ())),
        )


# ---------------------------------------------------------------------- the scenario's use


@dataclass(frozen=True)
class Usage:
    """How a scenario uses its main shared object: which one, and the slots its operations use."""

    target: str
    recipe: Recipe
    slots: tuple[str, ...]

    @property
    def advances_iterator(self) -> bool:
        return "tp_iternext" in self.slots


def main_target(scenario: Scenario) -> str:
    """The shared object most operations act on (the first one on a tie)."""
    counts = Counter(op.target for op in scenario.operations())
    names = [obj.name for obj in scenario.shared]
    if not names:
        raise ScenarioError("the scenario shares no object, so it has no sibling to try")
    return max(names, key=lambda name: (counts[name], -names.index(name)))


def usage(scenario: Scenario, target: str | None = None) -> Usage:
    """The main shared object of ``scenario`` and the slots its operations go through."""
    name = target or main_target(scenario)
    recipe = next(obj.recipe for obj in scenario.shared if obj.name == name)
    slots: list[str] = []
    for op in scenario.operations():
        if op.target != name:
            continue
        for slot in operation_slots(op):
            if slot not in slots:
                slots.append(slot)
    return Usage(name, recipe, tuple(slots))


def operation_slots(op: Operation) -> tuple[str, ...]:
    """The slot an operation mainly reaches (none when unknown)."""
    if op.kind == "function" and op.name in FUNCTION_SLOTS:
        return FUNCTION_SLOTS[op.name].slots[:1]
    if op.kind == "method" and op.name in DUNDER_SLOTS:
        return (DUNDER_SLOTS[op.name],)
    return ()


# ---------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class Candidate:
    """A possible sibling: its surface subject and recipes for it, best first.

    The first recipe is the subject's own refilled with the original object's items when that
    is possible (see ``refill``); the last is always the subject's own surface recipe.
    """

    subject: SubjectLike
    recipes: tuple[Recipe, ...]

    @property
    def label(self) -> str:
        return self.subject.type


def payload(recipe: Recipe) -> Recipe | None:
    """The items an object was built from, when its recipe shows them (to refill a sibling)."""
    if isinstance(recipe, Collection):
        return recipe if recipe.kind in ITEM_KINDS else None
    if isinstance(recipe, Call):
        for arg in recipe.args:
            if _is_call_of(arg, ("builtins.range",)):
                return arg
            if isinstance(arg, Collection) and arg.kind in ITEM_KINDS:
                return arg
        if len(recipe.args) == 1 and isinstance(recipe.args[0], Call):
            return payload(recipe.args[0])
    return None


def refill(recipe: Recipe, items: Recipe) -> Recipe | None:
    """``recipe`` with the items it is built from replaced by ``items``; None when it has none.

    Follows the same path as ``payload``: the first item-holding argument of a call, through
    one-argument wrappers (``iter(set([1, 2, 3]))`` becomes ``iter(set(range(1000)))``).
    """
    if isinstance(recipe, Collection):
        return items if recipe.kind in ITEM_KINDS else None
    if not isinstance(recipe, Call):
        return None
    for index, arg in enumerate(recipe.args):
        if _is_call_of(arg, ("builtins.range",)) or (
            isinstance(arg, Collection) and arg.kind in ITEM_KINDS
        ):
            return replace(recipe, args=(*recipe.args[:index], items, *recipe.args[index + 1 :]))
    if len(recipe.args) == 1 and isinstance(recipe.args[0], Call):
        inner = refill(recipe.args[0], items)
        return None if inner is None else replace(recipe, args=(inner,))
    return None


def candidates(use: Usage, subjects: Sequence[SubjectLike]) -> list[Candidate]:
    """Every surface subject as a candidate, refilled with the original's items where possible."""
    items = payload(use.recipe)
    found = []
    for subject in subjects:
        refilled = refill(subject.recipe, items) if items is not None else None
        if refilled is not None and refilled != subject.recipe:
            found.append(Candidate(subject, (refilled, subject.recipe)))
        else:
            found.append(Candidate(subject, (subject.recipe,)))
    return found


def _is_call_of(recipe: Recipe, paths: tuple[str, ...]) -> bool:
    return isinstance(recipe, Call) and isinstance(recipe.func, Ref) and recipe.func.path in paths


# ---------------------------------------------------------------------- ranking


@dataclass(frozen=True)
class Sibling:
    """A ranked sibling: the candidate, the recipe that built in the target, what it is, why."""

    candidate: Candidate
    recipe: Recipe
    kin: Kin
    score: int
    reasons: tuple[str, ...]

    @property
    def label(self) -> str:
        """The sibling's type, as the target names it."""
        return self.kin.type_name

    @property
    def refilled(self) -> bool:
        """Whether it holds the original object's items rather than the surface's sample."""
        return self.recipe != self.candidate.subject.recipe

    @property
    def why(self) -> str:
        return "; ".join(self.reasons)


def relation(original: Kin, use: Usage, kin: Kin) -> tuple[int, tuple[str, ...]]:
    """How closely ``kin`` is related to ``original`` for this use: points and reasons."""
    score, reasons = 0, []
    shared_kinds = [kind for kind in original.kinds if kind in kin.kinds]
    if shared_kinds:
        score += KIND_POINTS * len(shared_kinds)
        reasons.append(f"also {', '.join(shared_kinds)}")
    shared_slots = [slot for slot in use.slots if slot in kin.slots and slot in original.slots]
    if shared_slots:
        score += sum(COMMON_SLOT_POINTS if s in COMMON_SLOTS else SLOT_POINTS for s in shared_slots)
        reasons.append(f"fills {', '.join(shared_slots)}")
    if original.module and kin.module == original.module:
        score += MODULE_POINTS
        reasons.append(f"same module {kin.module}")
    return score, tuple(reasons)


def rank(
    original: Kin,
    use: Usage,
    described: Sequence[tuple[Candidate, int, Kin]],
    limit: int | None = None,
) -> list[Sibling]:
    """Related candidates, best first, one per type, the original's own type left out.

    ``described`` holds each candidate with the index of the recipe that built (as an object of
    the subject's type) and its ``Kin``.
    """
    best: dict[str, Sibling] = {}
    for candidate, index, kin in described:
        if kin.type_name == original.type_name:
            continue
        score, reasons = relation(original, use, kin)
        if score < MIN_SCORE:
            continue
        sibling = Sibling(candidate, candidate.recipes[index], kin, score, reasons)
        kept = best.get(kin.type_name)
        if kept is None or _order(sibling) < _order(kept):
            best[kin.type_name] = sibling
    ranked = sorted(best.values(), key=_order)
    return ranked if limit is None else ranked[:limit]


def _order(sibling: Sibling) -> tuple[int, int, str]:
    return (-sibling.score, 0 if sibling.refilled else 1, sibling.kin.type_name)


def find_subject(
    subjects: Sequence[SubjectLike], recipe: Recipe, kin: Kin | None
) -> SubjectLike | None:
    """The surface subject the original object is, by recipe or by type name."""
    for subject in subjects:
        if subject.recipe == recipe:
            return subject
    if kin is not None:
        for subject in subjects:
            if subject.type == kin.type_name:
                return subject
    return None


# ---------------------------------------------------------------------- the transformation


@dataclass(frozen=True)
class Transplant:
    """The scenario moved onto a sibling, or None with the reason it could not be."""

    scenario: Scenario | None
    notes: tuple[str, ...] = field(default=())

    @property
    def note(self) -> str:
        return "; ".join(self.notes)


def transplant(
    scenario: Scenario,
    use: Usage,
    sibling: Sibling,
    roles: Mapping[str, str] | None = None,
) -> Transplant:
    """``scenario`` with its main object replaced by ``sibling``, operations mapped to it.

    ``roles`` gives the original object's method roles (``reader``/``mutator``) from the surface;
    a method without one is guessed from its name.
    """
    mapper = _Mapper(use.target, sibling, roles or {})
    plans = []
    for number, plan in enumerate(scenario.threads):
        ops = tuple(op for op in (mapper.map(op) for op in plan.operations) if op is not None)
        if not ops:
            mapper.notes.append(f"thread {number} has nothing left to do on {sibling.label}")
            return Transplant(None, tuple(mapper.notes))
        plans.append(replace(plan, operations=ops))  # the plan's timing moves along
    shared = tuple(
        SharedObject(obj.name, sibling.recipe, obj.fresh) if obj.name == use.target else obj
        for obj in scenario.shared
    )
    imports = sorted({*scenario.imports, *_modules(sibling)})
    moved = replace(scenario, shared=shared, threads=tuple(plans), imports=tuple(imports))
    try:
        moved.validate()
    except ScenarioError as error:
        return Transplant(None, (*mapper.notes, f"not a valid scenario: {error}"))
    return Transplant(moved, tuple(dict.fromkeys(mapper.notes)))


def _modules(sibling: Sibling) -> set[str]:
    modules = {sibling.kin.module.split(".")[0]} if sibling.kin.module else set()
    return modules | {path.split(".")[0] for path in _ref_paths(sibling.recipe)}


def _ref_paths(recipe: Recipe) -> list[str]:
    if isinstance(recipe, Ref):
        return [recipe.path]
    if isinstance(recipe, Collection):
        return [path for item in recipe.items for path in _ref_paths(item)]
    if isinstance(recipe, Call):
        parts = (recipe.func, *recipe.args, *(value for _, value in recipe.kwargs))
        return [path for part in parts for path in _ref_paths(part)]
    return []


def guess_role(name: str) -> str:
    """``mutator`` for names that change their object, else ``reader``."""
    return "mutator" if name in MUTATOR_NAMES else "reader"


class _Mapper:
    """Maps the original object's operations onto a sibling, collecting notes as it goes."""

    def __init__(self, target: str, sibling: Sibling, roles: Mapping[str, str]) -> None:
        self.target = target
        self.sibling = sibling
        self.roles = roles
        self.notes: list[str] = []
        self.members: Sequence[MemberLike] = sibling.candidate.subject.members

    def map(self, op: Operation) -> Operation | None:
        if op.target != self.target:
            return op
        if op.kind == "function":
            return self._function(op)
        if op.kind == "method":
            return self._method(op)
        if op.kind == "getattr":
            return self._attribute(op)
        if self._has_attribute(op.name):
            return op
        self.notes.append(f"dropped {op.label()}: {self.sibling.kin.type_name} has no {op.name}")
        return None

    def _function(self, op: Operation) -> Operation | None:
        use = FUNCTION_SLOTS.get(op.name)
        if use is None or not use.required or any(s in self.sibling.kin.slots for s in use.slots):
            return op
        self.notes.append(f"dropped {op.label()}: no {' or '.join(use.slots)}")
        return None

    def _method(self, op: Operation) -> Operation | None:
        own = self._member(op.name)
        if own is not None:
            return replace(op, args=_fitting_args(op.args, own))
        if op.name in self.sibling.kin.methods:
            return op
        role = self.roles.get(op.name) or guess_role(op.name)
        same_role = [
            m for m in self.members if m.kind == "method" and m.role == role and m.reachable
        ]
        if not same_role:
            self.notes.append(f"dropped {op.label()}: no {role} method on {self.sibling.label}")
            return None
        chosen = _most_similar(op.name, same_role)
        mapped = Operation("method", op.target, chosen.name, chosen.args[0] if chosen.args else ())
        self.notes.append(f"{op.label()} -> {mapped.label()}")
        return mapped

    def _attribute(self, op: Operation) -> Operation | None:
        if self._has_attribute(op.name) or op.name in self.sibling.kin.methods:
            return op
        attributes = [m for m in self.members if m.kind in ATTRIBUTE_KINDS]
        if not attributes:
            self.notes.append(f"dropped {op.label()}: no attribute on {self.sibling.label}")
            return None
        chosen = _most_similar(op.name, attributes)
        self.notes.append(f"{op.label()} -> {op.target}.{chosen.name}")
        return replace(op, name=chosen.name)

    def _member(self, name: str) -> MemberLike | None:
        return next((m for m in self.members if m.name == name), None)

    def _has_attribute(self, name: str) -> bool:
        return name in self.sibling.kin.attributes or self._member(name) is not None


def _fitting_args(args: tuple[Recipe, ...], member: MemberLike) -> tuple[Recipe, ...]:
    """The original arguments when the sibling's member takes that many, else its own."""
    arities = {len(known) for known in member.args}
    if not member.args or len(args) in arities:
        return args
    return member.args[0]


def _most_similar(name: str, members: Sequence[MemberLike]) -> MemberLike:
    """The member whose name is closest to ``name``; public names before dunders."""

    def closeness(member: MemberLike) -> tuple[bool, float, str]:
        dunder = member.name.startswith("__")
        return (dunder, -difflib.SequenceMatcher(None, name, member.name).ratio(), member.name)

    return min(members, key=closeness)
