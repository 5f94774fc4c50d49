"""The deny-list matcher and the default list of callables fuzzing must never call."""

from __future__ import annotations

import pytest

from threadstorm.generate.denylist import DEFAULT_DENY, deny_list, is_denied


@pytest.mark.parametrize(
    "name",
    [
        "os.remove",
        "os._exit",
        "os.path.join",  # everything under os, even the harmless
        "posix.remove",  # the name os.remove gives itself
        "shutil.rmtree",
        "subprocess.Popen",
        "signal.pthread_kill",
        "ctypes.string_at",
        "sys.exit",
        "sys.setrecursionlimit",
        "sys.settrace",
        "sys._current_frames",
        "builtins.exit",
        "builtins.quit",
        "builtins.input",
        "builtins.breakpoint",
        "builtins.open",
        "_io.open",  # the name builtins.open gives itself
        "builtins.exec",
        "builtins.eval",
        "builtins.compile",
        "builtins.__import__",
        "builtins.globals",
        "gc.set_debug",  # floods stderr, the evidence
        "locale.setlocale",  # documented as not thread-safe
        "faulthandler.dump_traceback_later",
        "threading.Thread",
        "_thread.start_new_thread",
        "_thread.interrupt_main",
        "_thread.exit",
        "_thread.lock.acquire",  # blocks forever when another thread holds it
        "_thread.RLock.__enter__",
        "_thread.stack_size",
        "socket.socket.connect",
        "pathlib.Path.unlink",
        "pathlib._local.Path.unlink",  # the defining class's own name
        "pathlib._local.Path.write_text",
        "pathlib.Path.mkdir",
        "time.sleep",
        "threadstorm.harness.server.main",
    ],
)
def test_dangerous_callables_are_denied_by_default(name: str) -> None:
    assert is_denied(name, DEFAULT_DENY)


@pytest.mark.parametrize(
    "name",
    [
        "builtins.list.append",
        "builtins.repr",
        "collections.deque.rotate",
        "collections.OrderedDict.move_to_end",
        "typing.Union",
        "itertools.product",
        "pathlib.Path.exists",
        "pathlib._local.Path.read_text",
        "ossaudiodev.open",  # "os.*" is not a prefix of other module names
        "builtins.code.replace",  # "code.*" is the code module, not the code type
        "time.monotonic",
        "types.GenericAlias",
        # module state: such scenarios run in a child of their own
        "gc.collect",
        "gc.disable",
        "gc.set_threshold",
        "_thread.get_ident",
        "_thread.lock.release",
        "warnings.simplefilter",
        "codecs.register",
    ],
)
def test_ordinary_callables_are_not_denied(name: str) -> None:
    assert not is_denied(name, DEFAULT_DENY)


def test_exact_names_and_patterns() -> None:
    assert is_denied("mod.func", ["mod.func"])
    assert not is_denied("mod.func2", ["mod.func"])
    assert is_denied("mod.func2", ["mod.func*"])
    assert is_denied("pkg.sub.Class.method", ["pkg.*.method"])
    assert not is_denied("Mod.func", ["mod.*"])  # case matters: names are identifiers
    assert not is_denied("anything", [])


def test_deny_list_extends_without_repeats() -> None:
    combined = deny_list(["mine.*", " os.* ", ""])
    assert combined[: len(DEFAULT_DENY)] == DEFAULT_DENY
    assert combined[-1] == "mine.*"
    assert combined.count("os.*") == 1
    assert deny_list(["mine.*"], defaults=False) == ("mine.*",)


def test_default_list_is_well_formed() -> None:
    assert len(DEFAULT_DENY) == len(set(DEFAULT_DENY))
    for entry in DEFAULT_DENY:
        assert entry == entry.strip() and entry
        assert all(part for part in entry.split("."))
