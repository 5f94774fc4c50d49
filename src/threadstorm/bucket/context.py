"""Rule 3 of the signature: what a run's scenario says about a crash without native frames.

A crash is where the crashing thread was.  The other threads' operations in flight at that
instant are timing, not identity: they go into the report, never into the signature.  Three
views of a run serve the rules that need them:

- ``site``: the crashing thread alone: the operation it was in (``op:``), written as the class
  that implements the member it calls (``Counter().keys()`` is ``builtins.dict.keys()``); else,
  when the worker is not known (a crash in the main thread, a dump cut short), its Python frames
  inside the target (``py:``); else every operation in flight (``ops:``), the only rule here
  that can split one bug by timing.  The operation comes first because it survives a dump that
  a second failure cut short, where the frames do not.
- ``pair``: every operation in flight, each written by its implementing class: generic
  corruption (a negative reference count noticed at a later ``Py_DECREF``) is caused by the
  operations that race, not by the thread that happens to notice (``site`` when nothing of
  the scenario was in flight, as in a standalone script).
- ``in_flight``: the types and operations in flight, for hangs (a hang is every stuck thread).

The crashing worker is known when the dump's current thread id is one of the ids the child
announced before releasing its workers, or from the thread's name (``threadstorm-N``) that
CPython 3.14 prints; when the dump was cut before the current thread, the one worker in an
operation that the dump does not show as another thread is the one.  When several workers remain
in one and the same operation (two threads faulting at once can leave no dump at all), that
operation is the site whichever of them crashed; when they are in different operations, each
one's ``op:`` site is a *candidate*: the campaign files the crash in an existing bucket of a
candidate, and only makes a bucket of everything in flight when none exists.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from threadstorm.harness.execute import DUNDER_BUILTINS
from threadstorm.scenario.model import Operation, Scenario
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import CrashFacts
from threadstorm.triage.parsers import PythonFrame

PYTHON_FRAMES = 5
WORKER_NAME = re.compile(r"^threadstorm-(\d+)$")


@dataclass(frozen=True)
class Context:
    """Rule 3's parts of one run (see the module docstring)."""

    site: tuple[str, ...] = ()
    pair: tuple[str, ...] = ()
    in_flight: tuple[str, ...] = ()
    candidates: tuple[tuple[str, ...], ...] = ()  # sites of the workers that may have crashed


@dataclass(frozen=True)
class Setup:
    """What the child's ``setup`` message says about the shared objects."""

    types: Mapping[str, str]
    owners: Mapping[str, str]
    str_is_repr: AbstractSet[str]

    @classmethod
    def from_evidence(cls, evidence: Evidence) -> Setup:
        setup = evidence.message("setup") or {}
        raw_types = setup.get("types")
        types = raw_types if isinstance(raw_types, dict) else {}
        return cls(
            types={str(name): str(kind) for name, kind in types.items()},
            owners={str(k): str(v) for k, v in dict(setup.get("owners") or {}).items()},
            str_is_repr=frozenset(str(name) for name in setup.get("str_is_repr", [])),
        )

    def implementer(self, op: Operation) -> str:
        """The class that defines the member ``op`` calls, else the type it acts on."""
        member = canonical(op, op.target in self.str_is_repr)
        owner = self.owners.get(f"{op.target}.{member.name}")
        return owner or self.types.get(op.target, op.target)

    def label(self, op: Operation) -> str:
        """``builtins.dict.keys()``: the canonical operation, named by its implementing class."""
        member = canonical(op, op.target in self.str_is_repr)
        return dataclasses.replace(member, target=self.implementer(op)).label()


def run_context(evidence: Evidence, scenario: Scenario, facts: CrashFacts) -> Context:
    """The three views of a run (see the module docstring)."""
    setup = Setup.from_evidence(evidence)
    running = running_operations(evidence, scenario)
    crashed = crashing_worker(evidence, facts, running)
    labels = sorted({setup.label(op) for op in running.values()})
    types = sorted({setup.implementer(op) for op in running.values()} or set(setup.types.values()))
    ops = (f"ops: {'; '.join(labels)}",) if labels else ()
    in_flight = ((f"types: {', '.join(types)}",) if types else ()) + ops
    site = crash_site(facts.python_frames, setup, running, crashed, in_flight)
    candidates: tuple[tuple[str, ...], ...] = ()
    if crashed is None and not facts.python_frames:
        maybe = possible_workers(evidence, facts, running)
        candidates = tuple(sorted({(f"op: {setup.label(running[n])}",) for n in maybe}))
        if len(candidates) == 1:  # whichever of them crashed, it was in this operation
            site, candidates = candidates[0], ()
    return Context(site=site, pair=ops or site, in_flight=in_flight, candidates=candidates)


