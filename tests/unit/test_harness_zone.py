"""The harness zone runs inside bare target interpreters: standard library only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import threadstorm

PACKAGE = Path(threadstorm.__file__).parent
ZONE = [
    PACKAGE / "__init__.py",
    *sorted((PACKAGE / "harness").glob("*.py")),
    *sorted((PACKAGE / "scenario").glob("*.py")),
]
ALLOWED_OWN = ("threadstorm.harness", "threadstorm.scenario")


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text("utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_zone_is_not_empty() -> None:
    assert len(ZONE) >= 8


def test_zone_imports_only_stdlib_and_itself() -> None:
    offenders = []
    for path in ZONE:
        for name in imported_modules(path):
            top = name.split(".")[0]
            if name.startswith(ALLOWED_OWN) or top == "__future__":
                continue
            if top not in sys.stdlib_module_names:
                offenders.append(f"{path.name}: {name}")
    assert offenders == []


def test_zone_detects_a_foreign_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("import rich\nfrom threadstorm.store import db\n")
    names = imported_modules(sample)
    assert names == ["rich", "threadstorm.store"]
    assert not any(n.startswith(ALLOWED_OWN) for n in names)
