"""The exceptions threadstorm raises.  A target crash is data, never an exception.

``UsageError`` carries a message that says what is wrong and how to fix it; the CLI prints it on
one line and exits with status 2.  ``CouldNotTest`` and ``HarnessError`` mean the tool or the
target could not do its job: exit status 3, never mistaken for a finding (1) or a pass (0).
"""

from __future__ import annotations


class ThreadstormError(Exception):
    """Root of every error threadstorm raises on purpose."""


class UsageError(ThreadstormError, ValueError):
    """The user asked for something impossible: bad path, bad value, malformed file."""


class HarnessError(ThreadstormError, RuntimeError):
    """threadstorm's own machinery failed (never a finding about the target)."""


class TargetError(UsageError):
    """The target interpreter cannot be used (missing, not Python, dies at start)."""


class CouldNotTest(ThreadstormError):
    """A command ran but could not test what it was asked to (no valid runs, GIL on, ...)."""
