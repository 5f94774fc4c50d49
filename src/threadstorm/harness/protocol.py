"""The controller <-> fork server protocol: one JSON object per line, on dedicated pipes.

Requests go to the server's stdin; replies come back on a file descriptor of their own, so
nothing the code under test prints can be mistaken for a message.  Raw stderr is carried as
latin-1 text, which round-trips every byte unchanged.  Standard library only.
"""

from __future__ import annotations

import json
import os
from typing import Any

PROTOCOL_VERSION = 1


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of UTF-8 JSON."""
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One line back to a message; raise ValueError when it is not a JSON object."""
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError(f"protocol message is not an object: {line[:80]!r}")
    return message


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to ``fd`` (pipes may take less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def bytes_to_text(raw: bytes) -> str:
    """Raw bytes as JSON-safe text, losslessly."""
    return raw.decode("latin-1")


def text_to_bytes(text: str) -> bytes:
    """Inverse of ``bytes_to_text``."""
    return text.encode("latin-1")
