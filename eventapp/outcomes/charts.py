"""Server-rendered SVG bar charts: no JavaScript, a title and description for screen readers."""
from __future__ import annotations

from markupsafe import Markup, escape

ROW = 28
LABEL_W = 250
BAR_W = 360
# Two series are told apart by fill pattern and by the numbers printed beside each
# bar, not by colour alone.
SERIES_CLASS = ["chart-bar", "chart-bar-alt"]


def _trim(label: str, limit: int = 38) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def bar_chart(chart_id: str, title: str, desc: str, rows: list[tuple[str, list[int]]],
              series: list[str]) -> Markup:
    """A horizontal bar chart; each row has one value per series."""
    peak = max([v for _, values in rows for v in values] + [1])
    per_row = ROW * len(series) + 10
    legend_h = 24 if len(series) > 1 else 0
    height = legend_h + per_row * max(len(rows), 1) + 4
    width = LABEL_W + BAR_W + 60
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" id="{chart_id}">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>',
    ]
    if len(series) > 1:
        x = LABEL_W
        for i, name in enumerate(series):
            parts.append(f'<rect x="{x}" y="4" width="16" height="16" class="{SERIES_CLASS[i % 2]}"/>')
            parts.append(f'<text x="{x + 22}" y="17" class="chart-text">{escape(name)}</text>')
            x += 30 + 9 * len(name)
    for r, (label, values) in enumerate(rows):
        y0 = legend_h + r * per_row
        parts.append(f'<text x="{LABEL_W - 8}" y="{y0 + ROW * len(series) / 2 + 5:.0f}" text-anchor="end" '
                     f'class="chart-text">{escape(_trim(label))}</text>')
        for i, value in enumerate(values):
            y = y0 + i * ROW + 4
            w = round(BAR_W * value / peak)
            parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{max(w, 1)}" height="{ROW - 8}" '
                         f'class="{SERIES_CLASS[i % 2]}"/>')
            name = f"{series[i]}: " if len(series) > 1 else ""
            parts.append(f'<text x="{LABEL_W + max(w, 1) + 6}" y="{y + ROW - 13}" class="chart-text">'
                         f'{escape(name)}{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
