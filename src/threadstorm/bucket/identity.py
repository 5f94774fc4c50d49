"""Signatures and buckets: one signature, one bucket, one bug."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

SIGNATURE_VERSION = 4
UNKNOWN_SIDE = "?"  # a race side whose stack ThreadSanitizer could not restore


@dataclass(frozen=True)
class Signature:
    """The identity of a failure, built by the written rules in ``threadstorm.bucket.signature``.

    ``kind`` says which rule produced it (``assertion``, ``native``, ``python``, ``race``,
    ``hang``); ``parts`` are the normalised facts it rests on, in order.
    """

    kind: str
    parts: tuple[str, ...]
    version: int = SIGNATURE_VERSION

    @property
    def key(self) -> str:
        """A short stable id: the bucket's name in the store and on the command line."""
        text = json.dumps([self.version, self.kind, list(self.parts)])
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def title(self) -> str:
        """One human line, e.g. ``assertion: itertoolsmodule.c product_next: npools==0 ...``."""
        return f"{self.kind}: {' | '.join(self.parts)}"[:200]

    def admits(self, other: Signature) -> bool:
        """Whether a run signed ``other`` shows this failure: the same signature, or, for a race
        with a side ThreadSanitizer could not restore (``?``: it fell out of the history), a race
        with every known side of this one."""
        if other.key == self.key:
            return True
        if self.kind != "race" or other.kind != "race" or UNKNOWN_SIDE not in self.parts:
            return False
        return all(side in other.parts for side in self.parts if side != UNKNOWN_SIDE)

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "kind": self.kind,
            "parts": list(self.parts),
            "key": self.key,
        }

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Signature:
        parts = doc.get("parts", [])
        assert isinstance(parts, list)
        return cls(
            kind=str(doc["kind"]),
            parts=tuple(str(p) for p in parts),
            version=int(str(doc.get("version", SIGNATURE_VERSION))),
        )
