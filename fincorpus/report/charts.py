"""Geometry of the report's small charts; `templates/charts.html.j2` draws them as inline SVG.

Plain numbers in, plain numbers out: no plotting runtime in the page, nothing fetched when it opens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

LABEL_WIDTH = 190
BAR_AREA = 260
VALUE_WIDTH = 70
ROW_HEIGHT = 20


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    width: float
    value: int
    series: str


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    y: int
    total: int
    segments: list[Segment] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class BarChart:
    """Horizontal bars, one per label, each stacked from one segment per series."""

    title: str
    series: list[str]
    bars: list[Bar]
    width: int
    height: int
    label_width: int = LABEL_WIDTH
    row_height: int = ROW_HEIGHT


@dataclass(frozen=True, slots=True)
class Column:
    label: str
    x: float
    y: float
    height: float
    value: int


@dataclass(frozen=True, slots=True)
class Histogram:
    title: str
    columns: list[Column]
    width: int
    height: int
    baseline: int
    column_width: float


def bar_chart(title: str, series: list[str], rows: list[tuple[str, list[int]]]) -> BarChart:
    """`rows` are (label, one value per series); bars are scaled to the largest total."""
    largest = max((sum(values) for _, values in rows), default=0) or 1
    bars = []
    for index, (label, values) in enumerate(rows):
        x = float(LABEL_WIDTH)
        segments = []
        for name, value in zip(series, values):
            width = round(BAR_AREA * value / largest, 2)
            if value:
                segments.append(Segment(round(x, 2), max(width, 1.0), value, name))
            x += width
        bars.append(Bar(label, index * ROW_HEIGHT, sum(values), segments))
    return BarChart(title, series, bars, LABEL_WIDTH + BAR_AREA + VALUE_WIDTH, max(len(rows), 1) * ROW_HEIGHT + 4)


def histogram(title: str, labels: list[str], counts: list[int], width: int = 300, height: int = 120) -> Histogram:
    """Vertical columns of `counts`, scaled to the largest; 20 px below the baseline for the labels."""
    largest = max(counts, default=0) or 1
    baseline = height - 20
    column_width = width / max(len(counts), 1)
    columns = []
    for index, (label, count) in enumerate(zip(labels, counts)):
        column_height = round((baseline - 16) * count / largest, 2)
        columns.append(Column(label, round(index * column_width, 2), round(baseline - column_height, 2),
                              column_height, count))
    return Histogram(title, columns, width, height, baseline, round(column_width, 2))
