from rest_framework.routers import SimpleRouter

from . import views

router = SimpleRouter()
router.register("activity", views.ActivityLogViewSet, basename="activity")

urlpatterns = router.urls
