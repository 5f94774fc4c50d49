"""The unit of work: batches and targets as JSON, a target a worker cannot run, ``--scheduler``
without Dask installed."""

from __future__ import annotations

import importlib.util
import json
import signal
from pathlib import Path

import pytest
from test_report_samples import classmethod_scenario, evidence, union_scenario

from threadstorm.campaign.batch import Batch, BatchItem, BatchResult, SessionPool, TargetSpec
from threadstorm.campaign.config import CampaignConfig
from threadstorm.campaign.dask_task import run_batch_task
from threadstorm.campaign.progress import Tally, worker_table
from threadstorm.cli.main import main
from threadstorm.errors import UsageError
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Status

TARGET = TargetSpec(
    python="/opt/python3.13td",
    modules=("planted", "collections"),
    paths=("/srv/planted",),
    limits=(("address_space", 1 << 32), ("cpu_seconds", 25)),
)


def through_json(doc: object) -> object:
    return json.loads(json.dumps(doc))


def test_target_round_trips_through_json() -> None:
    doc = through_json(TARGET.to_json())
    assert isinstance(doc, dict)
    assert TargetSpec.from_json(doc) == TARGET
    assert hash(TargetSpec.from_json(doc)) == hash(TARGET)  # a worker's pool key


def test_batch_round_trips_through_json() -> None:
    batch = Batch(7, (BatchItem(union_scenario(), 16), BatchItem(classmethod_scenario())), 10.0)
    doc = through_json(batch.to_json())
    assert isinstance(doc, dict)
    assert Batch.from_json(doc) == batch


def test_batch_result_keeps_raw_evidence_through_json() -> None:
    raw = evidence(signal.SIGSEGV, "Fatal Python error: Segmentation fault\n")
    odd = Evidence(0, 0, False, 0.0, bytes(range(256)), harness_error=None)
    result = BatchResult(3, "tcp://127.0.0.1:4000", (raw, odd), duration_s=1.5)
    doc = through_json(result.to_json())
    assert isinstance(doc, dict)
    assert BatchResult.from_json(doc) == result


def test_a_target_missing_on_the_worker_is_reported_not_raised(tmp_path: Path) -> None:
    target = TargetSpec(python=str(tmp_path / "no-python"))
    batch = Batch(1, (BatchItem(union_scenario()),), 5.0)
    result = SessionPool().run(target, batch, "worker-a")
    assert (result.number, result.worker, result.evidence) == (1, "worker-a", ())
    assert result.unusable is not None and "no-python" in result.unusable
    doc = run_batch_task(target.to_json(), batch.to_json())
    assert doc["worker"] == "local" and doc["unusable"]


def test_scheduler_without_dask_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = importlib.util.find_spec

    def hide_dask(name: str, *args: object) -> object:
        return None if name == "distributed" else real(name, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(importlib.util, "find_spec", hide_dask)
    with pytest.raises(UsageError, match=r"pip install threadstorm\[dask\]"):
        CampaignConfig(python="p", out="o", scheduler="tcp://127.0.0.1:1").validate()
    status = main(["fuzz", "--python", "p", "--out", "o", "--scheduler", "tcp://127.0.0.1:1"])
    error = capsys.readouterr().err
    assert status == 2
    assert error.count("\n") == 1 and "pip install threadstorm[dask]" in error, error


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(UsageError, match="--batch-size"):
        CampaignConfig(python="p", out="o", batch_size=0).validate()


def test_per_worker_counts() -> None:
    tally = Tally()
    for status, worker in [
        (Status.PASSED, "w1"),
        (Status.CRASHED, "w1"),
        (Status.HARNESS_ERROR, "w2"),
        (Status.PASSED, ""),
    ]:
        tally.add(status, worker)
    assert tally.runs == 4
    assert (tally.workers["w1"].runs, tally.workers["w1"].findings) == (2, 1)
    assert (tally.workers["w2"].runs, tally.workers["w2"].harness_errors) == (1, 1)
    assert set(tally.workers) == {"w1", "w2"}
    assert worker_table(tally).row_count == 2
