import pytest
from django.db import connection


@pytest.fixture(autouse=True)
def _skip_postgres_only(request):
    """Tests marked `postgres` need row locks and other PostgreSQL features."""
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")


@pytest.fixture
def system():
    """The actor for work the system does on its own."""
    return "system"
