"""Manager pages: queue overview, approvals inbox, KPIs, and the loan's class set from the case page
(two segments after the case id, so the case page's `<slug:name>` forms do not take it)."""

from django.urls import path

from ..views import kpis, manager

urlpatterns = [
    path("manager/queue/", manager.QueueView.as_view(), name="queue"),
    path("manager/approvals/", manager.ApprovalsView.as_view(), name="approvals"),
    path("manager/approvals/<int:pk>/decide/", manager.ApprovalDecideView.as_view(), name="approval_decide"),
    path("manager/kpis/", kpis.KpiView.as_view(), name="kpis"),
    path("manager/kpis/export/", kpis.KpiExportView.as_view(), name="kpi_export"),
    path("cases/<int:pk>/loan/class/", manager.LoanClassView.as_view(), name="case_loan_class"),
]
