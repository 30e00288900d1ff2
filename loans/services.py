"""Every write to loans and payments. Each service checks, locks the loan row where payments
compete, writes, refreshes the loan's balances and leaves an audit entry."""

from collections import defaultdict
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from borrowers.models import Borrower
from core import roles
from core.audit import log_action
from core.auth import role_names
from core.dates import business_date, business_today
from core.errors import ApplicationError
from core.i18n import stored_text
from core.money import ZERO, parse_amount, to_fen
from core.permissions import is_manager, may_read_loans
from webhooks.services import event_publish

from . import delinquency, rules
from .choices import InstallmentStatus, LoanStatus, PaymentKind, RegulatoryClass
from .claim import claim_as_of
from .cost import annual_cost, exceeds_cap
from .models import Installment, Loan, LoanProduct, Payment, PaymentAllocation
from .schedule import ScheduleError, build_schedule, contract_day

# Loan statuses the balance refresh derives; the others are set by the collection workflow.
DERIVED_STATUSES = (LoanStatus.ACTIVE, LoanStatus.OVERDUE, LoanStatus.PAID_OFF)


# --- Loans ------------------------------------------------------------------------------------------


def loan_create(
    *,
    actor,
    external_id: str,
    borrower: Borrower,
    product: LoanProduct,
    principal,
    annual_rate,
    term_months: int,
    disbursed_on: date,
    first_due_date: date | None = None,
    currency: str | None = None,
) -> tuple[Loan, bool]:
    """Book a disbursed loan and its schedule. Idempotent by external id: booking the same loan again
    returns the first one (created=False); the same id with other terms is refused."""
    principal = parse_amount(principal, field="principal")
    annual_rate = _parse_rate(annual_rate)
    currency = currency or product.currency
    existing = Loan.objects.filter(external_id=external_id).first()
    if existing is not None:
        return _same_loan_or_conflict(existing, borrower, product, principal, annual_rate, term_months, disbursed_on)
    _check_loan_terms(product, principal, annual_rate, term_months, currency, external_id)
    first_due_date = first_due_date or disbursed_on + relativedelta(months=1)
    if disbursed_on > business_today() + timedelta(days=1):  # a day's slack for a system in another zone
        raise ApplicationError(_("A loan is booked once disbursed: the day lies in the future."), field="disbursed_on")
    if first_due_date <= disbursed_on:
        raise ApplicationError(_("The first due date must come after disbursement."), field="first_due_date")
    if first_due_date > disbursed_on + relativedelta(months=max(term_months, 1)):
        raise ApplicationError(
            _("The first due date falls within the loan's term of %(months)s months from disbursement.")
            % {"months": term_months},
            field="first_due_date",
        )
    try:
        lines = build_schedule(
            method=product.repayment_method,
            principal=principal,
            annual_rate=annual_rate,
            term_months=term_months,
            first_due_date=first_due_date,
            monthly_fee=to_fen(principal * product.monthly_fee_rate),
            day_of_month=contract_day(disbursed_on, first_due_date),
            first_period_basis=product.first_period_basis,
            disbursed_on=disbursed_on,
        )
    except ScheduleError as error:
        raise ApplicationError(str(error), field=error.field) from None
    cost = annual_cost(principal=principal, disbursed_on=disbursed_on, lines=lines)
    check_cost_cap(cost, product.cost_cap_rate)
    try:
        with transaction.atomic():
            loan = Loan.objects.create(
                external_id=external_id,
                borrower=borrower,
                product=product,
                currency=currency,
                principal=principal,
                annual_rate=annual_rate,
                term_months=term_months,
                disbursed_on=disbursed_on,
                first_due_date=lines[0].due_date,  # a bullet loan falls due once, at maturity
                maturity_date=lines[-1].due_date,
                annual_cost=cost,
            )
            _book_schedule(loan, lines)
            loan_refresh_balances(loan=loan, as_of=business_today())
            log_action(
                actor=actor,
                action="loans.loan.created",
                target=loan,
                after={
                    "principal": principal,
                    "annual_rate": annual_rate,
                    "term_months": term_months,
                    "product": product.code,
                    "instalments": len(lines),
                    "annual_cost": cost,
                },
            )
    except IntegrityError:
        # Another request booked the same external id first: answer with that one.
        existing = Loan.objects.get(external_id=external_id)
        return _same_loan_or_conflict(existing, borrower, product, principal, annual_rate, term_months, disbursed_on)
    return loan, True


