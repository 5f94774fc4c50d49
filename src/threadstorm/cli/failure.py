"""Unexpected errors: one line on stderr and the full traceback saved to a file.

A command that fails for a reason nobody planned (a ``HarnessError`` from discovery, a fork
server that will not restart, a bug in threadstorm) must not end in a bare traceback that CI
reads as a failed check.  The traceback is kept, never swallowed: it goes to a file under
``THREADSTORM_ERROR_DIR`` (default ``~/.cache/threadstorm/errors``, or the system's temporary
folder when that cannot be written), and the one line printed says where.
"""

from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

ERROR_DIR_VARIABLE = "THREADSTORM_ERROR_DIR"


def error_folder() -> Path:
    """Where tracebacks are saved."""
    chosen = os.environ.get(ERROR_DIR_VARIABLE)
    if chosen:
        return Path(chosen)
    return Path.home() / ".cache" / "threadstorm" / "errors"


def save_traceback(error: BaseException, command: str) -> Path:
    """Write ``error``'s traceback to a new file; return its path."""
    text = "".join(traceback.format_exception(error))
    name = f"{command}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.txt"
    for folder in (error_folder(), Path(tempfile.gettempdir()) / "threadstorm-errors"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_text(f"threadstorm {command}\n{text}", encoding="utf-8")
        except OSError:
            continue
        return path
    raise OSError(f"no writable folder for the traceback of {command}:\n{text}")


def one_line(error: BaseException) -> str:
    """The error's type and the first line of its message, e.g. for a terminal."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0][:300]}" if message else type(error).__name__
