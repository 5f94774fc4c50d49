"""Confinement of a forked scenario child: limits, a private working folder, guarded calls.

Applied in the child right after ``fork()``, before any scenario code runs.  Layers, from the
outside in: the fork server runs with a scrubbed environment inside a sandbox folder (and in its
own network namespace where the platform allows); each child gets resource limits (address space
except on sanitizer builds, CPU time, file size, process count, no core files unless asked) and a
fresh working folder; an audit hook refuses process control, network connections and file-system
changes outside that folder.  Standard library only.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import resource
import signal
import sys
from typing import Any

# Audit events refused outright: process control, signals, exec, foreign code and raw memory.
REFUSED_EVENTS = frozenset(
    {
        "os.fork",
        "os.forkpty",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.system",
        "os.kill",
        "os.killpg",
        "os.setuid",
        "subprocess.Popen",
        "pty.spawn",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.addressof",
        "ctypes.cdata",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.call_function",
        "socket.connect",
        "socket.bind",
        "socket.sendto",
        "socket.sendmsg",
        "socket.getaddrinfo",
        "sys.setrecursionlimit",
        "sys.addaudithook",
        "sys._current_frames",
        "gc.get_objects",
        "gc.get_referrers",
        "os.chroot",
        "signal.pthread_kill",
        "resource.setrlimit",
        "resource.prlimit",
        "mmap.__new__",
    }
)

# Audit events that change the file system: allowed only for paths inside the working folder.
PATH_EVENTS = frozenset(
    {
        "os.remove",
        "os.rmdir",
        "os.rename",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "os.chdir",
        "os.chflags",
        "os.lchflags",
        "os.setxattr",
        "os.removexattr",
        "shutil.rmtree",
        "shutil.move",
        "shutil.copyfile",
        "shutil.copytree",
        "shutil.chown",
        "shutil.make_archive",
        "shutil.unpack_archive",
    }
)


# Calls that raise no audit event but reach outside the child: replaced by refusing stubs in
# the child (``disarm``), on the modules that define them.
DISARMED: dict[str, tuple[str, ...]] = {
    "os": (
        "mkfifo", "mknod", "pidfd_open", "setpriority", "setns", "unshare", "setsid", "setpgid",
        "setpgrp", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "tcsetpgrp",
    ),
    "posix": (
        "mkfifo", "mknod", "pidfd_open", "setpriority", "setns", "unshare", "setsid", "setpgid",
        "setpgrp", "sched_setaffinity", "sched_setscheduler", "sched_setparam", "tcsetpgrp",
    ),
    # starts a program without an audit event of its own (``subprocess.Popen`` raises one in
    # Python; a direct call to the C function does not)
    "_posixsubprocess": ("fork_exec",),
    "signal": (
        "pidfd_send_signal", "signal", "alarm", "setitimer", "siginterrupt", "set_wakeup_fd",
        "pthread_sigmask", "sigwait", "sigwaitinfo", "sigtimedwait", "pause",
    ),
}  # fmt: skip


class SandboxViolation(PermissionError):
    """A fuzzed call tried something the sandbox refuses; never counted as a finding."""


def limit_resources(limits: dict[str, int], threads: int = 1) -> None:
    """Apply the resource limits named in ``limits`` (bytes, seconds, counts; 0 = leave).

    CPU time is a soft limit only (see ``renew_cpu_allowance``), so a child that serves several
    scenarios can be given a fresh allowance for each; the audit guard refuses any attempt by
    the code under test to change limits itself.
    """
    table = {
        "address_space": resource.RLIMIT_AS,
        "file_size": resource.RLIMIT_FSIZE,
        "processes": resource.RLIMIT_NPROC,
        "core_size": resource.RLIMIT_CORE,
    }
    for name, value in limits.items():
        kind = table.get(name)
        if kind is None or (value <= 0 and name != "core_size"):
            continue
        limit = resource.RLIM_INFINITY if value < 0 else value
        # A hard limit below ours already confines more: keep it.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(kind, (limit, limit))
    renew_cpu_allowance(limits, threads)


def cpu_seconds_per_thread(deadline_s: float) -> int:
    """The CPU allowance of one thread of a run with this deadline: twice it, and a margin."""
    return int(deadline_s * 2) + 5


def renew_cpu_allowance(limits: dict[str, int], threads: int = 1) -> None:
    """Allow ``limits["cpu_seconds"]`` more seconds of CPU per running thread from now.

    ``cpu_seconds`` is sized from the run's deadline and counted per thread (``threads``: the
    scenario's threads plus the main one), so a run that keeps every thread busy until its
    deadline never meets the limit first, whatever the machine's core count; the limit is a
    backstop for CPU that the threads cannot account for.  Soft limit: SIGXCPU, which the
    controller confirms like a deadline hang.
    """
    allowance = limits.get("cpu_seconds", 0) * max(1, threads)
    if allowance <= 0:
        return
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = int(usage.ru_utime + usage.ru_stime) + allowance
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def confine_child(folder: str, limits: dict[str, int], err_w: int) -> None:
    """In a freshly forked child: quiet stdio, stderr to ``err_w``, limits, faulthandler, guard."""
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.dup2(err_w, 2)
    os.chdir(folder)
    limit_resources(limits)
    faulthandler.enable(file=sys.__stderr__ or 2, all_threads=True)
    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__ or 2, all_threads=True)
    disarm()
    install_guard(folder)


def confine_script(folder: str, limits: dict[str, int], threads: int) -> None:
    """In a process about to run a standalone reproducer: the scenario child's confinement.

    Same working folder rule, limits, disarmed calls and audit guard as ``confine_child``;
    stdio stays as it is (the reproducer's stderr is the evidence).
    """
    os.chdir(folder)
    limit_resources(limits, threads)
    disarm()
    install_guard(folder)


def install_guard(folder: str) -> None:
    """Refuse dangerous audit events, and path events outside ``folder``, from now on."""
    root = os.path.realpath(folder)

    def inside(path: Any) -> bool:
        if isinstance(path, int):
            return False
        try:
            text = os.fsdecode(path)
        except TypeError:
            return False
        full = os.path.realpath(os.path.join(root, text))
        return full == root or full.startswith(root + os.sep)

    def guard(event: str, args: tuple[Any, ...]) -> None:
        if event in REFUSED_EVENTS:
            raise SandboxViolation(f"threadstorm sandbox refuses {event}")
        if event in PATH_EVENTS:
            paths = [arg for arg in args[:2] if isinstance(arg, (str, bytes, os.PathLike))]
            if not paths or not all(inside(path) for path in paths):
                raise SandboxViolation(f"threadstorm sandbox refuses {event} outside its folder")
        elif event == "open" and args and _opens_for_writing(args) and not inside(args[0]):
            raise SandboxViolation("threadstorm sandbox refuses writing outside its folder")

    sys.addaudithook(guard)


def disarm() -> None:
    """Replace the calls in ``DISARMED`` by stubs that raise ``SandboxViolation``.

    Defence in depth beside the audit guard: these functions reach other processes or create
    files anywhere without raising an audit event.  Code that captured them before the child
    started keeps the real function; the deny-list keeps generation away from them too.
    """
    for module_name, names in DISARMED.items():
        module = sys.modules.get(module_name)
        if module is None:
            continue
        for name in names:
            if hasattr(module, name):
                setattr(module, name, _refusal(f"{module_name}.{name}"))


def _refusal(name: str) -> Any:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise SandboxViolation(f"threadstorm sandbox refuses {name}")

    refuse.__name__ = name.rpartition(".")[2]
    return refuse


def _opens_for_writing(args: tuple[Any, ...]) -> bool:
    mode = args[1] if len(args) > 1 else None
    flags = args[2] if len(args) > 2 else 0
    if isinstance(mode, str) and any(ch in mode for ch in "wax+"):
        return True
    return bool(
        isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC)
    )


def isolate_network() -> bool:
    """Move this process (and every child it forks later) into an empty network namespace.

    Works where the platform allows (Linux, with the privilege to unshare); returns whether it
    did.  Called once by the fork server before it forks anything, so no scenario can reach a
    network, not even loopback services of the host.
    """
    unshare = getattr(os, "unshare", None)
    flag = getattr(os, "CLONE_NEWNET", None)
    if unshare is None or flag is None:
        return False
    try:
        unshare(flag)
    except OSError:
        return False
    return True
