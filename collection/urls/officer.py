"""Officer pages: worklist, case page and the forms on it, and the case's restructuring plan."""

from django.urls import path

from ..views import officer, plans

urlpatterns = [
    path("", officer.home, name="home"),
    path("cases/", officer.WorklistView.as_view(), name="worklist"),
    path("cases/reassign/", officer.ReassignView.as_view(), name="cases_reassign"),
    path("cases/<int:pk>/", officer.CaseView.as_view(), name="case"),
    path("cases/<int:pk>/unmask/", officer.UnmaskView.as_view(), name="case_unmask"),
    path("cases/<int:pk>/<slug:name>/", officer.CaseActionView.as_view(), name="case_action"),
    path(
        "cases/<int:pk>/plans/<int:plan_pk>/agreement.pdf",
        plans.PlanAgreementView.as_view(),
        name="plan_agreement",
    ),
    path("cases/<int:pk>/plans/<int:plan_pk>/<slug:name>/", plans.PlanActionView.as_view(), name="plan_action"),
]
