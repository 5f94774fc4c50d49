"""JSON round-trip for scenarios, with the schema version written into every document.

Recipes are written as one-key objects so a scenario file stays readable by hand::

    {"lit": 3}  {"bytes": "abc"}  {"ref": "typing.Any"}  {"shared": "obj"}
    {"list": [...]}  {"call": {"ref": "builtins.list"}, "args": [...], "kwargs": {...}}
    {"make": "big_union", "size": 40}

A thread is the list of its operations, or, when it has a timing of its own, an object
``{"ops": [...], "after": 0, "delay_us": 500, "spawn": true}``; an operation whose arguments are
built anew for every call carries ``"fresh": true``.  Version 1 documents (no timing) still read.

Standard library only: the harness decodes the same documents inside the target.
"""

from __future__ import annotations

import json
from typing import Any

from threadstorm.scenario.model import (
    COLLECTION_KINDS,
    READABLE_VERSIONS,
    SCHEMA_VERSION,
    BytesLit,
    Call,
    Collection,
    Lit,
    Make,
    Operation,
    Recipe,
    Ref,
    Scenario,
    ScenarioError,
    Shared,
    SharedObject,
    Start,
    ThreadPlan,
)


def recipe_to_json(recipe: Recipe) -> Any:
    """The JSON form of one recipe."""
    if isinstance(recipe, Lit):
        return {"lit": recipe.value}
    if isinstance(recipe, BytesLit):
        return {"bytes": recipe.value.decode("latin-1")}
    if isinstance(recipe, Shared):
        return {"shared": recipe.name}
    if isinstance(recipe, Collection):
        return {recipe.kind: [recipe_to_json(item) for item in recipe.items]}
    if isinstance(recipe, Call):
        doc: dict[str, Any] = {"call": recipe_to_json(recipe.func)}
        if recipe.args:
            doc["args"] = [recipe_to_json(arg) for arg in recipe.args]
        if recipe.kwargs:
            doc["kwargs"] = {key: recipe_to_json(value) for key, value in recipe.kwargs}
        return doc
    if isinstance(recipe, Make):
        return {"make": recipe.maker, **dict(recipe.params)}
    return {"ref": recipe.path}


def recipe_from_json(doc: Any) -> Recipe:
    """Parse one recipe; raise ``ScenarioError`` on anything malformed."""
    if not isinstance(doc, dict):
        raise ScenarioError(f"a value recipe must be an object, got {type(doc).__name__}")
    if "lit" in doc:
        value = doc["lit"]
        if value is not None and not isinstance(value, (bool, int, float, str)):
            raise ScenarioError(f"literal must be null, bool, number or string, got {value!r}")
        return Lit(value)
    if "bytes" in doc:
        return BytesLit(_text(doc, "bytes").encode("latin-1"))
    if "ref" in doc:
        return _ref(_text(doc, "ref"))
    if "shared" in doc:
        return Shared(_text(doc, "shared"))
    if "make" in doc:
        params = tuple((k, v) for k, v in doc.items() if k != "make")
        for key, value in params:
            if isinstance(value, bool) or not isinstance(value, (int, str)):
                raise ScenarioError(f"maker parameter {key!r} must be an integer or a string")
        return Make(_text(doc, "make"), params)
    if "call" in doc:
        kwargs = doc.get("kwargs", {})
        if not isinstance(kwargs, dict):
            raise ScenarioError("'kwargs' of a call recipe must be an object")
        return Call(
            recipe_from_json(doc["call"]),
            tuple(recipe_from_json(arg) for arg in _list(doc, "args")),
            tuple((str(key), recipe_from_json(value)) for key, value in kwargs.items()),
        )
    for kind in COLLECTION_KINDS:
        if kind in doc:
            return Collection(kind, tuple(recipe_from_json(item) for item in _list(doc, kind)))
    raise ScenarioError(f"unknown value recipe {json.dumps(doc)[:80]}")


def _ref(path: str) -> Recipe:
    if not all(part.isidentifier() for part in path.split(".")):
        raise ScenarioError(f"reference {path!r} is not a dotted name")
    return Ref(path)


def operation_to_json(op: Operation) -> dict[str, Any]:
    """The JSON form of one operation."""
    doc: dict[str, Any] = {"kind": op.kind, "target": op.target, "name": op.name}
    if op.args:
        doc["args"] = [recipe_to_json(arg) for arg in op.args]
    if op.fresh:
        doc["fresh"] = True
    return doc


