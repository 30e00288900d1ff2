"""Browser tests: Debian's chromium driven by Playwright against the live test server.

Playwright's own browser download is impossible here, so the launch points at /usr/bin/chromium.
Without it the tests skip locally; CI sets HUISHOU_REQUIRE_BROWSER=1 (after installing chromium),
and then a missing browser fails the run instead of skipping it."""

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

# pytest-django's live server runs in a thread while Playwright's sync API keeps an event loop
# running in the test's thread; Django refuses ORM calls there unless told it is safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return
    if os.environ.get("HUISHOU_REQUIRE_BROWSER"):
        raise pytest.UsageError(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}")
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    # A laptop screen; the lender's time zone so the page and the browser agree on "now".
    return {
        **browser_context_args,
        "viewport": {"width": 1366, "height": 860},
        "timezone_id": "Asia/Shanghai",
    }


@pytest.fixture
def screenshot(tmp_path):
    """A full-page screenshot. With HUISHOU_SCREENSHOTS=1 it is saved to docs/screenshots/<name>.png
    (the README shows them); otherwise to the test's temporary folder, so a test run leaves the
    committed pictures alone."""

    def take(page, name):
        folder = SCREENSHOTS if os.environ.get("HUISHOU_SCREENSHOTS") else tmp_path
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def demo_portfolio(transactional_db):
    """A small believable portfolio as `make run` seeds it: the demo users (password huishou-demo),
    products, 300 loans with histories, the demo team and today's daily run, so cases exist."""
    from django.core.management import call_command

    call_command("seed_demo", loans=300, stdout=open(os.devnull, "w"))  # noqa: SIM115
    call_command("seed_demo_collection", stdout=open(os.devnull, "w"))  # noqa: SIM115
