"""The controller <-> fork server protocol: one JSON object per line, on dedicated pipes.

Requests go to the server's stdin; replies come back on a file descriptor of their own, so
nothing the code under test prints can be mistaken for a message.  Raw stderr is carried as
latin-1 text, which round-trips every byte unchanged.

Requests are typed (``RunRequest``, ``SurfaceRequest``, ``KinshipRequest``, ``Quit``): the
session writes them with ``request_line`` and the server reads them back with ``read_request``,
so both sides name the same fields.  The server's first message, ``ready``, carries its
``PROTOCOL_VERSION`` beside the target's facts, and the session refuses a server that speaks
another (``ready_facts``).  Standard library only.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

PROTOCOL_VERSION = 2  # 2: typed requests, the version in the ready message


class ProtocolError(ValueError):
    """A message this side cannot read: not JSON, an unknown request, another version."""


@dataclass(frozen=True)
class RunRequest:
    """Run one scenario (its JSON) in a child; ``reuse`` > 1 lets one child serve that many."""

    OP: ClassVar[str] = "run"
    id: int
    scenario: dict[str, Any]
    timeout: float = 10.0
    limits: dict[str, Any] = field(default_factory=dict)
    reuse: int = 1


@dataclass(frozen=True)
class SurfaceRequest:
    """Discover what modules and packages offer (``introspect.discover``), in a child.

    ``inventory_only`` stops after the imports; ``unit_timeout`` is the seconds before the
    watchdog ends a hung unit of work (None: from the time left); ``hints`` are typed argument
    lists by dotted path, tried before the pools.
    """

    OP: ClassVar[str] = "surface"
    id: int
    modules: list[str]
    packages: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    timeout: float = 300.0
    limits: dict[str, Any] = field(default_factory=dict)
    inventory_only: bool = False
    unit_timeout: float | None = None
    hints: dict[str, list[list[Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class KinshipRequest:
    """What each recipe builds, after the scenario's shared objects (name and recipe JSON)."""

    OP: ClassVar[str] = "kinship"
    id: int
    shared: list[dict[str, Any]]
    recipes: list[dict[str, Any]]
    timeout: float = 60.0
    limits: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quit:
    """End the server."""

    OP: ClassVar[str] = "quit"


Request = RunRequest | SurfaceRequest | KinshipRequest | Quit
REQUESTS: dict[str, type[Request]] = {
    kind.OP: kind for kind in (RunRequest, SurfaceRequest, KinshipRequest, Quit)
}


def request_line(request: Request) -> bytes:
    """A request as one protocol line."""
    return encode({"op": request.OP, **dataclasses.asdict(request)})


def read_request(line: bytes) -> Request:
    """A protocol line back to its request; ``ProtocolError`` when it is none."""
    try:
        message = decode(line)
    except ValueError as error:
        raise ProtocolError(f"request is not a JSON object: {line[:80]!r}") from error
    kind = REQUESTS.get(str(message.pop("op", "")))
    if kind is None:
        raise ProtocolError(f"unknown request {line[:80]!r}; known: {sorted(REQUESTS)}")
    names = {f.name for f in dataclasses.fields(kind)}
    try:
        return kind(**{key: value for key, value in message.items() if key in names})
    except TypeError as error:
        raise ProtocolError(f"malformed {kind.OP} request: {error}") from error


def ready_line(facts: dict[str, Any]) -> bytes:
    """The server's first message: its protocol version and the target's facts."""
    return encode({"event": "ready", "protocol": PROTOCOL_VERSION, **facts})


def ready_facts(message: dict[str, Any]) -> dict[str, Any]:
    """The facts of a ``ready`` message; ``ProtocolError`` when it speaks another version."""
    version = message.get("protocol")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"the harness in the target speaks protocol {version}, this threadstorm speaks "
            f"{PROTOCOL_VERSION}"
        )
    return {key: value for key, value in message.items() if key not in ("event", "protocol")}


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
