from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.urls import include, path
from django.utils.translation import gettext as _
from django.views.defaults import bad_request, page_not_found
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from core.middleware import api_body_limit, body_too_large

urlpatterns = [
    path("", include("collection.urls")),
    path("legal/", include("legal.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", include("config.api_router")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script from a URL: the CSP allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]


def not_found(request, exception):
    """A JSON 404 in the API's error shape under /api/; Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": _("Not found.")}}, status=404)
    return page_not_found(request, exception)


def refused(request, exception):
    """Django's 400 (a request it would not read: a body past its limits, a bad host) in the API's
    error shape under /api/, as a 413 when the body was too large; Django's page elsewhere."""
    if request.path.startswith("/api/"):
        if isinstance(exception, RequestDataTooBig):
            return body_too_large(api_body_limit(request.META.get("CONTENT_TYPE", "")))
        return JsonResponse({"error": {"code": "bad_request", "message": _("The request was refused.")}}, status=400)
    return bad_request(request, exception)


handler400 = refused
handler404 = not_found