def _parse_rate(value):
    try:
        rate = Decimal(str(value))
    except ArithmeticError:
        raise ApplicationError(_("Give the rate as a decimal fraction, e.g. 0.18."), field="annual_rate") from None
    if not rate.is_finite() or rate < 0 or rate > 1:
        raise ApplicationError(_("The annual rate is a fraction between 0 and 1, e.g. 0.18."), field="annual_rate")
    return rate


def _check_loan_terms(product, principal, annual_rate, term_months, currency, external_id):
    if not external_id or len(external_id) > 64:
        raise ApplicationError(_("Give the loan's external id (at most 64 characters)."), field="external_id")
    if currency != product.currency:
        raise ApplicationError(
            _("This product lends in %(currency)s.") % {"currency": product.currency}, field="currency"
        )
    if not product.min_principal <= principal <= product.max_principal:
        raise ApplicationError(
            _("The principal must be between %(low)s and %(high)s for this product.")
            % {"low": product.min_principal, "high": product.max_principal},
            field="principal",
        )
    if annual_rate > product.max_annual_rate:
        raise ApplicationError(
            _("The annual rate may not exceed %(rate)s for this product.") % {"rate": product.max_annual_rate},
            field="annual_rate",
        )
    if not isinstance(term_months, int) or not product.min_term_months <= term_months <= product.max_term_months:
        raise ApplicationError(
            _("The term must be between %(low)s and %(high)s months for this product.")
            % {"low": product.min_term_months, "high": product.max_term_months},
            field="term_months",
        )


def check_cost_cap(cost, cap, field="annual_rate"):
    """Refuse terms whose comprehensive annual cost (interest and fees together, as the IRR of the
    borrower's cash flows) is above the product's cap. The cost is compared as it is shown, to the
    hundredth of a percent: rounding interest to the fen must not refuse a loan at the cap itself."""
    if exceeds_cap(cost.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP), cap):
        raise ApplicationError(
            _(
                "These terms cost the borrower %(cost)s a year (comprehensive annual cost, interest and fees "
                "together); this product allows at most %(cap)s."
            )
            % {"cost": f"{cost * 100:.2f}%", "cap": f"{cap * 100:.2f}%"},
            code="cost_cap",
            field=field,
        )


def _same_loan_or_conflict(loan, borrower, product, principal, annual_rate, term_months, disbursed_on):
    same = (
        loan.borrower_id == borrower.pk
        and loan.product_id == product.pk
        and loan.principal == principal
        and loan.annual_rate == annual_rate
        and loan.term_months == term_months
        and loan.disbursed_on == disbursed_on
    )
    if not same:
        raise ApplicationError(
            _("A different loan was already booked under this external id."),
            code="idempotency_mismatch",
            field="external_id",
        )
    return loan, False


# --- Payments ---------------------------------------------------------------------------------------


BALANCE_FIELDS = (
    "status",
    "principal_outstanding",
    "interest_outstanding",
    "fees_outstanding",
    "costs_outstanding",
    "penalty_outstanding",
    "overdue_amount",
    "credit_balance",
)


def balances(loan_id) -> dict:
    """The loan's balances as stored now: what the audit log keeps before and after money moves."""
    return Loan.objects.values(*BALANCE_FIELDS).get(pk=loan_id)


def idempotency_scope(actor) -> str:
    """Whose external references a payment's is unique among (Payment.idempotency_scope): each API
    client's own, so that another client's reference neither blocks it nor shows it that payment;
    one shared by people and the system, so that a bank reference entered twice is one payment."""
    user = _user_or_none(actor)
    if user is not None and roles.API_CLIENT in role_names(user):
        return f"client:{user.pk}"
    return ""


def payment_by_reference(actor, external_reference: str) -> Payment | None:
    """The payment posted under this reference in the actor's scope, if any."""
    return Payment.objects.filter(
        external_reference=(external_reference or "").strip(), idempotency_scope=idempotency_scope(actor)
    ).first()


