"""The planted-bug fixture does what the other tests rely on, checked without threadstorm.

Plain threaded storms run in the target: the two planted bugs crash it (the Lazy one with its
failed C assertion in a debug target), the clean twin never does, and neither module turns the
GIL back on.  Crashes are classified by return code first (a negative code is the signal), then
by the fatal error line.  Races are probabilistic: each check repeats up to ``RUNS`` storms.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from fixtures.build_fixture import build_planted

pytestmark = pytest.mark.integration

RUNS = 10  # storms per check: the planted bugs crash nearly every storm, the bound is slack
STORM_TIMEOUT_S = 120  # a storm takes about a second; past this it hung, which is a failure
SURVIVED = "storm survived"  # the last line of a storm that ends
LAZY_ASSERTION = re.compile(
    r"planted\.c:\d+: Lazy_get_parameters: Assertion [`']PyTuple_Check\(value\)' failed"
)

# Standard library only: this runs inside the bare target.  argv: folder, module, storm.
STORM = '''
import resource
import sys
import threading

resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core files in the test folder
sys.path.insert(0, sys.argv[1])
module = __import__(sys.argv[2])
if sys._is_gil_enabled():
    sys.exit(f"the GIL is on after importing {sys.argv[2]}")
THREADS = 4


def storm(workers):
    """Run the workers together, released at once by a barrier."""
    barrier = threading.Barrier(len(workers))

    def released(work):
        barrier.wait()
        work()

    threads = [threading.Thread(target=released, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def bag_storm(rounds=20, iterations=200):
    """Two threads repr() a bag while two others append, pop and clear it."""
    for _ in range(rounds):
        bag = module.Bag([[str(i)] * 8 for i in range(20)])

        def reader():
            for _ in range(iterations):
                repr(bag)

        def mutator(phase):
            for i in range(iterations):
                bag.append([str(i)] * 8)
                bag.append({i: str(i)})
                try:
                    bag.pop()
                except IndexError:
                    pass
                if i % 16 == phase:
                    bag.clear()

        storm([reader, reader, lambda: mutator(0), lambda: mutator(1)])


def lazy_storm(rounds=300):
    """Every thread touches .parameters of a fresh Lazy at the same moment."""
    for _ in range(rounds):
        lazy = module.Lazy()
        storm([lambda: lazy.parameters] * THREADS)


{"bag": bag_storm, "lazy": lazy_storm}[sys.argv[3]]()
print("storm survived", file=sys.stderr)
'''


@dataclass(frozen=True)
class StormRun:
    returncode: int
    stderr: str

    @property
    def crashed(self) -> bool:
        """Killed by a signal, or a fatal error that exited without one."""
        return self.returncode < 0 or "Fatal Python error" in self.stderr

    @property
    def signal_name(self) -> str:
        return signal.Signals(-self.returncode).name if self.returncode < 0 else "none"

    def describe(self) -> str:
        tail = " | ".join(self.stderr.strip().splitlines()[:3])
        return f"returncode {self.returncode} (signal {self.signal_name}): {tail}"


RunStorm = Callable[[str, str], StormRun]


@pytest.fixture(scope="session")
def planted_dir(python313d: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_planted(python313d, tmp_path_factory.mktemp("planted"))


@pytest.fixture
def run_storm(python313d: Path, planted_dir: Path, tmp_path: Path) -> RunStorm:
    script = tmp_path / "storm.py"
    script.write_text(STORM)
    env = {**os.environ, "PYTHON_GIL": "0"}

    def run(module: str, kind: str) -> StormRun:
        done = subprocess.run(
            [str(python313d), "-X", "faulthandler", str(script), str(planted_dir), module, kind],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=STORM_TIMEOUT_S,
        )
        return StormRun(done.returncode, done.stderr)

    return run


def storms_until(run_storm: RunStorm, kind: str, wanted: Callable[[StormRun], bool]) -> StormRun:
    """Storm ``planted`` up to RUNS times; the first run that is ``wanted``, else the last one."""
    for _ in range(RUNS):
        run = run_storm("planted", kind)
        if wanted(run):
            break
    return run


def test_modules_keep_the_gil_off(python313d: Path, planted_dir: Path) -> None:
    code = (
        f"import sys; sys.path.insert(0, {str(planted_dir)!r}); "
        "import planted, planted_clean; print(sys._is_gil_enabled())"
    )
    done = subprocess.run(
        [str(python313d), "-c", code],
        check=False,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON_GIL": "0"},
        timeout=STORM_TIMEOUT_S,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_bag_repr_storm_crashes(run_storm: RunStorm) -> None:
    crash = storms_until(run_storm, "bag", lambda run: run.crashed)
    assert crash.crashed, f"no crash in {RUNS} Bag storms: {crash.describe()}"
    assert crash.signal_name in ("SIGSEGV", "SIGABRT", "SIGBUS"), crash.describe()


def test_lazy_first_touch_storm_fails_its_assertion(run_storm: RunStorm) -> None:
    # The assertion is the first fatal event, but the process may end on SIGSEGV instead of
    # SIGABRT: the other threads keep racing while faulthandler reports the abort.
    crash = storms_until(run_storm, "lazy", lambda run: bool(LAZY_ASSERTION.search(run.stderr)))
    assert crash.crashed, f"no crash in {RUNS} Lazy storms: {crash.describe()}"
    assert LAZY_ASSERTION.search(crash.stderr), crash.describe()
    assert crash.signal_name in ("SIGABRT", "SIGSEGV"), crash.describe()


@pytest.mark.parametrize("kind", ["bag", "lazy"])
def test_clean_twin_survives_every_storm(run_storm: RunStorm, kind: str) -> None:
    for _ in range(RUNS):
        run = run_storm("planted_clean", kind)
        assert not run.crashed, run.describe()
        assert run.returncode == 0, run.describe()
        assert SURVIVED in run.stderr, run.describe()
