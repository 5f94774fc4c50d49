"""Build objects from value recipes inside the target interpreter.

Standard library only.  The makers here are the named values a scenario can ask for in a word:
large unions, parametrised generic aliases, big numbers and strings, nested containers, fresh
classes, hostile objects whose dunder methods change a shared object, and live referents for
weak references to point at.  The reproducer writes the same makers out as plain Python
(``threadstorm.reproduce.emit``), so keep the two in step.  ``method_of`` is how a ``method``
operation finds what it calls, for the harness and discovery alike.
"""

from __future__ import annotations

import functools
import importlib
import operator
import sys
import typing
from typing import Any

from threadstorm.scenario.model import (
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Recipe,
    Ref,
    ScenarioError,
    Shared,
    through_type,
)


class HostileError(Exception):
    """Raised on purpose by hostile values; never counted as a finding."""


@functools.cache
def resolve(path: str) -> Any:
    """The object at a dotted path, importing the longest module prefix that exists.

    Modules already imported are found in ``sys.modules`` first: in a forked child that is
    nearly always the case, and it avoids the import machinery on the hot path.
    """
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:cut]))
        if module is not None:
            return _walk(module, parts[cut:])
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        return _walk(module, parts[cut:])
    raise ScenarioError(f"cannot resolve {path!r}: no importable module prefix")


def _walk(obj: Any, attributes: list[str]) -> Any:
    for attribute in attributes:
        obj = getattr(obj, attribute)
    return obj


def build(recipe: Recipe, namespace: dict[str, Any]) -> Any:
    """The object a recipe describes; ``namespace`` maps shared names to live objects."""
    if isinstance(recipe, Lit):
        return recipe.value
    if isinstance(recipe, BytesLit):
        return recipe.value
    if isinstance(recipe, Ref):
        return resolve(recipe.path)
    if isinstance(recipe, Shared):
        return namespace[recipe.name]
    if isinstance(recipe, Collection):
        items = [build(item, namespace) for item in recipe.items]
        if recipe.kind == "dict":
            return dict(zip(items[::2], items[1::2], strict=False))
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[recipe.kind](
            items
        )
    if isinstance(recipe, Call):
        func = build(recipe.func, namespace)
        args = [build(arg, namespace) for arg in recipe.args]
        kwargs = {key: build(value, namespace) for key, value in recipe.kwargs}
        return func(*args, **kwargs)
    return make(recipe, namespace)


def method_of(obj: Any, name: str) -> Any:
    """The bound callable a ``method`` operation named ``name`` calls on ``obj``: a special
    method from the first class of the type's MRO that defines it (``through_type``), any other
    name through the object."""
    if not through_type(name):
        return getattr(obj, name)
    klass = defining_class(type(obj), name)
    if klass is None:
        raise AttributeError(f"type {type(obj).__name__!r} has no special method {name!r}")
    raw = vars(klass)[name]
    bind = getattr(type(raw), "__get__", None)
    return raw if bind is None else bind(raw, obj, type(obj))


def defining_class(klass: type, name: str) -> type | None:
    """The first class of ``klass``'s MRO whose own namespace defines ``name``, as the
    interpreter finds a special method; None when none does."""
    for base in klass.__mro__:
        if name in vars(base):
            return base
    return None


