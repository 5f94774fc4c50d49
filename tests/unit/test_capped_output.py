"""Capped reading of a process's output: head and tail kept, the deadline kills, files too."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from threadstorm.harness.pipes import MAX_STDERR, TRUNCATED
from threadstorm.target.capped_output import CAP_BYTES, read_capped, read_file_capped

FLOOD_THEN_END = (
    "import sys; out = sys.stdout.buffer; out.write(b'head'); "
    "[out.write(b'x' * 65536) for _ in range(64)]; out.write(b'END')"
)
ENDLESS = "import sys\nwhile True: sys.stdout.buffer.write(b'x' * 65536)"


def start(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)


def test_a_flood_keeps_its_head_and_its_end() -> None:
    process = start(FLOOD_THEN_END)
    captured = read_capped(process, 60, process.kill)
    assert not captured.timed_out
    assert process.returncode == 0
    assert len(captured.output) <= CAP_BYTES
    assert captured.output.startswith(b"head")
    assert captured.output.endswith(b"END")
    assert TRUNCATED in captured.output


def test_the_deadline_kills_an_endless_writer() -> None:
    process = start(ENDLESS)
    captured = read_capped(process, 0.5, process.kill)
    assert captured.timed_out
    assert process.returncode is not None and process.returncode < 0
    assert len(captured.output) <= CAP_BYTES


def test_a_file_keeps_its_head_and_tail(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.write_bytes(b"short")
    assert read_file_capped(small) == b"short"
    big = tmp_path / "big"
    big.write_bytes(b"H" + b"x" * (3 * MAX_STDERR) + b"T")
    kept = read_file_capped(big)
    assert len(kept) <= CAP_BYTES
    assert kept.startswith(b"H") and kept.endswith(b"T") and TRUNCATED in kept
    assert read_file_capped(tmp_path / "missing") == b""
