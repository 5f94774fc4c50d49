"""addr2line names static functions of a real 3.14 target, where faulthandler cannot."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from threadstorm.triage.symbolize import lookup

pytestmark = pytest.mark.integration


def static_function_offset(binary: Path, name: str) -> int:
    """The file-relative address of a (static) function, from the symbol table."""
    table = subprocess.run(["nm", str(binary)], capture_output=True, text=True, check=True)
    for line in table.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == name and parts[1] in "tT":
            return int(parts[0], 16)
    raise AssertionError(f"{name} not in the symbol table of {binary}")


def test_static_function_named_from_its_offset(python314d: Path) -> None:
    binary = python314d.resolve()
    offset = static_function_offset(binary, "gen_iternext")
    assert lookup(str(binary), (offset + 4, offset + 8)) == ("gen_iternext", "gen_iternext")
