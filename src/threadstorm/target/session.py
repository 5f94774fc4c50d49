"""A harness session: one warm fork server inside a target interpreter, driven over pipes.

The harness zone (``threadstorm.harness`` and ``threadstorm.scenario``, standard library only) is
copied into the session's sandbox folder and put on the target's ``sys.path``, so a bare debug or
sanitizer build needs nothing installed.  The server runs in its own process group, with a
scrubbed environment, inside that sandbox folder, and in a pids cgroup of its own where one can
be made (``target.pids_group``); closing the session ends exactly the processes it started.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from threadstorm.errors import HarnessError, TargetError
from threadstorm.harness.protocol import (
    KinshipRequest,
    ProtocolError,
    Quit,
    Request,
    RunRequest,
    SurfaceRequest,
    decode,
    ready_facts,
    request_line,
)
from threadstorm.scenario.codec import recipe_to_json, scenario_to_json
from threadstorm.scenario.model import Recipe, Scenario, SharedObject
from threadstorm.target.capped_output import read_file_capped
from threadstorm.target.interpreter import Interpreter
from threadstorm.target.pids_group import TASK_LIMIT, PidsGroup, make_group
from threadstorm.target.stale import mark_owner
from threadstorm.target.tsan import combined_suppressions, tsan_options
from threadstorm.triage.evidence import Evidence

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
SHIPPED_PACKAGES = ("harness", "scenario")
READY_TIMEOUT_S = 120.0

BOOT = (
    "import sys; sys.path.insert(0, sys.argv.pop(1)); "
    "from threadstorm.harness.server import main; main(sys.argv[1:])"
)


def ship_harness(destination: Path) -> Path:
    """Copy the standard-library-only zone to ``destination``; return the folder to import from."""
    package = destination / "threadstorm"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy2(PACKAGE_ROOT / "__init__.py", package / "__init__.py")
    for name in SHIPPED_PACKAGES:
        shutil.copytree(
            PACKAGE_ROOT / name,
            package / name,
            ignore=shutil.ignore_patterns("__pycache__"),
            dirs_exist_ok=True,
        )
    return destination


def target_environment(
    interpreter: Interpreter, sandbox: Path, paths: tuple[str, ...] = (), *, script: bool = False
) -> dict[str, str]:
    """A scrubbed environment: nothing of the user's but ``paths`` (put on ``sys.path``), the GIL
    off where the build allows, and ThreadSanitizer's options on a TSan target (its combined
    suppression file is written beside ``sandbox``, out of the generated code's folder; a
    ``script`` stops at its first report)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(sandbox),
        "TMPDIR": str(sandbox),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if interpreter.free_threaded:
        env["PYTHON_GIL"] = "0"
    if interpreter.tsan:
        combined = combined_suppressions(interpreter.suppressions, sandbox.parent)
        env["TSAN_OPTIONS"] = tsan_options(combined, halt=script)
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(str(Path(path).absolute()) for path in paths)
    return env


