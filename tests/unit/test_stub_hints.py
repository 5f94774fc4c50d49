"""typeshed's stubs as typed argument lists for discovery (read from the stubs typeshed-client
ships, so these follow real stub text, not a copy)."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.generate.stub_hints import stub_hints
from threadstorm.harness.trial_values import LIST
from threadstorm.scenario.codec import recipe_from_json
from threadstorm.scenario.model import BytesLit, Call, Lit, Recipe


def lists(hints: dict[str, list[list[object]]], path: str) -> list[tuple[Recipe, ...]]:
    return [tuple(recipe_from_json(arg) for arg in args) for args in hints[path]]


@pytest.fixture(scope="module")
def hints() -> dict[str, list[list[object]]]:
    return stub_hints(["queue", "array", "struct", "hashlib", "decimal", "zlib"], (3, 13))


def test_a_typed_parameter_gets_values_of_its_type(hints: dict[str, list[list[object]]]) -> None:
    # ``Queue(maxsize: int = 0)``: an int, not the pools' list, which makes every put raise
    assert lists(hints, "queue.Queue")[:2] == [(Lit(0),), (Lit(1),)]
    assert lists(hints, "zlib.decompress")[0][0] == BytesLit(b"abc")  # ReadableBuffer


def test_literals_and_aliases_are_followed(hints: dict[str, list[list[object]]]) -> None:
    # ``array(typecode: _IntTypeCode, initializer: bytes | ...)``: a real code, then data, so
    # the first array is a non-empty one; ``ArrayType = array`` has the same lists
    first = lists(hints, "array.array")[0]
    assert first == (Lit("b"), BytesLit(b"abc"))
    assert hints["array.ArrayType"] == hints["array.array"]
    # overloads with literal names: ``hashlib.new("shake_128", ...)``
    assert lists(hints, "hashlib.new")[0][0] == Lit("shake_128")


def test_members_are_keyed_by_the_defining_module(hints: dict[str, list[list[object]]]) -> None:
    # ``struct.Struct`` is ``_struct.Struct`` at run time: members go by the runtime type name
    assert lists(hints, "_struct.Struct.unpack") == [(BytesLit(b"abc"),)]
    assert "struct.Struct" in hints and "_struct.Struct" in hints


def test_a_union_with_an_unknown_member_keeps_the_known_ones(
    hints: dict[str, list[list[object]]],
) -> None:
    # ``Context.divide(x: Decimal | int, y: ...)``: an int will do
    assert lists(hints, "decimal.Context.divide")[0] == (Lit(0), Lit(0))


def test_no_hint_where_the_stub_cannot_be_honoured(hints: dict[str, list[list[object]]]) -> None:
    # ``scrypt(password, *, salt, n, r, p, ...)``: required keyword-only parameters
    assert "hashlib.scrypt" not in hints
    # ``file_digest(fileobj: _BytesIOLike | _FileDigestFileObj, ...)``: needs an object
    assert "hashlib.file_digest" not in hints


def test_writable_buffers_are_bytearrays() -> None:
    hints = stub_hints(["struct"], (3, 13))
    buffer = lists(hints, "_struct.Struct.pack_into")[0][0]
    assert isinstance(buffer, Call) and buffer.args == (BytesLit(b"abc"),)


def test_a_module_without_a_stub_gives_no_hints() -> None:
    assert stub_hints(["threadstorm_no_such_module"], (3, 13)) == {}


def test_stubs_a_package_ships_on_the_targets_path_are_read(tmp_path: Path) -> None:
    package = tmp_path / "shelves"
    package.mkdir()
    (package / "__init__.pyi").write_text(
        "class Shelf:\n"
        "    def __init__(self, items: list[int]) -> None: ...\n"
        "    def take(self, index: int, /) -> int: ...\n"
        "def make(size: int, *, label: str) -> Shelf: ...\n"
    )
    hints = stub_hints(["shelves"], (3, 13), [str(tmp_path)])
    assert lists(hints, "shelves.Shelf") == [(LIST,)]
    assert lists(hints, "shelves.Shelf.take") == [(Lit(0),), (Lit(1),)]
    assert "shelves.make" not in hints  # a required keyword-only parameter
    assert stub_hints(["shelves"], (3, 13)) == {}  # not on the path: nothing


def test_fuller_lists_come_first_but_optional_names_stay_out() -> None:
    hints = stub_hints(["builtins"], (3, 13))
    # ``list(iterable=..., /)``: a list of a list first, so the first instance is non-empty
    assert lists(hints, "builtins.list") == [(LIST,), ()]
    # ``bytes.decode(encoding: str = ..., errors: str = ...)``: "abc" is no encoding
    assert lists(hints, "builtins.bytes.decode") == [()]
    assert all(len(args) <= 4 for args in hints["builtins.zip"])
