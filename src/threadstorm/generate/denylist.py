"""The default deny-list: callables a fuzzed scenario or surface discovery must never call.

Entries are dotted names or ``fnmatch`` patterns (``*`` also crosses dots).  A callable is denied
when any name it goes by matches: the path it was found under (``shutil.rmtree``), the name it
gives itself (``posix.remove`` for ``os.remove``), and for members the defining class's name
(``pathlib._local.Path.unlink``).  The list is extended with ``--deny`` and shown in reports.

Standard library only (the matcher lives in the harness, which applies it inside the target).
The confinement of every child (``threadstorm.harness.confine``) is the second line of defence:
what this list misses, the audit hook and the resource limits still stop.
"""

from __future__ import annotations

from collections.abc import Iterable

from threadstorm.harness.introspect import is_denied

__all__ = ["DEFAULT_DENY", "deny_list", "is_denied"]

# Process control, signals, exec and interpreter exit.
_PROCESSES = (
    "os.*", "posix.*", "nt.*", "_posixsubprocess.*", "subprocess.*", "multiprocessing.*",
    "_multiprocessing.*", "concurrent.*", "signal.*", "_signal.*", "pty.*", "sys.exit",
    "builtins.exit", "builtins.quit", "_sitebuiltins.*", "atexit.*", "threading.*",
    "time.sleep", "asyncio.*", "selectors.*", "select.*",
)  # fmt: skip

# Threads the harness does not own, and locks that block forever: of ``_thread`` only the lock
# readers, ``release`` (which raises when unlocked) and the identity functions stay callable.
_THREADS = (
    "_thread.start_*", "_thread.exit*", "_thread.interrupt_main", "_thread.stack_size",
    "_thread.*acquire*", "_thread.*__enter__", "_thread.*__exit__",
)  # fmt: skip

# File-system changes (anything under os/posix is denied above).
_FILES = (
    "shutil.*", "tempfile.*", "builtins.open", "io.open", "io.open_code", "_io.open",
    "_io.open_code", "io.FileIO", "_io.FileIO", "pathlib.*.write_*", "pathlib.*.touch",
    "pathlib.*.mkdir", "pathlib.*.unlink", "pathlib.*.rmdir", "pathlib.*.rename",
    "pathlib.*.replace", "pathlib.*.chmod", "pathlib.*.lchmod", "pathlib.*.symlink_to",
    "pathlib.*.hardlink_to", "pathlib.*.open", "pathlib.*.copy*", "pathlib.*.move*",
    "pathlib.*.delete", "fileinput.*", "zipfile.*", "tarfile.*", "dbm.*", "shelve.*",
    "logging.*FileHandler*", "mailbox.*",
)  # fmt: skip

# Network.
_NETWORK = (
    "socket.*", "_socket.*", "ssl.*", "_ssl.*", "http.*", "urllib.request.*", "ftplib.*",
    "smtplib.*", "poplib.*", "imaplib.*", "xmlrpc.*", "socketserver.*", "webbrowser.*",
    "wsgiref.*",
)  # fmt: skip

# Foreign code and raw memory.
_MEMORY = (
    "ctypes.*", "_ctypes.*", "mmap.*", "_testcapi.*", "_testinternalcapi.*", "_testlimitedcapi.*",
    "_testbuffer.*", "_testmultiphase.*", "_testsinglephase.*", "_xxtestfuzz.*",
)  # fmt: skip

# Interpreter-wide switches and introspection that would poison the campaign or the harness.
# Module state a scenario changes (``gc.disable``, ``warnings.simplefilter``, ``codecs.register``)
# is allowed: such scenarios run in a child of their own (``generate.module_state``), so nothing
# they change outlives them.  ``gc.set_debug`` floods the evidence (stderr); ``gc.get_objects``
# and ``gc.get_referrers`` hand out every object, the harness's own included (the sandbox refuses
# them too); ``locale.setlocale`` is documented as not thread-safe.
_INTERPRETER = (
    "sys.set*", "sys._*", "sys.addaudithook", "sys.activate_stack_trampoline",
    "sys.deactivate_stack_trampoline", "sys.remote_exec", "sys.breakpointhook",
    "sys.excepthook", "sys.displayhook", "sys.unraisablehook", "sys.monitoring.*",
    "gc.set_debug", "gc.get_objects", "gc.get_referrers", "faulthandler.*", "tracemalloc.*",
    "resource.*", "importlib.*", "runpy.*",
    "builtins.exec", "builtins.eval", "builtins.compile", "builtins.__import__",
    "builtins.breakpoint", "builtins.input", "builtins.help", "builtins.globals",
    "builtins.locals", "builtins.copyright", "builtins.credits", "builtins.license",
    "locale.setlocale", "copyreg.*", "pdb.*", "bdb.*", "trace.*", "cProfile.*", "profile.*",
    "_lsprof.*", "code.*", "pydoc.*", "tkinter.*", "turtle.*", "idlelib.*",
    "threadstorm.*",
)  # fmt: skip

DEFAULT_DENY: tuple[str, ...] = _PROCESSES + _THREADS + _FILES + _NETWORK + _MEMORY + _INTERPRETER


def deny_list(extra: Iterable[str] = (), *, defaults: bool = True) -> tuple[str, ...]:
    """The default list (unless ``defaults`` is false) followed by ``extra``, without repeats."""
    entries = [*(DEFAULT_DENY if defaults else ()), *(e.strip() for e in extra if e.strip())]
    return tuple(dict.fromkeys(entries))
