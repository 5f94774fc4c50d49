"""Shared fixtures: the real free-threaded targets the integration tests run.

Targets are built by ``threadstorm build-python`` (``.ci/run`` does it) and found through the
environment variables below, or in the default build cache.  Outside CI a missing target skips
the test with the command that builds it; in CI (``CI=true``) a missing target fails the test.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CACHE = Path(os.environ.get("THREADSTORM_CACHE", Path.home() / ".cache" / "threadstorm"))

BUILD = "threadstorm build-python --source"
SOURCES = "../shared/cpython"
TARGETS = {
    # fixture name: (environment variable, default path in the build cache, how to build it)
    "python313d": (
        "THREADSTORM_PY313D",
        CACHE / "pythons/cpython-3.13.5-debug/install/bin/python3.13td",
        f"{BUILD} {SOURCES}/python3.13_3.13.5.orig.tar.xz --flavour debug",
    ),
    "python314": (
        "THREADSTORM_PY314",
        CACHE / "pythons/cpython-3.14.7-release/install/bin/python3.14t",
        f"{BUILD} {SOURCES}/python3.14_3.14.7.orig.tar.xz --flavour release",
    ),
    "python314d": (
        "THREADSTORM_PY314D",
        CACHE / "pythons/cpython-3.14.7-debug/install/bin/python3.14td",
        f"{BUILD} {SOURCES}/python3.14_3.14.7.orig.tar.xz --flavour debug",
    ),
    "python314tsan": (
        "THREADSTORM_PY314TSAN",
        CACHE / "pythons/cpython-3.14.7-tsan/install/bin/python3.14td",
        f"{BUILD} {SOURCES}/python3.14_3.14.7.orig.tar.xz --flavour tsan",
    ),
}


def _target(name: str) -> Path:
    variable, default, command = TARGETS[name]
    path = Path(os.environ.get(variable, default))
    if not path.exists():
        message = f"target {name} not built: run `{command}` or set {variable}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def python313d() -> Path:
    """CPython 3.13.5 free-threaded debug build."""
    return _target("python313d")


@pytest.fixture(scope="session")
def python314() -> Path:
    """CPython 3.14.7 free-threaded release build."""
    return _target("python314")


@pytest.fixture(scope="session")
def python314d() -> Path:
    """CPython 3.14.7 free-threaded debug build."""
    return _target("python314d")


@pytest.fixture(scope="session")
def python314tsan() -> Path:
    """CPython 3.14.7 free-threaded debug build with ThreadSanitizer."""
    return _target("python314tsan")