def payment_post(
    *,
    actor,
    loan: Loan,
    amount,
    external_reference: str,
    channel: str,
    received_at=None,
    currency: str | None = None,
    note: str = "",
) -> tuple[Payment, bool]:
    """Receive money for a loan and allocate it by the product's order, oldest instalment first.
    What exceeds everything due is kept as a credit balance and pays later instalments as they fall
    due. Idempotent by external reference: posting it again returns the first payment
    (created=False) and changes nothing; the same reference for other money is refused."""
    amount = parse_amount(amount)
    external_reference = (external_reference or "").strip()
    if not external_reference or len(external_reference) > 100:
        raise ApplicationError(
            _("Give the payment's external reference (at most 100 characters)."), field="external_reference"
        )
    existing = payment_by_reference(actor, external_reference)
    if existing is not None:
        return _same_payment_or_conflict(existing, loan, amount), False
    received_at = received_at or timezone.now()
    if timezone.is_naive(received_at):
        raise ApplicationError(_("Give the time the money was received with its time zone."), field="received_at")
    if received_at > timezone.now() + timedelta(minutes=5):
        raise ApplicationError(_("A payment cannot be received in the future."), field="received_at")
    currency = currency or loan.currency
    try:
        with transaction.atomic():
            loan = Loan.objects.select_for_update().get(pk=loan.pk)
            if currency != loan.currency:
                raise ApplicationError(
                    _("This loan is in %(currency)s; the payment is in %(given)s.")
                    % {"currency": loan.currency, "given": currency},
                    field="currency",
                )
            # A written-off claim is still collected (核销后收回): the money is allocated as usual and
            # the loan stays written off. Paid-off and sold loans take no payments.
            if loan.is_closed and loan.status != LoanStatus.WRITTEN_OFF:
                raise ApplicationError(
                    _("The loan is %(status)s and takes no payments.") % {"status": loan.get_status_display()},
                    code="loan_closed",
                    field="loan",
                )
            value_date = business_date(received_at)
            if value_date < loan.disbursed_on:
                raise ApplicationError(_("The payment predates the loan's disbursement."), field="received_at")
            _check_not_beyond_what_is_owed(actor, loan, amount)
            before = balances(loan.pk)
            payment = Payment.objects.create(
                loan=loan,
                kind=PaymentKind.PAYMENT,
                external_reference=external_reference,
                idempotency_scope=idempotency_scope(actor),
                amount=amount,
                currency=currency,
                received_at=received_at,
                value_date=value_date,
                channel=channel,
                unapplied_amount=amount,
                posted_by=_user_or_none(actor),
                note=note,
            )
            today = business_today()
            # Money received before payments already allocated (posted late, backdated) comes first:
            # those later payments are spent again after it.
            _reallocate_after(
                loan,
                payment,
                actor=actor,
                today=today,
                reason=stored_text(gettext_lazy("A payment received earlier was posted late.")),
                cause={"after_backdated": external_reference},
            )
            payment.refresh_from_db()
            log_action(
                actor=actor,
                action="loans.payment.posted",
                target=loan,
                before=before,
                after=balances(loan.pk),
                data={
                    "payment": external_reference,
                    "amount": amount,
                    "value_date": value_date,
                    "unapplied": payment.unapplied_amount,
                },
            )
            event_publish(
                event_type="payment.posted",
                payload={
                    "payment": payment.pk,
                    "external_reference": external_reference,
                    "loan": loan.pk,
                    "loan_external_id": loan.external_id,
                    "amount": amount,
                    "currency": currency,
                    "value_date": value_date,
                    "unapplied": payment.unapplied_amount,
                },
            )
    except IntegrityError:
        # A concurrent post of the same reference won the race: answer with its result.
        existing = payment_by_reference(actor, external_reference)
        return _same_payment_or_conflict(existing, loan, amount), False
    return payment, True


def _check_not_beyond_what_is_owed(actor, loan, amount):
    """A payment may exceed what the loan still owes (its credit set against it) by the product's
    overpayment allowance, no more: ten thousand times the loan is a typing or system error, and
    accepting it would book a credit nobody can explain. The figures are named only to an actor who
    may read the loan."""
    allowance = LoanProduct.objects.values_list("overpayment_allowance", flat=True).get(pk=loan.product_id)
    owed = max(loan.total_outstanding - loan.credit_balance, ZERO)
    if amount <= owed + allowance:
        return
    if not may_read_loans(actor):
        raise ApplicationError(
            _("The payment is more than the loan owes plus the product's overpayment allowance."), field="amount"
        )
    raise ApplicationError(
        _(
            "%(amount)s is more than the loan owes (%(owed)s) plus the product's overpayment allowance "
            "(%(allowance)s). Check the amount."
        )
        % {"amount": f"¥{amount:,.2f}", "owed": f"¥{owed:,.2f}", "allowance": f"¥{allowance:,.2f}"},
        field="amount",
    )


