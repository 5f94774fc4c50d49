"""Execute one scenario in the current process: build, release the threads, record.

Runs in a freshly forked child of the fork server.  Standard library only.  The hot loop is kept
flat: every operation is bound to a callable and an argument tuple once per round, and the loop
only calls, counts exceptions and marks which operation each thread is in (in a shared memory
page the server reads after a crash, so a crash still says what was running).

Timing is part of the scenario: after the round's barrier a thread may wait until another thread
has begun its first operation and then spin a number of microseconds (``Start``); an operation may
build its arguments anew for every call (``Operation.fresh``: churn, so that what a mutator drops
is really freed, and made by the thread that drops it); a plan may run every call in a
short-lived thread of its own (``ThreadPlan.spawn``).
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from types import FunctionType
from typing import Any

from threadstorm.harness.values import HostileError, build, method_of, resolve
from threadstorm.scenario.model import Operation, Scenario, Start

Bound = tuple[Callable[..., Any], tuple[Any, ...]]

MAX_EXCEPTION_KINDS = 32

# builtins whose whole job is to call one special method of their argument
DUNDER_BUILTINS = {
    "next": "__next__",
    "repr": "__repr__",
    "str": "__str__",
    "len": "__len__",
    "hash": "__hash__",
    "iter": "__iter__",
    "reversed": "__reversed__",
    "format": "__format__",
    "abs": "__abs__",
    "dir": "__dir__",
}
MARK_EVERY = 16  # calls between two progress marks in a one-operation plan


def build_shared(scenario: Scenario, namespace: dict[str, Any], fresh_only: bool) -> None:
    """(Re)build the shared objects, in order, into ``namespace``."""
    for obj in scenario.shared:
        if obj.fresh or not fresh_only:
            namespace[obj.name] = build(obj.recipe, namespace)


def bind(op: Operation, namespace: dict[str, Any]) -> Bound:
    """A callable and its arguments that perform ``op`` on the current shared objects.

    A ``fresh`` operation binds to a closure that builds its arguments at every call, so each
    call gets objects of its own, made (and so owned) by the calling thread.
    """
    if op.fresh:
        plain = bind(replace(op, fresh=False, args=()), namespace)
        return _fresh_call, (plain, op.args, namespace)
    target = namespace[op.target]
    args = tuple(build(arg, namespace) for arg in op.args)
    if op.kind == "method":
        return method_of(target, op.name), args
    if op.kind == "function":
        return resolve(op.name), (target, *args)
    if op.kind == "getattr":
        return getattr, (target, op.name)
    if op.kind == "setattr":
        return setattr, (target, op.name, args[0])
    return delattr, (target, op.name)


def _fresh_call(plain: Bound, recipes: tuple[Any, ...], namespace: dict[str, Any]) -> Any:
    func, bound_args = plain
    return func(*bound_args, *[build(recipe, namespace) for recipe in recipes])


class StartSignals:
    """Which threads have begun their first operation this round, and waiting for that.

    The barrier's action calls ``new_round`` before any thread is released, so every thread sees
    the same round's signals.  A wait is bounded (``WAIT_S``): a thread that never begins (its
    plan failed to bind, it died) delays the threads waiting for it, it does not hang them.
    """

    WAIT_S = 2.0

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self.begun = [threading.Event() for _ in range(threads)]

    def new_round(self) -> None:
        self.begun = [threading.Event() for _ in range(self.threads)]

    def start(self, number: int, start: Start) -> None:
        """Wait for thread ``number``'s start, then signal that it has begun."""
        begun = self.begun
        if start.after is not None:
            begun[start.after].wait(self.WAIT_S)
        spin(start.delay_us)
        begun[number].set()


def spin(delay_us: int) -> None:
    """Busy-wait ``delay_us`` microseconds (sleeping through all but the last millisecond).

    A sleep wakes tens of microseconds late, and a race window is often narrower: the tail spins.
    """
    if delay_us <= 0:
        return
    end = time.perf_counter_ns() + delay_us * 1000
    if delay_us > 2000:
        time.sleep((delay_us - 1000) / 1e6)
    while time.perf_counter_ns() < end:
        pass


