"""Build free-threaded CPython targets from source into a cache keyed by version and flavour.

Layout of one build (``$THREADSTORM_CACHE``, default ``~/.cache/threadstorm``)::

    pythons/cpython-3.14.7-debug/
        src/Python-3.14.7/   the unpacked tree, configured and built in place
        install/             the --prefix; bin/python3.14td (debug) or bin/python3.14t (release)
        build.log            the full configure / make / make install output
        BUILD-INFO.json      written last: marks a finished build, which later calls reuse

Nothing half-written: a build happens in ``pythons/.cpython-V-F.partial/`` (a fixed name, so a
rebuild compiles under the same path and ccache hits), installed with ``DESTDIR`` so the binary
still carries the final prefix, and the folder is renamed into place only once the interpreter
answered a sanity probe.  A failed build leaves only its log (``cpython-V-F.failed.log``).

A folder that exists without ``BUILD-INFO.json`` is never deleted or rebuilt over, since someone
may be using its binary.  It is *adopted* (``BUILD-INFO.json`` written with ``"adopted": true``
and no source hash) only when its binary itself reports the expected version, a free-threaded
build of the right flavour configured with this very prefix, and its build.log shows no failed
make step; otherwise the user is told to remove it.

Building from a Debian source package (``--debian``) lives in ``threadstorm.target.debian``.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from threadstorm import __version__
from threadstorm.errors import UsageError


@dataclass(frozen=True)
class Flavour:
    """What one build flavour means: its configure flags and what the built binary must report.

    ``tsan`` follows CPython's own ThreadSanitizer CI (``--with-thread-sanitizer`` on a debug
    build), so the suppression file in its source tree fits it.
    """

    name: str
    pydebug: bool
    sanitizer: str | None  # what ``threadstorm.harness.probe.sanitizer`` reports for it
    flags: tuple[str, ...]


FLAVOUR_TRAITS = {
    "release": Flavour("release", pydebug=False, sanitizer=None, flags=()),
    "debug": Flavour("debug", pydebug=True, sanitizer=None, flags=("--with-pydebug",)),
    "tsan": Flavour(
        "tsan",
        pydebug=True,
        sanitizer="thread",
        flags=("--with-pydebug", "--with-thread-sanitizer"),
    ),
}
FLAVOURS = tuple(FLAVOUR_TRAITS)
TSAN_SUPPRESSIONS = Path("Tools/tsan/suppressions_free_threading.txt")  # in a 3.13+ source tree
INFO_NAME = "BUILD-INFO.json"
TARBALL_SUFFIXES = (".tar.xz", ".tgz", ".tar.gz", ".tar.bz2", ".tar")
BASE_PACKAGES = (
    "build-essential", "pkg-config", "libssl-dev", "zlib1g-dev", "libffi-dev", "libbz2-dev",
    "liblzma-dev", "libsqlite3-dev", "libreadline-dev", "uuid-dev", "libncurses-dev",
    "libgdbm-dev", "xz-utils",
)  # fmt: skip
# Used where dpkg is absent: the header each package provides, checked with the C compiler.
PACKAGE_HEADERS = {
    "libssl-dev": "openssl/ssl.h", "zlib1g-dev": "zlib.h", "libffi-dev": "ffi.h",
    "libbz2-dev": "bzlib.h", "liblzma-dev": "lzma.h", "libsqlite3-dev": "sqlite3.h",
    "libreadline-dev": "readline/readline.h", "uuid-dev": "uuid/uuid.h",
    "libncurses-dev": "ncurses.h", "libgdbm-dev": "gdbm.h", "libzstd-dev": "zstd.h",
}  # fmt: skip
MAKE_FAILURE = re.compile(rb"^make(\[\d+\])?: \*\*\*", re.MULTILINE)
SANITY_PROBE = (
    "import json, sys, sysconfig; print(json.dumps({'version': sys.version.split()[0], "
    "'free_threaded': bool(sysconfig.get_config_var('Py_GIL_DISABLED')), "
    "'debug': hasattr(sys, 'gettotalrefcount'), "
    "'sanitizer': 'thread' if '--with-thread-sanitizer' in (sysconfig.get_config_var("
    "'CONFIG_ARGS') or '') else None, "
    "'config_args': sysconfig.get_config_var('CONFIG_ARGS') or ''}))"
)

Progress = Callable[[str], None]


class BuildError(UsageError):
    """Building a target failed; the message names the log that holds the details."""


def _quiet(_line: str) -> None:
    """The default progress sink: say nothing."""


# --- names and keys --------------------------------------------------------------------------


def cache_root(cache: str | os.PathLike[str] | None = None) -> Path:
    """``cache``, else ``$THREADSTORM_CACHE``, else ``~/.cache/threadstorm``."""
    if cache is not None:
        return Path(cache).expanduser().absolute()
    configured = os.environ.get("THREADSTORM_CACHE")
    if configured:
        return Path(configured).expanduser().absolute()
    return Path.home() / ".cache" / "threadstorm"


def build_key(version: str, flavour: str) -> str:
    """The cache folder name of one build, e.g. ``cpython-3.14.7-debug``."""
    check_flavour(flavour)
    return f"cpython-{version}-{flavour}"


def build_folder(cache: Path, version: str, flavour: str) -> Path:
    """Where the finished build of ``version`` and ``flavour`` lives."""
    return cache / "pythons" / build_key(version, flavour)


def binary_name(version: str, flavour: str) -> str:
    """``python3.14t`` for a release build, ``python3.14td`` for a debug (or tsan) build."""
    major, minor = version_tuple(version)[:2]
    return f"python{major}.{minor}t{'d' if traits(flavour).pydebug else ''}"


def traits(flavour: str) -> Flavour:
    """The ``Flavour`` named ``flavour`` (``UsageError`` for an unknown name)."""
    check_flavour(flavour)
    return FLAVOUR_TRAITS[flavour]


def interpreter_path(folder: Path, version: str, flavour: str) -> Path:
    """The interpreter of the build in ``folder``."""
    return folder / "install" / "bin" / binary_name(version, flavour)


def check_flavour(flavour: str) -> None:
    """Raise ``UsageError`` unless ``flavour`` is one of ``FLAVOURS``."""
    if flavour not in FLAVOURS:
        raise UsageError(f"unknown flavour {flavour!r}; use one of: {', '.join(FLAVOURS)}")


# --- versions --------------------------------------------------------------------------------

VERSION_IN_NAME = re.compile(r"(?<![\d.])(\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?)(?!\d)")
PY_VERSION_LINE = re.compile(r'^#define\s+PY_VERSION\s+"([^"]+)"', re.MULTILINE)


def version_tuple(version: str) -> tuple[int, int, int]:
    """``(3, 14, 7)`` from ``3.14.7`` or ``3.14.0a7``."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if match is None:
        raise UsageError(f"{version!r} is not a CPython version such as 3.14.7")
    return int(match[1]), int(match[2]), int(match[3])


