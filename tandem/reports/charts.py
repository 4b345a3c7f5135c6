"""Server-rendered SVG bar charts (X-9) with text alternatives.

Each chart has ``role="img"``, a ``<title>`` and a ``<desc>`` that reads out every value,
and is always shown next to the table it draws. A withheld figure is drawn as an empty,
dashed outline labelled with the same mark as in the table — never as a bar whose length
would give the number away.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import count

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from tandem.reports.disclosure import SUPPRESSED

_ids = count(1)
BAR_HEIGHT = 22
GAP = 8
# Each label sits on its own line above its bar, starting at the left edge, so no label is
# ever cut off at the edge of the picture (issue 12, item 9: "hrough dispatch"). Very long
# labels are shortened here and given in full in the description and the table beside it.
LABEL_HEIGHT = 18
LABEL_CHARS = 52
BAR_WIDTH = 330
VALUE_WIDTH = 70
ROW = LABEL_HEIGHT + BAR_HEIGHT + GAP


def bar_chart(title: str, series: Sequence[Sequence[object]], *, chart_id: str = "") -> SafeString:
    """A horizontal bar chart of ``series`` [(label, value or None)]."""
    chart_id = chart_id or f"chart-{next(_ids)}"
    values = [v for _, v in series if isinstance(v, int)]
    biggest = max(values) if values else 0
    height = len(series) * ROW + GAP
    width = BAR_WIDTH + VALUE_WIDTH
    spoken = "; ".join(
        f"{label}: {value if isinstance(value, int) else 'withheld'}" for label, value in series
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(spoken)}</desc>',
    ]
    for index, (label, value) in enumerate(series):
        top = GAP + index * ROW
        y = top + LABEL_HEIGHT
        middle = y + BAR_HEIGHT / 2 + 5
        parts.append(
            f'<text x="0" y="{top + 13}" text-anchor="start" '
            f'font-size="13">{escape(_short(str(label)))}</text>'
        )
        if isinstance(value, int):
            length = 0 if biggest == 0 else max(2, round(BAR_WIDTH * value / biggest))
            if value == 0:
                length = 0
            parts.append(
                f'<rect x="0" y="{y}" width="{length}" height="{BAR_HEIGHT}" fill="#2f5d8a"/>'
            )
            shown = str(value)
            x = length + 6
        else:
            parts.append(
                f'<rect x="0" y="{y}" width="{BAR_WIDTH}" height="{BAR_HEIGHT}" '
                f'fill="none" stroke="#888" stroke-dasharray="4 3"/>'
            )
            shown = SUPPRESSED
            x = 6
        parts.append(f'<text x="{x}" y="{middle}" font-size="13">{escape(shown)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def _short(label: str, limit: int = LABEL_CHARS) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"