def _same_payment_or_conflict(payment, loan, amount):
    if payment.loan_id != loan.pk or payment.amount != amount or payment.kind != PaymentKind.PAYMENT:
        raise ApplicationError(
            _("This external reference was already used for a different payment."),
            code="idempotency_mismatch",
            field="external_reference",
        )
    return payment


@transaction.atomic
def payment_reverse(*, actor, payment: Payment, reason: str, external_reference: str = "") -> tuple[Payment, bool]:
    """Undo a payment (bounced, misapplied) with a new negative entry that takes back exactly what it
    had paid and re-opens those instalments. Reversing the same payment again is a no-op."""
    if not reason:
        raise ApplicationError(_("Say why the payment is reversed."), field="reason")
    if payment.kind != PaymentKind.PAYMENT:
        raise ApplicationError(_("A reversal cannot itself be reversed."), field="payment")
    loan = Loan.objects.select_for_update().get(pk=payment.loan_id)
    payment = Payment.objects.get(pk=payment.pk)  # fresh under the lock: credit may have been applied since
    existing = Payment.objects.filter(reverses=payment).first()
    if existing is not None:
        return existing, False
    before = balances(loan.pk)
    today = business_today()
    reference = external_reference or _reversal_reference(payment)
    if payment_by_reference(actor, reference) is not None:
        raise ApplicationError(
            _("This external reference was already used for a different payment."),
            code="idempotency_mismatch",
            field="external_reference",
        )
    reversal = Payment.objects.create(
        loan=loan,
        kind=PaymentKind.REVERSAL,
        external_reference=reference,
        idempotency_scope=idempotency_scope(actor),
        amount=-payment.amount,
        currency=payment.currency,
        received_at=timezone.now(),
        value_date=today,
        channel=payment.channel,
        unapplied_amount=-payment.unapplied_amount,
        reverses=payment,
        posted_by=_user_or_none(actor),
        note=reason[:300],
    )
    # Mirror every line with its own date: as of any business day the pair nets to nothing, so a
    # re-run of a past day sees the bounced payment as never having happened.
    lines = [
        PaymentAllocation(
            payment=reversal,
            installment_id=line.installment_id,
            component=line.component,
            amount=-line.amount,
            applied_on=line.applied_on,
        )
        for line in payment.allocations.all()
    ]
    _book_lines(lines)
    if loan.status == LoanStatus.PAID_OFF:
        loan.status, loan.closed_on = LoanStatus.ACTIVE, None
        loan.save(update_fields=["status", "closed_on", "updated_at"])
    # The balances the reversal alone leaves, for its audit entry; the reallocation below has its own.
    loan_refresh_balances(loan=loan, as_of=today)
    log_action(
        actor=actor,
        action="loans.payment.reversed",
        target=loan,
        reason=reason,
        before=before,
        after=balances(loan.pk),
        data={"payment": payment.external_reference, "reversal": reversal.external_reference, "amount": payment.amount},
    )
    # The payments received after the reversed one were allocated to what it had left open: they are
    # spent again in order, as if the reversed money had never come.
    _reallocate_after(
        loan, payment, actor=actor, today=today, reason=reason, cause={"after_reversal_of": payment.external_reference}
    )
    return reversal, True


def _reallocate_after(loan, payment, *, actor, today, reason, cause):
    """Take back the payments received after `payment` (by value date) and spend all the loan's
    unapplied money again in order, oldest first, each on what was open on its day: a reversal or a
    backdated payment changes what the later ones should have paid, and the Civil Code order must
    hold as if every payment had been known on time (core-banking systems re-allocate the same
    way). Credit the loan holds is spent at once. Logged as loans.payment.reallocated with each
    payment's allocation before and after, when any changed."""
    later = list(
        Payment.objects.filter(loan=loan, kind=PaymentKind.PAYMENT, reversal__isnull=True)
        .filter(Q(value_date__gt=payment.value_date) | Q(value_date=payment.value_date, pk__gt=payment.pk))
        .order_by("value_date", "id")
    )
    before = _net_allocations(later)
    _take_back(later)
    _apply_credit(loan, as_of=today)
    loan_refresh_balances(loan=loan, as_of=today)
    after = _net_allocations(later)
    changed = [
        {"payment": p.external_reference, "before": before[p.pk], "after": after[p.pk]}
        for p in later
        if after[p.pk] != before[p.pk]
    ]
    if changed:
        log_action(
            actor=actor,
            action="loans.payment.reallocated",
            target=loan,
            reason=reason,
            data={**cause, "payments": changed},
        )


