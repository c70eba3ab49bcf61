"""Charts as SVG drawn by the server: no script, no library, nothing from elsewhere.

:func:`bar_chart` draws one horizontal bar per row, its label above it, so long
labels need no room beside the bars and the chart reads on a phone;
:func:`column_chart` draws a time series as columns. Each is an ``<svg
role="img">`` with a ``<title>`` and a ``<desc>`` (what it shows, and that the
numbers follow in a table); the page puts the table beside it. Colour is never
the only sign: every bar carries its number as text, and a row that is not
shown on its own (:mod:`node.web.disclosure`) is drawn hatched and says why.
Colours come from the stylesheet's classes, so dark mode works.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 360  # about a phone's width: the text is drawn near its size there
ROW = 40  # a bar chart row: its label, then its bar
BAR = 16
COLUMNS_HEIGHT = 160
AXIS = 32  # left of a column chart: the scale's numbers
BASELINE = 24  # below a column chart: the period labels
MAX_PERIOD_LABELS = 4
LABEL_CHARACTERS = 44  # at 14 px, about the chart's width


@dataclass(frozen=True)
class ChartRow:
    """One bar: its label, its count (None: not shown on its own) and the text beside it."""

    label: str
    count: int | None
    text: str  # the count as shown, or why it is not shown


@dataclass(frozen=True)
class Chart:
    id: str  # unique on the page: the SVG's element ids start with it
    title: str
    description: str
    rows: Sequence[ChartRow]


def _fit(label: str) -> str:
    """``label`` cut to what a row holds (the table beside the chart has it whole)."""
    if len(label) <= LABEL_CHARACTERS:
        return label
    short = label.split(" (", 1)[0]  # "Live facial recognition (cameras ...)": the name
    return short if len(short) <= LABEL_CHARACTERS else label[: LABEL_CHARACTERS - 1] + "…"


def _open(chart: Chart, height: int) -> list[str]:
    ident = escape(chart.id)
    return [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" '
        f'role="img" aria-labelledby="{ident}-title {ident}-desc" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<title id="{ident}-title">{escape(chart.title)}</title>',
        f'<desc id="{ident}-desc">{escape(chart.description)}</desc>',
        f'<defs><pattern id="{ident}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect class="chart-hatch-ground" width="6" height="6"/>'
        '<line class="chart-hatch" x1="0" y1="0" x2="0" y2="6" stroke-width="3"/></pattern></defs>',
    ]


def bar_chart(chart: Chart) -> Markup:
    """One horizontal bar per row, the label above it and the number at its end."""
    height = max(ROW * len(chart.rows), ROW) + 4
    biggest = max((row.count or 0 for row in chart.rows), default=0) or 1
    room = WIDTH - 70  # the longest bar leaves room for its number
    parts = _open(chart, height)
    for i, row in enumerate(chart.rows):
        top = i * ROW + 2
        parts.append(
            f'<text class="chart-label" x="0" y="{top + 13}">{escape(_fit(row.label))}</text>'
        )
        if row.count is None:
            parts.append(
                f'<rect x="0" y="{top + 18}" width="24" height="{BAR}" '
                f'fill="url(#{escape(chart.id)}-hatch)" class="chart-folded"/>'
            )
            end = 24
        else:
            end = max(round(room * row.count / biggest), 2)
            parts.append(
                f'<rect class="chart-bar" x="0" y="{top + 18}" width="{end}" height="{BAR}"/>'
            )
        parts.append(
            f'<text class="chart-value" x="{end + 6}" y="{top + 31}">{escape(row.text)}</text>'
        )
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 (every text in it went through escape())


def column_chart(chart: Chart) -> Markup:
    """A time series: one column per period, oldest first, a few period labels below."""
    height = COLUMNS_HEIGHT + BASELINE
    plot_width = WIDTH - AXIS
    count = max(len(chart.rows), 1)
    step = plot_width / count
    gap = min(2.0, step / 4)
    biggest = max((row.count or 0 for row in chart.rows), default=0) or 1
    top_margin = 22  # room for the tallest column's number
    scale = (COLUMNS_HEIGHT - top_margin) / biggest
    parts = _open(chart, height)
    parts.append(
        f'<line class="chart-axis" x1="{AXIS}" y1="{COLUMNS_HEIGHT}" x2="{WIDTH}" '
        f'y2="{COLUMNS_HEIGHT}" stroke-width="1"/>'
    )
    if any(row.count for row in chart.rows):  # a scale only for columns drawn
        parts.append(
            f'<text class="chart-scale" x="{AXIS - 6}" y="{top_margin + 4}" text-anchor="end">'
            f"{biggest}</text>"
        )
        parts.append(
            f'<text class="chart-scale" x="{AXIS - 6}" y="{COLUMNS_HEIGHT}" '
            'text-anchor="end">0</text>'
        )
    every = max(1, -(-count // MAX_PERIOD_LABELS))
    for i, row in enumerate(chart.rows):
        left = AXIS + i * step + gap / 2
        width = max(step - gap, 1)
        label = f"{escape(row.label)}: {escape(row.text)}"
        if row.count is None:
            parts.append(
                f'<rect x="{left:.1f}" y="{COLUMNS_HEIGHT - 6}" width="{width:.1f}" height="6" '
                f'fill="url(#{escape(chart.id)}-hatch)" class="chart-folded">'
                f"<title>{label}</title></rect>"
            )
        elif row.count:
            tall = max(row.count * scale, 1)
            parts.append(
                f'<rect class="chart-bar" x="{left:.1f}" y="{COLUMNS_HEIGHT - tall:.1f}" '
                f'width="{width:.1f}" height="{tall:.1f}"><title>{label}</title></rect>'
            )
            if step >= 22:  # room for the number above its column
                parts.append(
                    f'<text class="chart-value" x="{left + width / 2:.1f}" '
                    f'y="{COLUMNS_HEIGHT - tall - 4:.1f}" text-anchor="middle">'
                    f"{escape(row.text)}</text>"
                )
        if i % every == 0 and left + 56 <= WIDTH:
            parts.append(
                f'<text class="chart-label" x="{left:.1f}" y="{height - 6}">'
                f"{escape(row.label)}</text>"
            )
    parts.append("</svg>")
    return Markup("\n".join(parts))  # noqa: S704 (every text in it went through escape())