def plan_to_json(plan: ThreadPlan) -> Any:
    """A thread: the list of its operations, or an object when it has a timing of its own::

    {"ops": [...], "after": 0, "delay_us": 500, "spawn": true}
    """
    ops = [operation_to_json(op) for op in plan.operations]
    if plan.start.at_barrier and not plan.spawn:
        return ops
    doc: dict[str, Any] = {"ops": ops}
    if plan.start.after is not None:
        doc["after"] = plan.start.after
    if plan.start.delay_us:
        doc["delay_us"] = plan.start.delay_us
    if plan.spawn:
        doc["spawn"] = True
    return doc


def scenario_to_json(scenario: Scenario) -> dict[str, Any]:
    """The JSON document of a scenario (a plain dict, ready for ``json.dumps``)."""
    return {
        "threadstorm_scenario": scenario.version,
        "family": scenario.family,
        "imports": list(scenario.imports),
        "iterations": scenario.iterations,
        "rounds": scenario.rounds,
        "shared": [
            {"name": obj.name, "recipe": recipe_to_json(obj.recipe), "fresh": obj.fresh}
            for obj in scenario.shared
        ],
        "threads": [plan_to_json(plan) for plan in scenario.threads],
    }


def scenario_from_json(doc: Any) -> Scenario:
    """Parse and validate a scenario document; raise ``ScenarioError`` saying what is wrong."""
    if not isinstance(doc, dict) or "threadstorm_scenario" not in doc:
        raise ScenarioError("not a threadstorm scenario (no 'threadstorm_scenario' version key)")
    version = _int(doc, "threadstorm_scenario", SCHEMA_VERSION)
    if version in READABLE_VERSIONS:
        version = SCHEMA_VERSION  # older documents read as the current model: timing defaults
    try:
        scenario = Scenario(
            version=version,
            family=str(doc.get("family", "custom")),
            imports=tuple(str(name) for name in _list(doc, "imports")),
            iterations=_int(doc, "iterations", 100),
            rounds=_int(doc, "rounds", 1),
            shared=tuple(_shared_from_json(item) for item in _list(doc, "shared")),
            threads=tuple(_plan_from_json(plan) for plan in _list(doc, "threads")),
        )
    except (KeyError, TypeError) as error:
        raise ScenarioError(f"malformed scenario: {error}") from None
    return scenario.validate()


def dumps(scenario: Scenario) -> str:
    """Scenario to JSON text (stable key order, one line)."""
    return json.dumps(scenario_to_json(scenario), sort_keys=True, separators=(",", ":"))


def loads(text: str) -> Scenario:
    """JSON text to a validated scenario."""
    try:
        doc = json.loads(text)
    except ValueError as error:
        raise ScenarioError(f"scenario is not valid JSON: {error}") from None
    return scenario_from_json(doc)


def _shared_from_json(doc: Any) -> SharedObject:
    if not isinstance(doc, dict):
        raise ScenarioError("each shared object must be an object with 'name' and 'recipe'")
    return SharedObject(
        name=_text(doc, "name"),
        recipe=recipe_from_json(doc["recipe"]),
        fresh=bool(doc.get("fresh")),
    )


def _plan_from_json(doc: Any) -> ThreadPlan:
    if not isinstance(doc, dict):
        return ThreadPlan(tuple(_operation_from_json(op) for op in _plain_list(doc, "thread")))
    after = doc.get("after")
    if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
        raise ScenarioError(f"'after' must be a thread number, got {after!r}")
    return ThreadPlan(
        tuple(_operation_from_json(op) for op in _list(doc, "ops")),
        start=Start(after, _int(doc, "delay_us", 0)),
        spawn=_bool(doc, "spawn"),
    )


def _operation_from_json(doc: Any) -> Operation:
    if not isinstance(doc, dict):
        raise ScenarioError("each operation must be an object with 'kind', 'target' and 'name'")
    return Operation(
        kind=_text(doc, "kind"),
        target=_text(doc, "target"),
        name=_text(doc, "name"),
        args=tuple(recipe_from_json(arg) for arg in _list(doc, "args")),
        fresh=_bool(doc, "fresh"),
    )


def _bool(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise ScenarioError(f"{key!r} must be true or false, got {value!r}")
    return value


def _text(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str):
        raise ScenarioError(f"{key!r} must be a string, got {value!r}")
    return value


def _int(doc: dict[str, Any], key: str, default: int) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScenarioError(f"{key!r} must be an integer, got {value!r}")
    return value


def _list(doc: dict[str, Any], key: str) -> list[Any]:
    return _plain_list(doc.get(key, []), key)


def _plain_list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ScenarioError(f"{what!r} must be a list, got {type(value).__name__}")
    return value
