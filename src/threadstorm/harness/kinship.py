"""Kinship facts: what kind of object a recipe builds, so the controller can find its siblings.

Variant search asks, for the shared object of a crashing scenario and for every candidate
sibling, which ``collections.abc`` ABCs and protocols the object fits, which C slots its type
fills (``__next__`` means ``tp_iternext``...), which dunders the type defines itself, which public
methods and attributes it has, and whether it is implemented in C.  The answer must come from the
target (the controller's interpreter is another build), from objects built by recipe.

Runs in a forked, confined child of the fork server (``server.serve_kinship``): a value that
crashes while being built takes only the child down.  Standard library only.
"""

from __future__ import annotations

import collections.abc
import contextlib
import inspect
import os
import shutil
import time
import traceback
import types
from collections.abc import Callable
from typing import Any

from threadstorm.harness.confine import confine_child
from threadstorm.harness.pipes import collect
from threadstorm.harness.protocol import KinshipRequest, bytes_to_text, encode, write_all
from threadstorm.harness.values import build
from threadstorm.scenario.codec import recipe_from_json

# Most specific first: the controller treats the first few as the object's kind.
ABC_NAMES = (
    "Generator",
    "Coroutine",
    "AsyncGenerator",
    "AsyncIterator",
    "Awaitable",
    "Iterator",
    "MutableSequence",
    "Sequence",
    "MutableMapping",
    "Mapping",
    "MutableSet",
    "Set",
    "KeysView",
    "ItemsView",
    "ValuesView",
    "MappingView",
    "Buffer",
    "Reversible",
    "Collection",
    "Sized",
    "Container",
    "Iterable",
    "Callable",
    "Hashable",
)

# The dunder a C slot shows up as in a type's ``__dict__`` (a slot wrapper), and the slot.
SLOT_DUNDERS = {
    "__repr__": "tp_repr",
    "__str__": "tp_str",
    "__hash__": "tp_hash",
    "__call__": "tp_call",
    "__iter__": "tp_iter",
    "__next__": "tp_iternext",
    "__get__": "tp_descr_get",
    "__set__": "tp_descr_set",
    "__delete__": "tp_descr_set",
    "__init__": "tp_init",
    "__new__": "tp_new",
    "__del__": "tp_finalize",
    "__eq__": "tp_richcompare",
    "__lt__": "tp_richcompare",
    "__getattribute__": "tp_getattro",
    "__setattr__": "tp_setattro",
    "__len__": "sq_length/mp_length",
    "__getitem__": "mp_subscript/sq_item",
    "__setitem__": "mp_ass_subscript/sq_ass_item",
    "__delitem__": "mp_ass_subscript/sq_ass_item",
    "__contains__": "sq_contains",
    "__bool__": "nb_bool",
    "__add__": "nb_add/sq_concat",
    "__iadd__": "nb_inplace_add/sq_inplace_concat",
    "__or__": "nb_or",
    "__await__": "am_await",
    "__aiter__": "am_aiter",
    "__anext__": "am_anext",
    "__buffer__": "bf_getbuffer",
}

# Dunders worth listing among methods: scenarios call them directly (reinit, setitem...).
CALLED_DUNDERS = frozenset(
    {"__init__", "__setitem__", "__delitem__", "__getitem__", "__reduce__", "__reduce_ex__",
     "__copy__", "__deepcopy__", "__length_hint__", "__setstate__", "__next__", "__iter__",
     "__set_name__", "__get__", "__set__", "__delete__", "__sizeof__", "__reversed__"}
)  # fmt: skip
MAX_NAMES = 300


def serve_kinship(request: KinshipRequest, sandbox: str, counter: int) -> dict[str, Any]:
    """The fork server's ``kinship`` op: describe recipes in a forked, confined child.

    Request: ``protocol.KinshipRequest``.  Reply: ``{"event": "kinship", "id": N, "facts":
    [...]}`` with one entry per recipe the child got through; when it died or ran out of time,
    fewer, and ``exit_code``, ``timed_out`` and the tail of its stderr say how.
    """
    folder = os.path.join(sandbox, f"kinship-{counter}")
    os.mkdir(folder)
    result_r, result_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns
        os.close(result_r)
        os.close(err_r)
        _child(request, folder, result_w, err_w)
    os.close(result_w)
    os.close(err_w)
    got = collect(pid, result_r, err_r, time.monotonic() + request.timeout)
    _, status = os.waitpid(pid, 0)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "event": "kinship",
        "id": request.id,
        "facts": [m for m in got.messages if m.get("event") != "setup_failed"],
        "exit_code": os.waitstatus_to_exitcode(status),
        "timed_out": got.timed_out,
        "stderr": bytes_to_text(got.stderr[-4000:]),
    }


