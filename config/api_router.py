"""/api/v1/: each app contributes its routes from <app>/api/urls.py."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("core.api.urls")),
    path("", include("borrowers.api.urls")),
    path("", include("loans.api.urls")),
    path("", include("collection.api.urls")),
    path("", include("legal.api.urls")),
]
