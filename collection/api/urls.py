from django.urls import path
from rest_framework.routers import SimpleRouter

from . import views

CASE = r"cases/(?P<case_pk>[0-9]+)"

router = SimpleRouter()
router.register("cases", views.CaseViewSet, basename="case")
router.register(f"{CASE}/contacts", views.CaseContactViewSet, basename="case-contact")
router.register(f"{CASE}/promises", views.CasePromiseViewSet, basename="case-promise")
router.register(f"{CASE}/plans", views.CasePlanViewSet, basename="case-plan")
router.register("approvals", views.ApprovalViewSet, basename="approval")
router.register("plans", views.PlanViewSet, basename="plan")

urlpatterns = [
    path("reminders/receipts/", views.ReceiptView.as_view(), name="reminder-receipts"),
    *router.urls,
]
