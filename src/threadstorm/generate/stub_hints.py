"""Typed argument lists from typeshed's stubs, for discovery to try before its value pools.

Many C callables carry no ``__text_signature__``, and where they do, a pool value of the wrong
type can still build something useless: ``queue.Queue([1, 2, 3])`` succeeds, and every ``put``
on that queue raises, because its ``maxsize`` is a list.  typeshed's stubs (read through
``typeshed_client``) give each parameter a type.  This module turns a callable's stub into a few
candidate argument lists made of the pools' own small recipes (``int`` gives ``0`` and ``3``,
``ReadableBuffer`` gives ``b"abc"``, ``Literal["b", "B"]`` gives its first members), keyed by
the dotted paths discovery knows the callable by: the path in the asked module
(``struct.Struct``) and the path of the module that defines it (``_struct.Struct``, the runtime
type's name, which is how discovery names a subject's members).

Only what a type pins down is hinted.  A parameter whose type needs a particular value (a path,
a file object, valid JSON, a class of the module's own) gives its callable no hint, and a
required keyword-only parameter does too (operations pass arguments by position): for those the
pools and second chances stay as they were.  Lists with the first optional parameter come first,
so that, as with the pools, the first instance of a container is a non-empty one.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from threadstorm.harness.trial_values import DICT, FUNC, INT_TYPE, ITERATOR, LIST, SET, TUPLE
from threadstorm.scenario.codec import recipe_to_json
from threadstorm.scenario.model import BytesLit, Call, Lit, Recipe, Ref

ArgumentList = tuple[Recipe, ...]

MAX_LISTS = 4  # candidate argument lists per callable
PER_PARAMETER = 2  # candidate values per parameter
ALIAS_DEPTH = 4  # type aliases followed through, at most
MAX_ARGUMENTS = 4  # longer lists (``zip`` of six iterables) add nothing a shorter one does not

TEXT = Lit("abc")
BYTEARRAY = Call(Ref("builtins.bytearray"), (BytesLit(b"abc"),))
ANY_VALUE: tuple[Recipe, ...] = (Lit(1),)  # object, Any, a type variable: any value will do

SEQUENCES = ("list", "List", "Sequence", "MutableSequence", "Iterable", "Collection", "Container",
             "Reversible", "Sized")  # fmt: skip
# Type names (last dotted part) and the values that stand for them.
SIMPLE: dict[str, tuple[Recipe, ...]] = {
    **dict.fromkeys(("int", "SupportsIndex", "SupportsInt"), (Lit(0), Lit(1))),
    **dict.fromkeys(("float", "SupportsFloat", "complex"), (Lit(1.5),)),
    "bool": (Lit(True), Lit(False)),
    **dict.fromkeys(("str", "LiteralString"), (TEXT,)),
    **dict.fromkeys(("bytes", "ReadableBuffer", "ReadOnlyBuffer", "Buffer"), (BytesLit(b"abc"),)),
    **dict.fromkeys(("bytearray", "WriteableBuffer"), (BYTEARRAY,)),
    "memoryview": (Call(Ref("builtins.memoryview"), (BytesLit(b"abc"),)),),
    "None": (Lit(None),),
    **dict.fromkeys(SEQUENCES, (LIST,)),
    **dict.fromkeys(("tuple", "Tuple"), (TUPLE,)),
    **dict.fromkeys(
        ("dict", "Dict", "Mapping", "MutableMapping", "SupportsKeysAndGetItem"), (DICT,)
    ),
    **dict.fromkeys(("set", "frozenset", "AbstractSet", "MutableSet", "Set", "FrozenSet"), (SET,)),
    **dict.fromkeys(("Iterator", "Generator"), (ITERATOR,)),
    "Callable": (FUNC,),
    **dict.fromkeys(("type", "Type"), (INT_TYPE,)),
    **dict.fromkeys(("object", "Any"), ANY_VALUE),
}
UNIONS = frozenset({"Union", "Optional"})


def stub_hints(
    modules: Sequence[str], version: tuple[int, int], search_path: Sequence[str] = ()
) -> dict[str, list[list[Any]]]:
    """Candidate argument lists (JSON recipes) by dotted path, for the stubs of ``modules`` as
    seen by Python ``version``: typeshed's for the standard library, and those that packages
    on the target's ``search_path`` ship (``pkg/__init__.pyi``, ``pkg-stubs``); empty when
    there are none."""
    stubs = _Stubs(version, search_path)
    hints: dict[str, tuple[ArgumentList, ...]] = {}
    for module in modules:
        try:
            for name, (defining, info) in stubs.exported(module).items():
                stubs.hint(hints, f"{module}.{name}", defining, info)
        except Exception:  # noqa: BLE001 - hints are advice: a stub that defeats us gives none
            continue
    return {
        key: [[recipe_to_json(recipe) for recipe in arguments] for arguments in lists]
        for key, lists in sorted(hints.items())
    }


class _Stubs:
    """typeshed's stubs for one Python version, with lookups cached."""

    def __init__(self, version: tuple[int, int], search_path: Sequence[str]) -> None:
        import typeshed_client

        self.client = typeshed_client
        self.context = typeshed_client.get_search_context(
            version=version, search_path=[Path(entry) for entry in search_path]
        )

    @functools.cache  # noqa: B019 - one instance lives for one call of stub_hints
    def names(self, module: str) -> dict[str, Any]:
        try:
            found = self.client.get_stub_names(module, search_context=self.context)
        except Exception:  # noqa: BLE001 - a stub typeshed cannot parse gives no hints
            return {}
        return dict(found or {})

    def exported(self, module: str) -> dict[str, tuple[str, Any]]:
        """Each exported name of ``module``: the module that defines it, and its stub node."""
        found = {}
        for name, info in self.names(module).items():
            if info.is_exported and not name.startswith("_"):
                where = self.definition(module, name)
                if where is not None:
                    found[name] = where
        return found

    def definition(self, module: str, name: str, depth: int = 0) -> tuple[str, Any] | None:
        """Where ``module.name`` is defined, following imports and plain aliases."""
        info = self.names(module).get(name)
        if info is None or depth > ALIAS_DEPTH:
            return None
        node = info.ast
        if isinstance(node, self.client.ImportedName):
            source = ".".join(node.module_name)
            return self.definition(source, node.name or name, depth + 1) if node.name else None
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name):
            return self.definition(module, node.value.id, depth + 1)  # ``ArrayType = array``
        return module, info

    def hint(
        self, hints: dict[str, tuple[ArgumentList, ...]], path: str, defining: str, info: Any
    ) -> None:
        """Add the hints of one exported name: a function, or a class and its methods."""
        node = info.ast
        own = f"{defining}.{info.name}"
        if isinstance(node, ast.ClassDef):
            members = info.child_nodes or {}
            constructor = members.get("__init__") or members.get("__new__")
            lists = self.lists(defining, constructor, method=True) if constructor else ()
            for key in (path, own):
                if lists:
                    hints[key] = lists
            for member, member_info in members.items():
                found = self.lists(defining, member_info, method=True)
                if found:
                    hints[f"{own}.{member}"] = found
            return
        lists = self.lists(defining, info, method=False)
        if lists:
            hints[path] = hints[own] = lists

    def lists(self, module: str, info: Any, *, method: bool) -> tuple[ArgumentList, ...]:
        """Candidate argument lists for a function or method (every overload), at most
        ``MAX_LISTS``, or none when a required parameter has no value to stand for it."""
        node = info.ast
        overloads = node.definitions if isinstance(node, self.client.OverloadedName) else [node]
        found: list[ArgumentList] = []
        for definition in overloads:
            if isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
                found += self.function_lists(module, definition, method=method)
        found.sort(key=len, reverse=True)  # fuller lists first: a container's first is non-empty
        return tuple(dict.fromkeys(found))[:MAX_LISTS]

    def function_lists(
        self, module: str, node: ast.FunctionDef | ast.AsyncFunctionDef, *, method: bool
    ) -> list[ArgumentList]:
        arguments = node.args
        if any(default is None for default in arguments.kw_defaults):
            return []  # a required keyword-only parameter: operations pass by position
        positional = [*arguments.posonlyargs, *arguments.args]
        static = any(_decorator_name(d) == "staticmethod" for d in node.decorator_list)
        if method and not static and positional:
            positional = positional[1:]  # self, or cls
        required_count = len(positional) - len(arguments.defaults)
        required = [self.values(module, p.annotation) for p in positional[:required_count]]
        if not all(required):
            return []
        combos = list(itertools.islice(itertools.product(*(v[:PER_PARAMETER] for v in required)),
                                       MAX_LISTS))  # fmt: skip
        optional = positional[required_count : required_count + 1]
        extra = self.values(module, optional[0].annotation) if optional else ()
        # an optional text parameter is mostly a name (an encoding, a mode): "abc" is no value
        extra = tuple(value for value in extra if value != TEXT)
        longer = [(*combo, value) for combo in combos for value in extra[:PER_PARAMETER]]
        return [args for args in (*longer, *combos) if len(args) <= MAX_ARGUMENTS]

    def values(
        self, module: str, annotation: ast.expr | None, depth: int = 0
    ) -> tuple[Recipe, ...]:
        """The values that stand for a type written in ``module``'s stub; empty if unknown."""
        if annotation is None or depth > ALIAS_DEPTH:
            return ()
        if isinstance(annotation, ast.Constant) and annotation.value is None:
            return (Lit(None),)
        if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
            return _union(
                self.values(module, annotation.left, depth),
                self.values(module, annotation.right, depth),
            )
        if isinstance(annotation, ast.Subscript):
            return self.subscript(module, annotation, depth)
        name = _type_name(annotation)
        if name is None:
            return ()
        if name in SIMPLE:
            return SIMPLE[name]
        return self.alias(module, name, depth)

    def subscript(self, module: str, node: ast.Subscript, depth: int) -> tuple[Recipe, ...]:
        base = _type_name(node.value)
        members = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if base == "Literal":
            literals = (_literal(m) for m in members)
            return tuple(value for value in literals if value is not None)
        if base in UNIONS:
            parts = [self.values(module, m, depth) for m in members]
            if base == "Optional":
                parts.append((Lit(None),))
            return _union(*parts)
        return self.values(module, node.value, depth)  # ``list[int]`` is a list

    def alias(self, module: str, name: str, depth: int) -> tuple[Recipe, ...]:
        """A name the stub defines: a type alias (followed), a type variable (any value)."""
        where = self.definition(module, name)
        if where is None:
            return ()
        defining, info = where
        node = info.ast
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            return self.values(defining, node.value, depth + 1)  # ``X: TypeAlias = ...``
        if isinstance(node, ast.Assign):
            value = node.value
            if isinstance(value, ast.Call) and _type_name(value.func) in ("TypeVar", "ParamSpec"):
                return ANY_VALUE
            return self.values(defining, value, depth + 1)
        if hasattr(ast, "TypeAlias") and isinstance(node, ast.TypeAlias):
            return self.values(defining, node.value, depth + 1)
        return ()


def _union(*parts: tuple[Recipe, ...]) -> tuple[Recipe, ...]:
    """The known members' values in order, ``None`` last (``Decimal | int``: an int will do)."""
    merged = list(dict.fromkeys(itertools.chain.from_iterable(parts)))
    return tuple(sorted(merged, key=lambda recipe: recipe == Lit(None)))


def _type_name(node: ast.expr) -> str | None:
    """``Name`` or the last part of ``a.b.Name``."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _decorator_name(node: ast.expr) -> str | None:
    return _type_name(node.func if isinstance(node, ast.Call) else node)


def _literal(node: ast.expr) -> Recipe | None:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bytes):
            return BytesLit(node.value)
        if node.value is None or isinstance(node.value, bool | int | float | str):
            return Lit(node.value)
    return None
