"""What discovery feeds to the target's callables, and how it reads what they did.

The typed value pool (literals, containers, an iterator, a type, a function: small recipes the
harness rebuilds with ``values.build``) and the argument lists drawn from it for arities 0 to 3;
the instances of types no pool value constructs (``WELL_KNOWN``); and the judgements a trial
needs: a member's kind and arity, whether code is written in C or Python, an object's
*snapshot* (repr, length, items, pickle, ``__dict__``) compared before and after a call, and the
names that say "mutator" when trying is impossible.  ``introspect`` drives discovery with these.

Standard library only (it runs inside the target interpreter).
"""

from __future__ import annotations

import functools
import inspect
import itertools
import operator
import pickle
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from threadstorm.scenario.model import BytesLit, Call, Collection, Lit, Make, Recipe, Ref

# Dunder members worth storming; every other dunder is skipped.
USEFUL_DUNDERS = frozenset(
    {
        "__init__", "__call__", "__repr__", "__str__", "__hash__", "__eq__", "__lt__",
        "__len__", "__length_hint__", "__contains__", "__iter__", "__next__", "__reversed__",
        "__getitem__", "__setitem__", "__delitem__", "__reduce__", "__reduce_ex__",
        "__getstate__", "__setstate__", "__copy__", "__deepcopy__", "__sizeof__", "__format__",
        "__or__", "__iadd__", "__imul__", "__ior__", "__iand__", "__ixor__", "__isub__",
        "__args__", "__parameters__", "__origin__", "__func__", "__wrapped__", "__name__",
        "__qualname__", "__isabstractmethod__", "__dict__",
    }
)  # fmt: skip

# Names that mutate their object: the fallback when trying a member is impossible or inconclusive.
MUTATOR_NAMES = frozenset(
    {
        "append", "appendleft", "extend", "extendleft", "insert", "remove", "pop", "popitem",
        "popleft", "clear", "update", "add", "discard", "sort", "reverse", "rotate",
        "move_to_end", "setdefault", "difference_update", "intersection_update",
        "symmetric_difference_update", "__init__", "__setitem__", "__delitem__", "__setstate__",
        "__next__", "__iadd__", "__imul__", "__ior__", "__iand__", "__ixor__", "__isub__",
        "send", "throw", "close", "write", "truncate", "seek", "put", "push", "reset", "fill",
        "byteswap", "frombytes", "fromlist", "fromunicode", "subtract", "add_note",
        "with_traceback",
    }
)  # fmt: skip
MUTATOR_PREFIXES = ("set", "del", "pop", "remove", "clear", "update", "insert", "append",
                    "extend", "add_", "discard", "write", "push", "put_", "move_")  # fmt: skip

DATA_KINDS = frozenset({"getset", "member", "property", "attribute"})
SCALARS = (int, float, complex, str, bytes, type(None), type(NotImplemented), type(Ellipsis))
NOT_SUBJECTS = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType,
                types.MethodType, types.MethodWrapperType, types.WrapperDescriptorType,
                types.MethodDescriptorType, types.ClassMethodDescriptorType)  # fmt: skip


# --------------------------------------------------------------------------- value pools


def _lits(*values: Any) -> tuple[Recipe, ...]:
    return tuple(Lit(value) for value in values)


LIST = Collection("list", _lits(1, 2, 3))
TUPLE = Collection("tuple", _lits(1, 2, 3))
DICT = Collection("dict", _lits(1, 2, 3, 4))  # two pairs: reordering one is visible
SET = Collection("set", _lits(1, 2))
RANGE = Call(Ref("builtins.range"), (Lit(5),))
ITERATOR = Call(Ref("builtins.iter"), (LIST,))
INT_TYPE = Ref("builtins.int")
STR_TYPE = Ref("builtins.str")
FUNC = Ref("builtins.abs")

# One-argument constructor and function pool: containers first, so a second subject of a type
# is a non-empty one.
ONE_ARG_POOL: tuple[Recipe, ...] = (
    LIST, TUPLE, DICT, SET, RANGE, ITERATOR, Lit(0), Lit(3), Lit(-1), Lit(2**70), Lit(1.5),
    Lit("abc"), BytesLit(b"abc"), INT_TYPE, FUNC,
)  # fmt: skip
# Pairs lead with a function and a list: map(abs, [1, 2, 3]), islice([1, 2, 3], 3).
PAIR_POOL: tuple[Recipe, ...] = (FUNC, LIST, Lit(3), Lit(0), Lit("abc"), BytesLit(b"abc"), INT_TYPE)
TRIPLES: tuple[tuple[Recipe, ...], ...] = (
    _lits(0, 3, 1), (Lit("abc"), Lit(0), Lit(3)), (LIST, LIST, LIST),
)  # fmt: skip
MEMBER_POOL: tuple[Recipe, ...] = (
    Lit(0), Lit(1), Lit("abc"), Lit(-1), Lit(3), BytesLit(b"abc"), Lit(None), Lit(1.5), LIST,
    TUPLE, DICT, INT_TYPE,
)  # fmt: skip
MEMBER_PAIRS: tuple[Recipe, ...] = (Lit(0), Lit(1), Lit("abc"), LIST)
SUBSCRIPTS: tuple[Recipe, ...] = (
    INT_TYPE,
    Collection("tuple", (INT_TYPE, STR_TYPE)),
    Collection("tuple", (Collection("list", (INT_TYPE,)), STR_TYPE)),
)
TYPING_MAKERS: tuple[Recipe, ...] = (
    Make("big_union", (("size", 8),)),
    Make("generic_alias", (("size", 8),)),
)

