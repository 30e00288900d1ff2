from rest_framework.routers import SimpleRouter

from .views import BorrowerViewSet

router = SimpleRouter()
router.register("borrowers", BorrowerViewSet, basename="borrower")

urlpatterns = router.urls
