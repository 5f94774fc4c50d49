"""Output that is not a terminal (CI logs, pipes): wide plain text, nothing cut, no colour."""

from __future__ import annotations

import pytest

from threadstorm.campaign.progress import Tally, summary_table
from threadstorm.cli.output import PLAIN_WIDTH, output_console

LONG = (
    "python: SIGSEGV | types: typing.Union, list | list_repr -> union_repr -> "
    "PyTuple_Check(alias->args) | threads: repr(obj) x3 vs obj.clear(), obj.append(x) "
    "and a tail long enough to pass even a wide page: " + "frame_" * 40
)


def test_a_log_gets_the_whole_signature_with_no_colour(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    console = output_console()  # pytest's captured stdout is not a terminal
    assert console.width == PLAIN_WIDTH
    console.print(summary_table(Tally(runs=10), [("abc123", "crashed", "in-contract", 2, LONG)]))
    out = capsys.readouterr().out
    assert "\x1b[" not in out
    assert "…" not in out
    assert "".join(line.strip(" │|") for line in out.splitlines()).count("frame_") == 40


def test_columns_sets_the_width_of_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    assert output_console().width == 120