def version_from_name(name: str) -> str | None:
    """The CPython version a file name carries (``python3.14_3.14.7.orig.tar.xz`` -> 3.14.7)."""
    found = VERSION_IN_NAME.findall(Path(name).name.replace("~", ""))
    return found[-1] if found else None


def version_from_patchlevel(text: str) -> str:
    """The version in the text of ``Include/patchlevel.h`` (a trailing ``+`` dropped)."""
    match = PY_VERSION_LINE.search(text)
    if match is None:
        raise UsageError("Include/patchlevel.h has no PY_VERSION line; is this a CPython tree?")
    return match[1].rstrip("+")


def is_tarball(path: Path) -> bool:
    """Whether ``path`` is named like a source tarball."""
    return path.name.endswith(TARBALL_SUFFIXES)


def source_version(source: Path) -> str:
    """The version of a CPython source tarball or tree; raise ``UsageError`` if it is neither."""
    if not source.exists():
        raise UsageError(f"source {source} does not exist; pass a CPython tarball or source folder")
    if source.is_dir():
        return version_from_patchlevel(_patchlevel_text(source))
    if not is_tarball(source):
        raise UsageError(
            f"{source} is neither a folder nor a tarball ({', '.join(TARBALL_SUFFIXES)})"
        )
    return version_from_name(source.name) or _tarball_patchlevel_version(source)


