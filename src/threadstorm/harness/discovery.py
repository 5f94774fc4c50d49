"""The discovery run: the state and the steps of surface discovery inside the target.

``Discovery`` imports the modules, records their public items, turns constructors, factory
functions, module-level objects, subscripts and typing makers into *subjects* (instances with a
recipe that rebuilds them), then tries every wanted member of each subject on fresh scratch
instances, with arguments from ``trial_values`` and every call timed by ``trial_clock``.  At the
end it settles which items were reached and returns the JSON surface (``Discovery.result``).
``introspect.discover`` creates and drives one run.

Standard library only (it runs inside the target interpreter).
"""

from __future__ import annotations

import contextlib
import copy
import fnmatch
import importlib
import inspect
import itertools
import os
import pkgutil
import platform
import sys
import types
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from threadstorm.harness.composition import (
    COMPANIONS,
    COMPOSITION_ROUNDS,
    MAX_PARTS,
    MAX_PRODUCT_SIZE,
    MAX_PRODUCTS,
    MAX_TRIALS,
    MEMBER_SECOND_CHANCES,
    composite_calls,
    second_chances,
)
from threadstorm.harness.trial_clock import Clock
from threadstorm.harness.trial_values import (
    DATA_KINDS,
    ITERATOR,
    LIST,
    MEMBER_PAIRS,
    MEMBER_POOL,
    NOT_SUBJECTS,
    ONE_ARG_POOL,
    PAIR_POOL,
    PROBE_PREFIXES,
    SCALARS,
    SUBSCRIPTS,
    TUPLE,
    TYPING_MAKERS,
    WELL_KNOWN,
    argument_lists,
    arity,
    implementation,
    member_kind,
    module_probes,
    module_snapshot,
    name_says_mutator,
    name_says_state_change,
    own_name,
    snapshot,
    type_name,
    wanted,
)
from threadstorm.harness.values import build, defining_class, method_of, resolve
from threadstorm.scenario.codec import recipe_from_json, recipe_to_json
from threadstorm.scenario.model import Call, Make, Recipe, Ref

SURFACE_VERSION = 1
MAX_SUBJECTS_PER_TYPE = 2  # a second one only when it differs in emptiness
MAX_DEPTH = 2  # derived subjects (iterators, views) of derived subjects, no further
MAX_CONSTRUCTOR_TRIALS = 48
MAX_FUNCTION_TRIALS = 24
MAX_MEMBER_TRIALS = 10
MAX_CANDIDATES = 4  # accepted argument lists kept per member (at most two per arity)
MAX_MEMBERS = 150


# --------------------------------------------------------------------------- deny-list matcher


def is_denied(name: str, deny: Iterable[str]) -> bool:
    """Whether dotted ``name`` matches an entry of ``deny`` (exact name or fnmatch pattern)."""
    return any(name == pattern or fnmatch.fnmatchcase(name, pattern) for pattern in deny)


# --------------------------------------------------------------------------- working records


@dataclass
class Subject:
    """A way to obtain an instance, while discovery works on it."""

    id: str
    type: str
    module: str
    origin: str
    source: str  # the dotted path the instance came from (class, function, object)
    recipe: Recipe
    depth: int = 0
    flags: dict[str, Any] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)
    shared_scratch: bool = False  # trials would touch a module-level object: mutators not tried
    unstable: bool = False  # its snapshot changes by itself: roles come from names
    explored: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "module": self.module,
            "origin": self.origin,
            "source": self.source,
            "recipe": recipe_to_json(self.recipe),
            "depth": self.depth,
            "explored": self.explored,
            "flags": self.flags,
            "members": self.members,
        }


def new_item(name: str, kind: str, obj: Any, owner: str | None = None,
             member: str | None = None) -> dict[str, Any]:  # fmt: skip
    """One public callable or descriptor of a module, not yet known to be reachable."""
    signature = arity(obj)[2] if kind not in ("getset", "member", "attribute") else None
    return {
        "name": name,
        "kind": kind,
        "owner": owner,
        "member": member,
        "signature": signature,
        "implementation": implementation(obj),
        "reachable": False,
        "reason": None,
    }


# --------------------------------------------------------------------------- discovery


@dataclass
class MemberTrials:
    """What a member's trials showed."""

    changed: bool = False  # one changed its object
    completed: bool = False  # one returned, or raised anything but TypeError
    returned: bool = False  # one returned
    blocked: bool = False  # one ran out of time: the member waits for other calls, or hangs