class ExceptionLog:
    """Counts exceptions per (thread, operation, type), keeping the first message of each."""

    def __init__(self) -> None:
        self.entries: dict[tuple[int, int, str], list[Any]] = {}

    def add(self, thread: int, op: int, error: BaseException) -> None:
        key = (thread, op, type(error).__qualname__)
        entry = self.entries.get(key)
        if entry is not None:
            entry[0] += 1
        elif len(self.entries) < MAX_EXCEPTION_KINDS:
            self.entries[key] = [1, str(error)[:200]]

    def as_json(self) -> list[dict[str, Any]]:
        return [
            {"thread": t, "op": o, "type": name, "count": count, "message": message}
            for (t, o, name), (count, message) in sorted(self.entries.items())
        ]


def member_owners(scenario: Scenario, namespace: dict[str, Any]) -> dict[str, str]:
    """For each ``target.member`` the scenario calls, the class that defines that member.

    ``Counter().keys`` and ``defaultdict().keys`` are both ``dict.keys``: one function, so a
    crash in it is one bug, whatever the instance's own class.  (C types that re-declare a slot,
    as each exception class does for ``__init__``, still name themselves: their slot wrappers
    do not tell whether the C function behind them is shared.)
    """
    owners: dict[str, str] = {}
    for op in scenario.operations():
        name = op.name
        if op.kind == "function":
            module, _, short = op.name.rpartition(".")
            if module != "builtins" or short not in DUNDER_BUILTINS:
                continue
            name = DUNDER_BUILTINS[short]
        value = namespace.get(op.target)
        for cls in type(value).__mro__:
            if name in vars(cls):
                owners[f"{op.target}.{name}"] = f"{cls.__module__}.{cls.__qualname__}"
                break
    return owners


def python_members(scenario: Scenario, namespace: dict[str, Any]) -> list[str]:
    """The ``target.member`` calls of the scenario whose member is written in Python.

    A contract rule about an operation (concurrent ``__init__``) is about C implementations: a
    class written in Python runs its ``__init__`` as an ordinary method, and pure Python code
    must never crash the interpreter.  A member counts as Python when the class that defines it
    holds a Python function (or a descriptor wrapping one) under its name.
    """
    found: list[str] = []
    for op in scenario.operations():
        if op.kind != "method":
            continue
        for cls in type(namespace.get(op.target)).__mro__:
            if op.name in vars(cls):
                member = vars(cls)[op.name]
                inner = getattr(member, "__func__", None) or getattr(member, "fget", None)
                if isinstance(member, FunctionType) or isinstance(inner, FunctionType):
                    found.append(f"{op.target}.{op.name}")
                break
    return sorted(set(found))


def describe_types(namespace: dict[str, Any]) -> dict[str, str]:
    """The qualified type name of every shared object (what a crash report calls it)."""
    return {
        name: f"{type(value).__module__}.{type(value).__qualname__}"
        for name, value in namespace.items()
    }


class RebuildFailed(Exception):
    """Rebuilding the fresh shared objects for a later round failed (a harness error)."""


