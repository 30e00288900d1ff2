"""Figures over the whole book that a page shows on every view (the queue overview's cells, the
whole-book worklist's counts) are one aggregate over every open case: at a million loans, a few
hundred milliseconds each. They are kept in the cache for BOOK_FIGURES_CACHE_SECONDS (a minute by
default), so ten managers reading the queue cost one aggregate a minute, and dropped at once when a
manager reassigns cases or the daily run moves the book (a new generation of keys), so the one who
acted sees the change. Figures for an officer's own cases are small and always read live."""

from django.conf import settings
from django.core.cache import cache

GENERATION = "book-figures:generation"


def cached(key: str, compute):
    """compute() from the cache when it was computed in the last BOOK_FIGURES_CACHE_SECONDS (0: never
    cached); keys are strings that name everything the figures depend on."""
    seconds = settings.BOOK_FIGURES_CACHE_SECONDS
    if not seconds:
        return compute()
    generation = cache.get_or_set(GENERATION, 0, timeout=None)
    return cache.get_or_set(f"book-figures:{generation}:{key}", compute, timeout=seconds)


def book_figures_changed():
    """Every cached figure is out of date (the next view computes it again)."""
    try:
        cache.incr(GENERATION)
    except ValueError:  # never set, or evicted
        cache.set(GENERATION, 1, timeout=None)