def _child(request: KinshipRequest, folder: str, result_w: int, err_w: int) -> None:
    code = 0
    try:
        confine_child(folder, request.limits, err_w)
        describe_recipes(request, lambda facts: write_all(result_w, encode(facts)))
    except BaseException:  # noqa: BLE001 - our own failure: tell the server, never a finding
        with contextlib.suppress(OSError):
            write_all(result_w, encode({"event": "setup_failed", "error": traceback.format_exc()}))
        code = 3
    finally:
        os._exit(code)


def describe_recipes(request: KinshipRequest, emit: Callable[[dict[str, Any]], None]) -> None:
    """``emit`` the facts of each recipe of ``request.recipes``, in order, one at a time.

    The scenario's shared objects (``request.shared``: name and recipe as JSON) are built
    first, in order, so recipes may refer to them; one that fails to build is left out.  A recipe
    that raises gets ``{"error": ...}``.  Emitting one by one lets the controller tell which
    recipe a dying child was building.
    """
    namespace: dict[str, Any] = {}
    for entry in request.shared:
        try:
            namespace[entry["name"]] = build(recipe_from_json(entry["recipe"]), namespace)
        except Exception:  # noqa: BLE001 - a shared object that cannot be built is left out
            continue
    for doc in request.recipes:
        try:
            value = build(recipe_from_json(doc), dict(namespace))
            facts = describe(value)
        except Exception as error:  # noqa: BLE001 - a recipe that fails is data, not our failure
            facts = {"error": f"{type(error).__name__}: {str(error)[:160]}"}
        emit(facts)


def describe(value: Any) -> dict[str, Any]:
    """The kinship facts of one live object."""
    cls = type(value)
    return {
        "type": f"{cls.__module__}.{cls.__qualname__}",
        "module": str(cls.__module__),
        "abcs": [name for name in ABC_NAMES if _is_instance(value, name)],
        "protocols": protocols(value),
        "slots": sorted({SLOT_DUNDERS[name] for name in SLOT_DUNDERS if _provider(cls, name)}),
        "own": sorted(name for name in SLOT_DUNDERS if name in vars(cls)),
        "native": not any(isinstance(v, types.FunctionType) for v in vars(cls).values()),
        "methods": methods(cls),
        "attributes": attributes(cls),
    }


def protocols(value: Any) -> list[str]:
    """Protocols that are no ABC: descriptor, data descriptor, class, callable."""
    cls = type(value)
    found = []
    if hasattr(cls, "__get__"):
        found.append("descriptor")
    if hasattr(cls, "__set__") or hasattr(cls, "__delete__"):
        found.append("data-descriptor")
    if isinstance(value, type):
        found.append("class")
    if callable(value):
        found.append("callable")
    return found


def methods(cls: type) -> list[str]:
    """Public methods of instances of ``cls`` (and the dunders scenarios call directly)."""
    names = []
    for name in dir(cls):
        if name.startswith("_") and name not in CALLED_DUNDERS:
            continue
        attribute = inspect.getattr_static(cls, name, None)
        if callable(attribute) and not isinstance(attribute, type):
            names.append(name)
    return names[:MAX_NAMES]


def attributes(cls: type) -> list[str]:
    """Public data attributes of instances: getset and member descriptors, properties."""
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attribute = inspect.getattr_static(cls, name, None)
        if inspect.isdatadescriptor(attribute) or isinstance(attribute, types.MemberDescriptorType):
            names.append(name)
    return names[:MAX_NAMES]


def _is_instance(value: Any, abc_name: str) -> bool:
    abc = getattr(collections.abc, abc_name, None)
    try:
        return abc is not None and isinstance(value, abc)
    except Exception:  # noqa: BLE001 - a hostile __class__ or __instancecheck__ is no kinship
        return False


def _provider(cls: type, name: str) -> bool:
    """Whether a class of ``cls``'s MRO other than ``object`` defines ``name``."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass is not object and vars(klass)[name] is not None
    return False
