"""Bad input to the commands: exit status 2, one line saying what is wrong, nothing half-written.

Each case runs the real CLI in a fresh process.  "Nothing half-written" is checked on the whole
test folder: every path in it is the same after the command as before (no campaign folder, no
parent folders made on the way to one, no script, no baseline).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import assert_usage_error, threadstorm

from threadstorm.scenario.codec import dumps
from threadstorm.scenario.model import Operation, Ref, Scenario, SharedObject, ThreadPlan
from threadstorm.store.db import Store

pytestmark = pytest.mark.integration

Command = Callable[..., subprocess.CompletedProcess[str]]


def snapshot(folder: Path) -> dict[str, bytes | None]:
    """Every path below ``folder`` with a file's bytes (None for a folder)."""
    return {
        str(path.relative_to(folder)): None if path.is_dir() else path.read_bytes()
        for path in sorted(folder.rglob("*"))
    }


def fuzz(python: Path, out: Path, modules: str = "json", budget: str = "5") -> list[str]:
    """A ``fuzz`` command line that is sound except, perhaps, for what a test changes."""
    return ["fuzz", "--python", str(python), "--modules", modules, f"--budget={budget}",
            "--out", str(out)]  # fmt: skip


@pytest.fixture
def unchanged(tmp_path: Path) -> Command:
    """Run a command and check it changed nothing in the test folder."""

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        before = snapshot(tmp_path)
        done = threadstorm(*args, cwd=tmp_path)
        assert snapshot(tmp_path) == before, done.stderr
        return done

    return run


@pytest.fixture
def interpreters(tmp_path: Path, python313d: Path) -> dict[str, Path]:
    """Things that are not usable targets, each made in the test folder."""
    folder = tmp_path / "targets"
    folder.mkdir()
    text = folder / "notes.txt"
    text.write_text("print('hi')\n")
    runnable_text = folder / "runnable.txt"
    runnable_text.write_text("just words, no shebang\n")
    runnable_text.chmod(0o755)
    dies = folder / "dies.sh"
    dies.write_text("#!/bin/sh\necho 'cannot start' >&2\nexit 1\n")
    dies.chmod(0o755)
    # Answers the quick `-c` probe as the real target, then dies when the harness starts.
    half = folder / "half.sh"
    half.write_text(
        f'#!/bin/sh\ncase "$1" in -c) exec {python313d} "$@";; esac\n'
        "echo 'fatal: simulated start-up failure' >&2\nexit 1\n"
    )
    half.chmod(0o755)
    return {
        "missing": folder / "no-such-python",
        "ls": Path("/bin/ls"),
        "directory": folder,
        "text file": text,
        "executable text file": runnable_text,
        "dies at start": dies,
        "dies starting the harness": half,
    }


@pytest.mark.parametrize(
    "kind",
    [
        "missing",
        "ls",
        "directory",
        "text file",
        "executable text file",
        "dies at start",
        "dies starting the harness",
    ],
)
def test_fuzz_rejects_unusable_interpreters(
    interpreters: dict[str, Path], unchanged: Command, tmp_path: Path, kind: str
) -> None:
    python = interpreters[kind]
    out = tmp_path / "campaign"
    done = unchanged(*fuzz(python, out))
    message = assert_usage_error(done, str(python))
    assert done.stdout == "", done.stdout
    if kind == "dies starting the harness":
        assert "simulated start-up failure" in message


def test_fuzz_rejects_an_unknown_module(
    python313d: Path, unchanged: Command, tmp_path: Path
) -> None:
    out = tmp_path / "new" / "parents" / "campaign"  # none of these may be left behind
    done = unchanged(*fuzz(python313d, out, modules="json,no_such_module_xyz"))
    assert_usage_error(done, "no_such_module_xyz")


