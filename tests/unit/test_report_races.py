"""Race findings in every report format: both stacks, the pair as the title, the confirmation.

The store is filled as a campaign fills it, from a real ThreadSanitizer run of the planted
``Tally`` race (``tests/corpus/texts/tsan_planted_tally``): judged, every distinct report filed,
then a confirmation on the plain debug build recorded as follow-up records it.
"""

from __future__ import annotations

import json
from pathlib import Path

from test_report_samples import CONFIG, TARGET

from threadstorm.bucket.judge import judge
from threadstorm.report.html_report import render_html
from threadstorm.report.json_report import render_json
from threadstorm.report.markdown import bucket_markdown
from threadstorm.report.model import Report, build_report
from threadstorm.report.sarif import sarif_document
from threadstorm.scenario.codec import scenario_from_json
from threadstorm.store.db import Store
from threadstorm.store.records import Confirmation
from threadstorm.triage.evidence import Evidence

TEXTS = Path(__file__).parent.parent / "corpus" / "texts"
PLAIN = "/cache/pythons/cpython-3.14.7-debug/install/bin/python3.14td"


def race_report(tmp_path: Path) -> Report:
    side = json.loads((TEXTS / "tsan_planted_tally.json").read_text())
    evidence = Evidence(
        wait_status=side["wait_status"],
        exit_code=side["exit_code"],
        timed_out=False,
        duration_s=0.4,
        stderr=(TEXTS / side["stderr"]).read_bytes(),
        messages=tuple(side["messages"]),
        in_flight=tuple(side["in_flight"]),
    )
    scenario = scenario_from_json(side["scenario"])
    verdict = judge(evidence, scenario)
    assert verdict.signature is not None
    target = {**TARGET, "version": "3.14.7", "sanitizer": "thread"}
    with Store.create(tmp_path / "c", {**CONFIG, "target": target}) as store:
        for signature, outcome in ((verdict.signature, verdict.outcome), *verdict.more):
            store.record_finding(
                signature,
                outcome.status,
                contract="in-contract",
                scenario=scenario,
                evidence=evidence,
                outcome=outcome,
            )
        store.set_confirmation(verdict.signature.key, Confirmation(PLAIN, 10, 0))
        store.set_repro_script(verdict.signature.key, "print('race')\n")
        return build_report(store)


def test_markdown_names_the_pair_and_shows_both_stacks(tmp_path: Path) -> None:
    bucket = race_report(tmp_path).buckets[0]
    text = bucket_markdown(bucket)
    assert "data race between `Tally_add` and `Tally_mean`" in text.splitlines()[0]
    assert "## Sanitizer report" in text
    assert "Write of size 8 at 0x7fc46c522f10 by thread T14:" in text
    assert "#0 Tally_add /work/main/tests/fixtures/planted/racy.c:34" in text
    assert "#0 Tally_mean /work/main/tests/fixtures/planted/racy.c:52" in text
    assert "libtsan" not in text  # the sanitizer's own frames are left out
    assert f"no crash in 10 runs on {PLAIN}" in text
    assert "halt_on_error=1" in text  # how to run the script under TSan


def test_sarif_points_at_one_access_and_relates_the_other(tmp_path: Path) -> None:
    result = sarif_document(race_report(tmp_path))["runs"][0]["results"][0]
    assert result["ruleId"] == "threadstorm/sanitizer"
    here = result["locations"][0]["physicalLocation"]
    assert here["artifactLocation"]["uri"].endswith("racy.c")
    assert here["region"] == {"startLine": 34}
    (other,) = result["relatedLocations"]
    assert other["physicalLocation"]["region"] == {"startLine": 52}
    assert other["logicalLocations"][0]["name"] == "Tally_mean"
    assert other["message"]["text"].startswith("Previous read of size 8")


def test_json_and_html_carry_the_stacks_and_the_confirmation(tmp_path: Path) -> None:
    report = race_report(tmp_path)
    doc = json.loads(render_json(report))
    bucket = doc["buckets"][0]
    assert bucket["confirmation"] == Confirmation(PLAIN, 10, 0).to_json()
    accesses = [stack for stack in bucket["sanitizer_stacks"] if stack["frames"]]
    assert [stack["frames"][0].split()[0] for stack in accesses[:2]] == ["Tally_add", "Tally_mean"]
    html = render_html(report)
    assert "Sanitizer report" in html and "Tally_mean" in html
