"""The exit statuses of every command, one meaning each, so CI never mistakes a broken tool for
a bug, or silence for a pass."""

from __future__ import annotations

EXIT_CLEAN = 0  # the command did its job and found nothing new to fail on
EXIT_NEW_BUG = 1  # ``check`` only: a new in-contract bucket
EXIT_USAGE = 2  # the command line or its files are wrong; the message says the fix
EXIT_COULD_NOT_TEST = 3  # the tool or the target could not do its job