def make(recipe: Make, namespace: dict[str, Any]) -> Any:
    """Run the named maker of a ``Make`` recipe."""
    size = int(recipe.param("size", 8) or 0)
    if recipe.maker == "big_union":
        return big_union(size)
    if recipe.maker == "generic_alias":
        return generic_alias(size)
    if recipe.maker == "big_int":
        return 7 ** max(1, int(int(recipe.param("digits", 100) or 1) * 1.183))
    if recipe.maker == "big_str":
        return "threadstorm-" * max(1, int(recipe.param("length", 1000) or 1) // 12)
    if recipe.maker == "nested_list":
        return nested_list(int(recipe.param("depth", 3) or 0), int(recipe.param("width", 3) or 0))
    if recipe.maker == "fresh_class":
        return type(str(recipe.param("name", "Fresh")), (), {})
    if recipe.maker == "kept_referent":
        return kept_referent(int(recipe.param("callable", 0) or 0))
    if recipe.maker == "hostile":
        return hostile(
            str(recipe.param("dunder", "__eq__")),
            str(recipe.param("action", "clear")),
            str(recipe.param("target", "")),
            namespace,
        )
    raise ScenarioError(f"unknown maker {recipe.maker!r}")


def member_types(size: int) -> list[Any]:
    """``size`` distinct types: fresh classes and lists over fresh type variables."""
    return [type(f"M{i}", (), {}) if i % 2 else list[typing.TypeVar(f"T{i}")] for i in range(size)]  # type: ignore[misc]


def big_union(size: int) -> Any:
    """A union of ``size`` distinct types, made with ``|`` so its lazy caches start empty."""
    return functools.reduce(operator.or_, member_types(max(2, size)))


def generic_alias(size: int) -> Any:
    """``tuple[...]`` over ``size`` distinct types; its ``__parameters__`` is computed lazily."""
    return tuple[tuple(member_types(max(1, size)))]  # type: ignore[misc]


def nested_list(depth: int, width: int) -> list[Any]:
    """A list of lists ``depth`` deep, ``width`` wide, with ints at the leaves."""
    if depth <= 0:
        return list(range(width))
    return [nested_list(depth - 1, width) for _ in range(width)]


class Referent(list):  # type: ignore[type-arg]
    """A list that takes weak references and also answers the in-place set operators, ``|`` and
    ``next()``: a weak proxy of it forwards every slot a proxy has to something that works.
    Hashed by identity, so that weak references to it hash and it can key a weak mapping."""

    __hash__ = object.__hash__  # type: ignore[assignment]

    def __ior__(self, other: Any) -> Any:
        self.extend(other)
        return self

    __iand__ = __isub__ = __ixor__ = __ior__

    def __or__(self, other: Any) -> Any:
        return Referent([*self, *other])

    def __next__(self) -> Any:
        return self[-1] if self else None


class CallableReferent(Referent):
    """A ``Referent`` that can be called: a weak proxy of it is a ``CallableProxyType``."""

    def __call__(self, *args: Any) -> Any:
        return len(self)


_KEPT: list[Any] = []


def kept_referent(can_call: int) -> Any:
    """A live ``Referent`` for a weak reference to point at; one made in place would die at once.

    The module keeps the last 64 made alive, enough for every object of a round.
    """
    referent = (CallableReferent if can_call else Referent)([1, 2, 3])
    _KEPT.append(referent)
    del _KEPT[:-64]
    return referent


_HOSTILE_RESULTS: dict[str, Any] = {
    "__repr__": "<hostile>",
    "__eq__": False,
    "__lt__": False,
    "__hash__": 0,
    "__len__": 0,
    "__index__": 0,
    "__del__": None,
}


def hostile(dunder: str, action: str, target: str, namespace: dict[str, Any]) -> Any:
    """An object whose ``dunder`` calls ``namespace[target].action()`` and then behaves normally.

    The shared object is looked up when the dunder runs, so a hostile value can sit inside the very
    container it mutates.  Errors from the action are swallowed: the point is the mutation.
    """
    result = _HOSTILE_RESULTS[dunder]  # the scenario model admits only these dunders

    def meddle(self: Any, *args: Any) -> Any:
        victim = namespace.get(target)
        if victim is not None:
            try:  # noqa: SIM105 - copied into reproducers as is: plain syntax, no imports
                getattr(victim, action)()
            except Exception:  # noqa: BLE001 - the mutation is the point; its errors are not
                pass
        return result

    cls = type(f"Hostile{dunder.strip('_').title()}", (), {dunder: meddle})
    if dunder == "__eq__":
        cls.__hash__ = object.__hash__  # type: ignore[method-assign,assignment]
    return cls()
