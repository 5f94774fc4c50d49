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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from threadstorm.errors import TargetError
from threadstorm.target.tsan import cpython_suppressions

PRE_PROBE = (
    "import json, sys, sysconfig; print(json.dumps({'version': '.'.join(map(str, "
    "sys.version_info[:3])), 'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')),"
    " 'debug': hasattr(sys, 'gettotalrefcount'), 'major_minor': list(sys.version_info[:2]),"
    " 'tsan': '--with-thread-sanitizer' in (sysconfig.get_config_var('CONFIG_ARGS') or '')"
    " or '-fsanitize=thread' in (sysconfig.get_config_var('PY_CFLAGS') or ''),"
    " 'srcdir': sysconfig.get_config_var('abs_srcdir')}))"
)


@dataclass(frozen=True)
class Interpreter:
    """A target interpreter that answered the pre-probe."""

    path: Path
    version: str
    free_threaded: bool
    debug: bool
    tsan: bool = False
    # ThreadSanitizer suppression files for runs on this target: CPython's own (when its source
    # tree is found) and the user's ``--suppressions`` files
    suppressions: tuple[Path, ...] = ()

    @property
    def label(self) -> str:
        """E.g. ``3.13.5 free-threaded debug``."""
        kind = "free-threaded" if self.free_threaded else "GIL"
        tsan = " tsan" if self.tsan else ""
        return f"{self.version} {kind}{' debug' if self.debug else ''}{tsan}"


def discover(
    path_text: str | os.PathLike[str], suppressions: Sequence[str | os.PathLike[str]] = ()
) -> Interpreter:
    """Check ``path_text`` names a working CPython 3 interpreter; raise ``TargetError`` if not.

    ``suppressions`` are the user's ThreadSanitizer suppression files, used on a TSan target
    together with CPython's own (``threadstorm.target.tsan``).
    """
    user_files = [checked_suppressions(name) for name in suppressions]
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
    tsan = bool(facts.get("tsan"))
    cpython_file = cpython_suppressions(path, facts.get("srcdir")) if tsan else None
    return Interpreter(
        path=path.absolute(),
        version=str(facts["version"]),
        free_threaded=bool(facts["free_threaded"]),
        debug=bool(facts["debug"]),
        tsan=tsan,
        suppressions=(*([cpython_file] if cpython_file else []), *user_files),
    )


def checked_suppressions(name: str | os.PathLike[str]) -> Path:
    """A readable suppression file's absolute path; ``TargetError`` naming the problem if not."""
    path = Path(name).expanduser().absolute()
    if not path.is_file():
        raise TargetError(
            f"suppression file {name} does not exist; pass a ThreadSanitizer suppression file"
        )
    try:
        path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TargetError(f"suppression file {name} cannot be read as text ({error})") from None
    return path