class Discovery:
    """The state of one discovery run; ``discover`` drives it."""

    def __init__(
        self,
        deny: list[str],
        clock: Clock,
        scratch: str | None = None,
        hints: dict[str, list[list[Any]]] | None = None,
    ) -> None:
        self.deny = list(deny)
        self.hints = hints or {}  # typeshed's argument lists by dotted path (generate.stub_hints)
        self.hinted_paths: set[str] = set()
        self.clock = clock
        self.modules: list[dict[str, Any]] = []
        self.module_names: set[str] = set()
        self.subjects: list[Subject] = []
        self.by_type: dict[str, list[Subject]] = {}
        self.classes: list[tuple[str, str, type]] = []  # (module, path, class)
        self.functions: list[tuple[str, str, Any, dict[str, Any]]] = []
        self.objects: list[tuple[str, str, Any]] = []
        self.class_items: dict[str, dict[str, Any]] = {}  # path -> item
        self.member_items: list[dict[str, Any]] = []
        self.unreached: dict[str, str] = {}  # progress key -> reason
        self.mro_names: set[str] = set()  # every class some subject is an instance of
        self.probes: dict[str, list[Callable[[], Any]]] = {}  # module -> state probes
        self.products: dict[str, list[Recipe]] = {}  # module -> calls that returned its data
        self.streams: dict[str, list[Recipe]] = {}  # module -> a stream over each of them
        self.scratch = scratch  # where each unit of work gets an empty folder (None: stay put)
        self.units = 0

    def enter(self, key: str, patience: float = 1.0) -> str | None:
        """Start a unit of work (``Clock.enter``) in an empty working folder of its own.

        A scenario's child starts in an empty private folder, so a recipe must not depend on a
        file some earlier trial left behind (``bz2.BZ2File('abc')`` opens a file that
        ``sqlite3.connect('abc')`` created): each unit's trials see only their own files.
        """
        why = self.clock.enter(key, patience)
        if why is None and self.scratch is not None:
            self.units += 1
            folder = os.path.join(self.scratch, f"unit-{self.units}")
            with contextlib.suppress(OSError):
                os.mkdir(folder)
                os.chdir(folder)
        return why

    # ----------------------------------------------------------------- modules and items

    def load(self, modules: list[str], packages: list[str]) -> list[tuple[dict[str, Any], Any]]:
        """Import every module and package member; one entry per name, errors recorded."""
        errors: dict[str, str] = {}
        names = list(modules)
        for package in packages:
            names.extend(self.walk(package, errors))
        loaded: list[tuple[dict[str, Any], Any]] = []
        for name in dict.fromkeys(names):
            entry: dict[str, Any] = {"name": name, "file": None, "version": None, "mtime": None,
                                     "error": errors.get(name), "items": []}  # fmt: skip
            self.modules.append(entry)
            self.module_names.add(name)
            if entry["error"] is not None:
                continue
            why = self.enter(f"import:{name}", patience=4.0)
            status, module = (
                ("skipped", why)
                if why
                else self.clock.timed(importlib.import_module, name, seconds=30.0)
            )
            if status != "ok":
                entry["error"] = why or f"{type(module).__name__}: {module}"
                continue
            entry.update(describe_module(module))
            loaded.append((entry, module))
        return loaded

    def walk(self, package: str, errors: dict[str, str]) -> list[str]:
        """The package and its public submodules, sorted; import failures go to ``errors``."""
        why = self.enter(f"walk:{package}", patience=8.0)
        if why:
            errors[package] = why
            return [package]
        status, module = self.clock.timed(importlib.import_module, package, seconds=30.0)
        if status != "ok":
            errors[package] = f"{type(module).__name__}: {module}"
            return [package]

        def failed(name: str) -> None:
            error = sys.exc_info()[1]
            errors[name] = f"{type(error).__name__}: {error}"

        def names() -> list[str]:
            found = pkgutil.walk_packages(getattr(module, "__path__", []), package + ".", failed)
            return sorted(info.name for info in found)

        status, found = self.clock.timed(names, seconds=60.0)
        public = [n for n in (found if status == "ok" else []) if _public_module(n)]
        return [package, *public, *sorted(n for n in errors if n.startswith(package + "."))]

    def scan(self, entry: dict[str, Any], module: Any) -> None:
        """Record the module's public classes, functions and objects as items and work."""
        name = entry["name"]
        for attribute in sorted(a for a in dir(module) if not a.startswith("_")):
            status, obj = self.clock.timed(getattr, module, attribute)
            if status != "ok" or isinstance(obj, types.ModuleType):
                continue
            path = f"{name}.{attribute}"
            if isinstance(obj, type):
                entry["items"].append(self.class_item(path, obj))
                entry["items"].extend(self.own_member_items(path, obj))
                self.classes.append((name, path, obj))
            elif inspect.isroutine(obj):
                kind = "function" if implementation(obj) == "Python" else "builtin"
                item = new_item(path, kind, obj)
                item.update(args=[], role="reader", role_source="name")
                entry["items"].append(item)
                self.functions.append((name, path, obj, item))
            else:
                self.objects.append((name, path, obj))

    def class_item(self, path: str, cls: type) -> dict[str, Any]:
        item = new_item(path, "class", cls, owner=type_name(cls))
        self.class_items[path] = item
        return item

    def own_member_items(self, path: str, cls: type) -> list[dict[str, Any]]:
        """Items for the callables and descriptors a class defines itself (not inherited)."""
        items = []
        for member in sorted(n for n in vars(cls) if wanted(n)):
            raw = vars(cls)[member]
            kind = member_kind(member, raw)
            if kind == "attribute":
                continue  # plain class data is neither a callable nor a descriptor
            item = new_item(f"{path}.{member}", kind, raw, owner=type_name(cls), member=member)
            items.append(item)
            self.member_items.append(item)
        return items

    def denied(self, *names: str | None) -> bool:
        return any(name is not None and is_denied(name, self.deny) for name in names)

    def hinted(self, *paths: str | None) -> list[tuple[Recipe, ...]]:
        """The stubs' argument lists for the first of ``paths`` that has some: tried before
        the pools, because a stub knows a parameter's type and the pools only guess."""
        for path in paths:
            if path and path in self.hints:
                self.hinted_paths.add(path)
                return [tuple(map(recipe_from_json, args)) for args in self.hints[path]]
        return []

    # ----------------------------------------------------------------- subjects

    def admit(self, obj: Any, recipe: Recipe, origin: str, source: str, module: str, *,
              depth: int = 0, force: bool = False) -> Subject | None:  # fmt: skip
        """Keep a new subject unless its type has enough of them already, or it is a weak
        reference whose referent is already gone (every use of it would raise or see None)."""
        if _dead_weak_reference(obj):
            return None
        cls = type(obj)
        name = type_name(cls)
        known = self.by_type.setdefault(name, [])
        if not force and known:
            if len(known) >= MAX_SUBJECTS_PER_TYPE or depth or origin != "constructor":
                return None
            first, now = known[0].flags.get("empty"), self.emptiness(obj)
            if first is None or now is None or first == now:
                return None
        subject = Subject(f"{name}#{len(known)}", name, module, origin, source, recipe, depth)
        subject.flags.update(empty=self.emptiness(obj), accepts_iterable=False)
        subject.shared_scratch = isinstance(recipe, Ref)
        known.append(subject)
        self.subjects.append(subject)
        self.mro_names.update(type_name(klass) for klass in cls.__mro__)
        return subject

    def emptiness(self, obj: Any) -> bool | None:
        status, size = self.clock.timed(len, obj)
        return size == 0 if status == "ok" and isinstance(size, int) else None

    def construct(self, module: str, path: str, cls: type) -> None:
        """Try the class's constructor with pool values; keep what succeeds."""
        if self.denied(path, type_name(cls)):
            return
        why = self.enter(f"class:{path}")
        if why:
            self.unreached[f"class:{path}"] = why
            return
        low, high, _ = arity(cls)
        pools = self.calls(low, high, ONE_ARG_POOL, PAIR_POOL)
        hinted = self.hinted(path, type_name(cls))
        trials = itertools.islice(itertools.chain(hinted, pools), MAX_CONSTRUCTOR_TRIALS)
        for arguments in trials:
            if len(self.by_type.get(type_name(cls), ())) >= MAX_SUBJECTS_PER_TYPE:
                break
            recipe = Call(Ref(path), arguments)
            status, obj = self.clock.timed(build, recipe, {})
            if status == "ok" and isinstance(obj, cls):
                self.admit(obj, recipe, "constructor", path, module)
        known = WELL_KNOWN.get(type_name(cls))
        if known is not None and not self.by_type.get(type_name(cls)):
            status, obj = self.clock.timed(build, known, {})
            if status == "ok" and type(obj) is cls:
                self.admit(obj, known, "known", path, module)
        if not self.by_type.get(type_name(cls)):
            self.construct_from(module, path, cls, second_chances(low, high, self.parts(module)))
        self.settle_constructed(path, cls)

    def construct_from(self, module: str, path: str, cls: type,
                       trials: Iterable[tuple[Recipe, ...]]) -> None:  # fmt: skip
        """Try ``cls`` with second-chance argument lists until one instance is built."""
        for arguments in itertools.islice(trials, MAX_TRIALS):
            recipe = Call(Ref(path), arguments)
            status, obj = self.clock.timed(build, recipe, {})
            if status == "ok" and isinstance(obj, cls):
                self.admit(obj, recipe, "constructor", path, module)
                return

    def settle_constructed(self, path: str, cls: type) -> None:
        built = self.by_type.get(type_name(cls), [])
        accepts = bool(built) and self.accepts_iterable(path, cls)
        for subject in built:
            subject.flags["accepts_iterable"] = accepts

    def accepts_iterable(self, path: str, cls: type) -> bool:
        """Whether the constructor takes one iterable of any kind."""
        for iterable in (LIST, TUPLE, ITERATOR):
            status, obj = self.clock.timed(build, Call(Ref(path), (iterable,)), {})
            if status != "ok" or not isinstance(obj, cls):
                return False
        return True

    def calls(self, low: int, high: int | None, ones: tuple[Recipe, ...],
              pairs: tuple[Recipe, ...]) -> Iterator[tuple[Recipe, ...]]:  # fmt: skip
        """Argument lists for the arities a signature allows (0 to 3), fewest first.

        A list comes before no arguments at all, so the first instance of a container or an
        iterator is a non-empty one.
        """
        lead = low == 0 and (high is None or high >= 1)
        if lead:
            yield (LIST,)
        for count in range(low, min(low + 3, 4)):
            if high is None or count <= high:
                for arguments in argument_lists(count, ones, pairs):
                    if not (lead and arguments == (LIST,)):
                        yield arguments

    def call_function(self, module: str, path: str, func: Any, item: dict[str, Any], *,
                      admit: bool = True) -> None:  # fmt: skip
        """Call a function with pool values; an unseen kind of result becomes a subject
        (unless ``admit`` is false).  The module's state probes, compared around every trial,
        say whether the function changes its module's state (its role)."""
        if self.denied(path, own_name(func)):
            item["reason"] = "denied"
            return
        why = self.enter(f"function:{path}")
        if why:
            item["reason"] = why
            return
        probes = self.probes_of(module)
        low, high, _ = arity(func)
        changed = False
        pools = self.calls(low, high, ONE_ARG_POOL, PAIR_POOL)
        trials = itertools.chain(self.hinted(path, own_name(func)), pools)
        for arguments in itertools.islice(trials, MAX_FUNCTION_TRIALS):
            if len(item["args"]) >= 3:
                break
            changed = self.function_trial(path, arguments, item, probes, admit) or changed
        if not item["args"]:  # words and other objects only when the pools found nothing
            second = second_chances(low, high, self.parts(module))
            changed = self.first_success(path, item, second, probes, admit) or changed
        self.settle_function(item, path, changed)

    def first_success(self, path: str, item: dict[str, Any],
                      trials: Iterable[tuple[Recipe, ...]], probes: list[Callable[[], Any]],
                      admit: bool) -> bool:  # fmt: skip
        """Call a function with ``trials`` until one completes; whether the module changed."""
        changed = False
        for arguments in itertools.islice(trials, MAX_TRIALS):
            changed = self.function_trial(path, arguments, item, probes, admit) or changed
            if item["args"]:
                break
        return changed

    def settle_function(self, item: dict[str, Any], path: str, changed: bool) -> None:
        item["reachable"] = bool(item["args"])
        item["reason"] = None if item["args"] else "always raised"
        self.function_role(item, path, changed)

    def function_trial(self, path: str, arguments: tuple[Recipe, ...], item: dict[str, Any],
                       probes: list[Callable[[], Any]], admit: bool) -> bool:  # fmt: skip
        """One call of a module function; whether the module's probes changed around it.

        A weak reference to a temporary (``weakref.proxy({1, 2})``) is no success: every use of
        it raises, so the search goes on to a referent that lives."""
        recipe = Call(Ref(path), arguments)
        before = self.clock.timed(module_snapshot, probes)[1]
        status, result = self.clock.timed(build, recipe, {})
        changed: bool = before != self.clock.timed(module_snapshot, probes)[1]
        if status == "ok" and not _dead_weak_reference(result):
            item["args"].append([recipe_to_json(arg) for arg in arguments])
            if not changed:  # a call that changed the module's state is no argument to copy
                self.note_product(path.rpartition(".")[0], recipe, result)
            new = not self.by_type.get(type_name(type(result)))
            if admit and new and self.in_scope(type(result)):
                self.admit(result, recipe, "factory", path, path.rpartition(".")[0])
        return changed

    def function_role(self, item: dict[str, Any], path: str, changed: bool) -> None:
        """Mutator when a trial changed the module's probes; else by name, unless it ran."""
        hinted = name_says_state_change(path.rpartition(".")[2])
        if changed:
            item["role"], item["role_source"] = "mutator", "observed"
        elif item["reachable"] and not hinted:
            item["role"], item["role_source"] = "reader", "observed"
        else:
            item["role"], item["role_source"] = ("mutator" if hinted else "reader"), "name"

    def probes_of(self, module: str) -> list[Callable[[], Any]]:
        """The state probes of ``module`` (``trial_values.module_probes``), made once."""
        if module not in self.probes:
            readers = [func for name, path, func, _ in self.functions
                       if name == module and self.is_probe(path, func)]  # fmt: skip
            found = self.clock.timed(module_probes, sys.modules.get(module), readers)
            self.probes[module] = found[1] if found[0] == "ok" else []
        return self.probes[module]

    def is_probe(self, path: str, func: Any) -> bool:
        """A zero-argument ``get*``/``is*`` function with a small, plain answer."""
        name = path.rpartition(".")[2]
        if not name.startswith(PROBE_PREFIXES) or name_says_state_change(name):
            return False
        if self.denied(path, own_name(func)) or arity(func)[0] != 0:
            return False
        status, result = self.clock.timed(func)
        return status == "ok" and _plain(result)

    def in_scope(self, cls: type) -> bool:
        """Types of the target modules, and types no module names (iterators, views)."""
        if issubclass(cls, SCALARS + NOT_SUBJECTS):
            return False
        if cls.__module__ in self.module_names:
            return True
        home = sys.modules.get(cls.__module__)
        return getattr(home, cls.__qualname__, None) is not cls

    def take_object(self, module: str, path: str, obj: Any) -> None:
        """A module-level object of a new type is a subject, rebuilt by reference."""
        cls = type(obj)
        if isinstance(obj, SCALARS + NOT_SUBJECTS) or self.denied(path):
            return
        if self.by_type.get(type_name(cls)) or self.enter(f"object:{path}"):
            return
        self.admit(obj, Ref(path), "object", path, module)

    def subscript(self, module: str, path: str, obj: Any) -> None:
        """``obj[int]``-style generics and typing forms, one subject per new type."""
        if not (hasattr(type(obj), "__getitem__") or hasattr(obj, "__class_getitem__")):
            return
        if self.denied(path) or self.enter(f"subscript:{path}"):
            return
        for argument in SUBSCRIPTS:
            recipe = Call(Ref("operator.getitem"), (Ref(path), argument))
            status, result = self.clock.timed(build, recipe, {})
            if status != "ok" or isinstance(result, SCALARS + NOT_SUBJECTS):
                continue
            if not self.by_type.get(type_name(type(result))):
                self.admit(result, recipe, "subscript", path, module)

    def make(self, module: str) -> None:
        """The typing makers' values (large unions, generic aliases) are always subjects."""
        for recipe in TYPING_MAKERS:
            assert isinstance(recipe, Make)
            if self.enter(f"make:{recipe.maker}"):
                continue
            status, result = self.clock.timed(build, recipe, {})
            if status == "ok":
                self.admit(result, recipe, "maker", f"make:{recipe.maker}", module, force=True)

    # ----------------------------------------------------------------- composition

    def compose(self) -> None:
        """Classes nothing built and functions that always raised, given other objects.

        Each round offers the parts built so far (``composition``); a subject built in one round
        is a part in the next, so a text wrapper over a buffered reader over a byte stream is
        reached in two.
        """
        for _ in range(COMPOSITION_ROUNDS):
            before = len(self.subjects)
            for module, path, cls in self.classes:
                if self.by_type.get(type_name(cls)) or self.denied(path, type_name(cls)):
                    continue
                if self.enter(f"compose:{path}"):
                    continue
                low, high, _ = arity(cls)
                trials = composite_calls(low, high, self.parts(module))
                self.construct_from(module, path, cls, trials)
                if self.by_type.get(type_name(cls)):
                    self.unreached.pop(f"class:{path}", None)
                    self.settle_constructed(path, cls)
            for module, path, _, item in self.functions:
                if item["reason"] == "always raised" and not self.enter(f"compose:{path}"):
                    self.compose_function(module, path, item, self.parts(module))
            if len(self.subjects) == before:
                break

    def compose_function(self, module: str, path: str, item: dict[str, Any],
                         parts: list[Recipe]) -> None:  # fmt: skip
        status, func = self.clock.timed(resolve, path)
        if status != "ok":
            return
        low, high, _ = arity(func)
        trials = composite_calls(low, high, parts)
        changed = self.first_success(path, item, trials, self.probes_of(module), True)
        self.settle_function(item, path, changed)

    def parts(self, module: str) -> list[Recipe]:
        """Recipes to build arguments from: ``module``'s products and a stream over them
        (``marshal.load`` reads what ``dumps`` made), the companions, its own subjects, then the
        other target modules' subjects, at most ``MAX_PARTS``.

        Module-level objects are left out (a composite could close or fill the one shared
        ``sys.stdout``), and so are derived subjects (iterators) and typing makers' values.
        """
        buildable = [
            subject
            for subject in self.subjects
            if not isinstance(subject.recipe, Ref)
            and subject.origin in ("constructor", "factory", "known")
        ]
        own = [subject.recipe for subject in buildable if subject.module == module]
        others = [subject.recipe for subject in buildable if subject.module != module]
        products, streams = self.products.get(module, []), self.streams.get(module, [])
        return list(dict.fromkeys([*products, *streams, *COMPANIONS, *own, *others]))[:MAX_PARTS]

    def note_product(self, module: str, recipe: Recipe, result: Any) -> None:
        """Keep a call of ``module`` that returned data (bytes or text) as a part for the
        module's other callables: what ``dumps``, ``compress`` or ``pack`` made is what
        ``loads``, ``decompress`` or ``unpack`` want, and no pool value is."""
        if not isinstance(result, bytes | str) or not 0 < len(result) <= MAX_PRODUCT_SIZE:
            return
        products = self.products.setdefault(module, [])
        if len(products) < MAX_PRODUCTS and recipe not in products:
            products.append(recipe)
            kind = "io.BytesIO" if isinstance(result, bytes) else "io.StringIO"
            self.streams.setdefault(module, []).append(Call(Ref(kind), (recipe,)))

    # ----------------------------------------------------------------- exploring subjects

    def fresh(self, subject: Subject) -> tuple[str, Any]:
        """A scratch instance: rebuilt from the recipe, or a copy of a module-level object."""
        status, obj = self.clock.timed(build, subject.recipe, {})
        if status == "ok" and isinstance(subject.recipe, Ref):
            status_copy, duplicate = self.clock.timed(copy.copy, obj)
            if status_copy == "ok" and duplicate is not obj and type(duplicate) is type(obj):
                return "ok", duplicate
        return status, obj

    def explore(self, subject: Subject) -> None:
        """Flags, then every wanted member, tried on scratch instances."""
        why = self.enter(f"subject:{subject.id}")
        if why:
            self.unreached[f"subject:{subject.id}"] = why
            return
        status, sample = self.fresh(subject)
        if status != "ok":
            return
        _, again = self.fresh(subject)
        subject.shared_scratch = again is sample and (
            isinstance(subject.recipe, Ref) or isinstance(sample, type)
        )
        subject.flags.update(self.flags(sample))
        subject.unstable = (
            self.clock.timed(snapshot, sample)[1] != self.clock.timed(snapshot, sample)[1]
        )
        subject.flags["unstable"] = subject.unstable
        subject.explored = True
        for name in self.member_names(sample)[:MAX_MEMBERS]:
            member = self.explore_member(subject, sample, name)
            if member is not None:
                subject.members.append(member)

    def member_names(self, obj: Any) -> list[str]:
        """What the type offers, plus the instance's own attributes (not the class's, for a
        class: those belong to its instances)."""
        status, names = self.clock.timed(dir, type(obj))
        # a dead weak proxy raises ReferenceError, which getattr's default does not catch
        own = self.clock.timed(getattr, obj, "__dict__", None)[1]
        found = set(names if status == "ok" else ()) | set(own if isinstance(own, dict) else ())
        return sorted(name for name in found if isinstance(name, str) and wanted(name))

    def flags(self, obj: Any) -> dict[str, Any]:
        iterable = self.clock.timed(iter, obj)
        cls = type(obj)
        return {
            "iterable": iterable[0] == "ok",
            "iterator": iterable[0] == "ok" and iterable[1] is obj and hasattr(cls, "__next__"),
            "hashable": self.clock.timed(hash, obj)[0] == "ok",
            "sized": self.clock.timed(len, obj)[0] == "ok",
            "container": hasattr(cls, "__contains__"),
            "callable": callable(obj),
            "exception": issubclass(cls, BaseException),
            "abstract": inspect.isabstract(cls) or cls.__name__.endswith("Base"),
        }

    def explore_member(self, subject: Subject, sample: Any, name: str) -> dict[str, Any] | None:
        owner, raw = lookup(sample, name)
        if owner is None:
            return None
        kind = member_kind(name, raw)
        member: dict[str, Any] = {
            "name": name, "kind": kind, "owner": owner, "min_args": 0, "max_args": 0,
            "args": [], "role": "reader", "role_source": "name", "writable": False,
            "reachable": False, "reason": None,
        }  # fmt: skip
        if self.denied(f"{owner}.{name}", f"{subject.type}.{name}", f"{subject.source}.{name}"):
            member["reason"] = "denied"
        elif subject.shared_scratch and name_says_mutator(name):
            member["reason"] = "not tried: module-level object"
        else:
            member["reason"] = self.enter(f"member:{subject.id}.{name}")
        if member["reason"] is not None:
            self.name_role(member, subject)
            return member
        if kind in DATA_KINDS or not callable(raw):
            self.try_attribute(subject, member)
        else:
            self.try_method(subject, member)
        return member

    def try_attribute(self, subject: Subject, member: dict[str, Any]) -> None:
        """Read the attribute on a scratch instance; see whether it can be written back."""
        name = member["name"]
        outcome, changed, value = self.trial(subject, getattr, name)
        member["reachable"] = outcome == "ok"
        member["reason"] = None if outcome == "ok" else "always raised"
        if changed:
            member["role"], member["role_source"] = "mutator", "observed"
        elif outcome == "ok" and not subject.unstable:
            member["role_source"] = "observed"
        if outcome == "ok" and not subject.shared_scratch:
            status, scratch = self.fresh(subject)
            if status == "ok":
                member["writable"] = self.clock.timed(setattr, scratch, name, value)[0] == "ok"

    def try_method(self, subject: Subject, member: dict[str, Any]) -> None:
        """Call the member with pool arguments on scratch instances; judge its role."""
        name = member["name"]
        status, scratch = self.fresh(subject)
        bound = self.clock.timed(method_of, scratch, name)[1] if status == "ok" else None
        low, high, _ = arity(bound) if callable(bound) else (0, None, None)
        member["min_args"], member["max_args"] = low, high
        owners = type(scratch).__mro__ if status == "ok" else ()
        hinted = self.hinted(*(f"{type_name(owner)}.{name}" for owner in owners))
        trials = self.member_trials(
            subject, member, self.member_calls(subject, member, low, high, hinted)
        )
        # it may want words or an object; not when it only raised and waits on other calls (a
        # queue's get raises Empty, or blocks, and a word would make it block again)
        waits = trials.completed and trials.blocked
        if not trials.returned and not waits and (high is None or high > 0):
            trials.changed = self.second_chances(subject, member, low, high) or trials.changed
            trials.completed = trials.completed or bool(member["args"])
        completed = trials.completed
        member["reachable"] = completed
        member["reason"] = None if completed else "always raised"
        if trials.changed and not subject.unstable:
            member["role"], member["role_source"] = "mutator", "observed"
        elif completed and not subject.unstable and not name_says_mutator(name):
            member["role_source"] = "observed"
        else:
            self.name_role(member, subject)

    def second_chances(self, subject: Subject, member: dict[str, Any], low: int,
                       high: int | None) -> bool:  # fmt: skip
        """Words and other objects for a member no pool list made return; whether one changed
        its object.  Lists that return replace the ones that only raised (``json``'s
        ``decode('abc')`` raises where ``decode('1.5')`` returns, and a campaign draws the kept
        lists: raising ones waste its runs)."""
        raised_only = member["args"]
        member["args"] = []
        second = second_chances(low, high, self.parts(subject.module))
        trials = self.member_trials(
            subject, member, second, MEMBER_SECOND_CHANCES, must_return=True
        )
        if not trials.returned:
            member["args"] = raised_only
        return trials.changed

    def member_trials(self, subject: Subject, member: dict[str, Any],
                      calls: Iterable[tuple[Recipe, ...]], most: int = MAX_MEMBER_TRIALS,
                      must_return: bool = False) -> MemberTrials:  # fmt: skip
        """Up to ``most`` calls of the member, the lists that completed kept (returned, or
        raised anything but ``TypeError``; only returned when ``must_return``: second chances
        are many, and a list that merely raised something else would be drawn by campaigns to
        raise again)."""
        name = member["name"]
        per_arity: dict[int, int] = {}
        trials = MemberTrials()
        tried = 0
        for arguments in calls:
            if tried >= most or len(member["args"]) >= MAX_CANDIDATES:
                break
            if per_arity.get(len(arguments), 0) >= 2:
                continue
            tried += 1
            outcome, did_change, result = self.trial(subject, _call_member, name, arguments)
            trials.blocked = trials.blocked or outcome == "timeout"
            if outcome in ("typeerror", "timeout", "unbuildable"):
                continue
            if must_return and outcome != "ok":
                continue
            per_arity[len(arguments)] = per_arity.get(len(arguments), 0) + 1
            member["args"].append([recipe_to_json(arg) for arg in arguments])
            trials.completed = True
            trials.returned = trials.returned or outcome == "ok"
            trials.changed = trials.changed or did_change
            if outcome == "ok" and not arguments:
                self.derive(subject, member, result)
        return trials

    def member_calls(self, subject: Subject, member: dict[str, Any], low: int, high: int | None,
                     hinted: list[tuple[Recipe, ...]]) -> Iterator[tuple[Recipe, ...]]:  # fmt: skip
        if member["kind"] == "init" and isinstance(subject.recipe, Call):
            yield subject.recipe.args
        yield from hinted
        yield from self.calls(low, high, MEMBER_POOL, MEMBER_PAIRS)

    def trial(
        self, subject: Subject, func: Callable[..., Any], *args: Any
    ) -> tuple[str, bool, Any]:
        """Run ``func(scratch, *args)`` on a fresh scratch; outcome, whether it changed, result."""
        status, scratch = self.fresh(subject)
        if status != "ok":
            return "unbuildable", False, None
        before = self.clock.timed(snapshot, scratch)[1]
        outcome, result = self.clock.timed(func, scratch, *args)
        after = self.clock.timed(snapshot, scratch)[1]
        return outcome, before != after, result

    def name_role(self, member: dict[str, Any], subject: Subject) -> None:
        mutator = name_says_mutator(member["name"])
        member["role"] = "mutator" if mutator else "reader"
        member["role_source"] = "name"

    def derive(self, subject: Subject, member: dict[str, Any], result: Any) -> None:
        """A zero-argument member that returned a new kind of object yields a derived subject."""
        cls = type(result)
        if subject.depth >= MAX_DEPTH or not self.in_scope(cls):
            return
        if self.by_type.get(type_name(cls)) or self.has_fuller_sibling(subject):
            return
        name = member["name"]
        if name == "__iter__":
            recipe: Recipe = Call(Ref("builtins.iter"), (subject.recipe,))
        elif name == "__reversed__":
            recipe = Call(Ref("builtins.reversed"), (subject.recipe,))
        elif member["kind"] == "method" and all(
            p.isidentifier() for p in member["owner"].split(".")
        ):
            recipe = Call(Ref(f"{member['owner']}.{name}"), (subject.recipe,))
        else:
            return
        status, obj = self.clock.timed(build, recipe, {})
        if status == "ok" and type(obj) is cls:
            origin = "iter" if name == "__iter__" else f"method:{name}"
            self.admit(obj, recipe, origin, subject.source, subject.module, depth=subject.depth + 1)

    def has_fuller_sibling(self, subject: Subject) -> bool:
        """An empty subject leaves deriving to a non-empty one of its type."""
        return subject.flags.get("empty") is True and any(
            other.flags.get("empty") is False for other in self.by_type.get(subject.type, [])
        )

    # ----------------------------------------------------------------- the result

    def unify_roles(self) -> None:
        """A member that mutated one subject of a type is a mutator for all subjects of it."""
        for subjects in self.by_type.values():
            mutators = {m["name"]: m for s in subjects for m in s.members if m["role"] == "mutator"}
            for subject in subjects:
                for member in subject.members:
                    found = mutators.get(member["name"])
                    if found is not None and member["role"] != "mutator":
                        member["role"], member["role_source"] = "mutator", found["role_source"]

    def settle_items(self) -> None:
        """Mark each class and member item reachable, or say why not."""
        reached: dict[tuple[str, str], dict[str, Any]] = {}
        for subject in self.subjects:
            for member in subject.members:
                key = (member["owner"], member["name"])
                if key not in reached or member["reachable"]:
                    reached[key] = member
        built = {s.source for s in self.subjects} | set(self.by_type)
        for path, item in self.class_items.items():
            item["reachable"] = path in built or item["owner"] in built
            item["reason"] = None if item["reachable"] else self.class_reason(path, item)
        for item in self.member_items:
            found = reached.get((item["owner"], item["member"]))
            if self.denied(item["name"], f"{item['owner']}.{item['member']}"):
                item["reason"] = "denied"
            elif found is not None:
                item["reachable"], item["reason"] = found["reachable"], found["reason"]
            elif item["owner"] not in self.mro_names:
                item["reason"] = "could not build an instance"
            else:
                item["reason"] = "not tried"

    def class_reason(self, path: str, item: dict[str, Any]) -> str:
        if self.denied(path, item["owner"]):
            return "denied"
        return self.unreached.get(f"class:{path}", "could not build an instance")

    def result(self, duration: float, skip: frozenset[str]) -> dict[str, Any]:
        members = sum(len(s.members) for s in self.subjects)
        items = [i for m in self.modules for i in m["items"]]
        return {
            "surface_version": SURFACE_VERSION,
            "python": platform.python_version(),
            "deny": self.deny,
            "modules": self.modules,
            "subjects": [s.as_json() for s in self.subjects],
            "crashes": [],
            "stats": {
                "duration_s": round(duration, 3),
                "trials": self.clock.trials,
                "subjects": len(self.subjects),
                "members": members,
                "items": len(items),
                "reachable_items": sum(1 for i in items if i["reachable"]),
                "budget_exhausted": self.clock.exhausted,
                "stub_hinted": len(self.hinted_paths),
                "skipped": sorted(skip),
            },
        }


