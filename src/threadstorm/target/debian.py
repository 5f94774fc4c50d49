"""Build CPython targets from Debian source packages, fetched through a private apt configuration.

``--debian python3.13=VERSION`` fetches the source package with ``apt-get source`` and hands its
upstream ``.orig`` tarball to ``threadstorm.target.build``.  apt is pointed at a private
configuration (its own source list, state and cache folders under the build cache) whose
``deb-src`` entries are derived from the machine's own apt sources, one-line or deb822 (no host
name lives in this code), so nothing under ``/etc/apt`` is touched and no root is needed to
update indexes.  Extra suites (``--debian-suite trixie``) reach newer releases on the same mirrors.

This is apart from ``build.py`` because it is a different concern: parsing and rendering apt's
formats and driving ``apt-get``, which the CPython build itself never needs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from threadstorm.errors import UsageError
from threadstorm.target.build import (
    BuiltPython,
    Progress,
    build_environment,
    build_key,
    build_python,
    cache_root,
    check_flavour,
    finished_build,
    is_tarball,
    prepare_cache,
    version_from_name,
)


def _quiet(_line: str) -> None:
    """The default progress sink: say nothing."""


DROPPED_FIELDS = {"types", "enabled", "uris", "suites", "components", "architectures",
                  "languages", "targets"}  # fmt: skip
OPTION_NAMES = {"arch": "Architectures", "lang": "Languages", "target": "Targets",
                "pdiffs": "PDiffs", "by-hash": "By-Hash",
                "inrelease-path": "InRelease-Path"}  # fmt: skip
ONE_LINE = re.compile(r"^(deb|deb-src)\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)(?:\s+(.*))?$")
DEBIAN_SPEC = re.compile(r"^([a-z0-9][a-z0-9+.-]+)(?:=([A-Za-z0-9.+~:-]+))?$")


@dataclass(frozen=True)
class AptSource:
    """One apt source entry, as deb822 would spell it."""

    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    fields: tuple[tuple[str, str], ...] = ()


def parse_one_line(text: str) -> list[AptSource]:
    """Entries of a ``sources.list`` file in the one-line format."""
    entries = []
    for raw in text.splitlines():
        match = ONE_LINE.match(raw.split("#", 1)[0].strip())
        if match is None:
            continue
        kind, options, uri, suite, components = match.groups()
        fields = tuple(_one_line_option(option) for option in (options or "").split())
        entries.append(
            AptSource((kind,), (uri,), (suite,), tuple((components or "").split()), fields)
        )
    return entries


def _one_line_option(option: str) -> tuple[str, str]:
    name, _, value = option.partition("=")
    name = name.rstrip("+-").lower()
    field = OPTION_NAMES.get(name) or "-".join(part.capitalize() for part in name.split("-"))
    return field, value.replace(",", " ")


def parse_deb822(text: str) -> list[AptSource]:
    """Entries of a ``.sources`` file (deb822 stanzas), skipping those with ``Enabled: no``."""
    entries = []
    for stanza in _stanzas(text):
        fields = {name.lower(): (name, value) for name, value in stanza}
        if fields.get("enabled", ("", "yes"))[1].strip().lower() == "no":
            continue

        def words(key: str, fields: dict[str, tuple[str, str]] = fields) -> tuple[str, ...]:
            return tuple(fields.get(key, ("", ""))[1].split())

        kept = tuple((n, v) for key, (n, v) in fields.items() if key not in DROPPED_FIELDS)
        entries.append(
            AptSource(words("types"), words("uris"), words("suites"), words("components"), kept)
        )
    return entries


def _stanzas(text: str) -> list[list[tuple[str, str]]]:
    stanzas: list[list[tuple[str, str]]] = [[]]
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            stanzas.append([])
        elif line[0] in " \t" and stanzas[-1]:
            name, value = stanzas[-1][-1]
            stanzas[-1][-1] = (name, f"{value}\n{line}")
        elif ":" in line:
            name, _, value = line.partition(":")
            stanzas[-1].append((name.strip(), value.strip()))
    return [stanza for stanza in stanzas if stanza]


def read_system_sources(etc: Path = Path("/etc/apt")) -> list[AptSource]:
    """The machine's apt sources, read from the files apt itself reads."""
    entries: list[AptSource] = []
    main = etc / "sources.list"
    if main.is_file():
        entries += parse_one_line(main.read_text("utf-8", "replace"))
    parts = etc / "sources.list.d"
    for path in sorted(parts.iterdir()) if parts.is_dir() else []:
        if path.suffix == ".list":
            entries += parse_one_line(path.read_text("utf-8", "replace"))
        elif path.suffix == ".sources":
            entries += parse_deb822(path.read_text("utf-8", "replace"))
    return entries


