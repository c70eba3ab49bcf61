"""The statistics page: charts of what the network documented, each with its numbers.

    GET /stats    incidents per month (per year past three years), by category and by
                  technology; cameras by status and by city (the largest cities, the
                  rest together). Each chart is SVG drawn here (:mod:`node.web.charts`)
                  with its numbers in a table beside it. Filters: the map's and
                  lists' (:mod:`node.web.filters`); the form offers country, city
                  and dates.

The numbers are those ``GET /api/v1/stats`` answers over ``public`` records, counted
by :mod:`node.web.figures` (from the rollup, or by a pass over the records kept a
minute).
Incident groups below ``[site] min_incidents_per_cell`` are folded together
(:mod:`node.web.disclosure`); cameras are public points and never are.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from aiohttp import web
from markupsafe import Markup

from node.state import STORE
from node.web.charts import Chart, ChartRow, bar_chart, column_chart
from node.web.disclosure import fold_small_groups
from node.web.figures import FIGURES
from node.web.filters import form_fields, page_filter, value_label
from node.web.i18n import N_, Catalog, countries, format_count
from node.web.site import SITE, html, public_page, render
from protocol.utc import utc_text

routes = web.RouteTableDef()

# The filters the page's form offers (any page filter is taken from the URL).
FORM_FILTERS: Final = ("country", "city", "occurred_from", "occurred_to")
MAX_MONTHS: Final = 36  # a longer series is drawn per year
TOP_CITIES: Final = 12
# The message ids built from a chart's key or period (the others are marked where used).
BUILT_MESSAGES: Final = (
    N_("stats.chart.month"),
    N_("stats.chart.year"),
    N_("stats.chart.category"),
    N_("stats.chart.technology"),
    N_("stats.chart.status"),
    N_("stats.chart.city"),
    N_("stats.column.month"),
    N_("stats.column.year"),
    N_("stats.other_months"),
    N_("stats.other_years"),
    N_("stats.none.city"),
    N_("stats.none.status"),
    N_("stats.none.category"),
    N_("stats.none.technology"),
)


@dataclass(frozen=True)
class ChartView:
    """A chart as the page shows it: the SVG, and its table's heading and rows."""

    chart: Chart
    svg: Markup
    key_heading: str
    count_heading: str
    total: str
    note: str | None = None


