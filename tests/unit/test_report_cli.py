"""``threadstorm report``: formats, one bucket, atomic --out, and one-line usage errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from test_report_samples import UNION_SIGNATURE, sample_store

from threadstorm.cli import main as cli
from threadstorm.cli.cmd_report import FORMATS, write_atomically
from threadstorm.errors import UsageError


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    folder = tmp_path / "campaign"
    sample_store(folder).close()
    return folder


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def report(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Run:
    """``threadstorm report ARGV...`` through the real ``main``, with this command alone."""
    monkeypatch.setattr(cli, "COMMANDS", ("report",))

    def run(*argv: str) -> tuple[int, str, str]:
        status = cli.main(["report", *argv])
        out, err = capsys.readouterr()
        return status, out, err

    return run


@pytest.mark.parametrize("form", FORMATS)
def test_every_format_writes_its_file(
    campaign: Path,
    tmp_path: Path,
    form: str,
    report: Run,
) -> None:
    out_file = tmp_path / f"report.{form}"
    status, out, err = report(str(campaign), "--format", form, "--out", str(out_file))
    assert (status, out, err) == (0, "", "")
    text = out_file.read_text()
    assert UNION_SIGNATURE.key in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["campaign", out_file.name]


def test_text_to_stdout(campaign: Path, report: Run) -> None:
    status, out, _ = report(str(campaign))
    assert status == 0
    assert out.startswith("threadstorm campaign ")
    assert "Bugs: 2" in out


def test_json_to_stdout(campaign: Path, report: Run) -> None:
    status, out, _ = report(str(campaign), "--format", "json")
    assert status == 0
    assert json.loads(out)["campaign"]["runs"] == 171


def test_bucket_bug_report_by_prefix(campaign: Path, report: Run) -> None:
    prefix = UNION_SIGNATURE.key[:6]
    status, out, _ = report(str(campaign), "--format", "markdown", "--bucket", prefix)
    assert status == 0
    assert out.startswith("# Free-threaded 3.13.5: assertion `PyTuple_Check(alias->args)` fails")
    assert "```python\n" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["{missing}"], "does not exist (no threadstorm.sqlite); start a campaign there with"),
        (["{empty}"], "holds no threadstorm campaign (no threadstorm.sqlite)"),
        (["{campaign}", "--bucket", "zz"], "no bucket 'zz' in "),
        (["{campaign}", "--format", "html", "--bucket", "a"], "--bucket works with --format text"),
        (["{campaign}", "--out", "{missing}/r.txt"], "cannot write"),
        (["{campaign}", "--out", "{empty}"], "cannot write"),
    ],
)
def test_usage_errors_are_one_line_with_status_2(
    campaign: Path,
    tmp_path: Path,
    argv: list[str],
    message: str,
    report: Run,
) -> None:
    (tmp_path / "empty").mkdir()
    names = {"campaign": campaign, "missing": tmp_path / "missing", "empty": tmp_path / "empty"}
    status, out, err = report(*(a.format(**names) for a in argv))
    assert (status, out) == (2, "")
    assert err.startswith("threadstorm: error: ") and err.count("\n") == 1
    assert message in err
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == []


def test_write_atomically_replaces_whole(tmp_path: Path) -> None:
    target = tmp_path / "r.md"
    target.write_text("old")
    write_atomically(target, "new text\n")
    assert target.read_text() == "new text\n"
    assert [p.name for p in tmp_path.iterdir()] == ["r.md"]
    with pytest.raises(UsageError, match=r"folder .* does not exist"):
        write_atomically(tmp_path / "no" / "r.md", "x")