def _patchlevel_text(tree: Path) -> str:
    header = tree / "Include" / "patchlevel.h"
    if not (header.is_file() and (tree / "configure").is_file()):
        raise UsageError(
            f"{tree} is not a CPython source tree (no Include/patchlevel.h, configure)"
        )
    return header.read_text("utf-8", "replace")


def _tarball_patchlevel_version(tarball: Path) -> str:
    try:
        with tarfile.open(tarball) as archive:
            for member in archive:
                parts = member.name.strip("/").split("/")
                if parts[1:] == ["Include", "patchlevel.h"] and member.isfile():
                    handle = archive.extractfile(member)
                    if handle is not None:
                        return version_from_patchlevel(handle.read().decode("utf-8", "replace"))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UsageError(f"{tarball} cannot be read as a tarball ({error})") from None
    raise UsageError(f"{tarball} holds no CPython tree (no */Include/patchlevel.h)")


# --- build dependencies ----------------------------------------------------------------------


def required_packages(version: str) -> tuple[str, ...]:
    """The Debian packages a build of ``version`` needs (``libzstd-dev`` from 3.14 on)."""
    extra = ("libzstd-dev",) if version_tuple(version)[:2] >= (3, 14) else ()
    return BASE_PACKAGES + extra


def dependency_message(missing: Sequence[str]) -> str:
    """One line that names the packages to install."""
    return (
        f"missing build dependencies for CPython: {', '.join(missing)}; install them with "
        f"`sudo apt-get install {' '.join(missing)}` (or your system's equivalents)"
    )


def parse_dpkg_status(output: str) -> set[str]:
    """Installed packages from ``dpkg-query -W -f '${Package}\\t${db:Status-Abbrev}\\n'``."""
    installed = set()
    for line in output.splitlines():
        name, _, status = line.partition("\t")
        if status.startswith("ii"):
            installed.add(name.split(":")[0])
    return installed


def missing_packages(packages: Sequence[str]) -> list[str]:
    """Which of ``packages`` are not installed (dpkg where present, else tools and headers)."""
    if shutil.which("dpkg-query"):
        done = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\n", *packages],
            capture_output=True,
            text=True,
            check=False,
        )
        installed = parse_dpkg_status(done.stdout)
        return [name for name in packages if name not in installed]
    return _missing_by_probe(packages)


def _missing_by_probe(packages: Sequence[str]) -> list[str]:
    compiler = c_compiler()
    missing = [] if compiler and shutil.which("make") else ["build-essential"]
    if not shutil.which("pkg-config"):
        missing.append("pkg-config")
    for name in packages:
        header = PACKAGE_HEADERS.get(name)
        if header and compiler and not _header_found(compiler, header):
            missing.append(name)
    return missing


