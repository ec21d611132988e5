"""Line charts drawn as inline SVG: the page must not load a chart library (or
anything else) from the internet, and must print the same on every machine."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from html import escape

WIDTH, HEIGHT = 520, 230
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 14, 38
LINE = "#1f5fa8"
BAD_POINT = "#d63a3a"


@dataclass(frozen=True)
class Threshold:
    value: float
    label: str  # short, numbers and ASCII: drawn inside the SVG
    colour: str  # red for a minimum the rule sets, amber for a recommendation
    minimum: bool  # points below a minimum are drawn red


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float | None  # None: the run measured nothing (a gap in the line)
    current: bool = False  # the run this report is about


def nice_step(span: float, ticks: int = 4, integer: bool = False) -> float:
    """A 1/2/5 x 10^n step giving about `ticks` gridlines over `span`; `integer`: at
    least 1 (seats and cameras come in whole numbers)."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    if integer and raw <= 1:
        return 1.0
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * power:
            return factor * power
    return 10 * power


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 10 or value == int(value) else f"{value:.2g}"


def line_chart(points: list[Point], thresholds: list[Threshold], unit: str,
               tz: tzinfo, aria_label: str, integer: bool = False) -> str:
    """An SVG line chart of `points` in time order, with dashed threshold lines."""
    values = [p.value for p in points if p.value is not None]
    top = max(values + [t.value for t in thresholds] + [0.0])
    step = nice_step(top * 1.1 if top > 0 else 1.0, integer=integer)
    y_max = step * max(1, math.ceil(top * 1.1 / step))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(value: float) -> float:
        return TOP + plot_h - value / y_max * plot_h

    times = [p.at.timestamp() for p in points]
    t0, t1 = (min(times), max(times)) if times else (0.0, 0.0)

    def x(moment: float) -> float:
        if t1 == t0:
            return LEFT + plot_w / 2
        return LEFT + (moment - t0) / (t1 - t0) * plot_w

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
           f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(aria_label)}" '
           'font-family="DejaVu Sans, Noto Sans CJK SC, sans-serif" font-size="11">']
    # gridlines and the value axis
    tick = 0.0
    while tick <= y_max + step / 2:
        yy = y(tick)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   'stroke="#e3e6ea" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" text-anchor="end" '
                   f'fill="#555">{_fmt(tick)}</text>')
        tick += step
    out.append(f'<text x="12" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" fill="#555" '
               f'transform="rotate(-90 12 {TOP + plot_h / 2:.1f})">{escape(unit)}</text>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" '
               'stroke="#9aa1a9"/>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
               f'y2="{TOP + plot_h}" stroke="#9aa1a9"/>')

    for t in thresholds:
        yy = y(t.value)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
                   f'stroke="{t.colour}" stroke-width="1.5" stroke-dasharray="6 4"/>')
        # labelled at the left: the current run, and its value, sit at the right end
        out.append(f'<text x="{LEFT + 4}" y="{yy - 4:.1f}" text-anchor="start" '
                   f'fill="{t.colour}">{escape(t.label)}</text>')

    # the line, broken where a run measured nothing: joining across the gap would
    # claim a measurement that was never made
    segment: list[str] = []
    segments: list[list[str]] = []
    for p in points:
        if p.value is None:
            if segment:
                segments.append(segment)
            segment = []
            continue
        segment.append(f"{x(p.at.timestamp()):.1f},{y(p.value):.1f}")
    if segment:
        segments.append(segment)
    for seg in segments:
        if len(seg) > 1:
            out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{LINE}" '
                       'stroke-width="2" stroke-linejoin="round"/>')

    minimums = [t.value for t in thresholds if t.minimum]
    floor = max(minimums) if minimums else None
    for p in points:
        xx = x(p.at.timestamp())
        if p.value is None:
            # a hollow mark on the axis: this run has no figure
            out.append(f'<circle cx="{xx:.1f}" cy="{TOP + plot_h:.1f}" r="3" fill="#fff" '
                       'stroke="#9aa1a9"/>')
            continue
        colour = BAD_POINT if floor is not None and p.value < floor else LINE
        radius = 5.5 if p.current else 3.5
        ring = ' stroke="#111" stroke-width="2"' if p.current else ""
        out.append(f'<circle cx="{xx:.1f}" cy="{y(p.value):.1f}" r="{radius}" '
                   f'fill="{colour}"{ring}><title>{escape(_fmt(p.value))} {escape(unit)}'
                   '</title></circle>')
        if p.current:
            out.append(f'<text x="{xx:.1f}" y="{y(p.value) - 9:.1f}" text-anchor="middle" '
                       f'font-weight="bold" fill="#111">{escape(_fmt(p.value))}</text>')

    # time labels at the first and last run and between them wherever there is room:
    # countdown runs are not evenly spaced (a manual run minutes after a scheduled one)
    xs = [x(p.at.timestamp()) for p in points]
    chosen = _label_indexes(xs, min_gap=68.0)
    for i in chosen:
        local = points[i].at.astimezone(tz)
        anchor = "middle"
        if len(chosen) > 1 and i == chosen[0]:
            anchor = "start"
        elif len(chosen) > 1 and i == chosen[-1]:
            anchor = "end"
        for line, text in ((15, f"{local:%m-%d}"), (28, f"{local:%H:%M}")):
            out.append(f'<text x="{xs[i]:.1f}" y="{TOP + plot_h + line}" '
                       f'text-anchor="{anchor}" fill="#555">{text}</text>')
    out.append("</svg>")
    return "".join(out)


def _label_indexes(xs: list[float], min_gap: float) -> list[int]:
    """Indexes to label: the last always, then leftwards every point at least
    `min_gap` pixels from the label to its right."""
    if not xs:
        return []
    chosen = [len(xs) - 1]
    for i in range(len(xs) - 2, -1, -1):
        if xs[chosen[-1]] - xs[i] >= min_gap:
            chosen.append(i)
    return sorted(chosen)
