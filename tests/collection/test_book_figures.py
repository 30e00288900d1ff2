"""The whole book's live figures: kept a minute, computed by one request at a time, dropped when the
book moves."""

from datetime import timedelta

import time_machine
from django.core.cache import cache
from django.utils import timezone

from collection import book_figures


def counter():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return compute


def test_figures_are_kept_for_their_minute(settings):
    settings.BOOK_FIGURES_CACHE_SECONDS = 60
    compute = counter()
    assert book_figures.cached("queue", compute) == 1
    assert book_figures.cached("queue", compute) == 1
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        assert book_figures.cached("queue", compute) == 2


def test_while_one_request_computes_the_others_show_the_last_figures(settings):
    settings.BOOK_FIGURES_CACHE_SECONDS = 60
    compute = counter()
    book_figures.cached("queue", compute)
    generation = cache.get(book_figures.GENERATION)
    with time_machine.travel(timezone.now() + timedelta(seconds=61)):
        cache.add(f"book-figures:{generation}:queue:computing", 1)  # another request is at it
        assert book_figures.cached("queue", compute) == 1
        cache.delete(f"book-figures:{generation}:queue:computing")
        assert book_figures.cached("queue", compute) == 2


def test_a_change_to_the_book_drops_them_at_once(settings):
    settings.BOOK_FIGURES_CACHE_SECONDS = 60
    compute = counter()
    book_figures.cached("queue", compute)
    book_figures.book_figures_changed()
    assert book_figures.cached("queue", compute) == 2


def test_with_no_minute_set_they_are_computed_every_time(settings):
    settings.BOOK_FIGURES_CACHE_SECONDS = 0
    compute = counter()
    assert [book_figures.cached("queue", compute) for _ in range(2)] == [1, 2]
