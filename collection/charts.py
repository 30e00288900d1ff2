"""Charts as inline SVG, drawn on the server: bars, stacked bars and lines.

Pure functions from numbers to markup. The SVG carries only presentation attributes (fill, stroke,
font-size), so it needs no stylesheet, no script and no network, prints well and scales with its
container (viewBox). Each chart is an image with a name (role="img", aria-label and <title>), and every
bar or point has its own <title> with the exact figure, which browsers show on hover; pages also show
the same numbers in a table for readers who cannot see the chart.

Values are Decimals or ints (None for "no value", e.g. a rate with nothing to divide); the scale is
computed in Decimal and turned into float screen coordinates only at the end."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _

WIDTH, HEIGHT = 640, 260
# Margins around the plot: the legend (when there is one) above, labels below and to the left.
TOP, TOP_WITH_LEGEND, RIGHT, BOTTOM, LEFT = 14, 34, 12, 40, 64
FONT_SIZE = 11
TEXT = "#4b5563"
GRID = "#e5e7eb"
AXIS = "#9ca3af"
# Distinguishable, also for the common colour-vision deficiencies (Okabe-Ito, slightly darkened).
PALETTE = ["#0072b2", "#e69f00", "#d55e00", "#009e73", "#cc79a7", "#56b4e9", "#8c7b00", "#555555"]
NICE_STEPS = [Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10)]

Formatter = Callable[[Decimal], str]


@dataclass(frozen=True)
class Series:
    """One named row of values, one per label; None where there is no value."""

    name: str
    values: Sequence
    color: str = ""


def nice_scale(maximum, ticks: int = 4, *, whole: bool = False) -> list[Decimal]:
    """Tick values from 0 to a round top at or above `maximum`: 0, step, 2·step, ... with the step
    1, 2, 2.5 or 5 times a power of ten (a whole number for counts). Nothing to show (0, negative or
    None) gives a scale to 1 (to `ticks` for counts)."""
    maximum = Decimal(maximum or 0)
    if maximum <= 0:
        maximum = Decimal(ticks if whole else 1)
    raw = maximum / ticks
    magnitude = Decimal(1).scaleb(raw.adjusted())  # 10 ** floor(log10(raw)), exactly
    candidates = [m * magnitude for m in NICE_STEPS]
    if whole:  # counts tick at whole numbers: no 2.5, nothing below 1
        candidates = [c for c in candidates if c >= 1 and c == c.to_integral()] + [Decimal(10) * magnitude]
        candidates = [max(c, Decimal(1)) for c in candidates]
    step = next(c for c in candidates if c >= raw)
    return [step * i for i in range(ticks + 1)]


def plain(value) -> str:
    """The default label of a value: the number as it is, without trailing zeros."""
    return f"{Decimal(value).normalize():f}"


def percent(rate) -> str:
    """A ratio as a percentage: 0.1234 -> 12.3%; whole percentages without the decimal (axis ticks)."""
    value = (Decimal(rate) * 100).quantize(Decimal("0.1"))
    return f"{value.normalize():f}%" if value == value.to_integral() else f"{value}%"


# Large amounts on an axis: Chinese counts in 万 (10^4) and 亿 (10^8), English in thousands and millions.
COMPACT_UNITS = {
    "zh": [(Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万")],
    "en": [(Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k")],
}


def compact_yuan(amount) -> str:
    """¥12万 / ¥120k for axis ticks; the exact amount goes in the tooltip and the table."""
    amount = Decimal(amount)
    units = COMPACT_UNITS["zh" if (get_language() or "").startswith("zh") else "en"]
    for size, unit in units:
        if abs(amount) >= size:
            return f"¥{plain((amount / size).quantize(Decimal('0.1')))}{unit}"
    return f"¥{plain(amount.quantize(Decimal(1)))}"


# --- Building blocks ----------------------------------------------------------------------------------


class _Frame:
    """The plot area with a y scale from 0 to the top tick, and the markup drawn so far."""

    def __init__(self, title, labels: Sequence[str], maximum, format_tick: Formatter, *, whole=False, legend=False):
        self.title, self.labels = title, list(labels)
        self.ticks = nice_scale(maximum, whole=whole)
        self.top = self.ticks[-1]
        self.format_tick = format_tick
        self.left, self.right = LEFT, WIDTH - RIGHT
        self.upper, self.bottom = (TOP_WITH_LEGEND if legend else TOP), HEIGHT - BOTTOM
        self.parts: list[SafeString] = []

    @property
    def slot(self) -> float:
        """The width given to each label along the x axis."""
        return (self.right - self.left) / max(len(self.labels), 1)

    def x_center(self, index: int) -> float:
        return self.left + self.slot * (index + 0.5)

    def y(self, value) -> float:
        share = max(Decimal(value), Decimal(0)) / self.top
        return round(self.bottom - float(share) * (self.bottom - self.upper), 2)

    def draw_axes(self, ticks: bool = True):
        """Grid lines with their values (only the baseline when there is nothing to scale) and the labels."""
        for tick in self.ticks if ticks else self.ticks[:1]:
            y = self.y(tick)
            self.parts.append(
                format_html(
                    '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{}" stroke-width="1"/>',
                    self.left, y, self.right, y, AXIS if tick == 0 else GRID,
                )
            )  # fmt: skip
            if ticks:
                self.parts.append(_text(self.left - 6, y, self.format_tick(tick), anchor="end"))
        for index, label in enumerate(self.labels):
            lines = str(label).split("\n")
            spans = format_html_join(
                "",
                '<tspan x="{}" dy="{}">{}</tspan>',
                ((self.x_center(index), 0 if n == 0 else FONT_SIZE + 2, line) for n, line in enumerate(lines)),
            )
            self.parts.append(
                format_html(
                    '<text y="{}" text-anchor="middle" font-size="{}" fill="{}">{}</text>',
                    self.bottom + FONT_SIZE + 6,
                    FONT_SIZE,
                    TEXT,
                    spans,
                )
            )

    def draw_legend(self, series: Sequence[Series]):
        x = self.left
        for item in series:
            swatch = format_html('<rect x="{}" y="8" width="10" height="10" rx="2" fill="{}"/>', x, item.color)
            self.parts.append(swatch)
            self.parts.append(_text(x + 14, 13, item.name))
            x += 14 + _text_width(item.name) + 16

    def draw_no_data(self):
        middle = ((self.left + self.right) / 2, (self.upper + self.bottom) / 2)
        self.parts.append(_text(*middle, _("No data yet"), anchor="middle", size=FONT_SIZE + 2))

    def render(self) -> SafeString:
        return _svg(self.title, HEIGHT, self.parts)


def _svg(title: str, height: float, parts: Sequence[SafeString]) -> SafeString:
    return format_html(
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {} {}" width="100%" role="img" aria-label="{}">'
        "<title>{}</title>{}</svg>",
        WIDTH, height, title, title, mark_safe("".join(parts)),
    )  # fmt: skip


def _text(x, y, content, *, anchor="start", size=FONT_SIZE) -> SafeString:
    """A line of text whose middle sits at y."""
    return format_html(
        '<text x="{}" y="{}" text-anchor="{}" dominant-baseline="middle" font-size="{}" fill="{}">{}</text>',
        x, y, anchor, size, TEXT, content,
    )  # fmt: skip


def _text_width(text: str) -> float:
    """Roughly how wide a label is drawn: CJK characters are about square, Latin ones narrower."""
    return sum(FONT_SIZE if ord(char) > 0x2E80 else FONT_SIZE * 0.6 for char in text)


def _with_colors(series: Sequence[Series]) -> list[Series]:
    return [Series(s.name, list(s.values), s.color or PALETTE[index % len(PALETTE)]) for index, s in enumerate(series)]


def _positive(value) -> Decimal:
    return max(Decimal(value or 0), Decimal(0))


def _has_data(series: Sequence[Series]) -> bool:
    return any(value for s in series for value in s.values if value is not None)


# --- Charts -------------------------------------------------------------------------------------------


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence,
    format_value: Formatter = plain,
    format_tick: Formatter | None = None,
    whole: bool = False,
    color: str = PALETTE[0],
) -> SafeString:
    """One bar per label. `whole`: the values are counts, so the axis ticks at whole numbers."""
    return stacked_bar_chart(
        title=title,
        labels=labels,
        series=[Series(title, values, color)],
        format_value=format_value,
        format_tick=format_tick,
        whole=whole,
        legend=False,
    )


def stacked_bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    format_value: Formatter = plain,
    format_tick: Formatter | None = None,
    whole: bool = False,
    legend: bool = True,
) -> SafeString:
    """One bar per label, its series stacked bottom up in the given order. Negative values draw as 0."""
    series = _with_colors(series)
    totals = [sum((_positive(s.values[i]) for s in series), Decimal(0)) for i in range(len(labels))]
    frame = _Frame(title, labels, max(totals, default=0), format_tick or format_value, whole=whole, legend=legend)
    frame.draw_axes(ticks=_has_data(series))
    if legend:
        frame.draw_legend(series)
    if not _has_data(series):
        frame.draw_no_data()
        return frame.render()
    width = round(min(frame.slot * 0.6, 48), 2)
    for index, label in enumerate(frame.labels):
        base = Decimal(0)
        flat = label.replace("\n", " ")
        for item in series:
            value = _positive(item.values[index])
            if not value:
                continue
            y_top, y_base = frame.y(base + value), frame.y(base)
            name = f"{flat} · {item.name}" if legend else flat
            frame.parts.append(
                format_html(
                    '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {}</title></rect>',
                    round(frame.x_center(index) - width / 2, 2), y_top, width, round(y_base - y_top, 2),
                    item.color, name, format_value(value),
                )
            )  # fmt: skip
            base += value
    return frame.render()


def horizontal_bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence,
    format_value: Formatter = plain,
    whole: bool = False,
    color: str = PALETTE[0],
) -> SafeString:
    """One bar per label, lying down: for categories whose names are too long to stand under a bar.
    Each bar's figure is written at its end, so no axis is needed; the height grows with the labels."""
    row, gap = 24, 6
    left = 8 + max((_text_width(str(label)) for label in labels), default=0) + 8
    right = WIDTH - 8 - _text_width(max((format_value(v or 0) for v in values), key=len, default=""))
    height = 2 * gap + row * max(len(labels), 1)
    top = nice_scale(max((_positive(v) for v in values), default=0), whole=whole)[-1]
    parts = []
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = gap + row * index
        length = round(float(_positive(value) / top) * (right - left), 2)
        figure = format_value(value or 0)
        parts.append(_text(left - 8, y + row / 2, label, anchor="end"))
        parts.append(
            format_html(
                '<rect x="{}" y="{}" width="{}" height="{}" rx="2" fill="{}"><title>{}: {}</title></rect>',
                left, y + 4, length, row - 8, color, label, figure,
            )
        )  # fmt: skip
        parts.append(_text(left + length + 4, y + row / 2, figure))
    return _svg(title, height, parts)


