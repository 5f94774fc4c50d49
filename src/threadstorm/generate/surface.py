"""The surface of the target's modules, as typed data, and its cache.

The surface is discovered inside the target (``threadstorm.harness.introspect``, reached through
``HarnessSession.surface``) and parsed here into frozen dataclasses, with every recipe decoded by
the scenario codec.  Discovery takes seconds, so the JSON document is cached in
``$THREADSTORM_CACHE/surfaces/<key>.json``; the key covers the interpreter (path, version,
configure arguments), every module's file, version and modification time as the target reports
them, the modules and packages asked for, the deny-list and the discovery code itself.  A
surface cut short by its budget is not cached.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from threadstorm.errors import HarnessError
from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.generate.stub_hints import stub_hints
from threadstorm.harness import introspect
from threadstorm.scenario.codec import recipe_from_json
from threadstorm.scenario.model import Recipe, ScenarioError

DEFAULT_TIMEOUT_S = 300.0
INVENTORY_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Member:
    """A method or attribute of a subject, tried on scratch instances in the target."""

    name: str
    kind: str  # method, init, classmethod, staticmethod, getset, member, property, attribute
    owner: str  # dotted name of the class that defines it
    min_args: int
    max_args: int | None  # None: any number
    args: tuple[tuple[Recipe, ...], ...]  # argument lists that did not raise TypeError
    role: str  # "reader" or "mutator"
    role_source: str  # "observed" (a trial changed, or did not change, the object) or "name"
    writable: bool  # an attribute that could be set back on a scratch instance
    reachable: bool
    reason: str | None  # why not reachable: denied, always raised, crashed discovery, ...

    @property
    def is_mutator(self) -> bool:
        """Whether calling it changes the object."""
        return self.role == "mutator"

    @property
    def is_data(self) -> bool:
        """An attribute or descriptor read with ``getattr`` rather than called."""
        return self.kind in introspect.DATA_KINDS


@dataclass(frozen=True)
class Subject:
    """A way to obtain an instance of a type: a recipe and what the instance offers."""

    id: str
    type: str  # dotted name of the instance's type
    module: str  # the target module it belongs to
    origin: str  # constructor, factory, object, subscript, maker, known, iter, method:NAME
    source: str  # the dotted path it came from
    recipe: Recipe
    depth: int
    explored: bool
    iterable: bool
    iterator: bool
    hashable: bool
    sized: bool
    container: bool
    callable: bool
    accepts_iterable: bool
    empty: bool | None
    members: tuple[Member, ...]
    abstract: bool = False  # an abstract base (``inspect.isabstract``, or named ``...Base``)
    exception: bool = False  # an exception class: little shared state to race on

    def member(self, name: str) -> Member | None:
        """The member called ``name``, if the subject has one."""
        return next((m for m in self.members if m.name == name), None)

    def readers(self) -> tuple[Member, ...]:
        """Reachable members that leave the object as it was."""
        return tuple(m for m in self.members if m.reachable and not m.is_mutator)

    def mutators(self) -> tuple[Member, ...]:
        """Reachable members that change the object."""
        return tuple(m for m in self.members if m.reachable and m.is_mutator)


@dataclass(frozen=True)
class Item:
    """A public callable or descriptor of a module, and whether discovery could reach it."""

    name: str  # dotted path, e.g. collections.OrderedDict.move_to_end
    kind: str  # class, function, builtin, or a member kind
    owner: str | None  # for classes and members: the defining class's dotted name
    member: str | None  # for members: the attribute name
    signature: str | None
    implementation: str  # "C" or "Python"
    reachable: bool
    reason: str | None
    args: tuple[tuple[Recipe, ...], ...]  # for functions: argument lists that returned
    role: str = "reader"  # for functions: "mutator" when it changes its module's state
    role_source: str = "name"  # "observed" (the module's state probes moved, or did not)

    @property
    def is_function(self) -> bool:
        """A module-level function (Python or C), not a class or a member."""
        return self.kind in ("function", "builtin")


@dataclass(frozen=True)
class ModuleSurface:
    """One module as the target reported it."""

    name: str
    file: str | None
    version: str | None
    mtime: float | None
    error: str | None  # import failure: the module is reported and skipped
    items: tuple[Item, ...]

    @property
    def imported(self) -> bool:
        """Whether the module could be imported in the target."""
        return self.error is None


@dataclass(frozen=True)
class DiscoveryCrash:
    """A unit of discovery that killed or hung its child; skipped on the retry."""

    at: str  # progress key, e.g. "member:builtins.list#0.sort"
    exit_code: int
    timed_out: bool
    stderr_tail: str


@dataclass(frozen=True)
class Surface:
    """Everything discovery found: modules with their items, subjects, crashes, figures."""

    python: str
    deny: tuple[str, ...]
    modules: tuple[ModuleSurface, ...]
    subjects: tuple[Subject, ...]
    crashes: tuple[DiscoveryCrash, ...]
    stats: dict[str, Any]

    def module(self, name: str) -> ModuleSurface | None:
        """The module called ``name``, if it was asked for."""
        return next((m for m in self.modules if m.name == name), None)

    def items(self) -> Iterator[Item]:
        """Every item of every module, in order."""
        for module in self.modules:
            yield from module.items

    def subjects_of(self, type_name: str) -> tuple[Subject, ...]:
        """Subjects whose instances are exactly of ``type_name``."""
        return tuple(s for s in self.subjects if s.type == type_name)

    def subject(self, subject_id: str) -> Subject | None:
        """The subject with this id (``builtins.list#0``)."""
        return next((s for s in self.subjects if s.id == subject_id), None)

    @property
    def failed_imports(self) -> dict[str, str]:
        """Module name to import error, for the modules that could not be imported."""
        return {m.name: m.error for m in self.modules if m.error is not None}

    @classmethod
    def from_json(cls, doc: Any) -> Surface:
        """Parse the harness's document; raise ``HarnessError`` when it is malformed."""
        try:
            return cls(
                python=str(doc.get("python", "")),
                deny=tuple(str(d) for d in doc.get("deny", [])),
                modules=tuple(_module(m) for m in doc["modules"]),
                subjects=tuple(_subject(s) for s in doc["subjects"]),
                crashes=tuple(_crash(c) for c in doc.get("crashes", [])),
                stats=dict(doc.get("stats", {})),
            )
        except (KeyError, TypeError, ValueError, AttributeError, ScenarioError) as error:
            raise HarnessError(f"malformed surface document from the target: {error!r}") from error


def _arg_lists(doc: Any) -> tuple[tuple[Recipe, ...], ...]:
    return tuple(tuple(recipe_from_json(arg) for arg in args) for args in doc)


def _member(doc: dict[str, Any]) -> Member:
    return Member(
        name=doc["name"],
        kind=doc["kind"],
        owner=doc["owner"],
        min_args=int(doc["min_args"]),
        max_args=None if doc["max_args"] is None else int(doc["max_args"]),
        args=_arg_lists(doc["args"]),
        role=doc["role"],
        role_source=doc["role_source"],
        writable=bool(doc["writable"]),
        reachable=bool(doc["reachable"]),
        reason=doc["reason"],
    )


def _subject(doc: dict[str, Any]) -> Subject:
    flags = doc["flags"]
    return Subject(
        id=doc["id"],
        type=doc["type"],
        module=doc["module"],
        origin=doc["origin"],
        source=doc["source"],
        recipe=recipe_from_json(doc["recipe"]),
        depth=int(doc["depth"]),
        explored=bool(doc["explored"]),
        iterable=bool(flags.get("iterable")),
        iterator=bool(flags.get("iterator")),
        hashable=bool(flags.get("hashable")),
        sized=bool(flags.get("sized")),
        container=bool(flags.get("container")),
        callable=bool(flags.get("callable")),
        accepts_iterable=bool(flags.get("accepts_iterable")),
        empty=flags.get("empty"),
        members=tuple(_member(m) for m in doc["members"]),
        abstract=bool(flags.get("abstract")),
        exception=bool(flags.get("exception")),
    )


def _item(doc: dict[str, Any]) -> Item:
    return Item(
        name=doc["name"],
        kind=doc["kind"],
        owner=doc.get("owner"),
        member=doc.get("member"),
        signature=doc.get("signature"),
        implementation=doc["implementation"],
        reachable=bool(doc["reachable"]),
        reason=doc.get("reason"),
        args=_arg_lists(doc.get("args", [])),
        role=str(doc.get("role", "reader")),
        role_source=str(doc.get("role_source", "name")),
    )


def _module(doc: dict[str, Any]) -> ModuleSurface:
    return ModuleSurface(
        name=doc["name"],
        file=doc.get("file"),
        version=doc.get("version"),
        mtime=doc.get("mtime"),
        error=doc.get("error"),
        items=tuple(_item(i) for i in doc.get("items", [])),
    )


def _crash(doc: dict[str, Any]) -> DiscoveryCrash:
    return DiscoveryCrash(
        at=str(doc.get("at", "")),
        exit_code=int(doc.get("exit_code", 0)),
        timed_out=bool(doc.get("timed_out")),
        stderr_tail=str(doc.get("stderr_tail", "")),
    )


# --------------------------------------------------------------------------- the cache


class SurfaceSource(Protocol):
    """What ``load_surface`` needs of a session (``HarnessSession`` has it)."""

    @property
    def facts(self) -> dict[str, Any]: ...

    def surface(
        self,
        modules: list[str] | tuple[str, ...],
        packages: list[str] | tuple[str, ...] = (),
        deny: list[str] | tuple[str, ...] = (),
        timeout: float = DEFAULT_TIMEOUT_S,
        *,
        inventory_only: bool = False,
        hints: dict[str, list[list[Any]]] | None = None,
    ) -> dict[str, Any]: ...


def default_cache_dir() -> Path:
    """``$THREADSTORM_CACHE``, else ``~/.cache/threadstorm``."""
    return Path(os.environ.get("THREADSTORM_CACHE", Path.home() / ".cache" / "threadstorm"))


def cache_key(
    facts: dict[str, Any],
    inventory: dict[str, Any],
    modules: Sequence[str],
    packages: Sequence[str],
    deny: Sequence[str],
    hints: dict[str, list[list[Any]]] | None = None,
) -> str:
    """A digest of everything a surface depends on (the stubs' hints included)."""
    parts = {
        "interpreter": [facts.get(k) for k in ("executable", "version", "config_args", "debug")],
        "gil": facts.get("free_threaded"),
        "modules": [
            [m.get("name"), m.get("file"), m.get("version"), m.get("mtime"), m.get("error")]
            for m in inventory.get("modules", [])
        ],
        "asked": [list(modules), list(packages)],
        "deny": list(deny),
        "discovery": _discovery_digest(),
        "hints": hints or {},
    }
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _discovery_digest() -> str:
    """Changes to the discovery code invalidate cached surfaces."""
    digest = hashlib.sha256()
    for path in introspect.DISCOVERY_FILES:
        digest.update(Path(path).read_bytes())
    return f"{introspect.SURFACE_VERSION}:{digest.hexdigest()[:16]}"


def load_surface(
    session: SurfaceSource,
    modules: Sequence[str],
    packages: Sequence[str] = (),
    deny: Sequence[str] = DEFAULT_DENY,
    cache_dir: Path | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    stubs: bool = True,
) -> Surface:
    """The surface of ``modules`` and ``packages`` in the session's target, cached; with
    ``stubs``, discovery tries the stubs' typed argument lists first (``stub_hints``)."""
    inventory = session.surface(
        list(modules), list(packages), list(deny), INVENTORY_TIMEOUT_S, inventory_only=True
    )
    facts = session.facts
    hints = (
        stub_hints([*modules, *packages], _minor_version(facts), facts.get("path", []))
        if stubs
        else {}
    )
    key = cache_key(facts, inventory, modules, packages, deny, hints)
    path = (cache_dir or default_cache_dir()) / "surfaces" / f"{key}.json"
    cached = _read_cached(path)
    if cached is not None:
        return cached
    doc = session.surface(list(modules), list(packages), list(deny), timeout, hints=hints)
    surface = Surface.from_json(doc)
    if not surface.stats.get("budget_exhausted"):
        _write_atomically(path, doc)
    return surface


def _minor_version(facts: dict[str, Any]) -> tuple[int, int]:
    """``(3, 13)`` of the target, whose stubs apply (``sys.version_info`` checks in them)."""
    major, minor = (int(part) for part in str(facts.get("version", "3.13")).split(".")[:2])
    return major, minor


def _read_cached(path: Path) -> Surface | None:
    try:
        doc = json.loads(path.read_text("utf-8"))
        return Surface.from_json(doc)
    except (OSError, ValueError, HarnessError):
        return None  # absent or damaged: discover again


def _write_atomically(path: Path, doc: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        temporary.write_text(json.dumps(doc, separators=(",", ":")), "utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a cache that cannot be written only costs time
