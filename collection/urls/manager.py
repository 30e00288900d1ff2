"""Manager pages: queue overview, approvals inbox, KPIs."""

from django.urls import path

from ..views import kpis, manager

urlpatterns = [
    path("manager/queue/", manager.QueueView.as_view(), name="queue"),
    path("manager/approvals/", manager.ApprovalsView.as_view(), name="approvals"),
    path("manager/approvals/<int:pk>/decide/", manager.ApprovalDecideView.as_view(), name="approval_decide"),
    path("manager/kpis/", kpis.KpiView.as_view(), name="kpis"),
]
