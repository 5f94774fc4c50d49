"""Surface discovery: what the target's modules offer to storm, measured inside the target.

For each module (and every public submodule of a package): its public classes, functions and
descriptors, with signatures and whether each is written in C or Python.  Then *subjects*: ways to
obtain instances (constructors fed from a small typed pool, factory functions, module-level
objects, subscripted generics, typing makers, and the new kinds of object that ``iter()`` or a
zero-argument method of a subject returns), each with a recipe that rebuilds it.  Every member of
a subject is tried on fresh scratch instances: the argument lists it accepts are kept, and the
member is a *mutator* when a trial changed the object (repr, length, items, pickle, ``__dict__``),
else a *reader*; names and arity decide when trying is impossible.

Deny-listed callables are never called.  A trial is interrupted by an interval timer after
``trial_timeout_s``; a unit of work that hangs in C is ended by faulthandler's watchdog (a
"Timeout" stack dump, exit status 1).  The fork server runs discovery in a forked, confined
child and retries past the unit named by the last progress mark when the child dies
(``server.serve_surface``).

This module is the entry point (``discover``); the parts live beside it: ``discovery`` (the run:
modules, items, subjects, member trials, the JSON result), ``trial_values`` (the typed value
pool, arities, snapshots, member kinds) and ``trial_clock`` (deadline, trial timer, watchdog).

Standard library only; the output is plain JSON in a deterministic order.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from threadstorm.harness import composition, discovery, trial_clock, trial_values
from threadstorm.harness.discovery import SURFACE_VERSION, Discovery, is_denied
from threadstorm.harness.trial_clock import Clock
from threadstorm.harness.trial_values import DATA_KINDS, name_says_state_change

__all__ = ["DATA_KINDS", "DISCOVERY_FILES", "SURFACE_VERSION", "discover", "is_denied"]

TRIAL_SECONDS = 1.0

# The modules whose source is the discovery code: the controller's surface cache key hashes them
# (``generate.surface``), so a change to any of them invalidates cached surfaces.
DISCOVERY_FILES = (
    __file__,
    discovery.__file__,
    composition.__file__,
    trial_values.__file__,
    trial_clock.__file__,
)


def discover(
    modules: list[str],
    packages: list[str],
    deny: list[str],
    budget_s: float,
    *,
    skip: Iterable[str] = (),
    mark: Callable[[str], None] | None = None,
    unit_timeout_s: float | None = None,
    trial_timeout_s: float = TRIAL_SECONDS,
    inventory_only: bool = False,
    scratch: str | None = None,
    hints: dict[str, list[list[Any]]] | None = None,
) -> dict[str, Any]:
    """The surface of ``modules`` and ``packages`` as a JSON-safe dict (see module docstring).

    ``skip`` names progress keys not to enter again (they crashed or hung a previous attempt);
    ``mark(key)`` is called as each unit of work starts; ``inventory_only`` stops after the
    imports (names, files, versions: what a cache key needs); ``scratch`` is a folder where
    each unit of work runs in an empty folder of its own (the working folder changes);
    ``hints`` are typed argument lists by dotted path, from typeshed's stubs, tried first.
    """
    started = time.monotonic()
    skipped = frozenset(skip)
    clock = Clock(budget_s, trial_timeout_s, mark, skipped, unit_timeout_s)
    run = Discovery(deny, clock, scratch, hints)
    finish = clock.start()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loaded = run.load(modules, packages)
            if not inventory_only:
                _discover_loaded(run, loaded)
    finally:
        finish()
    return run.result(time.monotonic() - started, skipped)


def _discover_loaded(run: Discovery, loaded: list[tuple[dict[str, Any], Any]]) -> None:
    for entry, module in loaded:
        run.scan(entry, module)
    if {"typing", "types"} & run.module_names:
        run.make("typing" if "typing" in run.module_names else "types")
    for module_name, path, cls in run.classes:
        run.construct(module_name, path, cls)
    # Functions whose names say they change module state (``warnings.simplefilter``,
    # ``codecs.register``) are tried last, so what they change cannot bend the other trials.
    later = [f for f in run.functions if name_says_state_change(f[1].rpartition(".")[2])]
    for module_name, path, func, item in run.functions:
        if not name_says_state_change(path.rpartition(".")[2]):
            run.call_function(module_name, path, func, item)
    for module_name, path, obj in run.objects:
        run.take_object(module_name, path, obj)
    for module_name, path, obj in [*run.objects, *run.classes]:
        run.subscript(module_name, path, obj)
    run.compose()
    index = 0
    while index < len(run.subjects):  # exploring a subject may derive new ones
        run.explore(run.subjects[index])
        index += 1
    for module_name, path, func, item in later:
        run.call_function(module_name, path, func, item, admit=False)
    run.unify_roles()
    run.settle_items()