def _net_allocations(payments) -> dict:
    """What each payment has paid, by component, net of any lines taken back: {payment id: {component:
    amount}}, in one query."""
    paid = {payment.pk: {} for payment in payments}
    totals = (
        PaymentAllocation.objects.filter(payment__in=payments)
        .values("payment_id", "component")
        .annotate(total=Sum("amount"))
        .order_by("payment_id", "component")
    )
    for row in totals:
        if row["total"]:
            paid[row["payment_id"]][row["component"]] = str(row["total"])
    return paid


def _take_back(payments):
    """Undo the allocation of these payments with lines that mirror what each paid (dated as the
    lines they mirror, so a re-run of a past day sees the pair net to nothing), and hold their money
    as credit again, to be spent anew."""
    net = (
        PaymentAllocation.objects.filter(payment__in=payments)
        .values("payment_id", "installment_id", "component", "applied_on")
        .annotate(total=Sum("amount"))
        .order_by("payment_id", "applied_on", "installment_id", "component")
    )
    _book_lines(
        [
            PaymentAllocation(
                payment_id=row["payment_id"],
                installment_id=row["installment_id"],
                component=row["component"],
                amount=-row["total"],
                applied_on=row["applied_on"],
            )
            for row in net
            if row["total"]
        ]
    )
    Payment.objects.filter(pk__in=[payment.pk for payment in payments]).update(unapplied_amount=F("amount"))


def _reversal_reference(payment):
    """`<reference>:reversal`, or the payment's id when that would not fit or is taken already."""
    reference = f"{payment.external_reference}:reversal"
    if len(reference) > 100 or Payment.objects.filter(external_reference=reference).exists():
        reference = f"reversal:{payment.pk}"
    return reference


@transaction.atomic
def loan_apply_credit(*, loan: Loan, as_of: date) -> None:
    """Apply the loan's credit balance to whatever has fallen due by the business date `as_of`, and
    bring its balances to that date (the daily run calls this for loans that hold credit, for the
    date it runs, which a re-run sets in the past)."""
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    before = balances(loan.pk)
    applied = _apply_credit(loan, as_of=as_of)
    loan_refresh_balances(loan=loan, as_of=as_of)
    if applied:  # credit spent on instalments that fell due: money moved, so the audit log says so
        log_action(
            actor="system",
            action="loans.credit.applied",
            target=loan,
            before=before,
            after=balances(loan.pk),
            data={"as_of": as_of, "allocation_lines": applied},
        )


def _apply_credit(loan, *, as_of) -> int:
    """Spend unapplied money, oldest payment first, as it would have been spent on the day: a payment
    first pays what was due on its value date; what is left pays each later instalment on its due
    date, up to `as_of`. Before each day's allocation the penalty is brought to that day, so a
    backdated payment pays the penalty owed then, not the penalty owed now. Lines are dated
    accordingly, so a re-run of a past date sees them right. Returns how many lines it booked."""
    payments = Payment.objects.filter(
        loan=loan, kind=PaymentKind.PAYMENT, unapplied_amount__gt=0, reversal__isnull=True
    ).order_by("value_date", "id")
    open_due = loan.installments.filter(status__in=delinquency.UNPAID, due_date__lte=as_of)
    booked = 0
    for payment in payments:
        left = payment.unapplied_amount
        later_due_dates = open_due.filter(due_date__gt=payment.value_date).values_list("due_date", flat=True)
        for day in sorted({payment.value_date, *later_due_dates}):
            delinquency.update_loan(as_of=day, loan_id=loan.pk)
            installments = open_due.filter(due_date__lte=day).order_by("due_date", "seq")
            allocated, left = rules.allocate(left, _open_items(installments), loan.product.allocation_order)
            _book_lines(
                [
                    PaymentAllocation(
                        payment=payment,
                        installment_id=a.installment_id,
                        component=a.component,
                        amount=a.amount,
                        applied_on=day,
                    )
                    for a in allocated
                ]
            )
            booked += len(allocated)
            if left <= 0:
                break
        if left != payment.unapplied_amount:
            Payment.objects.filter(pk=payment.pk).update(unapplied_amount=left)
    return booked


def _open_items(installments):
    """What is still owed on these instalments, component by component."""
    return [
        rules.OpenItem(
            installment_id=i.pk,
            due_date=i.due_date,
            seq=i.seq,
            component=component,
            outstanding=i.outstanding(component),
        )
        for i in installments
        for component, _due, _paid in Installment.COMPONENT_FIELDS
    ]