def line_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    format_value: Formatter = plain,
    format_tick: Formatter | None = None,
    whole: bool = False,
) -> SafeString:
    """One line per series across the labels; a None value leaves a gap."""
    series = _with_colors(series)
    values = [Decimal(v) for s in series for v in s.values if v is not None]
    frame = _Frame(title, labels, max(values, default=0), format_tick or format_value, whole=whole, legend=True)
    frame.draw_axes(ticks=_has_data(series))
    frame.draw_legend(series)
    if not _has_data(series):
        frame.draw_no_data()
        return frame.render()
    for item in series:
        for run in _runs(item.values):
            if len(run) < 2:
                continue  # a lone value is drawn by its point alone
            points = " ".join(f"{frame.x_center(i)},{frame.y(v)}" for i, v in run)
            frame.parts.append(
                format_html(
                    '<polyline points="{}" fill="none" stroke="{}" stroke-width="2" stroke-linejoin="round"/>',
                    points,
                    item.color,
                )
            )
        for index, value in enumerate(item.values):
            if value is None:
                continue
            frame.parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="3" fill="{}"><title>{} · {}: {}</title></circle>',
                    frame.x_center(index), frame.y(value), item.color,
                    frame.labels[index].replace("\n", " "), item.name, format_value(value),
                )
            )  # fmt: skip
    return frame.render()


def _runs(values: Sequence) -> list[list[tuple[int, Decimal]]]:
    """The stretches of consecutive values that are not None, as (index, value) pairs."""
    runs, current = [], []
    for index, value in enumerate(values):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs
