"""The controller <-> fork server protocol: typed requests, and the version at the handshake."""

from __future__ import annotations

import pytest

from threadstorm.harness.protocol import (
    PROTOCOL_VERSION,
    KinshipRequest,
    ProtocolError,
    Quit,
    RunRequest,
    SurfaceRequest,
    decode,
    read_request,
    ready_facts,
    ready_line,
    request_line,
)


@pytest.mark.parametrize(
    "request_",
    [
        RunRequest(1, {"threadstorm_scenario": 2}, 2.5, {"core_size": 0}, reuse=8),
        SurfaceRequest(2, ["queue"], deny=["os.*"], inventory_only=True, hints={"a": [[]]}),
        KinshipRequest(3, [{"name": "x", "recipe": {"lit": 1}}], [{"lit": 2}], 9.0),
        Quit(),
    ],
)
def test_a_request_reads_back_as_itself(
    request_: RunRequest | SurfaceRequest | KinshipRequest | Quit,
) -> None:
    line = request_line(request_)
    assert decode(line)["op"] == request_.OP
    assert read_request(line) == request_


@pytest.mark.parametrize(
    "line", [b"[1, 2]\n", b"not json\n", b'{"op": "dance", "id": 1}\n', b'{"op": "run"}\n']
)
def test_a_line_that_is_no_request_is_a_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        read_request(line)


def test_the_ready_message_carries_the_version_and_the_facts() -> None:
    message = decode(ready_line({"version": "3.14.7", "debug": True}))
    assert message["protocol"] == PROTOCOL_VERSION
    assert ready_facts(message) == {"version": "3.14.7", "debug": True}


@pytest.mark.parametrize("version", [None, PROTOCOL_VERSION - 1, PROTOCOL_VERSION + 1])
def test_a_server_of_another_version_is_refused(version: int | None) -> None:
    message = {"event": "ready", "protocol": version, "version": "3.14.7"}
    with pytest.raises(ProtocolError, match=f"speaks protocol {version}"):
        ready_facts(message)
