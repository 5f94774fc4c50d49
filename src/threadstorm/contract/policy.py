"""Contract policy: label a scenario in-contract or outside-contract by written rules.

A policy is a TOML file with ``[[unsupported]]`` rules (see ``default.toml`` beside this module).
A scenario is outside the contract when any rule matches it; a bucket is outside the contract
only when every scenario that reached it is (one supported way to crash makes it a real bug).

A rule about an operation applies only where that operation is implemented in C: a class written
in Python runs ``obj.__init__(...)`` as an ordinary method, and pure Python code must never crash
the interpreter, so a crash reached through it is in-contract.  The child reports which members
are Python functions (``python_members`` in its setup message, as ``target.member``).
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from threadstorm.errors import UsageError
from threadstorm.scenario.model import Call, Collection, Recipe, Ref, Scenario

IN_CONTRACT = "in-contract"
OUTSIDE_CONTRACT = "outside-contract"
RULE_FIELDS = ("operation", "reference", "family")


@dataclass(frozen=True)
class Rule:
    """One unsupported use: a name, why, and one pattern on one field."""

    name: str
    reason: str
    field: str
    pattern: str

    def matches(self, scenario: Scenario, python_members: AbstractSet[str] = frozenset()) -> bool:
        if self.field == "family":
            return fnmatch.fnmatchcase(scenario.family, self.pattern)
        if self.field == "operation":
            names = [
                op.name.rpartition(".")[2]
                for op in scenario.operations()
                if f"{op.target}.{op.name}" not in python_members
            ]
        else:
            names = references(scenario)
        return any(fnmatch.fnmatchcase(name, self.pattern) for name in names)


@dataclass(frozen=True)
class Policy:
    """An ordered set of rules."""

    rules: tuple[Rule, ...]
    source: str

    def label(
        self, scenario: Scenario, python_members: AbstractSet[str] = frozenset()
    ) -> tuple[str, str]:
        """``(label, reason)``: the first matching rule's reason, or in-contract.

        ``python_members`` (``target.member``) are operations written in Python, which no
        operation rule covers.
        """
        for rule in self.rules:
            if rule.matches(scenario, python_members):
                return OUTSIDE_CONTRACT, f"{rule.name}: {rule.reason}"
        return IN_CONTRACT, "no unsupported use"


def references(scenario: Scenario) -> list[str]:
    """Every dotted reference a scenario uses: recipes and function operations."""
    found: list[str] = []

    def walk(recipe: Recipe) -> None:
        if isinstance(recipe, Ref):
            found.append(recipe.path)
        elif isinstance(recipe, Collection):
            for item in recipe.items:
                walk(item)
        elif isinstance(recipe, Call):
            for part in (recipe.func, *recipe.args, *(value for _, value in recipe.kwargs)):
                walk(part)

    for obj in scenario.shared:
        walk(obj.recipe)
    for op in scenario.operations():
        if op.kind == "function":
            found.append(op.name)
        for arg in op.args:
            walk(arg)
    return found


def default_policy() -> Policy:
    """The policy shipped with threadstorm."""
    text = resources.files("threadstorm.contract").joinpath("default.toml").read_text("utf-8")
    return parse_policy(text, "default")


def load_policy(path: Path | None) -> Policy:
    """The user's policy file, or the default; a bad file raises ``UsageError``."""
    if path is None:
        return default_policy()
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise UsageError(f"cannot read policy {path}: {error.strerror}; pass a TOML file") from None
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str) -> Policy:
    """Parse policy TOML; raise ``UsageError`` naming the first problem."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise UsageError(f"policy {source} is not valid TOML: {error}") from None
    rules = []
    for number, entry in enumerate(doc.get("unsupported", []), start=1):
        fields = [name for name in RULE_FIELDS if name in entry]
        if len(fields) != 1 or not isinstance(entry.get("name"), str):
            raise UsageError(
                f"policy {source}: rule {number} needs a 'name' and exactly one of {RULE_FIELDS}"
            )
        rules.append(
            Rule(entry["name"], str(entry.get("reason", "")), fields[0], str(entry[fields[0]]))
        )
    return Policy(tuple(rules), source)
