"""Early settlement (提前还款): the borrower pays everything off before the schedule ends.

What settles the loan on a day: everything due on or before it (with penalty), the principal of the
instalments still to come, and the interest of the running period for the days it has run (pro rata
by days, to the fen). Settling replaces the instalments still to come with one instalment due that
day for exactly that (the old ones kept, superseded), then books the payment against it all, so the
loan is paid off by the same allocation as any payment."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from core.audit import log_action
from core.dates import business_today
from core.errors import ApplicationError
from core.i18n import stored_text
from core.money import ZERO, parse_amount
from core.permissions import may_read_loans

from .choices import InstallmentStatus
from .claim import claim_as_of
from .models import Installment, Loan, Payment
from .services import loan_refresh_balances, payment_by_reference, payment_post

UNPAID = [InstallmentStatus.PENDING, InstallmentStatus.PARTIALLY_PAID]


@dataclass(frozen=True)
class Quote:
    on: date
    due_now: Decimal  # instalments due on or before the day, penalty included
    future_principal: Decimal
    accrued_interest: Decimal  # the running period's interest for the days it has run
    credit: Decimal = ZERO  # money the lender already holds for the loan, not yet applied

    @property
    def total(self):
        """What the loan owes if settled on the day."""
        return self.due_now + self.future_principal + self.accrued_interest

    @property
    def to_pay(self):
        """What settling takes on top of the credit held: that money is spent first."""
        return max(self.total - self.credit, ZERO)


def payoff_quote(loan: Loan, on: date | None = None) -> Quote:
    """What settles the loan on the day: its claim, less the credit already held."""
    claim = claim_as_of(loan, on)
    return Quote(
        on=claim.on,
        due_now=claim.total - claim.principal_not_due - claim.accrued_interest,
        future_principal=claim.principal_not_due,
        accrued_interest=claim.accrued_interest,
        credit=loan.credit_balance,
    )


def loan_settle_early(*, actor, loan: Loan, amount, external_reference: str, channel: str) -> Payment:
    """Settle the loan today with `amount`, which must cover the quote less the credit the loan
    holds (payment_post spends that money first). Posting the same reference
    again returns the first payment and changes nothing."""
    amount = parse_amount(amount)
    if payment_by_reference(actor, external_reference) is not None:
        return payment_post(
            actor=actor, loan=loan, amount=amount, external_reference=external_reference, channel=channel
        )[0]
    today = business_today()
    with transaction.atomic():
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        if locked.is_closed:
            raise ApplicationError(_("The loan is closed."), code="loan_closed", field="loan")
        quote = payoff_quote(locked, today)
        if amount < quote.to_pay:
            if not may_read_loans(actor):  # the payoff is the loan's balance: not for a client that may not see it
                raise ApplicationError(_("The amount does not cover what settling today takes."), field="amount")
            raise ApplicationError(
                _("Settling today takes %(total)s; %(amount)s is not enough.")
                % {"total": f"¥{quote.to_pay:,.2f}", "amount": f"¥{amount:,.2f}"},
                field="amount",
            )
        future = list(locked.installments.filter(status__in=UNPAID, due_date__gt=today))
        if future:
            version = max(row.schedule_version for row in locked.installments.all()) + 1
            Installment.objects.filter(pk__in=[row.pk for row in future]).update(status=InstallmentStatus.SUPERSEDED)
            Installment.objects.create(
                loan=locked,
                schedule_version=version,
                seq=1,
                due_date=today,
                principal_due=quote.future_principal,
                interest_due=quote.accrued_interest,
            )
            Loan.objects.filter(pk=locked.pk).update(maturity_date=today)
            loan_refresh_balances(loan=locked, as_of=today)
        log_action(
            actor=actor,
            action="loans.loan.settled_early",
            target=locked,
            data={
                "quote": str(quote.total),
                "credit": str(quote.credit),
                "future_principal": str(quote.future_principal),
                "accrued_interest": str(quote.accrued_interest),
                "superseded": [row.pk for row in future],
            },
        )
        payment, _created = payment_post(
            actor=actor,
            loan=locked,
            amount=amount,
            external_reference=external_reference,
            channel=channel,
            received_at=timezone.now(),
            note=stored_text(gettext_lazy("Early settlement")),
        )
    return payment
