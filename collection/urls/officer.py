"""Officer pages: worklist, case page and the forms on it."""

from django.urls import path

from ..views import officer

urlpatterns = [
    path("", officer.home, name="home"),
    path("cases/", officer.WorklistView.as_view(), name="worklist"),
    path("cases/reassign/", officer.ReassignView.as_view(), name="cases_reassign"),
    path("cases/<int:pk>/", officer.CaseView.as_view(), name="case"),
    path("cases/<int:pk>/unmask/", officer.UnmaskView.as_view(), name="case_unmask"),
    path("cases/<int:pk>/<slug:name>/", officer.CaseActionView.as_view(), name="case_action"),
]
