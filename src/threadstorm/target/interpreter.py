"""Target interpreters: check a path is a usable Python and learn how it was built.

The quick pre-probe runs before the fork server so the server can be started with the right
environment (``PYTHON_GIL=0`` is only valid on free-threaded builds).  The full facts, including
whether the GIL is still off after the campaign's imports, come from the server's ``ready``
message (``threadstorm.harness.probe``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from threadstorm.errors import TargetError

PRE_PROBE = (
    "import json, sys, sysconfig; print(json.dumps({'version': '.'.join(map(str, "
    "sys.version_info[:3])), 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),"
    " 'debug': hasattr(sys, 'gettotalrefcount'), 'major_minor': list(sys.version_info[:2])}))"
)


@dataclass(frozen=True)
class Interpreter:
    """A target interpreter that answered the pre-probe."""

    path: Path
    version: str
    free_threaded: bool
    debug: bool

    @property
    def label(self) -> str:
        """E.g. ``3.13.5 free-threaded debug``."""
        kind = "free-threaded" if self.free_threaded else "GIL"
        return f"{self.version} {kind}{' debug' if self.debug else ''}"


def discover(path_text: str | os.PathLike[str]) -> Interpreter:
    """Check ``path_text`` names a working CPython 3 interpreter; raise ``TargetError`` if not."""
    text = os.fspath(path_text)
    found = shutil.which(text) if os.sep not in text else text
    path = Path(found or text)
    if not path.exists():
        raise TargetError(f"interpreter {text} does not exist; pass the path of a python binary")
    if path.is_dir() or not os.access(path, os.X_OK):
        raise TargetError(f"{path} is not an executable file; pass the path of a python binary")
    try:
        done = subprocess.run(
            [str(path.absolute()), "-c", PRE_PROBE],
            capture_output=True,
            check=False,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TargetError(f"{path} could not be run as Python ({error})") from None
    try:
        facts = json.loads(done.stdout.decode().strip().splitlines()[-1])
        major, minor = facts["major_minor"]
    except (ValueError, IndexError, KeyError, TypeError):
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        detail = "" if PRE_PROBE[:12] in tail[0] or not tail[0] else f": {tail[0][:160]}"
        raise TargetError(
            f"{path} is not a working Python interpreter (exit status {done.returncode}{detail});"
            " pass the path of a CPython 3.11+ binary"
        ) from None
    if (major, minor) < (3, 11):
        raise TargetError(f"{path} is Python {facts['version']}; threadstorm needs 3.11 or later")
    return Interpreter(
        path=path.absolute(),
        version=str(facts["version"]),
        free_threaded=bool(facts["free_threaded"]),
        debug=bool(facts["debug"]),
    )
