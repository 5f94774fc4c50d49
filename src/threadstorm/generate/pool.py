"""The value pool: typed argument and item recipes the generator draws from.

Boundary numbers, odd strings and bytes, nested containers, typing constructs (including large
unions, the seed's favourite), instances of many builtin types, and hostile objects built by the
harness.  Every entry is a recipe, so whatever is drawn can be stored, minimised and rendered.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from threadstorm.scenario.model import (
    HOSTILE_DUNDERS,
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Recipe,
    Ref,
)


def _call(path: str, *args: Recipe) -> Call:
    return Call(Ref(path), tuple(args))


SCALARS: tuple[Recipe, ...] = (
    Lit(0),
    Lit(1),
    Lit(-1),
    Lit(2**31 - 1),
    Lit(2**63),
    Lit(-(2**64) - 1),
    Lit(0.5),
    Lit(-0.0),
    _call("builtins.float", Lit("nan")),
    _call("builtins.float", Lit("inf")),
    Lit(""),
    Lit("abc"),
    Lit("é\u20ac\U0001f600"),
    Lit("\x00"),
    Lit(None),
    Lit(True),
    BytesLit(b""),
    BytesLit(b"abc\x00\xff"),
    Make("big_int", (("digits", 400),)),
    Make("big_str", (("length", 4000),)),
)

OBJECTS: tuple[Recipe, ...] = (
    _call("builtins.range", Lit(10)),
    _call("builtins.complex", Lit(1.0), Lit(-2.0)),
    _call("builtins.slice", Lit(1), Lit(5), Lit(2)),
    _call("builtins.bytearray", BytesLit(b"xyz")),
    _call("builtins.memoryview", BytesLit(b"view")),
    _call("builtins.object"),
    Ref("builtins.int"),
    Ref("builtins.len"),
    Ref("builtins.Ellipsis"),
    Collection("tuple", (Lit(1), Lit("two"), Lit(3.0))),
    Collection("list", (Lit(1), Collection("list", (Lit(2), Lit(3))))),
    Collection("dict", (Lit("k"), Lit(1), Lit(2), Collection("list", ()))),
    Collection("frozenset", (Lit(1), Lit(2), Lit(3))),
    Make("nested_list", (("depth", 3), ("width", 3))),
)

TYPING: tuple[Recipe, ...] = (
    Make("big_union", (("size", 40),)),
    Make("big_union", (("size", 8),)),
    Make("generic_alias", (("size", 12),)),
    Ref("typing.Any"),
    Make("fresh_class", (("name", "Fresh"),)),
)


# Values whose repr is slow and takes locks other threads contend for: a union of fresh classes
# (type creation and type lookups share the type lock), parametrised aliases, huge numbers, deep
# lists.  Churn and nested fills use them, so that a reader is still inside an item's repr when a
# mutator strikes.
SLOW_VALUES: tuple[Recipe, ...] = (
    Make("big_union", (("size", 40),)),
    Make("big_union", (("size", 20),)),
    Make("big_union", (("size", 8),)),
    Make("generic_alias", (("size", 12),)),
    Make("big_int", (("digits", 1000),)),
    Make("nested_list", (("depth", 3), ("width", 3))),
)


@dataclass(frozen=True)
class FunctionCall:
    """A call of a module-level function or class that returned in discovery: ``name(*args)``.

    ``args[0]`` is the argument a ``shared_argument`` run shares between threads.
    """

    name: str
    args: tuple[Recipe, ...]


# Actions a hostile value may take on the container that holds it (no arguments needed).
HOSTILE_ACTIONS = ("clear", "pop", "popitem", "reverse", "sort", "popleft")


class ValuePool:
    """Draws value recipes, deterministically from the given random generator."""

    def __init__(self, rng: random.Random, typing_weight: float = 0.35) -> None:
        self.rng = rng
        self.typing_weight = typing_weight
        # Types whose constructor refused pool values: fill them with their own known items.
        self.strict_types: set[str] = set()
        # Known-good calls by the type of their first argument, grouped by that argument.
        self.calls: dict[str, dict[Recipe, list[FunctionCall]]] = {}
        # Operations that raised on every call of a run, by subject type: drawing them again
        # wastes the run (a run with one always-raising thread ends ``raised``).
        self.duds: set[tuple[str, Operation]] = set()

    def add_call(self, argument_type: str, call: FunctionCall) -> None:
        """Catalogue a known-good call whose first argument is of type ``argument_type``."""
        if call.args:
            group = self.calls.setdefault(argument_type, {}).setdefault(call.args[0], [])
            if call not in group:
                group.append(call)

    def calls_taking(self, type_name: str) -> list[tuple[Recipe, list[FunctionCall]]]:
        """``(argument, calls)`` groups whose shared first argument has type ``type_name``."""
        return list(self.calls.get(type_name, {}).items())

    def value(self) -> Recipe:
        """Any one value: scalar, object or typing construct."""
        roll = self.rng.random()
        if roll < self.typing_weight:
            return self.rng.choice(TYPING)
        if roll < 0.7:
            return self.rng.choice(SCALARS)
        return self.rng.choice(OBJECTS)

    def items(self, low: int = 3, high: int = 40) -> tuple[Recipe, ...]:
        """A run of values to fill a container, often many of one kind (as real data is)."""
        count = self.rng.randint(low, high)
        if self.rng.random() < 0.5:
            one = self.value()
            return tuple(one for _ in range(count))
        return tuple(self.value() for _ in range(count))

    def note_dud(self, type_name: str, op: Operation) -> None:
        """``op`` on an object of ``type_name`` raised on every call: do not draw it again."""
        self.duds.add((type_name, op))

    def live_op(self, type_name: str, make: Callable[[], Operation], tries: int = 4) -> Operation:
        """An operation from ``make`` that is not known to always raise (the last try if all
        are)."""
        op = make()
        for _ in range(tries - 1):
            if (type_name, op) not in self.duds:
                return op
            op = make()
        return op

    def slow_value(self, unions: float = 0.0) -> Recipe:
        """A value whose repr is slow and contends for locks (see ``SLOW_VALUES``); with
        probability ``unions`` a union of fresh classes, the kind that takes the type lock both
        when it is made and when its repr looks names up."""
        if self.rng.random() < unions:
            return Make("big_union", (("size", self.rng.choice((20, 40))),))
        return self.rng.choice(SLOW_VALUES)

    def hostile(self, target: str, actions: tuple[str, ...]) -> Make:
        """A hostile value whose dunder calls ``target.<action>()``."""
        usable = [action for action in HOSTILE_ACTIONS if action in actions] or ["clear"]
        return Make(
            "hostile",
            (
                ("dunder", self.rng.choice(HOSTILE_DUNDERS)),
                ("action", self.rng.choice(usable)),
                ("target", target),
            ),
        )