def _book_lines(lines):
    """Save allocation lines and move their amounts into the instalments' paid fields."""
    if not lines:
        return
    PaymentAllocation.objects.bulk_create(lines)
    by_installment = defaultdict(list)
    for line in lines:
        by_installment[line.installment_id].append(line)
    paid_field = {component: paid for component, _due, paid in Installment.COMPONENT_FIELDS}
    installments = Installment.objects.select_for_update().filter(pk__in=by_installment)
    for installment in installments:
        for line in by_installment[installment.pk]:
            field = paid_field[line.component]
            setattr(installment, field, getattr(installment, field) + line.amount)
        if installment.status == InstallmentStatus.SUPERSEDED:
            continue  # a replaced instalment keeps what was paid on it, and stays replaced
        if installment.total_outstanding <= 0:
            installment.status = InstallmentStatus.PAID
            installment.paid_on = max(line.applied_on for line in by_installment[installment.pk])
        else:
            installment.status = (
                InstallmentStatus.PARTIALLY_PAID if installment.total_paid > 0 else InstallmentStatus.PENDING
            )
            installment.paid_on = None
    Installment.objects.bulk_update(
        installments, [paid for _c, _d, paid in Installment.COMPONENT_FIELDS] + ["status", "paid_on"]
    )


def _user_or_none(actor):
    return actor if getattr(actor, "pk", None) and hasattr(actor, "get_username") else None


@transaction.atomic
def loan_charge_cost(*, actor, loan: Loan, amount, on: date, reason: str, reference: str = "") -> Installment:
    """Charge the borrower a cost of realising the claim the lender advanced (a court or preservation
    fee, a lawyer's fee the contract or the judgment puts on the borrower). It is owed at once: it is
    added to the oldest instalment still unpaid (the next one to fall due when none is overdue), where
    Civil Code art. 561 has payments meet it first. A closed loan that is still collected (written
    off) takes it too; a paid-off or sold one does not."""
    amount = parse_amount(amount)
    locked = Loan.objects.select_for_update().get(pk=loan.pk)
    if locked.is_closed and locked.status != LoanStatus.WRITTEN_OFF:
        raise ApplicationError(
            _("The loan is %(status)s: no cost can be charged to it.") % {"status": locked.get_status_display()},
            code="loan_closed",
            field="loan",
        )
    installment = (
        locked.installments.select_for_update()
        .filter(status__in=delinquency.UNPAID)
        .order_by("due_date", "seq")
        .first()
    )
    if installment is None:
        raise ApplicationError(_("The loan owes nothing a cost could be charged with."), field="loan")
    installment.cost_due += amount
    installment.save(update_fields=["cost_due"])
    _apply_credit(locked, as_of=on)  # credit held pays the cost at once
    loan_refresh_balances(loan=locked, as_of=on)
    log_action(
        actor=actor,
        action="loans.cost.charged",
        target=locked,
        reason=reason,
        data={"amount": amount, "on": on, "installment": installment.pk, "reference": reference},
    )
    return installment


@transaction.atomic
def loan_set_class(*, actor, loan: Loan, regulatory_class: int | None, reason: str, on: date) -> Loan:
    """A manager's judgment of a loan's regulatory class (the 2023 classification measures ask for it
    on enterprise debtors: a debtor in trouble before any instalment is late), with a written reason.
    The effective class is never better than the days-past-due floor; `None` withdraws the judgment.
    A class of substandard or worse puts the loan in IFRS 9 stage 3."""
    if not is_manager(actor):
        raise ApplicationError(_("Only a manager may set a loan's class."), code="permission_denied")
    reason = (reason or "").strip()
    if not reason:
        raise ApplicationError(_("Say why the loan is classed so."), field="reason")
    if regulatory_class is not None and regulatory_class not in RegulatoryClass.values:
        raise ApplicationError(_("Choose one of the five classes."), field="regulatory_class")
    locked = Loan.objects.select_for_update().get(pk=loan.pk)
    if locked.is_closed:
        raise ApplicationError(_("The loan is closed: its class cannot change."), code="loan_closed", field="loan")
    reason_kept = reason[:500] if regulatory_class is not None else ""
    if (locked.manual_regulatory_class, locked.manual_class_reason) == (regulatory_class, reason_kept):
        return locked  # the same judgment again (a repeated request): nothing changes, nothing is logged
    before = {
        "manual_regulatory_class": locked.manual_regulatory_class,
        "regulatory_class": locked.regulatory_class,
        "ifrs9_stage": locked.ifrs9_stage,
    }
    locked.manual_regulatory_class = regulatory_class
    locked.manual_class_reason = reason_kept
    locked.save(update_fields=["manual_regulatory_class", "manual_class_reason", "updated_at"])
    locked = loan_refresh_balances(loan=locked, as_of=on)
    log_action(
        actor=actor,
        action="loans.loan.class_set",
        target=locked,
        reason=reason,
        before=before,
        after={
            "manual_regulatory_class": locked.manual_regulatory_class,
            "regulatory_class": locked.regulatory_class,
            "ifrs9_stage": locked.ifrs9_stage,
        },
    )
    return locked


