"""Name the frames of a 3.14 faulthandler C stack with ``addr2line``.

CPython 3.14's faulthandler prints the crashing thread's C stack with ``dladdr``: static
functions have no dynamic symbol, so a frame reads ``at +0x13f5f2`` or, worse, is named after the
nearest exported symbol before it (``PyObject_Call+0x20``).  The target binary carries full debug
information, so ``addr2line`` names every frame exactly.  The names are kept beside the raw
stderr (``Evidence.extra["c_stack_names"]``), which stays untouched as evidence.

The base of each binary comes from a frame printed relative to it (``+0xOFF`` with its absolute
address), so every frame of that binary can be turned into a file-relative address.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from threadstorm.triage.parsers import NativeFrame

ADDR2LINE_TIMEOUT_S = 20.0


def c_stack_names(c_stack: Sequence[NativeFrame]) -> list[str | None] | None:
    """Real function names for a dump's C stack frames, in order; None without a C stack (or
    without ``addr2line``)."""
    if not c_stack or shutil.which("addr2line") is None:
        return None
    return frame_names(c_stack)


def frame_names(frames: Sequence[NativeFrame]) -> list[str | None]:
    """One name per frame (None where the binary or its base is unknown)."""
    bases = binary_bases(frames)
    wanted: dict[str, list[int]] = {}
    for frame in frames:
        base = bases.get(frame.library or "")
        if base is not None and frame.address is not None:
            wanted.setdefault(frame.library or "", []).append(frame.address - base)
    names: dict[tuple[str, int], str | None] = {}
    for library, offsets in wanted.items():
        for offset, name in zip(offsets, lookup(library, tuple(offsets)), strict=False):
            names[(library, offset)] = name
    result: list[str | None] = []
    for frame in frames:
        base = bases.get(frame.library or "")
        if base is None or frame.address is None:
            result.append(None)
        else:
            result.append(names.get((frame.library or "", frame.address - base)))
    return result


def binary_bases(frames: Sequence[NativeFrame]) -> dict[str, int]:
    """Each binary's load address, from a frame printed as an offset from it (no symbol)."""
    bases: dict[str, int] = {}
    for frame in frames:
        if frame.function is None and frame.offset is not None and frame.address is not None:
            bases.setdefault(frame.library or "", frame.address - frame.offset)
    return bases


@functools.lru_cache(maxsize=4096)
def lookup(library: str, offsets: tuple[int, ...]) -> tuple[str | None, ...]:
    """The function containing each file-relative address of one binary (cached).

    ``addr2line -a -f -i`` prints each address, then its chain of inlined functions, innermost
    first; the last of the chain is the real function the code was inlined into (an inlined
    ``_Py_TYPE`` says nothing about the bug, its caller does).
    """
    unknown = tuple(None for _ in offsets)
    if not Path(library).is_file():
        return unknown
    try:
        done = subprocess.run(
            ["addr2line", "-a", "-f", "-i", "-e", library, *(hex(offset) for offset in offsets)],
            capture_output=True,
            text=True,
            timeout=ADDR2LINE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return unknown
    chains: list[list[str]] = []
    lines = done.stdout.splitlines()
    index = 0
    while index < len(lines):
        if lines[index].startswith("0x"):
            chains.append([])
            index += 1
            continue
        if chains:
            chains[-1].append(lines[index])
        index += 2  # function, then file:line
    if len(chains) != len(offsets):
        return unknown
    return tuple(_outermost(chain) for chain in chains)


def _outermost(chain: list[str]) -> str | None:
    name = chain[-1] if chain else "??"
    return None if name in ("??", "") else name
