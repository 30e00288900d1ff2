from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("legal-actions", views.LegalActionViewSet, basename="legal-action")
router.register("legal-tasks", views.LegalTaskViewSet, basename="legal-task")
router.register("legal-documents", views.LegalDocumentViewSet, basename="legal-document")
router.register("preservations", views.PreservationViewSet, basename="preservation")
router.register("disposals", views.DisposalViewSet, basename="disposal")

urlpatterns = router.urls
