"""The SVG chart builder: scales, geometry, accessibility, empty data and escaping."""

import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest
from django.utils import translation

from collection import charts
from collection.charts import Series, bar_chart, compact_yuan, line_chart, nice_scale, percent, stacked_bar_chart

SVG = "{http://www.w3.org/2000/svg}"
D = Decimal


def parse(markup):
    return ET.fromstring(str(markup))


def titles(svg, tag):
    """The tooltips of the bars or points (legend swatches have none)."""
    found = (element.find(f"{SVG}title") for element in svg.iter(f"{SVG}{tag}"))
    return [title.text for title in found if title is not None]


def bar_heights(svg):
    return [float(rect.get("height")) for rect in svg.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None]


@pytest.mark.parametrize(
    ("maximum", "ticks"),
    [
        (D(100), [0, 25, 50, 75, 100]),
        (D(101), [0, 50, 100, 150, 200]),
        (D(7), [0, 2, 4, 6, 8]),
        (D("0.153"), [0, D("0.05"), D("0.1"), D("0.15"), D("0.2")]),
        (D("1234567.89"), [0, 500000, 1000000, 1500000, 2000000]),
        (D(1), [0, D("0.25"), D("0.5"), D("0.75"), 1]),
    ],
)
def test_the_scale_ends_on_a_round_number_at_or_above_the_maximum(maximum, ticks):
    assert nice_scale(maximum) == [D(t) for t in ticks]


def test_counts_tick_at_whole_numbers():
    assert nice_scale(D(9), whole=True) == [0, 5, 10, 15, 20]
    assert nice_scale(D(3), whole=True) == [0, 1, 2, 3, 4]
    assert nice_scale(D(1), whole=True) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("maximum", [0, None, D(-5)])
def test_nothing_to_show_still_gives_a_usable_scale(maximum):
    assert nice_scale(maximum) == [0, D("0.25"), D("0.5"), D("0.75"), 1]
    assert nice_scale(maximum, whole=True) == [0, 1, 2, 3, 4]


def test_a_bar_chart_is_a_named_image_with_one_titled_bar_per_value():
    svg = parse(bar_chart(title="Loans by bucket", labels=["M1", "M2", "M3"], values=[40, 20, 10], whole=True))
    assert svg.get("role") == "img" and svg.get("aria-label") == "Loans by bucket"
    assert svg.find(f"{SVG}title").text == "Loans by bucket"
    assert titles(svg, "rect") == ["M1: 40", "M2: 20", "M3: 10"]
    heights = bar_heights(svg)
    # Heights are proportional to the values (scale 0..40).
    assert heights[0] == pytest.approx(2 * heights[1]) == pytest.approx(4 * heights[2])
    plot_height = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert heights[0] == pytest.approx(plot_height)


def test_bars_scale_against_the_round_top_not_the_maximum():
    svg = parse(bar_chart(title="t", labels=["a"], values=[D(30)], whole=True))  # scale 0..40
    assert bar_heights(svg)[0] == pytest.approx((charts.HEIGHT - charts.TOP - charts.BOTTOM) * 0.75)


def test_an_empty_or_all_zero_chart_says_there_is_no_data():
    for markup in (
        bar_chart(title="t", labels=[], values=[]),
        bar_chart(title="t", labels=["a", "b"], values=[0, 0]),
        line_chart(title="t", labels=["a"], series=[Series("s", [None])]),
    ):
        svg = parse(markup)
        assert bar_heights(svg) == [] and list(svg.iter(f"{SVG}polyline")) == []
        assert "No data yet" in [text.text for text in svg.iter(f"{SVG}text")]


def test_stacked_bars_pile_up_in_order_and_name_each_part():
    svg = parse(
        stacked_bar_chart(
            title="Promises",
            labels=["Mar"],
            series=[Series("Kept", [3]), Series("Partly", [0]), Series("Broken", [1])],
            whole=True,
        )
    )
    assert titles(svg, "rect") == ["Mar · Kept: 3", "Mar · Broken: 1"]
    kept, broken = (rect for rect in svg.iter(f"{SVG}rect") if rect.find(f"{SVG}title") is not None)
    # Broken sits on top of kept: its bottom edge is kept's top edge.
    assert float(broken.get("y")) + float(broken.get("height")) == pytest.approx(float(kept.get("y")))
    # The legend names every series, the empty one too.
    legend = [text.text for text in svg.iter(f"{SVG}text")]
    assert {"Kept", "Partly", "Broken"} <= set(legend)


def test_negative_values_draw_as_nothing():
    svg = parse(bar_chart(title="t", labels=["a", "b"], values=[D(-5), D(10)]))
    assert titles(svg, "rect") == ["b: 10"]


def test_a_line_breaks_where_a_value_is_missing_and_each_point_has_its_figure():
    svg = parse(
        line_chart(
            title="Rates",
            labels=["Jan", "Feb", "Mar", "Apr"],
            series=[Series("1+", [D("0.1"), None, D("0.2"), D("0.25")])],
            format_value=percent,
        )
    )
    assert len(list(svg.iter(f"{SVG}polyline"))) == 1  # Jan alone is a point, Mar-Apr a line
    assert titles(svg, "circle") == ["Jan · 1+: 10%", "Mar · 1+: 20%", "Apr · 1+: 25%"]
    ys = [float(circle.get("cy")) for circle in svg.iter(f"{SVG}circle")]
    assert ys[0] > ys[1] > ys[2]  # higher values sit higher (smaller y)


def test_labels_and_titles_are_escaped():
    svg = parse(bar_chart(title="<b>&", labels=['<script>"x"'], values=[1]))
    assert svg.get("aria-label") == "<b>&"
    assert titles(svg, "rect") == ['<script>"x": 1']


def test_two_line_labels_become_tspans():
    svg = parse(bar_chart(title="t", labels=["Jan\n2026"], values=[1]))
    assert [span.text for span in svg.iter(f"{SVG}tspan")] == ["Jan", "2026"]


def test_percent_and_compact_amounts():
    assert percent(D("0.1234")) == "12.3%"
    assert percent(D("0.25")) == "25%"
    assert percent(D(0)) == "0%"
    with translation.override("zh-hans"):
        assert compact_yuan(D("123456.78")) == "¥12.3万"
        assert compact_yuan(D("250000000")) == "¥2.5亿"
        assert compact_yuan(D("950")) == "¥950"
    with translation.override("en"):
        assert compact_yuan(D("123456.78")) == "¥123.5k"
        assert compact_yuan(D("2500000")) == "¥2.5M"
