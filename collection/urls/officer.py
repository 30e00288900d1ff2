"""Officer pages: worklist, case page and the forms on it."""

urlpatterns = []
