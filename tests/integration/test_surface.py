"""Surface discovery inside a real free-threaded target: subjects, roles, deny-list, crashes."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from threadstorm.generate.denylist import DEFAULT_DENY
from threadstorm.generate.surface import Subject, Surface, load_surface
from threadstorm.harness.values import build
from threadstorm.scenario.codec import recipe_from_json, recipe_to_json
from threadstorm.scenario.model import Lit
from threadstorm.target.interpreter import discover
from threadstorm.target.session import HarnessSession

pytestmark = pytest.mark.integration

SRC = Path(__file__).resolve().parents[2] / "src"
MODULES = ("builtins", "collections", "typing", "types", "itertools")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def session(python313d: Path) -> Iterator[HarnessSession]:
    with HarnessSession(discover(python313d)) as running:
        yield running


@pytest.fixture(scope="module")
def surface(session: HarnessSession, cache: Path) -> Surface:
    return load_surface(session, MODULES, (), DEFAULT_DENY, cache)


def test_subjects_for_containers_iterators_and_typing(surface: Surface) -> None:
    types = {s.type for s in surface.subjects}
    for wanted in (
        "builtins.list", "builtins.dict", "builtins.set", "builtins.bytearray",
        "collections.deque", "collections.OrderedDict", "builtins.enumerate",
        "itertools.product", "builtins.set_iterator", "builtins.tuple_iterator",
        "builtins.dict_keys", "builtins.list_iterator", "types.UnionType", "types.GenericAlias",
        "typing._UnionGenericAlias", "builtins.classmethod", "builtins.staticmethod",
    ):  # fmt: skip
        assert wanted in types, wanted
    union = surface.subjects_of("types.UnionType")[0]
    assert recipe_to_json(union.recipe) == {"make": "big_union", "size": 8}
    assert surface.crashes == ()
    assert surface.failed_imports == {}


def test_subject_flags(surface: Surface) -> None:
    deque = surface.subjects_of("collections.deque")[0]
    assert deque.iterable and deque.sized and deque.container and not deque.iterator
    assert deque.accepts_iterable and not deque.hashable
    iterator = surface.subjects_of("builtins.tuple_iterator")[0]
    assert iterator.iterator and iterator.iterable and not iterator.sized


def test_roles_are_observed_on_scratch_instances(surface: Surface) -> None:
    [full] = [s for s in surface.subjects_of("builtins.list") if s.empty is False]
    for name in ("append", "pop", "clear", "insert", "remove", "__setitem__"):
        member = full.member(name)
        assert member is not None and member.role == "mutator", name
        assert member.role_source == "observed", name
    for name in ("count", "index", "copy", "__repr__", "__len__", "__contains__"):
        member = full.member(name)
        assert member is not None and member.role == "reader" and member.reachable, name
    append = full.member("append")
    assert append is not None and (append.min_args, append.max_args) == (1, 1)
    assert append.args and all(len(args) == 1 for args in append.args)
    advance = surface.subjects_of("builtins.list_iterator")[0].member("__next__")
    assert advance is not None and advance.is_mutator


def test_recipes_round_trip_and_items_say_why(surface: Surface) -> None:
    for subject in surface.subjects:
        assert recipe_from_json(recipe_to_json(subject.recipe)) == subject.recipe
    items = {item.name: item for item in surface.items()}
    assert items["builtins.list.append"].reachable
    assert items["builtins.list"].implementation == "C"
    assert items["collections.UserDict"].implementation == "Python"
    assert items["builtins.open"].reason == "denied"
    assert items["builtins.eval"].reason == "denied"
    assert items["types.FrameType"].reason == "could not build an instance"
    reachable = sum(item.reachable for item in items.values())
    assert reachable / len(items) > 0.8


def test_surface_is_cached_per_target_and_modules(
    session: HarnessSession, surface: Surface, cache: Path
) -> None:
    files = list((cache / "surfaces").glob("*.json"))
    assert len(files) == 1
    started = time.monotonic()
    again = load_surface(session, MODULES, (), DEFAULT_DENY, cache)
    assert time.monotonic() - started < 5
    assert again == surface
    load_surface(session, ("itertools",), (), DEFAULT_DENY, cache)
    assert len(list((cache / "surfaces").glob("*.json"))) == 2


def test_import_failure_is_reported_not_fatal(session: HarnessSession) -> None:
    doc = session.surface(["threadstorm_no_such_module", "json"], ["email.mime"], DEFAULT_DENY, 120)
    found = Surface.from_json(doc)
    missing = found.module("threadstorm_no_such_module")
    assert missing is not None and "ModuleNotFoundError" in str(missing.error)
    assert missing.items == ()
    assert found.module("json") is not None and found.module("json").imported  # type: ignore[union-attr]
    assert found.module("email.mime.text") is not None
    assert any(subject.source == "json.JSONDecoder" for subject in found.subjects)


def _tree(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every file under ``root`` (the sessions' own folders aside): size, mtime, content."""
    return {
        str(path.relative_to(root)): (
            path.stat().st_size,
            path.stat().st_mtime_ns,
            path.read_bytes(),
        )
        for path in sorted(root.rglob("*"))
        if path.is_file() and not path.relative_to(root).parts[0].startswith("threadstorm-")
    }