def crash_site(
    frames: tuple[PythonFrame, ...],
    setup: Setup,
    running: Mapping[int, Operation],
    crashed: int | None,
    in_flight: tuple[str, ...],
) -> tuple[str, ...]:
    """The crashing thread's operation, else its Python frames, else everything in flight."""
    if crashed is not None and crashed in running:
        return (f"op: {setup.label(running[crashed])}",)
    if frames:
        return python_part(frames)
    if crashed is not None:  # between operations (binding arguments, rebuilding objects)
        return (f"types: {', '.join(sorted(set(setup.types.values())))}",)
    return in_flight


def running_operations(evidence: Evidence, scenario: Scenario) -> dict[int, Operation]:
    """Worker number -> the operation it was in when the child ended."""
    running: dict[int, Operation] = {}
    for thread, index in enumerate(evidence.in_flight):
        if index is None or index < 0 or thread >= len(scenario.threads):
            continue
        operations = scenario.threads[thread].operations
        if index < len(operations):
            running[thread] = operations[index]
    return running


def crashing_worker(
    evidence: Evidence, facts: CrashFacts, running: Mapping[int, Operation]
) -> int | None:
    """The number of the worker thread the fault happened in, when it can be told."""
    if facts.thread_name is not None:
        named = WORKER_NAME.match(facts.thread_name)
        if named is not None:
            return int(named.group(1))
    idents = announced_idents(evidence)
    if facts.thread_id is not None:
        ident = _ident(facts.thread_id)
        return idents.index(ident) if ident in idents else None
    left = possible_workers(evidence, facts, running)
    return left[0] if len(left) == 1 else None


def possible_workers(
    evidence: Evidence, facts: CrashFacts, running: Mapping[int, Operation]
) -> list[int]:
    """Workers in an operation that a dump cut short (no current thread) does not rule out.

    A thread the dump shows under its own header was not the faulting one; a dump cut short by
    a second failure (faulthandler walking a running thread's frames, or a second thread
    faulting at once) shows only some of them, or none: then no worker is ruled out.
    """
    if facts.thread_id is not None:
        return []
    if not facts.other_threads:
        return sorted(running)
    idents = announced_idents(evidence)
    if not idents:
        return []
    others = {_ident(thread) for thread in facts.other_threads}
    return sorted(n for n in running if n < len(idents) and idents[n] not in others)


def announced_idents(evidence: Evidence) -> list[int]:
    """The worker thread ids the child announced, in worker order."""
    announced = evidence.message("threads") or {}
    return [int(ident) for ident in announced.get("idents", []) if isinstance(ident, int)]


def _ident(thread_id: str) -> int | None:
    try:
        return int(thread_id, 16)
    except ValueError:
        return None


def canonical(op: Operation, str_is_repr: bool = False) -> Operation:
    """``next(x)`` as ``x.__next__()`` and the like (``DUNDER_BUILTINS``); others unchanged.

    ``str(x)`` of an object whose type does not define ``__str__`` runs ``x.__repr__``, so it
    is written as that (the child says which shared objects are such, in its setup message).
    """
    module, _, name = op.name.rpartition(".")
    if op.kind == "function" and module == "builtins" and name in DUNDER_BUILTINS:
        dunder = "__repr__" if name == "str" and str_is_repr else DUNDER_BUILTINS[name]
        return dataclasses.replace(op, kind="method", name=dunder)
    if op.kind == "method" and op.name == "__str__" and str_is_repr:
        return dataclasses.replace(op, name="__repr__")
    return op


def python_part(frames: tuple[PythonFrame, ...]) -> tuple[str, ...]:
    """``py: a.py:f < b.py:g``: the innermost ``PYTHON_FRAMES`` frames, no line numbers."""
    if not frames:
        return ()
    names = [f"{short_path(frame.file)}:{frame.function}" for frame in frames[:PYTHON_FRAMES]]
    return (f"py: {' < '.join(names)}",)


def short_path(path: str) -> str:
    """A path without the parts that differ between machines and temporary folders.

    ``.../lib/python3.13t/typing.py`` is ``typing.py``, ``.../site-packages/pkg/mod.py`` is
    ``pkg/mod.py``, anything else keeps its last component.
    """
    path = path.replace("\\", "/")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.rsplit(marker, 1)[1]
    match = re.search(r"/lib/python\d+\.\d+[a-z]*/(.+)$", path)
    if match is not None:
        return match.group(1)
    return path.rsplit("/", 1)[-1]
