"""The legal officer's pages, namespace `legal`, mounted at /legal/: the worklist and its deadlines,
an action's page and its forms, its documents, and opening an action on a case."""

from django.urls import path

from . import views

app_name = "legal"
urlpatterns = [
    path("", views.WorklistView.as_view(), name="actions"),
    path("cases/<int:case_pk>/open/", views.OpenActionView.as_view(), name="action_open"),
    path("actions/<int:pk>/", views.ActionView.as_view(), name="action"),
    path("actions/<int:pk>/<slug:name>/", views.ActionFormView.as_view(), name="action_form"),
    path("actions/<int:pk>/<slug:name>/<int:item>/", views.ActionFormView.as_view(), name="item_form"),
    path("documents/<int:pk>/", views.DocumentView.as_view(), name="document"),
]
