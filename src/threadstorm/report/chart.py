"""Discoveries over time as an inline SVG step chart (no script, no external resource).

The x axis is seconds into the campaign, the y axis the number of buckets found so far; each
discovery is a dot whose tooltip names the bucket.  Built as text so the HTML report stays one
self-contained file.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from threadstorm.report.describe import offset_text
from threadstorm.report.model import DiscoveryPoint

Scale = Callable[[float], float]

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 16, 36


def discoveries_svg(points: tuple[DiscoveryPoint, ...], duration_s: float) -> str:
    """The chart as an ``<svg>`` element."""
    end = max([duration_s, *(point.offset_s for point in points), 1.0])
    top = max(len(points), 1)

    def x(seconds: float) -> float:  # seconds into the campaign -> pixels
        return LEFT + (WIDTH - LEFT - RIGHT) * max(seconds, 0.0) / end

    def y(count: float) -> float:  # buckets found -> pixels
        return HEIGHT - BOTTOM - (HEIGHT - TOP - BOTTOM) * count / top

    steps = [f"M {x(0):.1f} {y(0):.1f}"]
    for point in points:
        steps.append(f"H {x(point.offset_s):.1f} V {y(point.number):.1f}")
    steps.append(f"H {x(end):.1f}")
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart" '
        'aria-label="buckets found over the campaign">',
        *_axes(x, y, end, top),
        f'<path d="{" ".join(steps)}" class="line"/>',
    ]
    for point in points:
        label = escape(f"bucket {point.bucket_id} at {offset_text(point.offset_s)}")
        parts.append(
            f'<circle cx="{x(point.offset_s):.1f}" cy="{y(point.number):.1f}" r="4" '
            f'class="dot"><title>{label}</title></circle>'
        )
    parts.append("</svg>")
    return "\n".join(parts)


def _axes(x: Scale, y: Scale, end: float, top: int) -> list[str]:
    bottom, left = y(0), x(0)
    lines = [
        _line(left, bottom, x(end), bottom),
        _line(left, bottom, left, y(top)),
    ]
    for seconds, anchor in ((0.0, "start"), (end / 2, "middle"), (end, "end")):
        lines.append(
            f'<text x="{x(seconds):.1f}" y="{bottom + 20:.1f}" text-anchor="{anchor}">'
            f"{escape(offset_text(seconds))}</text>"
        )
    for count in sorted({0, top}):
        lines.append(
            f'<text x="{left - 8:.1f}" y="{y(count) + 4:.1f}" text-anchor="end">{count}</text>'
        )
    return lines


def _line(x1: float, y1: float, x2: float, y2: float) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="axis"/>'
