"""Copy crashes from a campaign store into the signature corpus, labelled by bug.

Usage: ``python scripts/capture_corpus.py CAMPAIGN BUCKET-PREFIX BUG-LABEL NAME [--max N]``

Each crash of the bucket becomes ``tests/corpus/texts/NAME_K.txt`` (the raw stderr) and
``NAME_K.json`` (the sidecar the corpus test reads), its expectation being what the current
rules give.  The label is the person's judgement of which bug the crash is (read the gdb
backtrace before giving one): the corpus then measures whether the rules agree.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from threadstorm.bucket.judge import judge
from threadstorm.scenario.codec import scenario_to_json
from threadstorm.store.db import Store

TEXTS = Path(__file__).resolve().parent.parent / "tests" / "corpus" / "texts"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("campaign", type=Path)
    parser.add_argument("bucket")
    parser.add_argument("bug")
    parser.add_argument("name")
    parser.add_argument("--max", type=int, default=10)
    parser.add_argument("--how", default="")
    args = parser.parse_args()
    with Store.open(args.campaign) as store:
        config = store.campaign().config
        target = config.get("target", {})
        how = args.how or (
            f"threadstorm fuzz --modules {' '.join(config.get('modules', []))}; "
            f"CPython {target.get('version', '?')} (debug: {target.get('debug')})"
        )
        crashes = store.crashes(store.bucket(args.bucket).key)[: args.max]
        for number, crash in enumerate(crashes):
            write_entry(f"{args.name}_{number}", args.bug, how, crash.evidence, crash.scenario)


def write_entry(name: str, bug: str, how: str, evidence: object, scenario: object) -> None:
    """One corpus entry: raw stderr beside a sidecar with the expectation of today's rules."""
    from threadstorm.scenario.model import Scenario
    from threadstorm.triage.evidence import Evidence

    assert isinstance(evidence, Evidence) and isinstance(scenario, Scenario)
    verdict = judge(evidence, scenario)
    (TEXTS / f"{name}.txt").write_bytes(evidence.stderr)
    side = {
        "origin": "captured",
        "how": how,
        "note": verdict.outcome.reason,
        "bug": bug,
        "stderr": f"{name}.txt",
        "backtrace": None,
        "wait_status": evidence.wait_status,
        "exit_code": evidence.exit_code,
        "timed_out": evidence.timed_out,
        "messages": list(evidence.messages),
        "in_flight": list(evidence.in_flight),
        "scenario": scenario_to_json(scenario),
        "expect": {
            "status": verdict.outcome.status.label,
            "kind": verdict.signature.kind if verdict.signature else None,
            "parts": list(verdict.signature.parts) if verdict.signature else None,
        },
    }
    (TEXTS / f"{name}.json").write_text(json.dumps(side, indent=1) + "\n")
    print(name, verdict.key, verdict.signature.title if verdict.signature else "")


if __name__ == "__main__":
    main()