KEPT = Make("kept_referent", (("callable", 0),))
KEPT_CALLABLE = Make("kept_referent", (("callable", 1),))
# Instances of types no pool value constructs (mostly in ``types``), by the type's dotted name.
WELL_KNOWN: dict[str, Recipe] = {
    "builtins.function": Call(
        Ref("types.FunctionType"), (Ref("copy.copy.__code__"), Collection("dict", ()))
    ),
    "builtins.code": Ref("copy.copy.__code__"),
    "builtins.builtin_function_or_method": Ref("builtins.len"),
    "builtins.method_descriptor": Ref("builtins.list.append"),
    "builtins.wrapper_descriptor": Ref("builtins.object.__init__"),
    "builtins.method-wrapper": Call(Ref("builtins.getattr"), (LIST, Lit("__init__"))),
    "builtins.getset_descriptor": Ref("builtins.int.real"),
    "builtins.member_descriptor": Ref("builtins.slice.start"),
    # weak references need a live referent (one of a temporary is dead): a kept list subclass
    # with every operator a proxy forwards, and one of its bound methods
    "weakref.ProxyType": Call(Ref("weakref.proxy"), (KEPT,)),
    "weakref.CallableProxyType": Call(Ref("weakref.proxy"), (KEPT_CALLABLE,)),
    "weakref.WeakMethod": Call(  # a method written in Python: a C one has no ``__func__``
        Ref("weakref.WeakMethod"), (Call(Ref("builtins.getattr"), (KEPT, Lit("__or__"))),)
    ),
    "weakref.KeyedRef": Call(Ref("weakref.KeyedRef"), (KEPT, Lit(None), Lit("key"))),
    "builtins.classmethod_descriptor": Call(
        Ref("operator.getitem"), (Ref("builtins.dict.__dict__"), Lit("fromkeys"))
    ),
}


def argument_lists(
    arity: int, ones: tuple[Recipe, ...], pairs: tuple[Recipe, ...]
) -> Iterator[tuple[Recipe, ...]]:
    """Candidate argument lists of one arity, from the pools, in a fixed order."""
    if arity == 0:
        yield ()
    elif arity == 1:
        yield from ((value,) for value in ones)
    elif arity == 2:
        yield from itertools.product(pairs, repeat=2)
    elif arity == 3:
        yield from TRIPLES


# --------------------------------------------------------------------------- small helpers


