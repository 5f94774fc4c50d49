"""Exit statuses, one meaning each: 0 clean, 1 new in-contract bug (check), 2 usage, 3 could not
test.  ``check`` is driven through the real ``main`` with the campaign replaced by one that
writes a store, so each status is reached by the code path CI takes."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from threadstorm.bucket.identity import Signature
from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.progress import Tally
from threadstorm.campaign.runner import CampaignResult
from threadstorm.campaign.soundness import could_not_test
from threadstorm.cli import cmd_check
from threadstorm.cli import main as cli
from threadstorm.errors import CouldNotTest, HarnessError, UsageError
from threadstorm.scenario.model import Make, Operation, Scenario, SharedObject, ThreadPlan
from threadstorm.store.db import Store
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

FREE = {"free_threaded": True, "gil_enabled": False}
SCENARIO = Scenario(
    shared=(SharedObject("obj", Make("nested_list")),),
    threads=(ThreadPlan((Operation("method", "obj", "clear"),)),),
)


def tally(runs: int, harness_errors: int = 0) -> Tally:
    counts = {Status.PASSED: runs - harness_errors, Status.HARNESS_ERROR: harness_errors}
    return Tally(runs=runs, by_status={k: v for k, v in counts.items() if v})


def fake_campaign(
    monkeypatch: pytest.MonkeyPatch, runs: Tally, facts: dict[str, Any], finding: bool
) -> None:
    """Replace ``check``'s campaign by one that writes a store with ``facts`` (and a finding)."""

    def run_new_campaign(config: Any, console: Any) -> CampaignResult:
        with Store.create(config.out, {"target": facts}) as store:
            if finding:
                store.record_finding(
                    Signature("native", ("list_append",)),
                    Status.CRASHED,
                    contract="in-contract",
                    scenario=SCENARIO,
                    evidence=Evidence(11, -11, False, 0.1, b""),
                    outcome=Outcome(Status.CRASHED, "SIGSEGV"),
                )
        return CampaignResult(runs, [], Path(config.out))

    monkeypatch.setattr(cmd_check, "run_new_campaign", run_new_campaign)
    monkeypatch.setattr(cli, "COMMANDS", ("check",))


Check = Callable[..., tuple[int, str]]


@pytest.fixture
def check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Check:
    def run(runs: Tally, facts: dict[str, Any] = FREE, *, finding: bool = False) -> tuple[int, str]:
        fake_campaign(monkeypatch, runs, facts, finding)
        monkeypatch.setenv("THREADSTORM_ERROR_DIR", str(tmp_path / "errors"))
        argv = ["check", "--python", "/usr/bin/python3", "--modules", "json"]
        argv += ["--baseline", str(tmp_path / "baseline.json"), "--out", str(tmp_path / "c")]
        status = cli.main(argv)
        out, err = capsys.readouterr()
        return status, out + err

    return run


def test_check_exits_0_when_clean(check: Check) -> None:
    status, out = check(tally(200))
    assert status == 0, out
    assert "check passed: no new in-contract bucket in 200 runs" in out


def test_check_exits_1_on_a_new_in_contract_bucket(check: Check) -> None:
    status, out = check(tally(200), finding=True)
    assert status == 1, out
    assert "NEW in-contract" in out


def test_check_exits_2_on_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere" / "check.xml"
    argv = ["check", "--python", "/usr/bin/python3", "--baseline", "b.json", "--junit"]
    assert cli.main([*argv, str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not exist" in err


def test_a_follow_up_budget_that_is_no_time_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["fuzz", "--python", "/usr/bin/python3", "--follow-up-budget", "0"]
    assert cli.main([*argv, "--out", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--follow-up-budget must be a positive" in err
    assert not (tmp_path / "c").exists()


def test_follow_up_takes_half_the_budget_unless_told() -> None:
    assert CampaignConfig(python="p", out="o", budget_s=600).follow_up_seconds == 300
    assert CampaignConfig(python="p", out="o", budget_s=20).follow_up_seconds == 30
    told = CampaignConfig(python="p", out="o", budget_s=600, follow_up_budget_s=900)
    assert told.follow_up_seconds == 900


@pytest.mark.parametrize(
    ("runs", "facts", "reason"),
    [
        (tally(0), FREE, "no valid run"),
        (tally(40, harness_errors=40), FREE, "no valid run"),
        (tally(100, harness_errors=6), FREE, "6 of 100 runs ended in harness errors"),
        (tally(100), {"free_threaded": True, "gil_enabled": True}, "GIL was on"),
        (tally(100), {"free_threaded": False, "gil_enabled": True}, "not a free-threaded"),
    ],
)
def test_check_exits_3_when_it_could_not_test(
    check: Check, runs: Tally, facts: dict[str, Any], reason: str
) -> None:
    status, out = check(runs, facts, finding=True)  # a finding does not make it a sound test
    assert status == 3, out
    assert reason in out


def test_five_percent_of_harness_errors_is_still_a_test() -> None:
    assert could_not_test(100, 5, FREE) == []
    assert could_not_test(100, 6, FREE) != []


def command_raising(
    monkeypatch: pytest.MonkeyPatch, error: BaseException
) -> Callable[[], argparse.ArgumentParser]:
    """Make ``main`` know one command, ``boom``, whose handler raises ``error``."""

    def handler(args: argparse.Namespace) -> int:
        raise error

    def build() -> argparse.ArgumentParser:
        parser = cli.ArgumentParser(prog="threadstorm")
        sub = parser.add_subparsers(dest="command", parser_class=cli.ArgumentParser)
        sub.add_parser("boom").set_defaults(handler=handler)
        return parser

    monkeypatch.setattr(cli, "build_parser", build)
    return build


@pytest.mark.parametrize(
    "error",
    [
        HarnessError("surface discovery failed: server died\nmore detail"),
        RuntimeError("a bug in threadstorm"),
    ],
)
def test_an_unexpected_error_exits_3_with_one_line_and_a_saved_traceback(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
) -> None:
    monkeypatch.setenv("THREADSTORM_ERROR_DIR", str(tmp_path / "errors"))
    command_raising(monkeypatch, error)
    assert cli.main(["boom"]) == 3
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err
    saved = Path(captured.err.rsplit("traceback saved to ", 1)[1].rstrip(")\n"))
    assert saved.parent == tmp_path / "errors"
    text = saved.read_text()
    assert "Traceback (most recent call last)" in text and type(error).__name__ in text


def test_could_not_test_and_usage_errors_keep_their_own_status(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    command_raising(monkeypatch, CouldNotTest("no valid run"))
    assert cli.main(["boom"]) == 3
    command_raising(monkeypatch, UsageError("pass --python"))
    assert cli.main(["boom"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "threadstorm: could not test: no valid run",
        "threadstorm: error: pass --python",
    ]
