"""Second chances for what the value pools cannot build: words, and objects made of objects.

Many constructors and functions refuse every pool value because they want something specific:

- a *word*: a format code (``array.array('b')``, ``struct.Struct('i')``), a mode, an encoding;
- another *object*: a raw stream under a buffered one (``io.BufferedReader(io.BytesIO(...))``),
  a connection under a cursor (``sqlite3.Cursor(connection)``), a file object under a CSV
  writer, a live object under a weak reference, a buffer under an unpacking iterator;
- *data the module itself made*: what ``marshal.dumps``, ``zlib.compress`` or ``struct.pack``
  returned is what ``marshal.loads``, ``zlib.decompress`` or ``Struct.unpack`` want.

Discovery gives such a callable these argument lists once the pools have failed.  The *parts* are
the module's *products* (calls of its functions that returned bytes or text, as recipes), a few
*companions* from the standard library that constructors commonly take (byte and text streams,
a writable buffer, an object that accepts weak references), and the recipes of subjects already
built (the target modules' own objects first).  A composite subject's recipe nests
its parts' recipes, so every scenario, minimised script and variant rebuilds the whole object
afresh from plain calls.  Composition is bounded: ``COMPOSITION_ROUNDS`` rounds (a text wrapper
over a buffered reader over a byte stream needs two), at most ``MAX_PARTS`` parts and
``MAX_TRIALS`` argument lists per callable.

Standard library only (it runs inside the target interpreter).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from threadstorm.scenario.model import BytesLit, Call, Collection, Lit, Recipe, Ref

COMPOSITION_ROUNDS = 2
MAX_PARTS = 14  # products (3), streams over them (3), companions (5), then subjects
MAX_TRIALS = 160
MEMBER_SECOND_CHANCES = 24  # trials of a member that refused the pools (fresh scratch each)
MAX_PRODUCTS = 3  # calls per module kept for the data they return
MAX_PRODUCT_SIZE = 4096  # bytes or characters: larger results are no argument worth copying

# Objects that constructors commonly take, rebuilt afresh for every use.
COMPANIONS: tuple[Recipe, ...] = (
    # empty: a decompressing reader over it reads nothing instead of raising on foreign bytes
    Call(Ref("io.BytesIO"), ()),
    Call(Ref("io.StringIO"), (Lit("abc,def\r\nghi,jkl\r\n"),)),
    Call(Ref("builtins.bytearray"), (BytesLit(b"abcdefgh"),)),
    # a long-lived object that takes weak references (a fresh instance would die at once)
    Ref("threading.Event"),
    Collection("list", (Ref("threading.Event"),)),  # weak set and mapping updates
)

# Words that settings, formats and modes take (a format code, a file mode, an encoding, an
# error handler, a warnings action, a locale, a number as text), alone and before a value.
WORDS: tuple[Recipe, ...] = tuple(
    Lit(word)
    for word in ("b", "i", "d", "r", "w", "utf-8", "ignore", "strict", "default", "1.5", "C")
)
# What follows a word or a part: data for a format, a size, a mode, a second element.
VALUES: tuple[Recipe, ...] = (
    Collection("list", (Lit(1), Lit(2), Lit(3))),
    BytesLit(b"abcdefgh"),
    Lit(3),
    Lit("b"),
    Lit("w"),
    Collection("tuple", (Lit(1), Lit(2))),
)


# Three numbers that make a calendar date (``datetime.date(2000, 1, 2)`` and its subclasses),
# and three strings (a pattern, a replacement, a subject: ``re.sub('b', 'x', 'abc')``).
TRIPLES: tuple[tuple[Recipe, ...], ...] = (
    (Lit(2000), Lit(1), Lit(2)),
    (Lit("b"), Lit("x"), Lit("abc")),
)


def word_calls(low: int, high: int | None) -> Iterator[tuple[Recipe, ...]]:
    """Argument lists led by a word: ``(word,)``, then ``(word, value)``, then ``TRIPLES``, for
    the arities allowed."""
    if _allows(low, high, 1):
        yield from ((word,) for word in WORDS)
    if _allows(low, high, 2):
        yield from itertools.product(WORDS, VALUES)
    if _allows(low, high, 3):
        yield from TRIPLES


def composite_calls(
    low: int, high: int | None, parts: Sequence[Recipe]
) -> Iterator[tuple[Recipe, ...]]:
    """Argument lists that put other objects where the pools put values, most likely first.

    One part alone; a word before a part (``iter_unpack('b', buffer)``, a weak mapping's key
    and value); a part with a value after it; two parts (``BufferedRWPair(reader, writer)``);
    a part then two values.
    """
    if _allows(low, high, 1):
        yield from ((part,) for part in parts)
    if _allows(low, high, 2):
        yield from ((Lit("b"), part) for part in parts)
        yield from ((part, value) for value in VALUES for part in parts)
        yield from itertools.product(parts, repeat=2)
    if _allows(low, high, 3):
        for part in parts:
            yield (part, Lit(3), Lit(3))
            yield (part, Lit("w"), Lit(3))


def _allows(low: int, high: int | None, count: int) -> bool:
    return low <= count and (high is None or count <= high)


def second_chances(
    low: int, high: int | None, parts: Sequence[Recipe]
) -> Iterator[tuple[Recipe, ...]]:
    """Word and composite argument lists taken in turn, so a short trial budget sees both."""
    sources = [word_calls(low, high), composite_calls(low, high, parts)]
    while sources:
        for source in list(sources):
            arguments = next(source, None)
            if arguments is None:
                sources.remove(source)
            else:
                yield arguments
