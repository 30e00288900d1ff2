"""The KPI page: tiles, charts and their figures, all from collection.kpis (the night's portfolio
snapshot: three queries)."""

from django.http import HttpResponse, HttpResponseBadRequest, HttpResponseNotFound
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View

from core.dates import business_today
from core.templatetags.huishou import yuan
from loans.choices import AgingBucket

from .. import kpi_export, kpis
from ..charts import Series, bar_chart, compact_yuan, horizontal_bar_chart, line_chart, percent, stacked_bar_chart
from ..forms.manager import KpiExportForm
from .manager import ManagerRequiredMixin

# The roll rates drawn as lines (the table shows every bucket): the front-end ones, where most loans
# are and where collection work changes the outcome; later buckets hold few loans and swing wildly.
CHARTED_ROLLS = [AgingBucket.M0, AgingBucket.M1, AgingBucket.M2]


def month_label(day, first=False) -> str:
    """A month on an axis: its short name, with the year under it where a year starts."""
    name = date_format(day, "M")
    return f"{name}\n{day.year}" if first or day.month == 1 else name


def bucket_code(bucket) -> str:
    """M0 ... M7+: the last bucket is open-ended."""
    return f"{bucket}+" if bucket == AgingBucket.M7 else str(bucket)


def roll_name(bucket) -> str:
    following = kpis.BUCKETS[kpis.BUCKETS.index(bucket) + 1]
    return f"{bucket_code(bucket)}→{bucket_code(following)}"


def build_charts(data: kpis.Kpis) -> dict:
    """Every chart of the page, as inline SVG."""
    in_arrears = [row for row in data.aging if row.bucket != AgingBucket.M0]
    bucket_labels = [bucket_code(row.bucket) for row in in_arrears]
    months = [point.month for point in data.cure_rates]
    labels = [month_label(month, first=index == 0) for index, month in enumerate(months)]
    return {
        "aging_count": bar_chart(
            title=_("Loans in arrears by aging bucket"),
            labels=bucket_labels,
            values=[row.loans for row in in_arrears],
            whole=True,
        ),
        "aging_amount": bar_chart(
            title=_("Overdue amount by aging bucket"),
            labels=bucket_labels,
            values=[row.overdue_amount for row in in_arrears],
            format_value=yuan,
            format_tick=compact_yuan,
            color="#d55e00",
        ),
        "overdue_rate": line_chart(
            title=_("Overdue rate at month end"),
            labels=labels,
            series=[
                Series(_("1+ days past due"), [point.rate for point in data.overdue_rates]),
                Series(_("over 90 days past due"), [point.serious_rate for point in data.overdue_rates], "#d55e00"),
            ],
            format_value=percent,
        ),
        "roll_rates": line_chart(
            title=_("Roll rates into a worse bucket"),
            labels=labels,
            series=[Series(roll_name(b), [r.rate for r in data.roll_rates[b]]) for b in CHARTED_ROLLS],
            format_value=percent,
        ),
        "cure_rate": bar_chart(
            title=_("Cure rate by month opened"),
            labels=labels,
            values=[point.rate for point in data.cure_rates],
            format_value=percent,
            color="#009e73",
        ),
        "promises": stacked_bar_chart(
            title=_("Promises to pay by month due"),
            labels=labels,
            series=[
                Series(_("Kept"), [p.hits for p in data.promises], "#009e73"),
                Series(_("Partially kept"), [p.partial for p in data.promises], "#e69f00"),
                Series(_("Broken"), [p.misses for p in data.promises], "#d55e00"),
            ],
            whole=True,
        ),
        "recovered": bar_chart(
            title=_("Recovered amount by month"),
            labels=labels,
            values=[point.amount for point in data.recovered],
            format_value=yuan,
            format_tick=compact_yuan,
        ),
        "provisions": bar_chart(
            title=_("Specific provisions required by regulatory class"),
            labels=[row.label.split(" ")[0] for row in data.provisions],
            values=[row.specific for row in data.provisions],
            format_value=yuan,
            format_tick=compact_yuan,
            color="#cc79a7",
        ),
        "cases_by_state": horizontal_bar_chart(
            title=_("Cases by state"),
            labels=[row.label for row in data.cases_by_state],
            values=[row.cases for row in data.cases_by_state],
            whole=True,
            color="#56b4e9",
        ),
    }


def monthly_rows(data: kpis.Kpis) -> list[dict]:
    """The figures behind the monthly charts, one row per month (newest first, as tables are read)."""
    rows = [
        {
            "month": cure.month,
            "overdue": overdue,
            "rolls": [data.roll_rates[bucket][index] for bucket in kpis.BUCKETS[:-1]],
            "cure": cure,
            "promises": promises,
            "recovered": recovered.amount,
        }
        for index, (overdue, cure, promises, recovered) in enumerate(
            zip(data.overdue_rates, data.cure_rates, data.promises, data.recovered, strict=True)
        )
    ]
    return rows[::-1]


class KpiView(ManagerRequiredMixin, TemplateView):
    template_name = "collection/manager/kpis.html"

    def get_context_data(self, **kwargs):
        data = kpis.kpis(business_today())
        return super().get_context_data(
            kpis=data,
            charts=build_charts(data),
            months=monthly_rows(data),
            roll_buckets=[roll_name(bucket) for bucket in kpis.BUCKETS[:-1]],
            export_form=KpiExportForm(initial={"kind": kpi_export.BOOK, "date": data.as_of}),
            **kwargs,
        )


class KpiExportView(ManagerRequiredMixin, View):
    """A snapshot's book or flows as a CSV download (collection.kpi_export): ?kind=book|flows and an
    optional ?date= of a business date with a snapshot (default: the one the KPI page shows)."""

    def get(self, request):
        form = KpiExportForm(request.GET)
        if not form.is_valid():
            problems = [f"{form.fields[name].label}: {' '.join(errors)}" for name, errors in form.errors.items()]
            return HttpResponseBadRequest("\n".join(problems), content_type="text/plain; charset=utf-8")
        kind, day = form.cleaned_data["kind"], form.cleaned_data["date"]
        snapshot = kpi_export.snapshot_on(day, business_today())
        if snapshot is None:
            text = _("No portfolio snapshot for that date.") if day else _("No portfolio snapshot yet.")
            return HttpResponseNotFound(text, content_type="text/plain; charset=utf-8")
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{kpi_export.filename(kind, snapshot)}"'
        kpi_export.write_csv(response, kpi_export.lines(kind, snapshot))
        return response
