"""The HTML report: one self-contained file with the bucket table, chart, matrix and details."""

from __future__ import annotations

from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from test_report_samples import sample_report

from threadstorm.report.html_report import render_html


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text, of a document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


def test_self_contained_without_script_or_network(tmp_path: Path) -> None:
    html = render_html(sample_report(tmp_path))
    tags = parse(html)
    names = {tag for tag, _ in tags.tags}
    assert "script" not in names
    assert not names & {"link", "img", "iframe", "object", "embed"}
    for _, attrs in tags.tags:
        for name in ("src", "href"):
            value = attrs.get(name)
            assert value is None or value.startswith("#"), value
    assert "default-src 'none'" in html
    assert html.startswith("<!DOCTYPE html>")


def test_bucket_rows_chart_matrix_and_details(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    tags = parse(render_html(report))
    rows = [
        attrs["data-bucket"] for tag, attrs in tags.tags if tag == "tr" and "data-bucket" in attrs
    ]
    assert rows == [bucket.id for bucket in report.buckets]
    sections = [attrs["id"] for tag, attrs in tags.tags if tag == "section"]
    assert sections == [f"bucket-{bucket.id}" for bucket in report.buckets]
    assert sum(tag == "circle" for tag, _ in tags.tags) == 3  # one dot per discovery
    assert [attrs.get("id") for tag, attrs in tags.tags if tag == "table" and attrs.get("id")] == [
        "buckets",
        "matrix",
        "coverage",
        "weights",
    ]
    text = "".join(tags.text)
    assert "crashed 2" in text and "passed 90" in text
    assert "def reader():" in text
    assert "#2  0x000055d0c0a1b2c3 in union_repr" in text
    assert "Bug report (Markdown, ready to paste)" in text


def test_everything_from_the_campaign_is_escaped(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    evil = replace(report.buckets[0], backtrace="<script>alert(1)</script>", title="a<b>&c")
    html = render_html(replace(report, buckets=(evil,)))
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a&lt;b&gt;&amp;c" in html


def test_empty_campaign(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    html = render_html(replace(report, buckets=(), discoveries=(), coverage=(), weights={}))
    assert "No crashes, hangs or sanitizer reports." in html
    assert "<svg" in html