def source_entries(
    entries: Iterable[AptSource], extra_suites: Sequence[str] = ()
) -> list[AptSource]:
    """One ``deb-src`` entry per distinct (URIs, suites, components) of binary or source entries.

    Each entry that carries a release suite (a name without ``-``: ``bookworm``, not
    ``bookworm-security``) also gets a twin for every suite in ``extra_suites``, on the same
    mirror with the same keys: that is how a Debian 12 machine reaches ``python3.13`` in trixie.
    """
    seen: set[tuple[tuple[str, ...], ...]] = set()
    result = []
    for entry in entries:
        usable = tuple(uri for uri in entry.uris if not uri.startswith("cdrom:"))
        if not usable or not ({"deb", "deb-src"} & set(entry.types)):
            continue
        fields = tuple((n, v) for n, v in entry.fields if n.lower() not in DROPPED_FIELDS)
        release = any("-" not in suite and "/" not in suite for suite in entry.suites)
        for suites in [entry.suites, *([(s,) for s in extra_suites] if release else [])]:
            key = (usable, suites, entry.components)
            if key not in seen:
                seen.add(key)
                result.append(AptSource(("deb-src",), usable, suites, entry.components, fields))
    return result


def render_deb822(entries: Iterable[AptSource]) -> str:
    """A ``.sources`` file holding ``entries``."""
    stanzas = []
    for entry in entries:
        lines = [f"Types: {' '.join(entry.types)}", f"URIs: {' '.join(entry.uris)}",
                 f"Suites: {' '.join(entry.suites)}"]  # fmt: skip
        if entry.components:
            lines.append(f"Components: {' '.join(entry.components)}")
        lines += [
            f"{name}:{' ' if value[:1] != chr(10) else ''}{value}" for name, value in entry.fields
        ]
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def apt_options(folder: Path) -> list[str]:
    """``-o`` options that point apt at the private configuration in ``folder``."""
    settings = {
        "Dir::Etc::sourcelist": folder / "sources.list",
        "Dir::Etc::sourceparts": folder / "sources.list.d",
        "Dir::State": folder / "state",
        "Dir::Cache": folder / "cache",
        "APT::Sandbox::User": "root",
    }
    return [arg for name, value in settings.items() for arg in ("-o", f"{name}={value}")]


def write_apt_config(folder: Path, entries: Sequence[AptSource]) -> list[str]:
    """Create the private apt folders and source list; return the options to pass to apt-get."""
    for sub in ("sources.list.d", "state/lists/partial", "cache/archives/partial"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "sources.list").write_text("", "utf-8")
    (folder / "sources.list.d" / "threadstorm-src.sources").write_text(
        render_deb822(entries), "utf-8"
    )
    return apt_options(folder)


def parse_debian_spec(spec: str) -> tuple[str, str | None]:
    """``python3.13=3.13.5-2`` -> (``python3.13``, ``3.13.5-2``)."""
    match = DEBIAN_SPEC.match(spec.strip())
    if match is None:
        raise UsageError(f"--debian {spec!r} is not PACKAGE=VERSION, e.g. python3.13=3.13.5-2")
    return match[1], match[2]


