"""The product's URLs plus one trivial DRF endpoint, `bench/trivial/`, for bench/api.py only: the same
authentication and throttling as every API view, IsAuthenticated as its permission, no database work
beyond the token lookup. Never part of config.urls."""

from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import handler404
from config.urls import urlpatterns as product_urlpatterns


class Trivial(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"ok": True})


urlpatterns = [*product_urlpatterns, path("bench/trivial/", Trivial.as_view(), name="bench-trivial")]

__all__ = ["handler404", "urlpatterns"]