def run_scenario(
    scenario: Scenario,
    mark: Callable[[int, int], None],
    announce: Callable[[dict[str, Any]], None],
) -> dict[str, Any]:
    """Run ``scenario``; ``mark(thread, op)`` records progress, ``announce`` reports setup."""
    namespace: dict[str, Any] = {}
    build_shared(scenario, namespace, fresh_only=False)
    announce(
        {
            "event": "setup",
            "types": describe_types(namespace),
            "owners": member_owners(scenario, namespace),
            "python_members": python_members(scenario, namespace),
            "str_is_repr": sorted(
                name
                for name, value in namespace.items()
                if getattr(type(value), "__str__", None) is object.__str__
            ),
        }
    )
    log = ExceptionLog()
    rounds_started = [0]
    rebuild_failed: list[str] = []
    signals = StartSignals(scenario.thread_count)

    def next_round() -> None:  # run by the last thread to arrive, before any is released
        if rounds_started[0]:
            try:
                build_shared(scenario, namespace, fresh_only=True)
            except Exception as error:
                # objects that cannot be rebuilt are our failure, as in round 1: every thread
                # leaves (the barrier breaks) and the run reports setup_failed
                rebuild_failed.append(traceback.format_exc())
                raise RebuildFailed from error
        else:  # which thread id runs which plan, so a crash dump's current thread names it
            announce({"event": "threads", "idents": [worker.ident for worker in workers]})
        signals.new_round()
        rounds_started[0] += 1

    barrier = threading.Barrier(scenario.thread_count, action=next_round)
    workers = [
        threading.Thread(
            target=_worker,
            args=(scenario, number, namespace, barrier, signals, log, mark),
            name=f"threadstorm-{number}",
        )
        for number in range(scenario.thread_count)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    if rebuild_failed:
        return {"event": "setup_failed", "error": rebuild_failed[0]}
    exceptions = log.as_json()
    refused = refused_operations(scenario, exceptions)
    return {
        "event": "done",
        "status": "raised" if refused else "passed",
        "exceptions": exceptions,
        "refused": refused,
        "gil_enabled": _gil_enabled(),
    }


def refused_operations(scenario: Scenario, exceptions: list[dict[str, Any]]) -> list[list[int]]:
    """``[thread, op]`` of every operation that raised on each of its calls: refused outright.

    A run with one is ``raised``: part of the scenario never ran, the cheapest way to waste a
    run (a guessed argument the callable rejects, a method the object does not support).  A run
    whose operations each returned at least once is ``passed``, whatever else raised along the
    way: ``pop()`` on a list that other threads emptied raises ``IndexError`` now and then, and
    that run raced as written.  A failed bind (op -1) in every round refuses the thread's plan.
    """
    calls = scenario.rounds * scenario.iterations
    refused: set[tuple[int, int]] = set()
    for entry in exceptions:
        thread, op, count = int(entry["thread"]), int(entry["op"]), int(entry["count"])
        if op == -1 and count >= scenario.rounds:
            operations = len(scenario.threads[thread].operations)
            refused.update((thread, index) for index in range(operations))
        elif op >= 0 and count >= calls:
            refused.add((thread, op))
    return [[thread, op] for thread, op in sorted(refused)]


def _worker(
    scenario: Scenario,
    number: int,
    namespace: dict[str, Any],
    barrier: threading.Barrier,
    signals: StartSignals,
    log: ExceptionLog,
    mark: Callable[[int, int], None],
) -> None:
    plan = scenario.threads[number]
    operations = plan.operations
    iterations = range(scenario.iterations)
    for _ in range(scenario.rounds):
        try:
            barrier.wait()
        except (RebuildFailed, threading.BrokenBarrierError):
            return  # the shared objects could not be rebuilt: reported by run_scenario
        try:
            calls = [bind(op, namespace) for op in operations]
        except Exception as error:  # noqa: BLE001 - a failed bind is a raised outcome
            log.add(number, -1, error)
            calls = []
        signals.start(number, plan.start)
        if plan.spawn:
            _spawn_each(calls, scenario.iterations, number, log, mark)
        elif len(calls) == 1:
            _repeat_one(calls[0], scenario.iterations, number, log, mark)
        else:
            for _ in iterations:
                for index, (func, args) in enumerate(calls):
                    mark(number, index)
                    try:
                        func(*args)
                    except HostileError:
                        pass
                    except BaseException as error:  # noqa: BLE001 - every raise is data
                        log.add(number, index, error)
        mark(number, -1)  # waiting for the next round: not in an operation


def _repeat_one(
    call: Bound, iterations: int, number: int, log: ExceptionLog, mark: Callable[[int, int], None]
) -> None:
    """The tight loop of a one-operation plan: progress marked per chunk, not per call.

    A race window is often a few hundred nanoseconds wide; a bookkeeping call between every
    two operations costs more than that and makes collisions several times rarer (measured:
    5/10 crashing runs without per-call marks, 1/10 with them, on 3.13's enumerate bug).
    The operation in flight is always operation 0, so nothing is lost by marking less.
    """
    func, args = call
    done = 0
    while done < iterations:
        mark(number, 0)
        for _ in range(min(MARK_EVERY, iterations - done)):
            try:
                func(*args)
            except HostileError:
                pass
            except BaseException as error:  # noqa: BLE001 - every raise is data
                log.add(number, 0, error)
        done += MARK_EVERY


def _spawn_each(
    calls: list[Bound],
    iterations: int,
    number: int,
    log: ExceptionLog,
    mark: Callable[[int, int], None],
) -> None:
    """Every call in a short-lived thread of its own, started and joined in turn.

    The short-lived thread carries the plan's thread name, so a crash in it names this plan.
    """
    for _ in range(iterations):
        for index, call in enumerate(calls):
            mark(number, index)
            child = threading.Thread(
                target=_call_logged, args=(call, number, index, log), name=f"threadstorm-{number}"
            )
            child.start()
            child.join()


def _call_logged(call: Bound, number: int, index: int, log: ExceptionLog) -> None:
    func, args = call
    try:
        func(*args)
    except HostileError:
        pass
    except BaseException as error:  # noqa: BLE001 - every raise is data
        log.add(number, index, error)


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())
