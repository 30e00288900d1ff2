"""Re-run equivalence over random histories: payments posted late (backdated), out of order, some of
them reversed later. Re-running a past date D on that book gives exactly what running D gives on a
book that only ever received the money that came by D and was never reversed: the loan's figures
as of D and what each instalment had been paid by D. (What a re-run does to cases, which the
lender's staff worked on the days between, is tests/collection/test_rerun.py's.)"""

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import count
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from collection import daily
from loans.choices import PaymentChannel
from loans.models import Loan, PaymentAllocation
from loans.services import payment_post, payment_reverse
from tests.collection.test_rerun import FIELDS
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Committed as it goes: a history takes many runs, each with its own temporary table and locks.
pytestmark = pytest.mark.django_db(transaction=True)
START = date(2026, 2, 1)  # the loans are disbursed 2026-01-15 and fall due on the 15th
LAST = date(2026, 5, 10)
references = count()


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def run(loan, day):
    """The daily run of `day` over this loan alone, as the nightly chunk runs it."""
    with time_machine.travel(at(max(day, LAST) + timedelta(days=1), 1), tick=False):
        daily.run_chunk(as_of=day, first_id=loan.pk, last_id=loan.pk)


def paid_by(loan, day):
    """What each instalment (by its number) had been paid by the day, per component."""
    rows = (
        PaymentAllocation.objects.filter(installment__loan=loan, applied_on__lte=day)
        .values("installment__seq", "installment__schedule_version", "component")
        .annotate(total=Sum("amount"))
    )
    paid = defaultdict(Decimal)
    for row in rows:
        if row["total"]:
            paid[(row["installment__schedule_version"], row["installment__seq"], row["component"])] += row["total"]
    return dict(paid)


def as_of(loan, day):
    loan = Loan.objects.get(pk=loan.pk)
    figures = {name: getattr(loan, name) for name in FIELDS}
    if not loan.days_past_due:
        # The nightly run leaves a loan with nothing in arrears as it was (its figures hold on any
        # later day): its balances are dated by its last change, which the two books do not share.
        del figures["balances_as_of"]
    return figures, paid_by(loan, day)


payment = st.tuples(
    st.integers(min_value=0, max_value=(LAST - START).days),  # value date, days after START
    st.integers(min_value=0, max_value=12),  # days between receipt and posting (backdated)
    st.decimals(min_value=Decimal("50.00"), max_value=Decimal("2500.00"), places=2),
    st.one_of(st.none(), st.integers(min_value=0, max_value=20)),  # reversed this many days after posting
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payments=st.lists(payment, min_size=1, max_size=5),
    rerun=st.integers(min_value=10, max_value=(LAST - START).days),
)
def test_rerunning_any_past_date_gives_what_a_book_with_only_that_dates_money_gives(payments, rerun):
    note(f"payments={payments!r} rerun={rerun}")
    product = LoanProductFactory(penalty_rate=Decimal("0.18"), grace_days=2)
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        book, only = make_loan(product=product), make_loan(product=product)
    day = START + timedelta(days=rerun)

    # The book as it happened: each payment posted when it reached the lender, a night's run before
    # each posting day, some payments bounced later.
    events = []
    for offset, delay, amount, reversed_after in payments:
        received = START + timedelta(days=offset)
        posted = min(received + timedelta(days=delay), LAST)
        reference = f"R{next(references)}"
        events.append((posted, 0, "post", received, amount, reference))
        if reversed_after is not None:
            events.append((min(posted + timedelta(days=reversed_after), LAST), 1, "reverse", None, None, reference))
    posted = {}
    for when, _order, kind, received, amount, reference in sorted(events, key=lambda e: (e[0], e[1], e[5])):
        run(book, when - timedelta(days=1))
        with time_machine.travel(at(when, 12), tick=False):
            if kind == "post":
                posted[reference] = payment_post(
                    actor="system",
                    loan=book,
                    amount=amount,
                    external_reference=reference,
                    channel=PaymentChannel.BANK_TRANSFER,
                    received_at=at(received),
                )[0]
            else:
                payment_reverse(actor="system", payment=posted[reference], reason="Bounced")
    run(book, LAST)
    run(book, day)  # the re-run of a past date

    # The book that only ever had the money received by `day` and never reversed.
    kept = sorted(
        (START + timedelta(days=offset), amount)
        for offset, _delay, amount, reversed_after in payments
        if reversed_after is None and START + timedelta(days=offset) <= day
    )
    for n, (received, amount) in enumerate(kept):
        run(only, received - timedelta(days=1))
        with time_machine.travel(at(received, 12), tick=False):
            payment_post(
                actor="system",
                loan=only,
                amount=amount,
                external_reference=f"ONLY-{next(references)}-{n}",
                channel=PaymentChannel.BANK_TRANSFER,
                received_at=at(received),
            )
    run(only, day)

    assert as_of(book, day) == as_of(only, day)
