"""ThreadSanitizer settings for a TSan target: every race of a run reported, known races muted.

``halt_on_error=0`` is set explicitly (a user's ``TSAN_OPTIONS`` never reaches the target), so a
run goes on after a race and reports every distinct race it meets, each once per process; fleet
runs found about a third more distinct races that way than by stopping at the first.
CPython keeps the races it knows and accepts in ``Tools/tsan/suppressions_free_threading.txt``;
that file is used whenever the target's source tree can be found (a ``build-python`` target
keeps its tree in its build folder), and the user's own ``--suppressions`` files are added to it.

A reproducer script is run with ``halt_on_error=1`` instead: it stops at the first report, with
ThreadSanitizer's exit status 66.  Campaign children exit 0 whatever they reported: one child
serves several scenarios, and the report belongs to the run whose stderr holds it.

``handle_segv=0`` leaves crashes to faulthandler, so a crash on a TSan target reads (and
buckets) as on any other build; ``report_signal_unsafe=0`` silences the reports of
faulthandler's own signal handler.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

SUPPRESSIONS_IN_TREE = Path("Tools/tsan/suppressions_free_threading.txt")
COMBINED_NAME = "tsan-suppressions.txt"
BASE_OPTIONS = (
    "handle_segv=0",
    "report_signal_unsafe=0",
    "second_deadlock_stack=1",
    # remember more of each thread's past accesses, so the earlier side of a race keeps its
    # stack instead of "[failed to restore the stack]" (which makes a ``?`` side)
    "history_size=4",
)


def cpython_suppressions(interpreter: Path, source_dir: str | None = None) -> Path | None:
    """CPython's own suppression file for ``interpreter``, when its source tree can be found.

    Looked for in ``source_dir`` (the tree the build was configured in, as ``sysconfig`` says),
    then in the ``build-python`` layout (``FOLDER/install/bin/python`` beside ``FOLDER/src/*/``).
    """
    candidates = []
    if source_dir:
        candidates.append(Path(source_dir) / SUPPRESSIONS_IN_TREE)
    folder = interpreter.absolute().parent.parent.parent
    candidates.extend(sorted((folder / "src").glob(f"*/{SUPPRESSIONS_IN_TREE}")))
    return next((path for path in candidates if path.is_file()), None)


def combined_suppressions(files: Sequence[Path], destination: Path) -> Path | None:
    """One suppression file holding all of ``files`` (TSan reads only one), or None if none."""
    if not files:
        return None
    parts = [f"# from {path}\n{path.read_text('utf-8', 'replace')}" for path in files]
    target = destination / COMBINED_NAME
    target.write_text("\n".join(parts), encoding="utf-8")
    return target


def tsan_options(suppressions: Path | None, halt: bool = False) -> str:
    """The ``TSAN_OPTIONS`` value for a run of generated code.

    ``halt`` ends the process at its first report: for a standalone reproducer, which repeats
    its scenario until something happens and would otherwise run out its whole time limit.
    """
    options = [f"halt_on_error={int(halt)}", *BASE_OPTIONS]
    if not halt:
        # a forked child serves several scenarios; the report is read from the run's stderr,
        # and an exit status of 66 at the end of a later, quiet run would blame that run
        options.append("exitcode=0")
    if suppressions is not None:
        options.append(f"suppressions={suppressions}")
    return " ".join(options)
