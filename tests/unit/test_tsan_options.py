"""ThreadSanitizer settings for TSan targets: options, CPython's suppressions, the user's."""

from __future__ import annotations

from pathlib import Path

import pytest

from threadstorm.errors import TargetError
from threadstorm.target.interpreter import Interpreter, checked_suppressions
from threadstorm.target.session import target_environment
from threadstorm.target.tsan import (
    SUPPRESSIONS_IN_TREE,
    combined_suppressions,
    cpython_suppressions,
    tsan_options,
)


def build_folder(tmp_path: Path) -> Path:
    """A ``build-python`` layout: FOLDER/install/bin/python3.14td beside FOLDER/src/Python-*/."""
    folder = tmp_path / "cpython-3.14.7-tsan"
    (folder / "install" / "bin").mkdir(parents=True)
    binary = folder / "install" / "bin" / "python3.14td"
    binary.write_text("")
    suppressions = folder / "src" / "Python-3.14.7" / SUPPRESSIONS_IN_TREE
    suppressions.parent.mkdir(parents=True)
    suppressions.write_text("race:_PyObject_GC_Link\n")
    return binary


def test_cpython_suppressions_are_found_in_the_build_folder(tmp_path: Path) -> None:
    binary = build_folder(tmp_path)
    found = cpython_suppressions(binary, source_dir=str(tmp_path / "gone"))
    assert found is not None and found.read_text() == "race:_PyObject_GC_Link\n"
    assert cpython_suppressions(tmp_path / "elsewhere" / "bin" / "python3") is None


def test_the_source_tree_named_by_sysconfig_comes_first(tmp_path: Path) -> None:
    binary = build_folder(tmp_path)
    tree = tmp_path / "tree"
    (tree / SUPPRESSIONS_IN_TREE).parent.mkdir(parents=True)
    (tree / SUPPRESSIONS_IN_TREE).write_text("race:mine\n")
    assert cpython_suppressions(binary, source_dir=str(tree)) == tree / SUPPRESSIONS_IN_TREE


def test_files_are_combined_into_one_because_tsan_reads_one(tmp_path: Path) -> None:
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text("race:one\n")
    second.write_text("race:two\n")
    combined = combined_suppressions([first, second], tmp_path)
    assert combined is not None
    text = combined.read_text()
    assert "race:one" in text and "race:two" in text
    assert combined_suppressions([], tmp_path) is None


def test_options_keep_going_after_a_race_and_leave_crashes_to_faulthandler() -> None:
    options = tsan_options(Path("/s.txt")).split()
    assert "halt_on_error=0" in options
    assert "handle_segv=0" in options
    assert "suppressions=/s.txt" in options
    assert not any(option.startswith("suppressions=") for option in tsan_options(None).split())
    assert "exitcode=0" in options  # a child's later, quiet run is not blamed for a report
    script = tsan_options(None, halt=True).split()
    assert "halt_on_error=1" in script and "exitcode=0" not in script  # scripts stop, exit 66


def test_only_tsan_targets_get_tsan_options(tmp_path: Path) -> None:
    binary = build_folder(tmp_path)
    sandbox = tmp_path / "run" / "sandbox"
    sandbox.mkdir(parents=True)
    suppressions = cpython_suppressions(binary)
    assert suppressions is not None
    plain = Interpreter(binary, "3.14.7", free_threaded=True, debug=True)
    assert "TSAN_OPTIONS" not in target_environment(plain, sandbox)
    tsan = Interpreter(binary, "3.14.7", True, True, tsan=True, suppressions=(suppressions,))
    options = target_environment(tsan, sandbox)["TSAN_OPTIONS"]
    combined = sandbox.parent / "tsan-suppressions.txt"
    assert f"suppressions={combined}" in options
    assert "race:_PyObject_GC_Link" in combined.read_text()


def test_a_missing_suppression_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
        checked_suppressions(tmp_path / "nope.txt")
    binary = tmp_path / "bytes.txt"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(TargetError, match="cannot be read as text"):
        checked_suppressions(binary)
