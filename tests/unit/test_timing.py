"""The harness's timing: starts after another thread, fresh arguments per call, spawned calls.

The harness zone is standard-library code, so its pieces run here in the controller's own
interpreter; what they promise does not depend on the GIL (orderings, identities, threads).
"""

from __future__ import annotations

import threading
from typing import Any

from threadstorm.harness.execute import ExceptionLog, StartSignals, _spawn_each, bind, spin
from threadstorm.scenario.model import Call, Collection, Operation, Ref, Start


def test_a_thread_starts_only_after_the_thread_it_waits_for_has_begun() -> None:
    signals = StartSignals(2)
    log: list[str] = []

    def late() -> None:
        signals.start(1, Start(after=0))
        log.append("late")

    def first() -> None:
        log.append("first")
        signals.start(0, Start())

    waiting = threading.Thread(target=late)
    waiting.start()  # started first, yet it must wait
    leader = threading.Thread(target=first)
    leader.start()
    waiting.join()
    leader.join()
    assert log == ["first", "late"]


def test_each_round_has_its_own_signals() -> None:
    signals = StartSignals(2)
    signals.start(0, Start())
    assert signals.begun[0].is_set()
    signals.new_round()
    assert not signals.begun[0].is_set()


def test_a_wait_for_a_thread_that_never_begins_is_bounded() -> None:
    signals = StartSignals(2)
    signals.WAIT_S = 0.01
    signals.start(1, Start(after=0))  # returns: nobody hangs on a thread that died
    assert signals.begun[1].is_set()


def test_spin_returns_at_once_without_delay() -> None:
    spin(0)
    spin(-5)
    spin(50)


def test_fresh_arguments_are_built_for_every_call() -> None:
    namespace: dict[str, Any] = {"obj": []}
    op = Operation("method", "obj", "append", (Collection("list", ()),), fresh=True)
    func, args = bind(op, namespace)
    func(*args)
    func(*args)
    first, second = namespace["obj"]
    assert first == second == [] and first is not second


def test_plain_arguments_are_built_once_per_round() -> None:
    namespace: dict[str, Any] = {"obj": []}
    op = Operation("method", "obj", "append", (Call(Ref("builtins.object")),))
    func, args = bind(op, namespace)
    func(*args)
    func(*args)
    assert namespace["obj"][0] is namespace["obj"][1]


def test_spawned_calls_each_run_in_a_thread_of_their_own() -> None:
    idents: list[int] = []
    names: list[str] = []

    def record() -> None:
        idents.append(threading.get_ident())
        names.append(threading.current_thread().name)

    _spawn_each([(record, ())], 3, 4, ExceptionLog(), lambda thread, op: None)
    assert len(idents) == 3 and threading.get_ident() not in idents
    assert set(names) == {"threadstorm-4"}  # a crash in it still names plan 4


def test_spawned_calls_that_raise_are_logged_as_the_plan_s() -> None:
    log = ExceptionLog()

    def fail() -> None:
        raise KeyError("x")

    _spawn_each([(fail, ())], 2, 1, log, lambda thread, op: None)
    assert log.as_json() == [
        {"thread": 1, "op": 0, "type": "KeyError", "count": 2, "message": "'x'"}
    ]
