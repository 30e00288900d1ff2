"""The dashboard's URLs, namespace `dashboard`: the officer's pages and the manager's."""

from . import manager, officer

app_name = "dashboard"
urlpatterns = officer.urlpatterns + manager.urlpatterns