def test_denied_members_are_never_called(
    python313d: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "marker.txt").write_text("keep me")
    (tmp_path / "abc").write_text("a name the value pool uses")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "inner.txt").write_text("keep me too")
    before = _tree(tmp_path)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # the session's sandbox goes here
    with HarnessSession(discover(python313d)) as session:
        doc = session.surface(["os", "shutil", "pathlib"], [], DEFAULT_DENY, 120)
    assert _tree(tmp_path) == before
    found = Surface.from_json(doc)
    items = {item.name: item for item in found.items()}
    for name in ("os.remove", "os.rmdir", "os.abort", "os.kill", "shutil.rmtree", "shutil.move"):
        assert items[name].reason == "denied" and not items[name].reachable, name
    path = next(s for s in found.subjects if s.source == "pathlib.Path")
    for name in ("unlink", "rmdir", "mkdir", "touch", "write_text", "rename", "chmod"):
        member = path.member(name)
        assert member is not None and member.reason == "denied" and not member.args, name
    exists = path.member("exists")
    assert exists is not None and exists.reachable


PLANTED = """
import faulthandler, itertools, os

MARKS = os.environ["PLANTED_MARKS"]

def _touch(name):
    with open(os.path.join(MARKS, name), "w"):
        pass

def wipe():
    _touch("wipe-called")

def safe():
    _touch("safe-called")

def boom():
    faulthandler._sigsegv()

def spin():
    return sum(itertools.repeat(0))  # a C loop: no signal ends it, only the watchdog

class Widget:
    def __init__(self):
        self.items = []

    def add(self, value):
        self.items.append(value)

    def size(self):
        return len(self.items)

    def crash(self):
        faulthandler._sigsegv()

    def wipe_all(self):
        _touch("wipe_all-called")
"""


