"""The pure parts of build-python: versions, keys, dependencies, configure, apt configuration."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from threadstorm.errors import UsageError
from threadstorm.target import build, debian
from threadstorm.target.debian import AptSource

# --- versions and keys ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("python3.14_3.14.7.orig.tar.xz", "3.14.7"),
        ("python3.13_3.13.5.orig.tar.xz", "3.13.5"),
        ("Python-3.14.7.tar.xz", "3.14.7"),
        ("Python-3.14.0a7.tgz", "3.14.0a7"),
        ("Python-3.13.0rc1.tar.gz", "3.13.0rc1"),
        ("python3.13_3.13.0~rc1.orig.tar.xz", "3.13.0rc1"),
        ("/some/where/3.1.2/Python-3.12.10.tar.xz", "3.12.10"),
        ("cpython-main.tar.xz", None),
        ("python3.14.tar.xz", None),
    ],
)
def test_version_from_name(name: str, version: str | None) -> None:
    assert build.version_from_name(name) == version


def test_version_from_patchlevel() -> None:
    text = '#define PY_MINOR_VERSION 14\n#define PY_VERSION              "3.14.0a7+"\n'
    assert build.version_from_patchlevel(text) == "3.14.0a7"
    with pytest.raises(UsageError, match="PY_VERSION"):
        build.version_from_patchlevel("#define PY_MINOR_VERSION 14\n")


def fake_tree(root: Path, version: str = "3.14.7") -> Path:
    """A folder that looks like a CPython source tree."""
    (root / "Include").mkdir(parents=True)
    (root / "Include" / "patchlevel.h").write_text(f'#define PY_VERSION "{version}"\n')
    (root / "configure").write_text("#!/bin/sh\nexit 1\n")
    return root


def test_source_version_of_tree_and_tarball(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path / "Python-3.14.7")
    assert build.source_version(tree) == "3.14.7"
    unnamed = tmp_path / "snapshot.tar.gz"
    with tarfile.open(unnamed, "w:gz") as archive:
        archive.add(tree, arcname="Python-3.14.7")
    assert build.source_version(unnamed) == "3.14.7"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p / "missing.tar.xz", "does not exist"),
        (lambda p: p, "not a CPython source tree"),
        (lambda p: _write(p / "notes.txt", "hi"), "neither a folder nor a tarball"),
        (lambda p: _write(p / "broken.tar.gz", "not a tarball"), "cannot be read as a tarball"),
    ],
)
def test_source_version_rejects_non_sources(tmp_path: Path, make: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        build.source_version(make(tmp_path))  # type: ignore[operator]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_keys_and_binaries(tmp_path: Path) -> None:
    assert build.build_key("3.14.7", "debug") == "cpython-3.14.7-debug"
    assert build.build_folder(tmp_path, "3.13.5", "release") == (
        tmp_path / "pythons" / "cpython-3.13.5-release"
    )
    assert build.binary_name("3.14.7", "release") == "python3.14t"
    assert build.binary_name("3.13.5", "debug") == "python3.13td"
    assert build.binary_name("3.14.7", "tsan") == "python3.14td"  # tsan builds are pydebug too
    with pytest.raises(UsageError, match="unknown flavour"):
        build.build_key("3.14.7", "fast")


def test_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("THREADSTORM_CACHE", str(tmp_path / "env"))
    assert build.cache_root() == tmp_path / "env"
    assert build.cache_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("THREADSTORM_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert build.cache_root() == tmp_path / ".cache" / "threadstorm"


# --- dependencies and configure ------------------------------------------------------------


def test_required_packages_add_zstd_from_314() -> None:
    assert "libzstd-dev" not in build.required_packages("3.13.5")
    assert "libzstd-dev" in build.required_packages("3.14.7")
    assert "build-essential" in build.required_packages("3.13.5")


def test_dependency_message_is_one_line_naming_apt_packages() -> None:
    message = build.dependency_message(["libssl-dev", "libzstd-dev"])
    assert "\n" not in message
    assert "apt-get install libssl-dev libzstd-dev" in message


def test_parse_dpkg_status() -> None:
    output = "libssl-dev\tii \nzlib1g-dev\tun \nlibffi-dev:amd64\tii \nlibbz2-dev\trc \n"
    assert build.parse_dpkg_status(output) == {"libssl-dev", "libffi-dev"}


def test_check_dependencies_names_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build, "missing_packages", lambda names: ["uuid-dev"])
    with pytest.raises(UsageError, match=r"apt-get install uuid-dev`"):
        build.check_dependencies("3.14.7")


def test_configure_args() -> None:
    prefix = Path("/c/pythons/cpython-3.14.7-debug/install")
    assert build.configure_args(prefix, "debug", "ccache gcc") == [
        f"--prefix={prefix}",
        "--disable-gil",
        "--with-pydebug",
        "--disable-test-modules",
        "CC=ccache gcc",
    ]
    assert build.configure_args(prefix, "release", None) == [
        f"--prefix={prefix}",
        "--disable-gil",
        "--disable-test-modules",
    ]


def test_tsan_flavour_configures_and_checks_the_sanitizer() -> None:
    prefix = Path("/c/pythons/cpython-3.14.7-tsan/install")
    assert build.configure_args(prefix, "tsan", None) == [
        f"--prefix={prefix}",
        "--disable-gil",
        "--with-pydebug",
        "--with-thread-sanitizer",
        "--disable-test-modules",
    ]
    facts = {"version": "3.14.7", "free_threaded": True, "debug": True, "sanitizer": "thread"}
    assert build.facts_match(facts, "3.14.7", "tsan")
    assert not build.facts_match(facts, "3.14.7", "debug")  # a tsan build is no plain debug one
    assert not build.facts_match({**facts, "sanitizer": None}, "3.14.7", "tsan")


def test_a_tsan_build_never_fails_on_a_race_of_its_own(tmp_path: Path) -> None:
    tree = tmp_path / "Python-3.14.7"
    (tree / "Tools" / "tsan").mkdir(parents=True)
    (tree / "Tools" / "tsan" / "suppressions_free_threading.txt").write_text("race:x\n")
    options = build.build_environment("tsan", tree)["TSAN_OPTIONS"].split()
    assert {"report_bugs=0", "exitcode=0"} <= set(options)
    assert f"suppressions={tree / 'Tools/tsan/suppressions_free_threading.txt'}" in options
    assert "TSAN_OPTIONS" not in build.build_environment("debug", tree)


def test_build_environment_drops_python_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    monkeypatch.setenv("CCACHE_DIR", "/ccache")
    env = build.build_environment()
    assert "PYTHONPATH" not in env
    assert env["CCACHE_DIR"] == "/ccache"


# --- the cache -------------------------------------------------------------------------------


def finished(cache: Path, version: str = "3.14.7", flavour: str = "release") -> Path:
    """A fake finished build in ``cache``; return its interpreter path."""
    folder = build.build_folder(cache, version, flavour)
    binary = build.interpreter_path(folder, version, flavour)
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    info = {"version": version, "flavour": flavour}
    (folder / build.INFO_NAME).write_text(json.dumps(info))
    return binary


def test_finished_build_is_reused_without_building(tmp_path: Path) -> None:
    binary = finished(tmp_path / "cache")
    tarball = _write(tmp_path / "Python-3.14.7.tar.xz", "never read")
    built = build.build_python(tarball, "release", cache=tmp_path / "cache")
    assert built.reused
    assert built.interpreter == binary


def test_unfinished_folder_is_never_built_over(tmp_path: Path) -> None:
    folder = build.build_folder(tmp_path / "cache", "3.14.7", "release")
    (folder / "install").mkdir(parents=True)
    tarball = _write(tmp_path / "Python-3.14.7.tar.xz", "never read")
    with pytest.raises(UsageError, match="not a finished build"):
        build.build_python(tarball, "release", cache=tmp_path / "cache")
    assert (folder / "install").is_dir()


def test_unwritable_cache_is_a_usage_error(tmp_path: Path) -> None:
    blocker = _write(tmp_path / "file", "")
    tarball = _write(tmp_path / "Python-3.14.7.tar.xz", "never read")
    with pytest.raises(UsageError, match="cannot write to the build cache"):
        build.build_python(tarball, "release", cache=blocker / "cache")


def test_failed_build_leaves_only_its_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(build, "check_dependencies", lambda version: None)
    tree = fake_tree(tmp_path / "Python-3.14.7")
    (tree / "configure").chmod(0o755)
    cache = tmp_path / "cache"
    with pytest.raises(build.BuildError, match=r"failed in `configure` \(exit 1\).*failed\.log"):
        build.build_python(tree, "debug", cache=cache)
    pythons = cache / "pythons"
    assert sorted(p.name for p in pythons.iterdir()) == [
        ".cpython-3.14.7-debug.lock",
        "cpython-3.14.7-debug.failed.log",
    ]
    assert "=== threadstorm: configure" in (pythons / "cpython-3.14.7-debug.failed.log").read_text()


def test_unstartable_step_is_a_build_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(build, "check_dependencies", lambda version: None)
    tree = fake_tree(tmp_path / "Python-3.14.7")  # configure is not executable
    with pytest.raises(build.BuildError, match="could not start"):
        build.build_python(tree, "release", cache=tmp_path / "cache")
    assert not (tmp_path / "cache" / "pythons" / ".cpython-3.14.7-release.partial").exists()


def test_adoption_needs_a_clean_log(tmp_path: Path) -> None:
    folder = tmp_path / "cpython-3.13.5-debug"
    binary = build.interpreter_path(folder, "3.13.5", "debug")
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    (folder / "build.log").write_text("gcc ...\nmake[1]: *** [Makefile:3] Error 1\n")
    assert build.adoptable(folder, "3.13.5", "debug") is None


# --- Debian sources ------------------------------------------------------------------------

ONE_LINE_SAMPLE = """\
# a comment
deb http://mirror.example/debian bookworm main contrib
deb [arch=amd64 signed-by=/usr/share/keyrings/extra.gpg] https://repo.example/apt stable main
deb-src http://mirror.example/debian bookworm main contrib
deb cdrom:[Debian 12]/ bookworm main
#deb http://mirror.example/debian bookworm-backports main
"""

DEB822_SAMPLE = """\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
Architectures: amd64