def _header_found(compiler: str, header: str) -> bool:
    done = subprocess.run(
        [compiler, "-E", "-x", "c", "-"],
        input=f"#include <{header}>\n",
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode == 0


def c_compiler() -> str | None:
    """``gcc``, else ``cc``, as found on PATH."""
    for name in ("gcc", "cc"):
        if shutil.which(name):
            return name
    return None


def check_dependencies(version: str) -> None:
    """Raise ``UsageError`` naming the apt packages to install if a build dependency is missing."""
    missing = missing_packages(required_packages(version))
    if "build-essential" not in missing and not (c_compiler() and shutil.which("make")):
        missing.insert(0, "build-essential")
    if missing:
        raise UsageError(dependency_message(missing))


# --- configure -------------------------------------------------------------------------------


def configure_args(prefix: Path, flavour: str, cc: str | None) -> list[str]:
    """The arguments given to ``./configure``."""
    args = [f"--prefix={prefix}", "--disable-gil", *traits(flavour).flags]
    args.append("--disable-test-modules")
    if cc:
        args.append(f"CC={cc}")
    return args


def compiler_setting() -> str | None:
    """``ccache gcc`` where ccache is on PATH, else None (configure picks the compiler)."""
    compiler = c_compiler()
    if compiler and shutil.which("ccache"):
        return f"ccache {compiler}"
    return None


def default_jobs() -> int:
    """As many make jobs as CPUs this process may use (what ``nproc`` says)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


# --- the cache -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuiltPython:
    """A finished build: its interpreter, its BUILD-INFO, and whether this call built it."""

    interpreter: Path
    folder: Path
    info: dict[str, Any]
    reused: bool


def read_info(folder: Path) -> dict[str, Any] | None:
    """The BUILD-INFO of ``folder``, or None when the build is not finished."""
    try:
        info = json.loads((folder / INFO_NAME).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def finished_build(folder: Path, version: str, flavour: str) -> BuiltPython | None:
    """The finished build in ``folder``, if there is one whose interpreter is still there."""
    info = read_info(folder)
    if info is None:
        return None
    binary = interpreter_path(folder, version, flavour)
    if not (binary.is_file() and info.get("version") == version and info.get("flavour") == flavour):
        raise UsageError(
            f"{folder} is marked finished but does not hold CPython {version} ({flavour}) "
            f"with {binary.name}; remove that folder and run build-python again"
        )
    return BuiltPython(binary, folder, info, reused=True)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(temporary, path)


class _Lock:
    """An exclusive ``flock`` on one file, so two builds of one key never run at once."""

    def __init__(self, path: Path, progress: Progress) -> None:
        self.path = path
        self.progress = progress
        self._handle: Any = None

    def __enter__(self) -> _Lock:
        self._handle = self.path.open("a")
        try:
            fcntl.flock(self._handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.progress(f"waiting for another build holding {self.path} ...")
            fcntl.flock(self._handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()


def prepare_cache(cache: Path) -> Path:
    """Create ``cache/pythons`` and check that it is writable; return it."""
    pythons = cache / "pythons"
    try:
        pythons.mkdir(parents=True, exist_ok=True)
        probe = pythons / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"cannot write to the build cache {cache} ({error.strerror or error}); "
            "pass --cache DIR or set THREADSTORM_CACHE to a writable folder"
        ) from None
    return pythons


# --- probing a built interpreter ---------------------------------------------------------------


def probe_interpreter(binary: Path) -> dict[str, Any] | None:
    """What ``binary`` says about itself (version, free_threaded, debug, config_args), or None."""
    try:
        done = subprocess.run(
            [str(binary), "-c", SANITY_PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
            check=False,
        )
        facts = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return None
    return facts if isinstance(facts, dict) else None


def facts_match(facts: dict[str, Any] | None, version: str, flavour: str) -> bool:
    """Whether probed facts describe a free-threaded CPython ``version`` of ``flavour``."""
    wanted = traits(flavour)
    return (
        facts is not None
        and facts.get("version") == version
        and facts.get("free_threaded") is True
        and facts.get("debug") is wanted.pydebug
        and facts.get("sanitizer") == wanted.sanitizer
    )


def adoptable(folder: Path, version: str, flavour: str) -> dict[str, Any] | None:
    """BUILD-INFO for an unmarked build that proves itself finished (see the module doc)."""
    binary = interpreter_path(folder, version, flavour)
    log = folder / "build.log"
    if not (binary.is_file() and log.is_file()) or MAKE_FAILURE.search(log.read_bytes()):
        return None
    facts = probe_interpreter(binary)
    prefix = folder / "install"
    if facts is None or not facts_match(facts, version, flavour):
        return None
    args = re.findall(r"'([^']*)'", str(facts.get("config_args", "")))
    if f"--prefix={prefix}" not in args or "--disable-gil" not in args:
        return None
    return {
        "adopted": True,
        "configure_args": args,
        "duration_s": None,
        "flavour": flavour,
        "format": 1,
        "interpreter": str(binary),
        "note": "built outside threadstorm; adopted after its binary reported this build",
        "source": None,
        "source_sha256": None,
        "version": version,
    }


# --- building ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildPlan:
    """Everything one build needs, decided before anything runs."""

    source: Path
    version: str
    flavour: str
    folder: Path
    jobs: int
    origin: dict[str, Any]

    @property
    def staging(self) -> Path:
        """Where the build happens (a fixed name beside the final folder)."""
        return self.folder.with_name(f".{self.folder.name}.partial")

    @property
    def failed_log(self) -> Path:
        """Where the log of a failed build is kept."""
        return self.folder.with_name(f"{self.folder.name}.failed.log")


def build_python(
    source: str | os.PathLike[str],
    flavour: str,
    cache: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    *,
    progress: Progress = _quiet,
    origin: dict[str, Any] | None = None,
) -> BuiltPython:
    """Build free-threaded CPython from a tarball or tree, or reuse the finished build."""
    check_flavour(flavour)
    if jobs is not None and jobs < 1:
        raise UsageError(f"--jobs must be at least 1, not {jobs}")
    source_path = Path(source).expanduser().absolute()
    version = source_version(source_path)
    pythons = prepare_cache(cache_root(cache))
    plan = BuildPlan(
        source=source_path,
        version=version,
        flavour=flavour,
        folder=pythons / build_key(version, flavour),
        jobs=jobs or default_jobs(),
        origin=origin or {"kind": "directory" if source_path.is_dir() else "tarball"},
    )
    built = reuse_or_build(plan, progress)
    if built.reused:
        _note_other_source(built, source_path, progress)
    return built


def _note_other_source(built: BuiltPython, source: Path, progress: Progress) -> None:
    """Say so when a reused build came from a different tarball of the same version."""
    recorded = built.info.get("source_sha256")
    if recorded and source.is_file() and sha256_of(source) != recorded:
        progress(
            f"note: the build in {built.folder} came from another source of {built.info['version']}"
            f" ({built.info.get('source')}); remove that folder to rebuild from {source}"
        )


def reuse_or_build(plan: BuildPlan, progress: Progress) -> BuiltPython:
    """Return the finished build for ``plan``, adopting or building it under a lock if needed."""
    found = finished_build(plan.folder, plan.version, plan.flavour)
    if found is not None:
        return found
    with _Lock(plan.folder.with_name(f".{plan.folder.name}.lock"), progress):
        found = finished_build(plan.folder, plan.version, plan.flavour)
        if found is not None:
            return found
        if plan.folder.exists():
            return _adopt(plan, progress)
        check_dependencies(plan.version)
        return _build(plan, progress)


def _adopt(plan: BuildPlan, progress: Progress) -> BuiltPython:
    info = adoptable(plan.folder, plan.version, plan.flavour)
    if info is None:
        raise UsageError(
            f"{plan.folder} exists but is not a finished build (no {INFO_NAME}); "
            "if nobody is using it, remove it and run build-python again"
        )
    _write_json(plan.folder / INFO_NAME, info)
    progress(f"adopted the existing build in {plan.folder} (wrote {INFO_NAME})")
    return BuiltPython(Path(info["interpreter"]), plan.folder, info, reused=True)


def _build(plan: BuildPlan, progress: Progress) -> BuiltPython:
    staging = plan.staging
    if staging.exists():
        progress(f"removing the leftovers of an interrupted build in {staging}")
        shutil.rmtree(staging)
    staging.mkdir()
    started = time.monotonic()
    try:
        info = _build_in_staging(plan, progress)
        info["duration_s"] = round(time.monotonic() - started, 1)
        _write_json(staging / INFO_NAME, info)
        os.rename(staging, plan.folder)
    except BaseException:
        _keep_failed_log(plan)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    binary = interpreter_path(plan.folder, plan.version, plan.flavour)
    progress(f"built CPython {plan.version} ({plan.flavour}) in {info['duration_s']:.0f} s")
    return BuiltPython(binary, plan.folder, info, reused=False)


def _keep_failed_log(plan: BuildPlan) -> None:
    log = plan.staging / "build.log"
    if log.exists():
        os.replace(log, plan.failed_log)


def _build_in_staging(plan: BuildPlan, progress: Progress) -> dict[str, Any]:
    staging, prefix = plan.staging, plan.folder / "install"
    progress(f"unpacking {plan.source} into {staging / 'src'}")
    tree = unpack_source(plan.source, staging / "src")
    found = version_from_patchlevel(_patchlevel_text(tree))
    if found != plan.version:
        raise UsageError(f"{plan.source} holds CPython {found}, not {plan.version} as named")
    args = configure_args(prefix, plan.flavour, compiler_setting())
    destdir = staging / "destdir"
    steps = [
        ("configure", ["./configure", *args]),
        ("make", ["make", f"-j{plan.jobs}"]),
        ("make install", ["make", "install", f"DESTDIR={destdir}"]),
    ]
    timings: dict[str, float] = {}
    with (staging / "build.log").open("ab") as log:
        for name, command in steps:
            progress(f"{name}: {' '.join(command)}")
            started = time.monotonic()
            _run_step(plan, name, command, tree, log)
            timings[name] = round(time.monotonic() - started, 1)
            progress(f"{name} took {timings[name]:.0f} s")
    (destdir / prefix.relative_to("/")).rename(staging / "install")
    shutil.rmtree(destdir)
    _check_built(plan, staging)
    return {**_info(plan, args), "step_durations_s": timings}


def _run_step(plan: BuildPlan, name: str, command: list[str], tree: Path, log: IO[bytes]) -> None:
    log.write(f"\n=== threadstorm: {name}: {' '.join(command)}\n".encode())
    log.flush()
    try:
        done = subprocess.run(
            command, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
            env=build_environment(plan.flavour, tree),
            stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip
        status = f"exit {done.returncode}"
    except OSError as error:
        status = f"could not start: {error.strerror or error}"
    else:
        if done.returncode == 0:
            return
    raise BuildError(
        f"building CPython {plan.version} ({plan.flavour}) failed in `{name}` "
        f"({status}); see the end of {plan.failed_log}"
    )


def build_environment(flavour: str = "release", tree: Path | None = None) -> dict[str, str]:
    """The caller's environment without the PYTHON* variables that would leak into the build.

    A sanitizer build runs its own fresh interpreter during ``make`` (to freeze modules, to
    build extensions); a race it reports there must not fail the build, so ThreadSanitizer
    reports nothing and exits 0 while building.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    if traits(flavour).sanitizer == "thread":
        options = ["report_bugs=0", "exitcode=0"]
        if tree is not None and (tree / TSAN_SUPPRESSIONS).is_file():
            options.append(f"suppressions={tree / TSAN_SUPPRESSIONS}")
        env["TSAN_OPTIONS"] = " ".join(options)
    return env


def _check_built(plan: BuildPlan, staging: Path) -> None:
    binary = interpreter_path(staging, plan.version, plan.flavour)
    facts = probe_interpreter(binary)
    if not facts_match(facts, plan.version, plan.flavour):
        raise BuildError(
            f"the freshly built {binary.name} does not report a free-threaded {plan.version} "
            f"{plan.flavour} build ({facts}); see the end of {plan.failed_log}"
        )


def _info(plan: BuildPlan, args: list[str]) -> dict[str, Any]:
    tarball = plan.source.is_file()
    return {
        "ccache": any(arg.startswith("CC=ccache") for arg in args),
        "configure_args": args,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "flavour": plan.flavour,
        "format": 1,
        "interpreter": str(interpreter_path(plan.folder, plan.version, plan.flavour)),
        "jobs": plan.jobs,
        "origin": plan.origin,
        "source": str(plan.source),
        "source_sha256": sha256_of(plan.source) if tarball else None,
        "threadstorm": __version__,
        "version": plan.version,
    }


def unpack_source(source: Path, destination: Path) -> Path:
    """Unpack a tarball (or copy a tree) into ``destination``; return the CPython tree in it."""
    destination.mkdir(parents=True)
    if source.is_dir():
        if (source / "config.status").exists():
            raise UsageError(
                f"{source} has been configured in place; "
                "run `make distclean` there or pass a tarball"
            )
        tree = destination / source.name
        shutil.copytree(source, tree, symlinks=True, ignore=shutil.ignore_patterns(".git"))
        return tree
    try:
        with tarfile.open(source) as archive:
            archive.extractall(destination, filter="data")
    except (tarfile.TarError, OSError, EOFError) as error:
        raise UsageError(f"{source} cannot be unpacked ({error})") from None
    trees = [path for path in destination.iterdir() if (path / "Include/patchlevel.h").is_file()]
    if len(trees) != 1:
        raise UsageError(f"{source} does not hold exactly one CPython tree at its top level")
    return trees[0]
