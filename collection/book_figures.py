"""Figures over the whole book that a page shows on every view (the queue overview's cells, the
whole-book worklist's counts) are one aggregate over every open case: at a million loans, a few
hundred milliseconds each, more under load. They are kept in the cache and served for
BOOK_FIGURES_CACHE_SECONDS (a minute by default). A Celery beat task computes them again every
minute (collection.tasks.refresh_book_figures), so requests normally find them fresh; without a
worker, one request computes them while the others keep showing the last figures, so ten managers
arriving together cost one aggregate, not ten. A manager's reassignment or the daily run drops them
at once (a new generation of keys), so whoever acted sees the change. Figures for an officer's own
cases are small and always read live."""

import time

from django.conf import settings
from django.core.cache import cache

GENERATION = "book-figures:generation"
WAIT_SECONDS = 10  # how long a request with nothing to show waits for the one computing


def cached(key: str, compute, *, refresh: bool = False):
    """compute() as computed in the last BOOK_FIGURES_CACHE_SECONDS (0: never cached); keys are
    strings that name everything the figures depend on. `refresh` computes them again now (unless
    somebody else already is) however fresh they are."""
    fresh_for = settings.BOOK_FIGURES_CACHE_SECONDS
    if not fresh_for:
        return compute()
    generation = cache.get_or_set(GENERATION, 0, timeout=None)
    name = f"book-figures:{generation}:{key}"
    entry = cache.get(name)  # (computed at, figures)
    if entry and not refresh and time.time() - entry[0] < fresh_for:
        return entry[1]
    if cache.add(f"{name}:computing", 1, timeout=WAIT_SECONDS * 3):
        try:
            figures = compute()
            cache.set(name, (time.time(), figures), timeout=fresh_for * 10)
            return figures
        finally:
            cache.delete(f"{name}:computing")
    if entry:
        return entry[1]  # somebody is computing newer figures: these are at most a few seconds older
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.05)
        if entry := cache.get(name):
            return entry[1]
    return compute()


def book_figures_changed():
    """Every cached figure is out of date (the next view computes it again)."""
    try:
        cache.incr(GENERATION)
    except ValueError:  # never set, or evicted
        cache.set(GENERATION, 1, timeout=None)