class HarnessSession:
    """One fork server in one target.  Use as a context manager."""

    def __init__(
        self,
        interpreter: Interpreter,
        modules: tuple[str, ...] = (),
        limits: dict[str, int] | None = None,
        paths: tuple[str, ...] = (),
    ) -> None:
        self.interpreter = interpreter
        self.paths = paths
        self.modules = modules
        self.limits = dict(limits or {})
        self.facts: dict[str, Any] = {}
        self._process: subprocess.Popen[bytes] | None = None
        self._replies: IO[bytes] | None = None
        self._folder: Path | None = None
        self._group: PidsGroup | None = None
        self._next_id = 0

    def __enter__(self) -> HarnessSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> dict[str, Any]:
        """Start the fork server and wait until it has imported the modules; return its facts."""
        self._folder = Path(tempfile.mkdtemp(prefix="threadstorm-"))
        mark_owner(self._folder)  # a killed controller's folder is removed at the next start
        sandbox = self._folder / "sandbox"
        sandbox.mkdir()
        ship = ship_harness(self._folder / "ship")
        reply_r, reply_w = os.pipe()
        log = open(self._folder / "server.stderr", "wb")  # noqa: SIM115 - lives with the process
        self._group = make_group(TASK_LIMIT)  # the server's whole tree, where a group can be made
        try:
            self._process = subprocess.Popen(
                [
                    *(self._group.prefix() if self._group else ()),
                    str(self.interpreter.path),
                    "-X",
                    "faulthandler",
                    "-s",
                    "-c",
                    BOOT,
                    str(ship),
                    str(reply_w),
                    str(sandbox),
                    *self.modules,
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=log,
                pass_fds=(reply_w,),
                env=target_environment(self.interpreter, sandbox, self.paths),
                cwd=sandbox,
                start_new_session=True,
            )
        except OSError:
            os.close(reply_r)
            self.close()  # the folder and the group
            raise
        finally:
            os.close(reply_w)
            log.close()
        self._replies = os.fdopen(reply_r, "rb")
        ready = self._read_reply()
        if ready is None or ready.get("event") != "ready":
            detail = self.server_stderr().strip().splitlines()[-1:] or ["no output"]
            self.close()
            raise TargetError(
                f"{self.interpreter.path} died while starting the threadstorm harness "
                f"({detail[0][:200]}); check that it runs: {self.interpreter.path} -c 'print(1)'"
            )
        try:
            facts = ready_facts(ready)
        except ProtocolError as error:
            self.close()
            raise TargetError(
                f"{error}: the harness shipped into {self.interpreter.path} is from another "
                "threadstorm; run both from one installation"
            ) from error
        self.facts = {**facts, "pids_group": self._group is not None}
        return self.facts

    def run(self, scenario: Scenario, timeout: float = 10.0, reuse: int = 1) -> Evidence:
        """Run one scenario in a child; return what it left behind.

        ``reuse`` > 1 lets one child serve up to that many scenarios in a row (faster; the
        campaign's choice); 1 gives every run a fresh child (reproduction, minimisation).
        """
        request = RunRequest(
            self._next_id_now(), scenario_to_json(scenario), timeout, self.limits, reuse
        )
        reply = self._exchange(request)
        if reply is None:
            raise HarnessError(f"fork server died mid-run: {self.server_stderr()[-500:]}")
        return Evidence.from_reply(reply)

    def surface(
        self,
        modules: list[str] | tuple[str, ...],
        packages: list[str] | tuple[str, ...] = (),
        deny: list[str] | tuple[str, ...] = (),
        timeout: float = 300.0,
        *,
        inventory_only: bool = False,
        hints: dict[str, list[list[Any]]] | None = None,
    ) -> dict[str, Any]:
        """Discover what ``modules`` and ``packages`` offer, inside the target (JSON document of
        ``threadstorm.harness.introspect``); ``inventory_only`` stops after the imports;
        ``hints`` are typed argument lists by dotted path (``generate.stub_hints``)."""
        request = SurfaceRequest(
            self._next_id_now(),
            list(modules),
            list(packages),
            list(deny),
            timeout,
            self.limits,
            inventory_only=inventory_only,
            hints=hints or {},
        )
        reply = self._exchange(request)
        if reply is None or reply.get("event") != "surface":
            detail = "server died" if reply is None else reply.get("error", reply.get("event"))
            tail = "" if reply is None else str(reply.get("stderr", ""))[-500:]
            tail = tail or self.server_stderr()[-500:]
            raise HarnessError(f"surface discovery failed: {detail}; {tail}")
        surface: dict[str, Any] = reply["surface"]
        return surface

    def kinship(
        self, shared: Sequence[SharedObject], recipes: Sequence[Recipe], timeout: float = 60.0
    ) -> list[dict[str, Any]]:
        """What each recipe builds in the target (``threadstorm.harness.kinship``), in order.

        ``shared`` objects are built first, so recipes may refer to them.  The list is shorter
        than ``recipes`` when the child died or hung part way: it was building the next one.
        """
        request = KinshipRequest(
            self._next_id_now(),
            [{"name": o.name, "recipe": recipe_to_json(o.recipe)} for o in shared],
            [recipe_to_json(recipe) for recipe in recipes],
            timeout,
            self.limits,
        )
        reply = self._exchange(request)
        if reply is None or reply.get("event") != "kinship":
            why = "server died" if reply is None else reply.get("error", reply.get("event"))
            raise HarnessError(f"kinship request failed: {why}; {self.server_stderr()[-500:]}")
        facts: list[dict[str, Any]] = reply["facts"]
        return facts

    def _next_id_now(self) -> int:
        if self._process is None or self._process.stdin is None:
            raise HarnessError("harness session is not started")
        self._next_id += 1
        return self._next_id

    def _exchange(self, request: Request) -> dict[str, Any] | None:
        """Send one request and read its reply (None when the server died first)."""
        process = self._process
        if process is None or process.stdin is None:
            raise HarnessError("harness session is not started")
        try:
            process.stdin.write(request_line(request))
            process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            tail = self.server_stderr()[-300:]
            raise HarnessError(f"fork server is gone: {error}; {tail}") from error
        return self._read_reply()

    def alive(self) -> bool:
        """Whether the fork server still runs."""
        return self._process is not None and self._process.poll() is None

    def server_stderr(self) -> str:
        """What the fork server itself wrote to stderr (for diagnosing harness errors): its head
        and tail, however much an import printed (``capped_output.read_file_capped``)."""
        if self._folder is None:
            return ""
        return read_file_capped(self._folder / "server.stderr").decode("utf-8", "replace")

    def close(self) -> None:
        """Stop the server and every process in its group (all of them ours); remove the folder."""
        process, self._process = self._process, None
        if process is not None:
            try:
                if process.stdin is not None:
                    process.stdin.write(request_line(Quit()))
                    process.stdin.close()
            except OSError:
                pass
            _wait_unreaped(process.pid, seconds=2.0)
            # The server is not reaped yet, so its pid (and group id) cannot have been reused:
            # the group holds only the server and the children it forked.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        group, self._group = self._group, None
        if group is not None:
            group.end()  # what the server's children left, forked past its process group
        if self._replies is not None:
            self._replies.close()
            self._replies = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def _read_reply(self) -> dict[str, Any] | None:
        assert self._replies is not None
        line = self._replies.readline()
        if not line:
            if self._process is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=5)
            return None
        return decode(line)


def _wait_unreaped(pid: int, seconds: float) -> None:
    """Wait until ``pid`` exits, without reaping it, for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
        except ChildProcessError:
            return
        if info is not None:
            return
        time.sleep(0.01)
