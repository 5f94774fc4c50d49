"""The HTML report in a real headless Chromium: it loads without console errors, asks for
nothing over the network, and shows its bucket rows, chart, matrix and bug reports.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``) and the ``playwright`` package.  Outside
CI a missing browser skips the test saying so; in CI (``CI`` set) it fails.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from threadstorm.bucket.identity import Signature
from threadstorm.report.html_report import render_html
from threadstorm.report.model import build_report
from threadstorm.scenario.model import Call, Operation, Ref, Scenario, SharedObject, ThreadPlan
from threadstorm.store.db import Store
from threadstorm.triage.evidence import Evidence
from threadstorm.triage.outcome import Outcome, Status

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def need(condition: bool, message: str) -> None:
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def scenario(kind: str, family: str) -> Scenario:
    return Scenario(
        shared=(SharedObject("obj", Call(Ref(f"builtins.{kind}"), (Ref("builtins.len"),))),),
        threads=(
            ThreadPlan((Operation("function", "obj", "builtins.repr"),)),
            ThreadPlan((Operation("method", "obj", "__init__", (Ref("builtins.abs"),)),)),
        ),
        family=family,
    )


def build_campaign(folder: Path) -> list[str]:
    """A small campaign with an in-contract and an outside-contract bucket; their ids."""
    target = {"version": "3.14.7", "free_threaded": True, "gil_enabled": True, "debug": True}
    keys = []
    with Store.create(folder, {"modules": ["builtins"], "target": target}) as store:
        for number, (kind, contract) in enumerate(
            (("staticmethod", "in-contract"), ("classmethod", "outside-contract"))
        ):
            for status in (Status.PASSED, Status.CRASHED):
                store.record_run(status, "reinit", kind)
            key, _ = store.record_finding(
                Signature("native", (f"{kind}_repr<&>", "PyObject_Repr")),
                Status.CRASHED,
                contract=contract,
                contract_reason="concurrent-init" if number else "no unsupported use",
                scenario=scenario(kind, "reinit"),
                evidence=Evidence(signal.SIGSEGV, -11, False, 0.2, b"Fatal Python error: </pre>\n"),
                outcome=Outcome(Status.CRASHED, "SIGSEGV"),
            )
            store.set_backtrace(key, f"#0 {kind}_repr (self=<optimized out>) at <b>x.c</b>:1")
            store.set_repro_script(key, "import threading\nprint('<script>alert(1)</script>')\n")
            keys.append(key)
        store.update_campaign(status="finished", duration_s=30.0)
    return keys


def test_html_report_in_headless_chromium(tmp_path: Path) -> None:
    need(CHROMIUM.exists(), f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        need(False, "the playwright package is missing: pip install -e .[dev]")
        raise
    keys = build_campaign(tmp_path / "campaign")
    with Store.open(tmp_path / "campaign", readonly=True) as store:
        page_file = tmp_path / "report.html"
        page_file.write_text(render_html(build_report(store)), encoding="utf-8")

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True, timeout=60_000
        )
        try:
            page = browser.new_page()
            page.on("console", lambda m: _console(m, problems))
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_file.as_uri(), wait_until="load")
            rows = page.locator("tr.bucket-row")
            assert rows.count() == 2
            assert [rows.nth(n).get_attribute("data-bucket") for n in range(2)] == keys
            assert keys[0] in rows.nth(0).inner_text()
            assert page.locator("svg.chart circle").count() == 2
            assert page.locator("#matrix td.w-crashed").count() == 2
            assert "the GIL was enabled at run time" in page.locator(".warning").inner_text()
            section = page.locator(f"#bucket-{keys[0]}")
            assert "print('<script>alert(1)</script>')" in section.inner_text()
            section.locator("details summary").click()
            assert section.locator("details pre").is_visible()
            assert page.evaluate("document.scripts.length") == 0
        finally:
            browser.close()
    assert problems == []
    assert [url for url in requests if not url.startswith("file:")] == []


def _console(message: Any, problems: list[str]) -> None:
    if message.type in ("error", "warning"):
        problems.append(f"console {message.type}: {message.text}")
