"""Facts about the running interpreter, measured from inside it.  Standard library only."""

from __future__ import annotations

import os
import platform
import sys
import sysconfig
from typing import Any


def sanitizer() -> str | None:
    """``thread`` or ``address`` when the interpreter was built with that sanitizer, else None."""
    flags = " ".join(
        str(sysconfig.get_config_var(name) or "") for name in ("CONFIG_ARGS", "PY_CFLAGS", "CFLAGS")
    )
    if "--with-thread-sanitizer" in flags or "-fsanitize=thread" in flags:
        return "thread"
    if "--with-address-sanitizer" in flags or "-fsanitize=address" in flags:
        return "address"
    return None


def facts(imported: list[str], failed: dict[str, str]) -> dict[str, Any]:
    """What the controller needs to know about this target, after the campaign's imports."""
    gil_check = getattr(sys, "_is_gil_enabled", None)
    return {
        "executable": sys.executable,
        "version": platform.python_version(),
        "implementation": sys.implementation.name,
        "free_threaded": bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
        "gil_enabled": True if gil_check is None else bool(gil_check()),
        "debug": hasattr(sys, "gettotalrefcount"),
        "sanitizer": sanitizer(),
        "c_stack_in_faulthandler": sys.version_info >= (3, 14),
        "cpu_count": os.cpu_count() or 1,
        "imported": imported,
        "import_errors": failed,
        "config_args": str(sysconfig.get_config_var("CONFIG_ARGS") or ""),
        # where the target finds its modules: stubs shipped beside them are read from here
        "path": [entry for entry in sys.path if entry and os.path.isdir(entry)],
    }
