"""Special methods run the object's own slot, as the interpreter's protocols do, not the
attribute a forwarding object (a weak proxy, a generic alias) hands out."""

from __future__ import annotations

import weakref

import pytest

from threadstorm.harness.values import build, kept_referent, method_of
from threadstorm.scenario.model import Call, Make, Ref, through_type


def test_a_proxys_special_method_is_the_proxys_own_slot() -> None:
    proxy = weakref.proxy(kept_referent(0))
    length = method_of(proxy, "__len__")
    assert length.__self__ is proxy  # the proxy's slot wrapper, bound to the proxy
    assert proxy.__len__.__self__ is not proxy  # through the object: the referent's method
    assert length() == 3


def test_a_generic_alias_subscript_runs_its_own_substitution() -> None:
    alias = list[int]
    with pytest.raises(TypeError, match="not a generic class"):
        method_of(alias, "__getitem__")(str)  # the alias's own subscript, not list's


def test_ordinary_methods_and_class_level_dunders_go_through_the_object() -> None:
    items = [3, 1, 2]
    method_of(items, "sort")()
    assert items == [1, 2, 3]
    assert not through_type("__new__") and not through_type("__class_getitem__")
    assert through_type("__iadd__") and not through_type("append") and not through_type("__")


def test_a_missing_special_method_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="__getitem__"):
        method_of(object(), "__getitem__")


def test_kept_referents_stay_alive_for_their_weak_references() -> None:
    proxy = build(Call(Ref("weakref.proxy"), (Make("kept_referent", (("callable", 1),)),)), {})
    assert type(proxy) is weakref.CallableProxyType
    for _ in range(10):
        kept_referent(0)  # later ones do not push it out before 64 more are made
    assert proxy() == 3 and len(proxy) == 3