@pytest.mark.parametrize("where", ["under /proc", "under a file"])
def test_fuzz_rejects_an_unwritable_out(
    python313d: Path, unchanged: Command, tmp_path: Path, where: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder\n")
    # The tests may run as root, for whom permission bits stop nothing: use places no one can
    # make a folder in.
    out = Path("/proc/threadstorm-test/out") if where == "under /proc" else blocker / "campaign"
    done = unchanged(*fuzz(python313d, out))
    assert_usage_error(done, str(out))
    assert not out.exists()


@pytest.mark.parametrize("budget", ["0", "-5", "abc", "nan"])
def test_fuzz_rejects_a_bad_budget(
    python313d: Path, unchanged: Command, tmp_path: Path, budget: str
) -> None:
    done = unchanged(*fuzz(python313d, tmp_path / "campaign", budget=budget))
    assert_usage_error(done, "budget")


def test_fuzz_rejects_a_missing_suppression_file(
    python313d: Path, unchanged: Command, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-suppressions.txt"
    done = unchanged(*fuzz(python313d, tmp_path / "campaign"), "--suppressions", str(missing))
    assert_usage_error(done, str(missing), "suppression")


def test_run_rejects_an_unreadable_suppression_file(
    python313d: Path, unchanged: Command, tmp_path: Path
) -> None:
    scenario = tmp_path / "scenario.json"
    scenario.write_text(
        Path(__file__).parent.parent.parent.joinpath("examples/seed.json").read_text()
    )
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    done = unchanged("run", str(scenario), "--python", str(python313d), "--suppressions",
                     str(binary))  # fmt: skip
    assert_usage_error(done, str(binary), "cannot be read as text")


def test_fuzz_refuses_a_folder_that_is_not_empty(
    python313d: Path, unchanged: Command, tmp_path: Path
) -> None:
    out = tmp_path / "used"
    out.mkdir()
    (out / "keep.txt").write_text("someone's work\n")
    done = unchanged(*fuzz(python313d, out))
    assert_usage_error(done, str(out), "--resume")


def test_fuzz_resume_of_a_folder_without_a_campaign(unchanged: Command, tmp_path: Path) -> None:
    done = unchanged("fuzz", "--resume", str(tmp_path))
    assert_usage_error(done, str(tmp_path))


# --------------------------------------------------------------------------- run


def inconsistent_scenario() -> str:
    """Valid JSON, valid shape, but an operation on a shared object that does not exist."""
    scenario = Scenario(
        shared=(SharedObject("obj", Ref("builtins.list")),),
        threads=(ThreadPlan((Operation("function", "obj", "builtins.repr"),)),),
    )
    doc = json.loads(dumps(scenario))
    doc["threads"][0][0]["target"] = "ghost"
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b'{"threadstorm_scenario": 1, "shared": [', ()),
        (b'{"hello": "world"}', ()),
        (inconsistent_scenario().encode(), ("ghost",)),
        (b"\xff\xfe\x00\x81 not text", ()),
        (None, ()),
    ],
    ids=["malformed JSON", "not a scenario", "inconsistent", "binary", "missing"],
)
def test_run_rejects_a_bad_scenario_file(
    python313d: Path,
    unchanged: Command,
    tmp_path: Path,
    content: bytes | None,
    words: tuple[str, ...],
) -> None:
    scenario = tmp_path / "scenario.json"
    if content is not None:
        scenario.write_bytes(content)
    done = unchanged("run", str(scenario), "--python", str(python313d), "--runs", "1")
    assert_usage_error(done, str(scenario), *words)


# --------------------------------------------------------------------------- report, repro


@pytest.mark.parametrize("folder_kind", ["empty", "missing"])
@pytest.mark.parametrize("command", ["report", "repro"])
def test_report_and_repro_need_a_campaign_folder(
    unchanged: Command, tmp_path: Path, command: str, folder_kind: str
) -> None:
    folder = tmp_path / "nothing-here"
    if folder_kind == "empty":
        folder.mkdir()
    args = [command, str(folder)]
    if command == "repro":
        args += ["0123abcd", "--out", str(tmp_path / "repro.py"), "--runs", "1"]
    done = unchanged(*args)
    assert_usage_error(done, str(folder))


def test_repro_of_an_unknown_bucket(python313d: Path, tmp_path: Path) -> None:
    campaign = tmp_path / "campaign"
    Store.create(campaign, {"python": str(python313d)}).close()
    script = tmp_path / "repro.py"
    done = threadstorm("repro", str(campaign), "feedface0000", "--out", str(script))
    assert_usage_error(done, "feedface0000", "threadstorm report")
    assert not script.exists()


# --------------------------------------------------------------------------- check


@pytest.mark.parametrize(
    "text",
    ["{not json", '{"buckets": []}', '{"threadstorm_baseline": 1, "buckets": [{"key": 7}]}'],
    ids=["malformed", "not a baseline", "bad bucket"],
)
def test_check_rejects_a_bad_baseline(
    python313d: Path, unchanged: Command, tmp_path: Path, text: str
) -> None:
    baseline = tmp_path / "baseline.json"
    baseline.write_text(text)
    args = fuzz(python313d, tmp_path / "campaign")
    done = unchanged("check", *args[1:], "--baseline", str(baseline))
    assert_usage_error(done, str(baseline))


@pytest.mark.parametrize("option", ["--junit", "--update-baseline"])
def test_check_refuses_an_output_it_could_not_write_before_storming(
    python313d: Path, unchanged: Command, tmp_path: Path, option: str
) -> None:
    missing = tmp_path / "no-such-folder"
    baseline = tmp_path / "baseline.json"
    args = fuzz(python313d, tmp_path / "campaign")[1:]
    if option == "--junit":
        args += ["--baseline", str(baseline), "--junit", str(missing / "check.xml")]
    else:
        args += ["--baseline", str(missing / "baseline.json"), "--update-baseline"]
    done = unchanged("check", *args)
    assert_usage_error(done, str(missing))
    assert "runs in" not in done.stdout  # refused before any campaign ran