# --- Balances ---------------------------------------------------------------------------------------


@transaction.atomic
def loan_reschedule(
    *,
    actor,
    loan: Loan,
    lines: list,
    annual_rate: Decimal,
    penalty_waived: Decimal,
    reason: str,
    on: date,
    annual_cost: Decimal | None = None,
) -> Loan:
    """Replace a loan's unpaid schedule with new instalments (a restructuring). The old unpaid ones
    are kept, marked superseded, with what was paid on them; nothing is deleted. Their penalty moves
    into the new schedule's fees, less `penalty_waived`, which is logged as its own entry."""
    locked = Loan.objects.select_for_update().get(pk=loan.pk)
    if locked.status in LoanStatus.closed():
        raise ApplicationError(_("The loan is closed: its schedule cannot change."), code="loan_closed")
    # The instalments superseded keep, with what was paid on them, the penalty they carried that day.
    delinquency.update_loan(as_of=on, loan_id=locked.pk)
    current = locked.installments.exclude(status=InstallmentStatus.SUPERSEDED)
    version = (current.order_by("-schedule_version").values_list("schedule_version", flat=True).first() or 0) + 1
    superseded = list(current.filter(status__in=[InstallmentStatus.PENDING, InstallmentStatus.PARTIALLY_PAID]))
    current.filter(pk__in=[row.pk for row in superseded]).update(status=InstallmentStatus.SUPERSEDED)
    _book_schedule(locked, lines, version=version)
    before = {"annual_rate": locked.annual_rate, "term_months": locked.term_months, "maturity": locked.maturity_date}
    Loan.objects.filter(pk=locked.pk).update(
        annual_rate=annual_rate,
        term_months=_months_between(locked.first_due_date, lines[-1].due_date) + 1,
        maturity_date=lines[-1].due_date,
        status=LoanStatus.RESTRUCTURED,
        annual_cost=annual_cost,
    )
    loan = loan_refresh_balances(loan=locked, as_of=on)
    log_action(
        actor=actor,
        action="loans.loan.rescheduled",
        target=loan,
        reason=reason,
        before={**before, "instalments_superseded": [row.pk for row in superseded]},
        after={
            "annual_rate": annual_rate,
            "schedule_version": version,
            "instalments": len(lines),
            "maturity": loan.maturity_date,
            "annual_cost": annual_cost,
        },
    )
    if penalty_waived > 0:
        log_action(
            actor=actor,
            action="loans.penalty.waived",
            target=loan,
            reason=reason,
            data={"amount": penalty_waived, "schedule_version": version},
        )
    return loan


def _book_schedule(loan, lines, *, version=1):
    """Write a schedule's lines as the loan's instalments (one bulk insert)."""
    Installment.objects.bulk_create(
        Installment(
            loan=loan,
            schedule_version=version,
            seq=line.seq,
            due_date=line.due_date,
            principal_due=line.principal,
            interest_due=line.interest,
            fee_due=line.fee,
        )
        for line in lines
    )


def _months_between(first: date, last: date) -> int:
    delta = relativedelta(last, first)
    return delta.years * 12 + delta.months