def type_name(cls: type) -> str:
    """``module.qualname`` of a class."""
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def own_name(obj: Any) -> str | None:
    """The dotted name an object gives itself (``posix.remove`` for ``os.remove``), if any."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    return None


def wanted(name: str) -> bool:
    """Public names and the useful dunders."""
    return not name.startswith("_") or name in USEFUL_DUNDERS


def member_kind(name: str, raw: Any) -> str:
    """method, init, classmethod, staticmethod, getset, member, property or attribute."""
    if name == "__init__":
        return "init"
    if isinstance(raw, (classmethod, types.ClassMethodDescriptorType)):
        return "classmethod"
    if isinstance(raw, staticmethod):
        return "staticmethod"
    if isinstance(raw, types.GetSetDescriptorType):
        return "getset"
    if isinstance(raw, types.MemberDescriptorType):
        return "member"
    if isinstance(raw, (property, functools.cached_property)):
        return "property"
    if callable(raw):
        return "method"
    if hasattr(type(raw), "__get__"):
        return "property"
    return "attribute"


def implementation(obj: Any) -> str:
    """``Python`` when the code behind ``obj`` is Python source, else ``C``."""
    if isinstance(obj, type):
        return _class_implementation(obj)
    for inner in (obj, getattr(obj, "__func__", None), getattr(obj, "fget", None),
                  getattr(obj, "func", None)):  # fmt: skip
        if isinstance(inner, types.FunctionType):
            return "Python"
    return "C"


def _class_implementation(cls: type) -> str:
    if not cls.__flags__ & (1 << 9):  # not a heap type: a static C type
        return "C"
    own = list(vars(cls).values())
    if any(implementation(value) == "Python" for value in own if not isinstance(value, type)):
        return "Python"
    c_kinds = (types.MethodDescriptorType, types.WrapperDescriptorType,
               types.ClassMethodDescriptorType)  # fmt: skip
    if any(isinstance(value, c_kinds) for value in own):
        return "C"
    module = sys.modules.get(cls.__module__)
    return "Python" if str(getattr(module, "__file__", "")).endswith(".py") else "C"


def arity(obj: Any) -> tuple[int, int | None, str | None]:
    """Required and maximal positional arguments (None: any number) and the signature text."""
    try:
        signature = inspect.signature(obj)
    except Exception:  # noqa: BLE001 - no signature is an answer, not an error
        text = getattr(obj, "__text_signature__", None)
        return (*_text_arity(text), text) if isinstance(text, str) else (0, None, None)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name == "self" and getattr(obj, "__self__", 0) is None:
        parameters = parameters[1:]  # inspect takes a method bound to None for an unbound one
    low = high = 0
    varargs = False
    for parameter in parameters:
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            high += 1
            low += parameter.default is parameter.empty
        elif parameter.kind is parameter.VAR_POSITIONAL:
            varargs = True
    return low, (None if varargs else high), str(signature)


def _text_arity(text: str) -> tuple[int, int | None]:
    """Arity from a ``__text_signature__`` such as ``($self, key, default=<x>, /)``."""
    if not text.startswith("(") or "[" in text:
        return 0, None  # the bracketed "[iterable[, maxlen]]" style says too little
    low = high = 0
    for raw in text.strip().removeprefix("(").removesuffix(")").split(","):
        part = raw.strip()
        if not part or part == "/" or part.startswith("$"):
            continue
        if part.startswith("**") or part == "*":
            break
        if part.startswith("*"):
            return low, None
        high += 1
        low += "=" not in part
    return low, high


def snapshot(obj: Any) -> tuple[Any, ...]:
    """What an object looks like from outside: repr, length, items, pickle, ``__dict__``."""
    return (
        _attempt(repr, obj),
        _attempt(len, obj),
        _attempt(operator.length_hint, obj, -1),
        _attempt(_items, obj),
        _attempt(pickle.dumps, obj, 4),
        _attempt(_attributes, obj),
    )


def _attempt(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except Exception as error:  # noqa: BLE001 - a failing view is part of the snapshot
        return ("!", type(error).__name__)


def _items(obj: Any) -> Any:
    if iter(obj) is obj:
        return "iterator"  # iterating would consume it; its state shows in pickle and length
    return [repr(item) for item in itertools.islice(obj, 64)]


def _attributes(obj: Any) -> str:
    return repr(sorted(vars(obj).items(), key=lambda pair: str(pair[0])))


def name_says_mutator(name: str) -> bool:
    """The fallback rule: names of the usual mutating operations."""
    return name in MUTATOR_NAMES or name.startswith(MUTATOR_PREFIXES)


# Module functions that change their module's state: settings, registries, switches, hooks.
STATE_PREFIXES = ("set", "enable", "disable", "register", "unregister", "start", "stop",
                  "freeze", "unfreeze", "reset", "clear", "install", "uninstall", "collect",
                  "simplefilter", "filterwarnings", "bind", "textdomain", "add", "remove",
                  "del", "push", "pop")  # fmt: skip
PROBE_PREFIXES = ("get", "is")  # zero-argument readers whose answers show a module's state
PROBE_LIMIT = 4000  # characters: a longer answer is too costly to compare at every trial


def name_says_state_change(name: str) -> bool:
    """The fallback rule for a module function: names that set, register, switch or clear."""
    return name.lower().startswith(STATE_PREFIXES) or name_says_mutator(name)


def module_probes(module: Any, readers: list[Callable[[], Any]]) -> list[Callable[[], Any]]:
    """What to compare before and after a module function's trial to see it change state.

    The module's mutable containers (``warnings.filters``, ``gc.callbacks``) and the zero-argument
    ``readers`` given (``gc.get_threshold``, ``gc.isenabled``), each kept only when it answers
    the same three times in a row (``gc.get_count`` moves by itself) and briefly.
    """
    found: list[Callable[[], Any]] = []
    for name, value in sorted(vars(module).items()):
        if not name.startswith("_") and type(value) in (list, dict, set):
            found.append(functools.partial(operator.getitem, vars(module), name))
    found.extend(readers)
    return [probe for probe in found if _steady(probe)]


def _steady(probe: Callable[[], Any]) -> bool:
    """The same answer three times, with allocations in between (which move ``gc.get_count``)."""
    answers = set()
    for _ in range(3):
        answers.add(_attempt(lambda: repr(probe())))
        _churn = [[n] for n in range(2000)]  # allocation, as any trial does
    return len(answers) == 1 and len(str(next(iter(answers)))) <= PROBE_LIMIT


def module_snapshot(probes: list[Callable[[], Any]]) -> tuple[Any, ...]:
    """The probes' answers now (see ``module_probes``)."""
    return tuple(_attempt(lambda probe=probe: repr(probe())) for probe in probes)