Types: deb
URIs: http://disabled.example/apt
Suites: nodistro
Components: main
Enabled: no

Types: deb
URIs: https://inline.example/ubuntu
Suites: noble
Components: main universe
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBFufwdoBEADv
 -----END PGP PUBLIC KEY BLOCK-----
"""


def test_parse_one_line() -> None:
    entries = debian.parse_one_line(ONE_LINE_SAMPLE)
    assert [entry.types for entry in entries] == [("deb",), ("deb",), ("deb-src",), ("deb",)]
    assert entries[0] == AptSource(
        ("deb",), ("http://mirror.example/debian",), ("bookworm",), ("main", "contrib")
    )
    assert entries[1].fields == (
        ("Architectures", "amd64"),
        ("Signed-By", "/usr/share/keyrings/extra.gpg"),
    )


def test_parse_deb822_skips_disabled_and_keeps_inline_keys() -> None:
    entries = debian.parse_deb822(DEB822_SAMPLE)
    assert [entry.uris[0] for entry in entries] == [
        "http://mirror.example/debian",
        "http://mirror.example/debian-security",
        "https://inline.example/ubuntu",
    ]
    assert entries[0].suites == ("bookworm", "bookworm-updates")
    assert entries[1].types == ("deb", "deb-src")
    assert entries[1].fields == ()  # Architectures is irrelevant to source indexes
    name, key = entries[2].fields[0]
    assert name == "Signed-By"
    assert key.splitlines()[1:] == [
        " -----BEGIN PGP PUBLIC KEY BLOCK-----",
        " .",
        " mQINBFufwdoBEADv",
        " -----END PGP PUBLIC KEY BLOCK-----",
    ]


def test_source_entries_dedupe_and_drop_cdrom() -> None:
    entries = debian.source_entries(debian.parse_one_line(ONE_LINE_SAMPLE))
    assert [(entry.types, entry.uris[0]) for entry in entries] == [
        (("deb-src",), "http://mirror.example/debian"),
        (("deb-src",), "https://repo.example/apt"),
    ]


def test_extra_suites_twin_only_release_suites() -> None:
    entries = debian.source_entries(debian.parse_deb822(DEB822_SAMPLE), ["trixie"])
    pairs = [(entry.uris[0], entry.suites) for entry in entries]
    assert pairs == [
        ("http://mirror.example/debian", ("bookworm", "bookworm-updates")),
        ("http://mirror.example/debian", ("trixie",)),
        ("http://mirror.example/debian-security", ("bookworm-security",)),
        ("https://inline.example/ubuntu", ("noble",)),
        ("https://inline.example/ubuntu", ("trixie",)),
    ]
    assert entries[1].fields == entries[0].fields  # the same keys sign the twin


def test_render_deb822_round_trips() -> None:
    entries = debian.source_entries(debian.parse_deb822(DEB822_SAMPLE))
    text = debian.render_deb822(entries)
    assert text.startswith(
        "Types: deb-src\nURIs: http://mirror.example/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
    )
    assert "Signed-By:\n -----BEGIN PGP PUBLIC KEY BLOCK-----\n .\n" in text
    assert debian.parse_deb822(text) == entries


def test_read_system_sources_reads_what_apt_reads(tmp_path: Path) -> None:
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    (tmp_path / "sources.list").write_text("deb http://mirror.example/debian bookworm main\n")
    (parts / "a.sources").write_text(DEB822_SAMPLE)
    (parts / "b.list.disabled").write_text("deb http://ignored.example/apt x main\n")
    uris = [entry.uris[0] for entry in debian.read_system_sources(tmp_path)]
    assert "http://ignored.example/apt" not in uris
    assert uris[:2] == ["http://mirror.example/debian", "http://mirror.example/debian"]


def test_write_apt_config_is_private(tmp_path: Path) -> None:
    entries = debian.source_entries(debian.parse_one_line(ONE_LINE_SAMPLE))
    options = debian.write_apt_config(tmp_path / "apt", entries)
    settings = dict(option.split("=", 1) for option in options[1::2])
    assert all(options[index] == "-o" for index in range(0, len(options), 2))
    assert settings["Dir::State"] == str(tmp_path / "apt" / "state")
    assert settings["Dir::Cache"] == str(tmp_path / "apt" / "cache")
    assert settings["Dir::Etc::sourcelist"] == str(tmp_path / "apt" / "sources.list")
    assert (tmp_path / "apt" / "state" / "lists" / "partial").is_dir()
    written = tmp_path / "apt" / "sources.list.d" / "threadstorm-src.sources"
    assert debian.parse_deb822(written.read_text()) == entries


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("python3.13=3.13.5-2", ("python3.13", "3.13.5-2")),
        ("python3.13", ("python3.13", None)),
        ("python3.13=1:3.13.0~rc1-1+b1", ("python3.13", "1:3.13.0~rc1-1+b1")),
    ],
)
def test_parse_debian_spec(spec: str, parsed: tuple[str, str | None]) -> None:
    assert debian.parse_debian_spec(spec) == parsed


@pytest.mark.parametrize("spec", ["", "Python3.13=1", "python3.13=a b", "=3.13.5"])
def test_parse_debian_spec_rejects(spec: str) -> None:
    with pytest.raises(UsageError, match="PACKAGE=VERSION"):
        debian.parse_debian_spec(spec)


def test_missing_apt_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a Debian or Ubuntu machine"):
        debian._apt([str(tmp_path / "no-apt-get"), "update"], tmp_path, "apt-get update")


@pytest.mark.parametrize(
    ("debian_version", "upstream"),
    [("3.13.5-2", "3.13.5"), ("1:3.13.0~rc1-1", "3.13.0rc1"), ("3.13.5-2+b1", "3.13.5")],
)
def test_upstream_version(debian_version: str, upstream: str) -> None:
    assert debian.upstream_version(debian_version) == upstream


# --- the command line ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "{tmp}/missing.tar.xz"], "does not exist"),
        (["--source", "{tmp}"], "not a CPython source tree"),
        (["--source", "{tmp}/notes.txt"], "neither a folder nor a tarball"),
        (
            ["--source", "{tmp}/Python-3.14.7.tar.xz", "--cache", "{tmp}/notes.txt/c"],
            "cannot write",
        ),
        (["--source", "{tmp}/Python-3.14.7.tar.xz", "--debian-suite", "trixie"], "only applies"),
        (["--debian", "Python 3"], "PACKAGE=VERSION"),
    ],
)
def test_build_python_cli_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], message: str
) -> None:
    from threadstorm.cli.main import main

    _write(tmp_path / "notes.txt", "hi")
    _write(tmp_path / "Python-3.14.7.tar.xz", "not read")
    argv = ["build-python", "--flavour", "release", *(a.format(tmp=tmp_path) for a in args)]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert message in captured.err


def test_build_python_cli_prints_the_path_last(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from threadstorm.cli.main import main

    binary = finished(tmp_path / "cache", "3.13.5", "debug")
    tarball = _write(tmp_path / "python3.13_3.13.5.orig.tar.xz", "not read")
    argv = ["build-python", "--source", str(tarball), "--flavour", "debug"]
    assert main([*argv, "--cache", str(tmp_path / "cache")]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines()[-1] == str(binary)
    assert "reusing" in captured.err
