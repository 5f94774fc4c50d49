"""The target's facts as one typed value: how the interpreter was built and how it ran.

The fork server measures them from inside the target (``harness.probe``) and reports them in
its ``ready`` message; the session adds whether its process tree runs in a pids cgroup.  A
campaign stores that document with its configuration, so ``TargetFacts.from_probe`` serves the
``interpreters`` command, a campaign as it starts, and every report alike.  (``Interpreter`` is
what comes before: the binary that answered the pre-probe, before any harness ran in it.)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from threadstorm.target.sandbox_facts import sandbox_summary, sandbox_warnings


@dataclass(frozen=True)
class TargetFacts:
    """How the target interpreter was built and how it ran."""

    executable: str = ""
    version: str = "unknown"
    free_threaded: bool = True
    gil_enabled: bool = False  # at run time, after the campaign's imports
    debug: bool = False
    sanitizer: str | None = None  # thread, address or None
    config_args: str = ""
    sandbox: str = ""  # the sandbox's layers in words (``sandbox_facts.sandbox_summary``)
    sandbox_warnings: tuple[str, ...] = ()  # sandbox layers that were off (``sandbox_facts``)

    @property
    def label(self) -> str:
        """E.g. ``CPython 3.13.5 free-threaded, debug build``."""
        if self.version == "unknown":
            return "target not recorded"
        kind = "free-threaded" if self.free_threaded else "default (GIL)"
        parts = [f"CPython {self.version}", kind, "debug build" if self.debug else "release build"]
        if self.sanitizer:
            parts.append(f"{self.sanitizer} sanitizer")
        return " ".join(parts[:2]) + ", " + ", ".join(parts[2:])

    @property
    def warnings(self) -> tuple[str, ...]:
        """Loud facts that make the campaign's results weaker, or its sandbox thinner."""
        if not self.free_threaded:
            return (
                "the target is not a free-threaded build: its GIL lets one thread run at a time, "
                "so most races cannot happen",
                *self.sandbox_warnings,
            )
        if self.gil_enabled:
            return (
                "the GIL was enabled at run time (an imported extension does not declare "
                "Py_mod_gil): threads did not run in parallel, so most races cannot happen",
                *self.sandbox_warnings,
            )
        return self.sandbox_warnings

    @classmethod
    def from_probe(cls, doc: Mapping[str, Any]) -> TargetFacts:
        """From the probe's document (a session's ``facts``, or as a campaign stored it)."""
        sanitizer = doc.get("sanitizer")
        return cls(
            executable=str(doc.get("executable", "")),
            version=str(doc.get("version", "unknown")),
            free_threaded=bool(doc.get("free_threaded", True)),
            gil_enabled=bool(doc.get("gil_enabled", False)),
            debug=bool(doc.get("debug", False)),
            sanitizer=None if sanitizer is None else str(sanitizer),
            config_args=str(doc.get("config_args", "")),
            sandbox=sandbox_summary(doc) if doc else "",
            sandbox_warnings=tuple(sandbox_warnings(doc)),
        )
