"""Scripts that print without end, run the ways follow-up and ``repro --runs`` run them.

A reproducer calls whatever the campaign's modules offer, and some of it prints forever.  Each
run of a script (``reproduce.rate.run_script``) and each gdb run of one (``triage.gdb``) keeps
at most ``CAP_BYTES`` of its output, and still sees a crash that comes after the flood.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from threadstorm.reproduce.rate import run_script
from threadstorm.target.capped_output import CAP_BYTES
from threadstorm.target.confined_script import Confinement, confined_script
from threadstorm.target.interpreter import discover
from threadstorm.triage.classify import classify
from threadstorm.triage.gdb import native_backtrace
from threadstorm.triage.outcome import Status
from threadstorm.triage.parsers import parse_gdb_backtrace

pytestmark = [pytest.mark.integration]

FLOOD = """\
import sys
import time

line = "x" * 200 + "\\n"
stop = time.monotonic() + {seconds}
while time.monotonic() < stop:
    sys.stdout.write(line)
    sys.stderr.write(line)
"""
CRASH = "import faulthandler\nfaulthandler._sigsegv()\n"
ENDLESS = FLOOD.format(seconds=10**6)
FLOOD_THEN_CRASH = FLOOD.format(seconds=3) + CRASH


def test_endless_output_is_capped_and_the_run_ends(python313d: Path, tmp_path: Path) -> None:
    script = tmp_path / "endless.py"
    script.write_text(ENDLESS)
    evidence = run_script(discover(python313d), script, 5, Confinement())
    assert evidence.timed_out
    assert 0 < len(evidence.stderr) <= CAP_BYTES
    assert b"output truncated" in evidence.stderr


def test_a_crash_after_endless_output_is_seen(python313d: Path, tmp_path: Path) -> None:
    script = tmp_path / "flood_then_crash.py"
    script.write_text(FLOOD_THEN_CRASH)
    evidence = run_script(discover(python313d), script, 60, Confinement())
    assert not evidence.timed_out
    assert len(evidence.stderr) <= CAP_BYTES
    assert classify(evidence).status is Status.CRASHED
    assert b"Segmentation fault" in evidence.stderr[-4096:]


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
def test_gdb_keeps_the_backtrace_after_endless_output(python313d: Path) -> None:
    with confined_script(discover(python313d), FLOOD_THEN_CRASH, Confinement(), 60) as run:
        text = native_backtrace(run.argv, 60, run.env, run.cwd)
    assert text is not None, "gdb saw no crash"
    assert len(text.encode()) <= CAP_BYTES
    backtrace = parse_gdb_backtrace(text)
    assert backtrace is not None
    assert backtrace.signal == "SIGSEGV"


@pytest.mark.skipif(shutil.which("gdb") is None, reason="gdb is not installed")
def test_gdb_on_endless_output_ends_at_its_deadline(python313d: Path) -> None:
    with confined_script(discover(python313d), ENDLESS, Confinement(), 5) as run:
        assert native_backtrace(run.argv, 5, run.env, run.cwd) is None
