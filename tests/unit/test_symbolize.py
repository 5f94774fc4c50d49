"""C stack symbolisation: bases from unnamed frames, names from addr2line."""

from __future__ import annotations

from threadstorm.triage.parsers import NativeFrame
from threadstorm.triage.symbolize import binary_bases, frame_names


def test_base_comes_from_a_frame_printed_relative_to_the_binary() -> None:
    frames = [
        NativeFrame("PyObject_Call", library="/bin/py", offset=0x20, address=0x5000_1020),
        NativeFrame(None, library="/bin/py", offset=0x1000, address=0x5000_1000),
        NativeFrame(None, library="/lib/libc.so.6", offset=0x3C050, address=0x7003_C050),
    ]
    assert binary_bases(frames) == {"/bin/py": 0x5000_0000, "/lib/libc.so.6": 0x7000_0000}


def test_frames_of_an_unknown_binary_stay_unnamed() -> None:
    frames = [NativeFrame(None, library="/no/such/binary", offset=0x10, address=0x1010)]
    assert frame_names(frames) == [None]
