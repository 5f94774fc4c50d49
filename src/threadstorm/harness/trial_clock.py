"""The trial clock of surface discovery: deadline, progress marks, trial timer, watchdog.

Every call discovery makes into the target goes through ``Clock.timed``, which arms an interval
timer (``SIGALRM``, main thread only) so a trial that runs too long raises ``TrialTimeout`` and
becomes the outcome ``"timeout"``; every unit of work starts with ``Clock.enter``, which checks the
overall budget, reports a progress mark for the fork server and re-arms faulthandler's watchdog,
which ends a process whose unit hangs in C.

The signal functions are captured when this module is imported: the confined discovery child
later replaces ``signal.signal`` and ``signal.setitimer`` with refusing stubs, so the code under
test cannot use them, while the clock still can.

Standard library only (it runs inside the target interpreter).
"""

from __future__ import annotations

import faulthandler
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

# The trial clock's own signal calls, taken before the child disarms ``signal`` (the sandbox
# replaces these functions so the code under test cannot use them).
_SETITIMER = signal.setitimer
_SET_HANDLER = signal.signal


# --------------------------------------------------------------------------- time keeping


class TrialTimeout(BaseException):
    """Raised by the interval timer inside a trial that ran too long."""


class Clock:
    """The overall deadline, progress marks, a per-trial interval timer (main thread only) and
    a watchdog for units that hang in C.

    The watchdog is faulthandler's own C thread (``dump_traceback_later(exit=True)``): a Python
    thread cannot end a free-threaded process whose main thread spins in C, because anything it
    allocates may start a stop-the-world collection that waits for the spinning thread forever.
    It is re-armed when a unit starts and the arming is half used up, so a unit that hangs is
    ended after between half and all of ``unit_s`` seconds.
    """

    def __init__(self, budget_s: float, trial_s: float, mark: Callable[[str], None] | None,
                 skip: frozenset[str], unit_s: float | None = None) -> None:  # fmt: skip
        self.deadline = time.monotonic() + budget_s
        self.trial_s = trial_s
        self.mark = mark
        self.skip = skip
        self.unit_s = unit_s
        self.exhausted = False
        self.trials = 0
        self._armed_at = -float("inf")
        self._armed_for = 0.0
        self._active = False
        self._alarms = threading.current_thread() is threading.main_thread()

    def enter(self, key: str, patience: float = 1.0) -> str | None:
        """Start a unit of work: None when it may run, else why it may not.

        ``patience`` multiplies the watchdog's limit for units known to be slow (imports).
        """
        if key in self.skip:
            return "crashed discovery"
        if time.monotonic() > self.deadline:
            self.exhausted = True
            return "not tried: budget"
        if self.mark is not None:
            self.mark(key)
        if self.unit_s:
            self._watch(self.unit_s * patience)
        return None

    def _watch(self, seconds: float) -> None:
        now = time.monotonic()
        if seconds != self._armed_for or now - self._armed_at > seconds / 2:
            faulthandler.dump_traceback_later(seconds, exit=True, file=sys.__stderr__ or 2)
            self._armed_at, self._armed_for = now, seconds

    def timed(
        self, func: Callable[..., Any], *args: Any, seconds: float | None = None
    ) -> tuple[str, Any]:
        """``("ok", result)``, ``("typeerror"|"raised", error)`` or ``("timeout", None)``."""
        self.trials += 1
        self._arm(seconds or self.trial_s)
        try:
            try:
                return "ok", func(*args)
            finally:
                self._disarm()
        except TrialTimeout:
            return "timeout", None
        except TypeError as error:
            return "typeerror", error.with_traceback(None)
        except BaseException as error:  # noqa: BLE001 - every raise of a trial is data
            # Without its traceback the error holds no frame, so the trial's arguments are
            # freed at once: a cycle through the frames would keep them (an LZMA compressor
            # holds about 100 MB) until a collection that large C buffers never trigger.
            return "raised", error.with_traceback(None)

    def _arm(self, seconds: float) -> None:
        if self._alarms:
            self._active = True
            _SETITIMER(signal.ITIMER_REAL, seconds)

    def _disarm(self) -> None:
        if self._alarms:
            self._active = False
            _SETITIMER(signal.ITIMER_REAL, 0)

    def on_alarm(self, signum: int, frame: Any) -> None:
        if self._active:
            raise TrialTimeout

    def start(self) -> Callable[[], None]:
        """Install the interval timer; return the function that removes it and the watchdog."""
        previous = _SET_HANDLER(signal.SIGALRM, self.on_alarm) if self._alarms else None

        def finish() -> None:
            if self.unit_s:
                faulthandler.cancel_dump_traceback_later()
            if previous is not None:
                _SET_HANDLER(signal.SIGALRM, previous)

        return finish
