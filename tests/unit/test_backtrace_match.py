"""A gdb backtrace is kept for a bucket only when its run crashed the way the bucket did: a
script may crash at another bug first, and that bug's stack would mislabel the bucket and merge
it into the other bug by native site."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.bucket.backtrace_match import (
    backtrace_shows,
    gdb_run_description,
    gdb_run_signature,
)
from threadstorm.bucket.identity import Signature

TEXTS = Path(__file__).parent.parent / "corpus" / "texts"
PRODUCT = Signature(
    "assertion", ("itertoolsmodule.c", "product_next", "npools==0 || Py_REFCNT(result) == 1")
)
OTHER_ASSERTION = Signature("assertion", ("odictobject.c", "_odict_find_node", "i >= 0"))
SEGV = Signature("python", ("SIGSEGV", "op: collections.OrderedDict.__repr__()"))
NATIVE_SEGV = Signature("native", ("SIGSEGV", "list_repr_impl", "PyObject_Repr"))
ABORT = Signature("python", ("SIGABRT", "op: builtins.list.pop()"))


def text(name: str) -> str:
    return (TEXTS / name).read_text()


def test_a_gdb_run_is_signed_by_its_signal_and_what_the_program_printed() -> None:
    assert gdb_run_signature(text("gdb_product_assert.txt")) == PRODUCT
    found = gdb_run_signature(text("gdb_odict_segv.txt"))
    assert found is not None and (found.kind, found.parts) == ("python", ("SIGSEGV",))


def test_a_run_with_no_fatal_signal_has_no_signature() -> None:
    assert gdb_run_signature("[Inferior 1 (process 42) exited normally]\n") is None
    assert not backtrace_shows(SEGV, "[Inferior 1 (process 42) exited normally]\n")


@pytest.mark.parametrize(
    ("signature", "name", "kept"),
    [
        (PRODUCT, "gdb_product_assert.txt", True),  # its own assertion
        (OTHER_ASSERTION, "gdb_product_assert.txt", False),  # another assertion
        (SEGV, "gdb_odict_segv.txt", True),  # a segfault bucket, a segfault
        (NATIVE_SEGV, "gdb_odict_segv.txt", True),
        (SEGV, "gdb_product_assert.txt", False),  # a segfault bucket, the script hit an assertion
        (ABORT, "gdb_odict_segv.txt", False),  # another signal
        (PRODUCT, "gdb_odict_segv.txt", False),  # an assertion bucket whose script segfaulted
    ],
)
def test_a_backtrace_is_kept_only_for_the_crash_it_shows(
    signature: Signature, name: str, kept: bool
) -> None:
    assert backtrace_shows(signature, text(name)) is kept


def test_kinds_whose_backtrace_shows_where_damage_was_noticed_are_not_checked() -> None:
    corruption = Signature("corruption", ("op: builtins.enumerate.__next__()",))
    assert backtrace_shows(corruption, text("gdb_product_assert.txt"))


def test_the_line_on_a_backtrace_not_kept_says_how_the_run_crashed() -> None:
    assert gdb_run_description(text("gdb_product_assert.txt")) == PRODUCT.title
    assert gdb_run_description(text("gdb_setiter.txt")) == "a reference-count or allocator check"
    assert gdb_run_description("[Inferior 1 (process 42) exited normally]\n") == "no fatal signal"
