from rest_framework.routers import SimpleRouter

from .views import LoanProductViewSet, LoanViewSet, PaymentViewSet

router = SimpleRouter()
router.register("products", LoanProductViewSet, basename="product")
router.register("loans", LoanViewSet, basename="loan")
router.register("payments", PaymentViewSet, basename="payment")

urlpatterns = router.urls
