"""The HTML report: one self-contained file, no script, no network.

Rendered from ``templates/report.html.j2`` with autoescaping: the bucket table, discoveries over
time (an inline SVG chart from ``chart``), the matrix of types by scenario family with outcomes,
coverage, weights, and for every bucket its scenario, script, backtrace and Markdown bug report.
A Content-Security-Policy forbids every external resource, so opening it never touches the
network.
"""

from __future__ import annotations

import jinja2
from markupsafe import Markup

from threadstorm import __version__
from threadstorm.report.chart import discoveries_svg
from threadstorm.report.describe import (
    count_text,
    duration_text,
    offset_text,
    scenario_lines,
    size_text,
    times_text,
    timestamp_text,
)
from threadstorm.report.markdown import bucket_markdown
from threadstorm.report.model import Report, flat_weights, variant_text
from threadstorm.triage.outcome import Status

TEMPLATE = "report.html.j2"


def render_html(report: Report) -> str:
    """The campaign report as one HTML document."""
    template = _environment().get_template(TEMPLATE)
    return template.render(
        report=report,
        c=report.campaign,
        chart=Markup(discoveries_svg(report.discoveries, report.campaign.duration_s)),
        weights=flat_weights(report.weights),
        statuses=[status.label for status in Status],
        version=__version__,
    )


def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("threadstorm.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.globals.update(
        count=count_text,
        duration=duration_text,
        offset=offset_text,
        scenario_lines=scenario_lines,
        size=size_text,
        times=times_text,
        timestamp=timestamp_text,
        variant=variant_text,
        markdown=bucket_markdown,
    )
    return environment
