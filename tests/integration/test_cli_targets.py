"""``threadstorm interpreters`` and ``threadstorm build-python`` against real targets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

CACHE = Path(os.environ.get("THREADSTORM_CACHE", Path.home() / ".cache" / "threadstorm"))
SHARED = Path(__file__).resolve().parents[3] / "shared" / "cpython"


def threadstorm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "threadstorm", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_interpreters_reports_the_313_debug_target(python313d: Path) -> None:
    done = threadstorm("interpreters", str(python313d), "--json", "--modules", "typing,collections")
    assert done.returncode == 0, done.stderr
    [facts] = json.loads(done.stdout)
    assert facts["path"] == str(python313d)
    assert facts["version"] == "3.13.5"
    assert facts["free_threaded"] is True
    assert facts["gil_enabled"] is False
    assert facts["debug"] is True
    assert facts["sanitizer"] is None
    assert facts["modules"] == ["typing", "collections"]
    assert "NOT a free-threaded" not in done.stderr and "GIL is ENABLED" not in done.stderr
    # the sandbox's layers are reported, and each one that is off is warned about
    assert "network" in facts["sandbox"] and "process limit" in facts["sandbox"]
    for warning in facts["sandbox_warnings"]:
        assert warning in " ".join(done.stderr.split())
    assert ("NOT isolated" in facts["sandbox"]) == any(
        "network isolation is OFF" in warning for warning in facts["sandbox_warnings"]
    )


def test_interpreters_table(python313d: Path) -> None:
    done = threadstorm("interpreters", str(python313d), env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if str(python313d) in line)
    cells = [cell.strip() for cell in row.strip("│ ").split("│")]
    assert cells[:6] == [str(python313d), "3.13.5", "yes", "off", "yes", "-"]
    assert cells[6].startswith(("network isolated", "network NOT isolated"))


def test_interpreters_warns_loudly_about_a_gil_build() -> None:
    done = threadstorm("interpreters", sys.executable, "--json")
    if json.loads(done.stdout)[0]["free_threaded"]:
        pytest.skip("the controller itself is free-threaded")
    assert done.returncode == 0
    assert "is NOT a free-threaded build" in done.stderr


def test_interpreters_unknown_module_is_one_line(python313d: Path) -> None:
    done = threadstorm("interpreters", str(python313d), "--modules", "no_such_module_xyz")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "no_such_module_xyz" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("kind", ["ls", "directory", "missing", "text file"])
def test_interpreters_rejects_non_pythons(tmp_path: Path, kind: str) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("print('hi')\n")
    path = {"ls": "/bin/ls", "directory": str(tmp_path), "missing": str(tmp_path / "nope"),
            "text file": str(text)}[kind]  # fmt: skip
    done = threadstorm("interpreters", path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith("threadstorm: error: ")
    assert "Traceback" not in done.stderr


FINISHED = [
    ("python3.13_3.13.5.orig.tar.xz", "3.13.5", "debug"),
    ("python3.14_3.14.7.orig.tar.xz", "3.14.7", "release"),
    ("python3.14_3.14.7.orig.tar.xz", "3.14.7", "debug"),
]


@pytest.mark.parametrize(("tarball", "version", "flavour"), FINISHED)
def test_build_python_reuses_a_finished_build(tarball: str, version: str, flavour: str) -> None:
    folder = CACHE / "pythons" / f"cpython-{version}-{flavour}"
    if not (folder / "BUILD-INFO.json").is_file():
        pytest.skip(f"{folder} is not a finished build-python build")
    if not (SHARED / tarball).is_file():
        pytest.skip(f"{SHARED / tarball} is missing")
    log_before = (folder / "build.log").stat().st_mtime_ns
    done = threadstorm(
        "build-python", "--source", str(SHARED / tarball), "--flavour", flavour,
        "--cache", str(CACHE),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    binary = "python{}.{}t{}".format(*version.split(".")[:2], "d" if flavour == "debug" else "")
    assert done.stdout.splitlines()[-1] == str(folder / "install" / "bin" / binary)
    assert "reusing the finished build" in done.stderr
    assert "configure" not in done.stderr
    assert (folder / "build.log").stat().st_mtime_ns == log_before
