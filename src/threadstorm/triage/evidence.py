"""Evidence: everything a run of a scenario left behind, exactly as the harness collected it."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

from threadstorm.harness.protocol import text_to_bytes


@dataclass(frozen=True)
class Evidence:
    """The raw facts of one run: how the child ended, what it printed, what it told us."""

    wait_status: int
    exit_code: int
    timed_out: bool
    duration_s: float
    stderr: bytes
    messages: tuple[dict[str, Any], ...] = ()
    in_flight: tuple[int | None, ...] = ()
    harness_error: str | None = None
    backtrace: str | None = None  # symbolised native backtrace, when one was taken
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def signal(self) -> int | None:
        """The signal that ended the child, if one did."""
        if os.WIFSIGNALED(self.wait_status):
            return os.WTERMSIG(self.wait_status)
        return None

    @property
    def signal_name(self) -> str | None:
        """``SIGSEGV`` and the like, or None."""
        number = self.signal
        if number is None:
            return None
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"

    def message(self, event: str) -> dict[str, Any] | None:
        """The child's last message of kind ``event`` (``setup``, ``done``, ``setup_failed``)."""
        for message in reversed(self.messages):
            if message.get("event") == event:
                return dict(message)
        return None

    @property
    def slow(self) -> bool:
        """Past its deadline but still completing operations: too slow, not hung."""
        return bool(self.extra.get("slow"))

    @property
    def hangs_alone(self) -> bool:
        """Timed out, and the stuck thread's plan hung in one thread too: not concurrent."""
        return bool(self.extra.get("hangs_alone"))

    @property
    def hang_not_repeated(self) -> bool:
        """Looked hung once, but no rerun of the scenario hung again: not a finding."""
        return bool(self.extra.get("hang_not_repeated"))

    @property
    def killed_workers(self) -> bool:
        """The Dask workers running this scenario kept dying (see ``worker_killer``)."""
        return bool(self.extra.get("killed_workers"))

    @classmethod
    def worker_killer(cls) -> Evidence:
        """The evidence of a scenario whose Dask workers died more often than the scheduler
        allows: no child ever reported back, so only that fact is known (it is quarantined,
        not run again; ``campaign.dask_executor``)."""
        return cls(0, 0, False, 0.0, b"", extra={"killed_workers": True})

    @property
    def stderr_text(self) -> str:
        """Stderr decoded for parsing and display (undecodable bytes replaced)."""
        return self.stderr.decode("utf-8", "replace")

    @classmethod
    def from_reply(cls, reply: dict[str, Any]) -> Evidence:
        """Evidence from a fork server reply (``result`` or ``harness_error``)."""
        if reply.get("event") == "harness_error":
            return cls(
                wait_status=0,
                exit_code=0,
                timed_out=False,
                duration_s=0.0,
                stderr=b"",
                harness_error=str(reply.get("error", "unknown harness error")),
            )
        return cls(
            wait_status=int(reply["wait_status"]),
            exit_code=int(reply["exit_code"]),
            timed_out=bool(reply["timed_out"]),
            duration_s=float(reply["duration_s"]),
            stderr=text_to_bytes(reply.get("stderr", "")),
            messages=tuple(reply.get("messages", ())),
            in_flight=tuple(reply.get("in_flight", ())),
            extra={"slow": True} if reply.get("slow") else {},
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe form for the store (stderr kept as latin-1 text, lossless)."""
        return {
            "wait_status": self.wait_status,
            "exit_code": self.exit_code,
            "timed_out": self.timed_out,
            "duration_s": self.duration_s,
            "stderr": self.stderr.decode("latin-1"),
            "messages": list(self.messages),
            "in_flight": list(self.in_flight),
            "harness_error": self.harness_error,
            "backtrace": self.backtrace,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Evidence:
        """Inverse of ``to_json``."""
        return cls(
            wait_status=int(doc["wait_status"]),
            exit_code=int(doc["exit_code"]),
            timed_out=bool(doc["timed_out"]),
            duration_s=float(doc["duration_s"]),
            stderr=str(doc.get("stderr", "")).encode("latin-1"),
            messages=tuple(doc.get("messages", ())),
            in_flight=tuple(doc.get("in_flight", ())),
            harness_error=doc.get("harness_error"),
            backtrace=doc.get("backtrace"),
            extra=dict(doc.get("extra", {})),
        )