def _loan_close(*, actor, loan: Loan, on: date, reason: str, status: str, refused: str, **changes) -> Loan:
    """Close an open loan by a workflow decision (a write-off, a sale) with the balances it still has,
    logged as `loans.loan.<status>` with the balances and the exposure."""
    with transaction.atomic():
        locked = Loan.objects.select_for_update().get(pk=loan.pk)
        if locked.is_closed:
            raise ApplicationError(refused % {"status": locked.get_status_display()}, code="loan_closed", field="loan")
        # The balances and each instalment's penalty as of the closing day are what the loan closes with.
        delinquency.update_loan(as_of=on, loan_id=locked.pk)
        locked.refresh_from_db()
        # The exposure is the claim on the day: interest and fees of periods still to come were
        # never earned, so they are neither lost nor provisioned.
        claim = claim_as_of(locked, on)
        exposure = claim.total
        before = {"status": locked.status, "regulatory_class": locked.regulatory_class}
        data = {
            "on": on.isoformat(),
            "principal": claim.principal,
            "interest": claim.interest,
            "penalty": claim.penalty,
            "fees": claim.fees,
            "costs": claim.costs,
            "exposure": exposure,
        }
        if status == LoanStatus.WRITTEN_OFF:
            held = rules.provision(exposure, locked.regulatory_class).specific
            data |= {"provision_held": held, "charge_beyond_provision": exposure - held}
        locked.status, locked.closed_on = status, on
        for name, value in changes.items():
            setattr(locked, name, value)
        locked.save(update_fields=["status", "closed_on", *changes, "updated_at"])
        log_action(
            actor=actor,
            action=f"loans.loan.{status}",
            target=locked,
            reason=reason,
            before=before,
            after={"status": locked.status, "regulatory_class": locked.regulatory_class},
            data=data,
        )
    return locked


def loan_write_off(*, actor, loan: Loan, on: date, reason: str) -> Loan:
    """Write the loan off (核销) once the collection workflow has approved it: it closes with the
    balances it still has (the claim is kept, and later payments are still taken), its class becomes
    loss, and the entry records the exposure, the reserve its class held and the charge the write-off
    makes beyond that reserve (loans.rules.provision)."""
    return _loan_close(
        actor=actor,
        loan=loan,
        on=on,
        reason=reason,
        status=LoanStatus.WRITTEN_OFF,
        refused=_("The loan is %(status)s and cannot be written off."),
        regulatory_class=RegulatoryClass.LOSS,
        manual_regulatory_class=RegulatoryClass.LOSS,
    )


def loan_transfer(*, actor, loan: Loan, on: date, reason: str) -> Loan:
    """The loan is sold (a debt sale or securitisation) once the collection workflow has approved it:
    it closes as transferred with the balances it had, which the entry records."""
    return _loan_close(
        actor=actor,
        loan=loan,
        on=on,
        reason=reason,
        status=LoanStatus.TRANSFERRED,
        refused=_("The loan is %(status)s and cannot be transferred."),
    )


def loan_refresh_balances(*, loan: Loan, as_of: date) -> Loan:
    """Recompute one loan's balances under its row lock: the delinquency update (days past due,
    overdue amount, penalty, bucket, class, stage) is the daily run's own SQL over this one loan, and
    the outstanding totals are summed from the instalments and payments."""
    Loan.objects.select_for_update().filter(pk=loan.pk).values_list("pk", flat=True).get()
    delinquency.update_loan(as_of=as_of, loan_id=loan.pk)
    loan.refresh_from_db()
    totals = loan.installments.exclude(status=InstallmentStatus.SUPERSEDED).aggregate(
        principal=Sum("principal_due") - Sum("principal_paid"),
        interest=Sum("interest_due") - Sum("interest_paid"),
        fee=Sum("fee_due") - Sum("fee_paid"),
        cost=Sum("cost_due") - Sum("cost_paid"),
        penalty=Sum("penalty_accrued") - Sum("penalty_paid"),
    )
    credit = Payment.objects.filter(loan=loan).aggregate(total=Sum("unapplied_amount"))["total"] or ZERO
    # PostgreSQL sums numeric exactly: the totals of whole-fen columns are whole fen.
    loan.principal_outstanding = totals["principal"] or ZERO
    loan.interest_outstanding = totals["interest"] or ZERO
    loan.fees_outstanding = totals["fee"] or ZERO
    loan.costs_outstanding = totals["cost"] or ZERO
    loan.penalty_outstanding = totals["penalty"] or ZERO
    loan.credit_balance = credit
    if loan.status == LoanStatus.RESTRUCTURED and loan.total_outstanding <= 0:
        loan.status, loan.closed_on = LoanStatus.PAID_OFF, loan.closed_on or as_of  # the new terms are paid
    elif loan.status in DERIVED_STATUSES:
        if loan.total_outstanding <= 0:
            loan.status, loan.closed_on = LoanStatus.PAID_OFF, loan.closed_on or as_of
        else:
            loan.status = LoanStatus.OVERDUE if loan.overdue_amount > 0 else LoanStatus.ACTIVE
            loan.closed_on = None
    loan.save()
    return loan
