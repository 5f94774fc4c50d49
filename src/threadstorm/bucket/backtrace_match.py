"""Whether a gdb run of a bucket's script crashed the way the bucket did.

Follow-up takes a bucket's backtrace by running its script under gdb until it crashes.  A
script storms until the first crash, and a target with several bugs in the same types may crash
at another one first: a shared-generator script whose bucket is an assertion segfaults in the
same race instead, a script of one segfault dies on another's assertion.  Such a backtrace shows
another crash: the bucket's report would pair a title with someone else's stack, and merging by
native site (``bucket.merge``) would fold the bucket into that other bug.

gdb stops the program at the fatal signal, before faulthandler writes its dump, so what a gdb
text can say about the crash is the signal and what the program printed before it: a failed
assertion, a fatal error.  Those are compared with the bucket's signature:

- an assertion or fatal-error bucket: the run printed the same assertion (file, function,
  expression) or the same fatal error;
- a bucket signed by a signal (kinds ``native`` and ``python``): the same signal, and no
  assertion or fatal error of its own (one would have signed the bucket);
- other kinds (generic corruption checks, hangs, sanitizer reports): not checked; a corruption
  check's backtrace is kept for where the damage was noticed, and is never merged by.
"""

from __future__ import annotations

import signal

from threadstorm.bucket.context import Context
from threadstorm.bucket.identity import Signature
from threadstorm.bucket.signature import crash_signature
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.facts import crash_facts
from threadstorm.triage.parsers import parse_gdb_backtrace

CHECKED_KINDS = frozenset({"assertion", "fatal", "native", "python"})
SIGNAL_KINDS = frozenset({"native", "python"})


def backtrace_shows(signature: Signature, text: str) -> bool:
    """Whether the gdb ``text`` of a script's run shows the crash ``signature`` names."""
    if signature.kind not in CHECKED_KINDS:
        return True
    found = gdb_run_signature(text)
    if found is None:
        return False
    if signature.kind in SIGNAL_KINDS:
        return found.kind in SIGNAL_KINDS and found.parts[:1] == signature.parts[:1]
    return found == signature


def gdb_run_signature(text: str) -> Signature | None:
    """The signature of a gdb run as far as its text tells: the signal gdb stopped on and the
    assertion or fatal error the program printed; no Python facts (the script has none of the
    harness's), no frames (faulthandler never ran).  None when gdb saw no fatal signal."""
    backtrace = parse_gdb_backtrace(text)
    if backtrace is None or backtrace.signal is None:
        return None
    try:
        number = signal.Signals[backtrace.signal].value
    except KeyError:
        return None
    evidence = Evidence(
        wait_status=number,  # as ``os.waitpid`` reports a death by that signal
        exit_code=-number,
        timed_out=False,
        duration_s=0.0,
        stderr=text.encode("utf-8", "replace"),
    )
    return crash_signature(crash_facts(evidence), Context())


def gdb_run_description(text: str) -> str:
    """A few words on how a gdb run crashed, for a line saying its backtrace was not kept."""
    found = gdb_run_signature(text)
    if found is None:
        return "no fatal signal"
    if found.kind == "corruption" and not found.parts:
        return "a reference-count or allocator check"
    return found.title