def _months(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (``YYYY-MM``), so empty months show as gaps."""
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while f"{year:04d}-{month:02d}" <= last:
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


class StatsPage:
    """The charts of one request, in its language."""

    def __init__(self, t: Catalog, minimum: int, number: Callable[[int], str]) -> None:
        self.t = t
        self.minimum = minimum
        self.number = number

    def _describe(self, title: str) -> str:
        return title + ". " + self.t(N_("stats.chart_desc"))

    def incidents(
        self, ident: str, key: str, groups: Sequence[tuple[str | None, int]], label: str
    ) -> ChartView:
        """A bar chart of incident groups, largest first, small groups folded together."""
        t = self.t
        folded = fold_small_groups(groups, self.minimum)
        rows = [
            ChartRow(self._label(key, group), count, self.number(count))
            for group, count in sorted(folded.shown, key=lambda g: (-g[1], g[0] or ""))
        ]
        if folded.folded:
            rows.append(self._other(folded.other, t(N_("stats.other_groups"))))
        title = t(f"stats.chart.{key}")
        chart = Chart(ident, title, self._describe(title), rows)
        return ChartView(
            chart,
            bar_chart(chart),
            label,
            t(N_("stats.column.incidents")),
            self._total(folded.total),
        )

    def incidents_over_time(self, groups: Sequence[tuple[str | None, int]]) -> ChartView:
        """Incidents per month, or per year over a longer span; small periods folded."""
        t = self.t
        months = {month: count for month, count in groups if month is not None}
        period = "month"
        series: dict[str, int] = {}
        if months:
            span = _months(min(months), max(months))
            if len(span) > MAX_MONTHS:
                period = "year"
                for month, count in months.items():
                    series[month[:4]] = series.get(month[:4], 0) + count
                years = range(int(min(series)), int(max(series)) + 1)
                series = {f"{y:04d}": series.get(f"{y:04d}", 0) for y in years}
            else:
                series = {month: months.get(month, 0) for month in span}
        folded = fold_small_groups(list(series.items()), self.minimum)
        rows = [
            ChartRow(p, None, t(N_("stats.not_alone")))
            if p in folded.folded
            else ChartRow(p, count, self.number(count))
            for p, count in series.items()
        ]
        title = t(f"stats.chart.{period}")
        chart = Chart("chart-time", title, self._describe(title), rows)
        note = None
        if folded.folded:
            other = self._other(folded.other, t(f"stats.other_{period}s"))
            note = f"{other.label}: {other.text}"
        return ChartView(
            chart,
            column_chart(chart),
            t(f"stats.column.{period}"),
            t(N_("stats.column.incidents")),
            self._total(folded.total),
            note,
        )

    def cameras(
        self, ident: str, key: str, groups: Sequence[tuple[str | None, int]], label: str
    ) -> ChartView:
        """A bar chart of camera groups, largest first (cities: the largest, then the rest)."""
        t = self.t
        ordered = sorted(groups, key=lambda g: (-g[1], g[0] or ""))
        rest = 0
        if key == "city" and len(ordered) > TOP_CITIES:
            rest = sum(count for _, count in ordered[TOP_CITIES - 1 :])
            ordered = ordered[: TOP_CITIES - 1]
        rows = [ChartRow(self._label(key, g), count, self.number(count)) for g, count in ordered]
        if rest:
            rows.append(ChartRow(t(N_("stats.other_cities")), rest, self.number(rest)))
        title = t(f"stats.chart.{key}")
        chart = Chart(ident, title, self._describe(title), rows)
        total = self.number(sum(count for _, count in groups))
        return ChartView(chart, bar_chart(chart), label, t(N_("stats.column.cameras")), total)

    def _label(self, key: str, value: str | None) -> str:
        if value is None:
            return self.t(f"stats.none.{key}")
        if key in ("category", "technology", "status"):
            return self.t(value_label(key, value))
        return value

    def _other(self, count: int, label: str) -> ChartRow:
        if count >= self.minimum:
            return ChartRow(label, count, self.number(count))
        return ChartRow(label, None, self._fewer())

    def _fewer(self) -> str:
        return self.t(N_("stats.fewer_than")) % {"n": self.minimum}

    def _total(self, total: int) -> str:
        return self.number(total) if total == 0 or total >= self.minimum else self._fewer()


@routes.get("/stats")
@public_page
async def stats_page(request: web.Request, t: Catalog) -> web.Response:
    page = page_filter(request)
    site = request.app[SITE]
    found = await request.app[FIGURES].figures(request.app[STORE].queries, page)
    charts = StatsPage(t, site.min_incidents_per_cell, lambda n: format_count(n, t.lang))
    incidents = [
        charts.incidents_over_time(found.months),
        charts.incidents(
            "chart-category", "category", found.categories, t(N_("stats.column.category"))
        ),
        charts.incidents(
            "chart-technology",
            "technology",
            found.technologies,
            t(N_("stats.column.technology")),
        ),
    ]
    cameras = [
        charts.cameras("chart-status", "status", found.statuses, t(N_("stats.column.status"))),
        charts.cameras("chart-city", "city", found.cities, t(N_("stats.column.city"))),
    ]
    fields = [f for f in form_fields(("incident", "deployment")) if f[0] in FORM_FILTERS]
    return html(
        render(
            request,
            "stats.html",
            t,
            switch_to=f"/stats?{urlencode(page.values)}" if page else "/stats",
            nav="stats",
            incidents=incidents,
            cameras=cameras,
            counted=None
            if found.counted_ms is None
            else utc_text(found.counted_ms, "seconds")[:-4] + " UTC",
            minimum=site.min_incidents_per_cell,
            fields=fields,
            current=page.values,
            countries=list(countries(t.lang)),
            value_label=value_label,
        )
    )
