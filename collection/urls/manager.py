"""Manager pages: queue overview, approvals inbox, KPIs."""

urlpatterns = []