def _run_in_target(python: Path, tmp_path: Path, script: str) -> dict[str, object]:
    (tmp_path / "planted.py").write_text(PLANTED)
    marks = tmp_path / "marks"
    marks.mkdir(exist_ok=True)
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHON_GIL": "0",
        "PYTHONPATH": f"{SRC}{os.pathsep}{tmp_path}",
        "PLANTED_MARKS": str(marks),
    }
    done = subprocess.run(
        [str(python), "-X", "faulthandler", "-c", textwrap.dedent(script)],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_deny_list_is_honoured_by_discovery_itself(python313d: Path, tmp_path: Path) -> None:
    script = """
        import json
        from threadstorm.harness.introspect import discover
        doc = discover(["planted"], [], ["planted.wipe*", "planted.boom", "planted.spin",
                       "planted.Widget.crash", "*.wipe_all"], 60)
        print(json.dumps(doc))
    """
    doc = Surface.from_json(_run_in_target(python313d, tmp_path, script))
    assert sorted(os.listdir(tmp_path / "marks")) == ["safe-called"]
    items = {item.name: item for item in doc.items()}
    assert items["planted.wipe"].reason == "denied"
    assert items["planted.safe"].reachable
    widget = doc.subjects_of("planted.Widget")[0]
    assert widget.member("wipe_all").reason == "denied"  # type: ignore[union-attr]
    assert widget.member("add").role == "mutator"  # type: ignore[union-attr]
    assert widget.member("size").role == "reader"  # type: ignore[union-attr]


def test_a_crash_or_hang_during_discovery_is_skipped_and_reported(
    python313d: Path, tmp_path: Path
) -> None:
    script = """
        import json, mmap, os
        from threadstorm.harness import server
        from threadstorm.harness.protocol import SurfaceRequest
        os.mkdir("sandbox")
        request = SurfaceRequest(7, ["planted"], deny=["*wipe*"], timeout=120, unit_timeout=3,
                                 limits={"core_size": 0})
        reply = server.serve_surface(request, os.path.abspath("sandbox"), mmap.mmap(-1, 256), 1)
        print(json.dumps(reply))
    """
    reply = _run_in_target(python313d, tmp_path, script)
    assert reply["event"] == "surface", reply
    found = Surface.from_json(reply["surface"])
    crashed = {crash.at: crash for crash in found.crashes}
    assert set(crashed) == {"function:planted.boom", "function:planted.spin",
                            "member:planted.Widget#0.crash"}  # fmt: skip
    assert crashed["function:planted.boom"].exit_code == -11
    assert "Fatal Python error: Segmentation fault" in crashed["function:planted.boom"].stderr_tail
    assert "Timeout (0:00:03)!" in crashed["function:planted.spin"].stderr_tail  # the watchdog
    items = {item.name: item for item in found.items()}
    assert items["planted.boom"].reason == "crashed discovery"
    assert items["planted.spin"].reason == "crashed discovery"
    assert items["planted.Widget.crash"].reason == "crashed discovery"
    assert items["planted.Widget.add"].reachable and items["planted.Widget.size"].reachable
    # Not denied, but the child's guard refuses writing outside its folder: the second line.
    assert items["planted.safe"].reason == "always raised"
    assert os.listdir(tmp_path / "marks") == []


COMPOSED = ("io", "array", "struct", "sqlite3", "csv", "weakref")


def test_objects_made_of_objects_are_subjects_with_nested_recipes(
    session: HarnessSession, cache: Path
) -> None:
    surface = load_surface(session, COMPOSED, (), DEFAULT_DENY, cache)
    reader = surface.subjects_of("_io.BufferedReader")
    assert reader, "no BufferedReader: its constructor needs a raw stream"
    recipe = recipe_to_json(reader[0].recipe)
    assert "BytesIO" in json.dumps(recipe), recipe  # the raw stream is rebuilt inside it
    assert surface.subjects_of("_io.BufferedRWPair")  # two streams
    assert surface.subjects_of("_io.TextIOWrapper")
    assert surface.subjects_of("sqlite3.Cursor")  # a cursor over a connection
    assert surface.subjects_of("array.array")  # a format code: array.array('b')
    assert surface.subjects_of("_struct.Struct")
    # a unit that hangs (a connection backed up onto another over the same file) is skipped
    assert len(surface.crashes) <= 2, surface.crashes
    for name in ("array", "struct", "csv", "sqlite3", "weakref"):
        module = surface.module(name)
        assert module is not None
        items = list(module.items)
        reached = sum(item.reachable for item in items)
        assert reached >= 0.8 * len(items), (name, reached, len(items))


def test_stub_types_come_before_the_pools(session: HarnessSession, tmp_path: Path) -> None:
    """``queue.Queue(maxsize: int = 0)``: the pools alone build ``Queue([1, 2, 3])``, whose
    every ``put`` raises; the stub's int builds a queue that works."""
    surface = load_surface(session, ("queue",), (), DEFAULT_DENY, tmp_path)
    assert surface.stats["stub_hinted"] > 0
    queues = surface.subjects_of("queue.Queue")
    assert queues
    for queue in queues:
        assert all(isinstance(recipe_from_json(arg), Lit) for arg in queue_arguments(queue))
        put = queue.member("put")
        assert put is not None and put.reachable and put.args


def queue_arguments(subject: Subject) -> list[object]:
    recipe = recipe_to_json(subject.recipe)
    return list(recipe.get("args", []))


def test_members_keep_argument_lists_that_return(session: HarnessSession, tmp_path: Path) -> None:
    """``JSONDecoder.decode('abc')`` raises ``JSONDecodeError`` (no ``TypeError``, so the call
    "completes"); valid JSON (a word like ``'1.5'``, or what ``json.dumps`` made) returns, and
    replaces it, so campaigns stop drawing a call that always raises."""
    surface = load_surface(session, ("json",), (), DEFAULT_DENY, tmp_path)
    decoders = surface.subjects_of("json.decoder.JSONDecoder")
    assert decoders
    for decoder in decoders:
        for name in ("decode", "raw_decode"):
            member = decoder.member(name)
            assert member is not None and member.reachable and member.args
            texts = [build(args[0], {}) for args in member.args]  # a word, or json.dumps(...)
            assert all(isinstance(text, str) for text in texts)
            assert all(json.loads(text) is not None for text in texts)


def test_what_a_module_made_feeds_its_inverse(session: HarnessSession, tmp_path: Path) -> None:
    """No pool value is marshal data or a zlib stream; what ``marshal.dumps`` and
    ``zlib.compress`` returned is, and becomes the argument of ``loads`` and ``decompress``;
    ``marshal.load`` reads it from a byte stream over it."""
    surface = load_surface(session, ("marshal", "zlib"), (), DEFAULT_DENY, tmp_path)
    inverses = (
        ("marshal.loads", "marshal.dumps"),
        ("marshal.load", "io.BytesIO"),
        ("zlib.decompress", "zlib."),
    )
    for inverse, maker in inverses:
        module = surface.module(inverse.partition(".")[0])
        assert module is not None
        item = next(item for item in module.items if item.name == inverse)
        assert item.reachable and item.args
        made = [recipe_to_json(args[0]) for args in item.args]
        assert any(maker in json.dumps(doc) for doc in made), made


def test_weak_proxies_point_at_live_referents_and_run_their_own_slots(
    session: HarnessSession, tmp_path: Path
) -> None:
    """A proxy of a temporary is dead at once; one of a kept referent lives, and its special
    methods (called through the proxy's type, not forwarded to the referent) are reachable."""
    surface = load_surface(session, ("weakref",), (), DEFAULT_DENY, tmp_path)
    for type_name in ("weakref.ProxyType", "weakref.CallableProxyType"):
        (proxy,) = surface.subjects_of(type_name)
        for name in ("__getitem__", "__setitem__", "__iadd__", "__ior__", "__len__"):
            member = proxy.member(name)
            assert member is not None and member.reachable, (type_name, name)
    assert surface.subjects_of("weakref.WeakMethod")