def lookup(obj: Any, name: str) -> tuple[str | None, Any]:
    """The class (dotted name) that defines ``name`` for ``obj``, and the raw attribute."""
    klass = defining_class(type(obj), name)
    if klass is not None:
        return type_name(klass), vars(klass)[name]
    instance_dict = getattr(obj, "__dict__", None)
    if isinstance(instance_dict, dict) and name in instance_dict:
        return type_name(type(obj)), instance_dict[name]
    return None, None


def _dead_weak_reference(obj: Any) -> bool:
    """A weak reference or proxy built over a temporary: its referent died at once.

    (By ``type``: ``isinstance`` asks a proxy for ``__class__``, which raises once it is dead.)
    """
    if issubclass(type(obj), weakref.ref):
        return obj() is None
    if type(obj) in weakref.ProxyTypes:
        try:
            bool(obj)
        except ReferenceError:
            return True
        except Exception:  # noqa: BLE001 - a live referent whose __bool__ raises
            return False
    return False


def _plain(value: Any) -> bool:
    """A scalar, or a short tuple of scalars: cheap to compare, free of side effects."""
    if isinstance(value, tuple):
        return len(value) <= 16 and all(isinstance(v, (*SCALARS, bool)) for v in value)
    return isinstance(value, (*SCALARS, bool))


def _call_member(obj: Any, name: str, arguments: tuple[Recipe, ...]) -> Any:
    return method_of(obj, name)(*(build(argument, {}) for argument in arguments))


def _public_module(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def describe_module(module: Any) -> dict[str, Any]:
    """File, version and file modification time: what the controller's cache key needs."""
    path = getattr(module, "__file__", None)
    version = getattr(module, "__version__", None)
    mtime = None
    if isinstance(path, str):
        with contextlib.suppress(OSError):
            mtime = os.stat(path).st_mtime
    return {
        "file": path if isinstance(path, str) else None,
        "version": None if version is None else str(version),
        "mtime": mtime,
    }