def upstream_version(debian_version: str) -> str | None:
    """The CPython version inside a Debian version (``1:3.13.0~rc1-2`` -> ``3.13.0rc1``)."""
    upstream = debian_version.split(":", 1)[-1].rsplit("-", 1)[0]
    return version_from_name(upstream)


def fetch_debian_source(
    spec: str, cache: Path, suites: Sequence[str] = (), progress: Progress = _quiet
) -> Path:
    """Download a Debian source package with ``apt-get source``; return its ``.orig`` tarball."""
    package, version = parse_debian_spec(spec)
    pin = f"{package}={version}" if version else package
    entries = source_entries(read_system_sources(), suites)
    if not entries:
        raise UsageError("this machine has no apt sources to derive deb-src entries from")
    options = write_apt_config(cache / "apt", entries)
    progress(f"apt-get update with {len(entries)} deb-src entries derived from /etc/apt")
    _apt(["apt-get", *options, "update"], cache / "apt", "apt-get update")
    download = cache / "debian" / pin.replace("=", "_").replace(":", "%3a")
    download.mkdir(parents=True, exist_ok=True)
    progress(f"apt-get source --download-only {pin} into {download}")
    try:
        _apt(["apt-get", *options, "source", "--download-only", pin], download, "apt-get source")
    except UsageError as error:
        shutil.rmtree(download, ignore_errors=True)
        raise UsageError(f"{error}; {_offered(package, options)}") from None
    origs = sorted(path for path in download.glob(f"{package}_*.orig.tar.*") if is_tarball(path))
    if not origs:
        raise UsageError(f"apt-get source {pin} brought no .orig tarball into {download}")
    return origs[-1]


def _apt(command: list[str], cwd: Path, name: str) -> str:
    try:
        done = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, check=False,
            env={**build_environment(), "LANG": "C.UTF-8", "DEBIAN_FRONTEND": "noninteractive"},
        )  # fmt: skip
    except OSError as error:
        raise UsageError(
            f"{command[0]} could not be run ({error.strerror or error}); --debian needs a "
            "Debian or Ubuntu machine with apt: use --source TARBALL elsewhere"
        ) from None
    errors = [line for line in done.stderr.splitlines() if line.startswith(("E:", "W:", "Err:"))]
    failed = done.returncode != 0 or any(line.startswith(("E:", "Err:")) for line in errors)
    if failed:
        detail = (errors or done.stderr.strip().splitlines() or ["no output"])[0]
        raise UsageError(f"{name} failed (exit {done.returncode}): {detail[:240]}")
    return done.stdout


def _offered(package: str, options: list[str]) -> str:
    done = subprocess.run(
        ["apt-cache", *options, "showsrc", package], capture_output=True, text=True, check=False
    )
    versions = sorted(set(re.findall(r"^Version: (\S+)$", done.stdout, re.MULTILINE)))
    if not versions:
        return (
            f"the machine's apt sources offer no source package {package}; add "
            "--debian-suite SUITE to also search another release on the same mirrors"
        )
    return (
        f"versions of {package} in the machine's apt sources: {', '.join(versions)} "
        "(a listed version can still be missing from the archive)"
    )


def build_debian(
    spec: str,
    flavour: str,
    cache: str | os.PathLike[str] | None = None,
    jobs: int | None = None,
    *,
    suites: Sequence[str] = (),
    progress: Progress = _quiet,
) -> BuiltPython:
    """Build from a Debian source package, reusing a finished build of that upstream version."""
    check_flavour(flavour)
    root = cache_root(cache)
    package, version = parse_debian_spec(spec)
    upstream = upstream_version(version) if version else None
    if upstream:
        pythons = prepare_cache(root)
        found = finished_build(pythons / build_key(upstream, flavour), upstream, flavour)
        if found is not None:
            return found
    tarball = fetch_debian_source(spec, root, suites, progress)
    origin = {"kind": "debian", "package": package, "debian_version": version, "suites": [*suites]}
    return build_python(tarball, flavour, root, jobs, progress=progress, origin=origin)
