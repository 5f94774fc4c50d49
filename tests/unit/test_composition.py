"""Second-chance argument lists: words, and objects made of other objects."""

from __future__ import annotations

import io
import itertools
import threading
import weakref

from threadstorm.harness.composition import (
    COMPANIONS,
    composite_calls,
    second_chances,
    word_calls,
)
from threadstorm.harness.discovery import _dead_weak_reference
from threadstorm.harness.values import build
from threadstorm.scenario.model import Call, Lit, Ref


def test_word_calls_respect_the_arity() -> None:
    assert all(len(args) == 1 for args in word_calls(1, 1))
    assert {len(args) for args in word_calls(1, 3)} == {1, 2, 3}
    assert list(word_calls(4, None)) == []
    assert (Lit("b"),) in list(word_calls(1, 1))  # a format code: array.array('b')


def test_composite_calls_put_parts_where_values_went() -> None:
    reader = Call(Ref("io.BytesIO"), ())
    writer = Call(Ref("io.StringIO"), ())
    pairs = list(composite_calls(2, 2, [reader, writer]))
    assert (reader, writer) in pairs  # BufferedRWPair(reader, writer)
    assert (Lit("b"), reader) in pairs  # struct.iter_unpack('b', buffer)
    assert pairs.index((Lit("b"), reader)) < pairs.index((reader, writer))
    assert all(len(args) == 2 for args in pairs)
    assert [args for args in composite_calls(1, 1, [reader])] == [(reader,)]


def test_second_chances_alternate_words_and_parts() -> None:
    part = Call(Ref("io.BytesIO"), ())
    first = list(itertools.islice(second_chances(1, 1, [part]), 3))
    assert first[0] == (Lit("b"),)
    assert first[1] == (part,)
    assert len(list(second_chances(1, 1, [part]))) == len(list(word_calls(1, 1))) + 1


def test_companions_are_fresh_or_long_lived() -> None:
    for recipe in COMPANIONS:
        first, second = build(recipe, {}), build(recipe, {})
        if isinstance(recipe, Ref):  # a class: it outlives the weak references made to it
            assert first is second
            assert weakref.ref(first)() is first
        else:
            assert first is not second
    stream = build(COMPANIONS[0], {})
    assert isinstance(stream, io.BytesIO)
    assert io.BufferedReader(stream).read(3) == b""


def test_dead_weak_references_are_not_subjects() -> None:
    over_temporaries = [weakref.proxy({1, 2}), weakref.ref(threading.Event())]
    assert all(_dead_weak_reference(reference) for reference in over_temporaries)
    assert not _dead_weak_reference(weakref.proxy(threading.Event))
    assert not _dead_weak_reference(weakref.ref(threading.Event))
    assert not _dead_weak_reference([1, 2])
