"""The daily run over time: cases open on the first overdue day, get classified, escalate, close
when cured; the run is idempotent and its query count does not grow with the book."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from collection import daily, services
from collection.choices import CaseState, ContactChannel, ContactOutcome, PromiseStatus, ResolutionReason
from collection.models import CollectionCase, Team
from core.dates import business_today
from core.models import ActivityLog
from loans.choices import ProductKind, RepaymentMethod
from loans.models import Loan
from loans.services import loan_refresh_balances, payment_post
from tests.collection.factories import make_officer
from tests.loans.factories import LoanProductFactory, make_loan

SHANGHAI = ZoneInfo("Asia/Shanghai")
S = CaseState
pytestmark = pytest.mark.django_db


def at(day, hour=10):
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI)


def run(day):
    with time_machine.travel(at(day, 1), tick=False):
        return daily.run_daily(as_of=day)


def case_of(loan):
    return CollectionCase.objects.filter(loan=loan).order_by("-id").first()


@pytest.fixture
def book():
    """A consumer loan disbursed 2026-01-15, first due 2026-02-15, and a team of two officers."""
    product = LoanProductFactory(code="consumer", kind=ProductKind.CONSUMER_CREDIT)
    team = Team.objects.create(name="Consumer A")
    team.products.add(product)
    officers = [make_officer("o1"), make_officer("o2")]
    team.members.add(*officers)
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loans = [make_loan(product=product) for _ in range(3)]
    return {"product": product, "team": team, "officers": officers, "loans": loans}


def test_a_case_opens_on_the_first_overdue_day_and_officers_share_the_load(book):
    assert run(date(2026, 2, 15)).cases_opened == 0  # due today: not overdue yet
    summary = run(date(2026, 2, 16))
    assert summary.cases_opened == 3
    cases = list(CollectionCase.objects.order_by("id"))
    assert {c.state for c in cases} == {S.EARLY_WARNING}
    assert all(c.days_past_due_at_open == 1 and c.opened_on == date(2026, 2, 16) for c in cases)
    loads = sorted(sum(1 for c in cases if c.officer == o) for o in book["officers"])
    assert loads == [1, 2] and {c.team for c in cases} == {book["team"]}
    assert ActivityLog.objects.filter(action="collection.case.opened", actor_kind="system").count() == 3
    for case in cases:  # each opening is logged on its case, as any entry is, with the rule that fired
        entry = ActivityLog.objects.get(action="collection.case.opened", target_id=str(case.pk))
        assert (entry.target_type.model_class(), entry.target_repr, entry.actor_label) == (
            CollectionCase,
            str(case),
            "system",
        )
        assert entry.data == {"rule": "first_overdue_day", "officer": case.officer_id}
        assert entry.created_at == case.created_at
    assert all(c.overdue_amount_at_open == c.loan.overdue_amount > 0 and c.next_action_at for c in cases)
    # The model's defaults, then scored by the same run.
    assert all((c.version, c.severity, c.classification_reasons) == (0, "", []) and c.priority_score > 0 for c in cases)


def test_running_the_same_date_twice_changes_nothing(book):
    run(date(2026, 2, 16))
    run(date(2026, 2, 23))
    cases = list(CollectionCase.objects.order_by("id").values())
    loans = list(Loan.objects.order_by("id").values())
    entries = ActivityLog.objects.count()
    again = run(date(2026, 2, 23))
    assert (again.cases_opened, again.cases_classified, again.cases_escalated, again.cases_resolved) == (0, 0, 0, 0)
    assert (again.loans_in_arrears, again.loans_cleared) == (0, 0)
    assert list(CollectionCase.objects.order_by("id").values()) == cases
    assert list(Loan.objects.order_by("id").values()) == loans
    assert ActivityLog.objects.count() == entries


def test_credit_held_pays_the_instalment_that_falls_due_and_no_case_opens(book):
    prepaid, _, _ = book["loans"]
    first = prepaid.installments.order_by("due_date").first()
    with time_machine.travel(at(date(2026, 2, 1)), tick=False):  # nothing due yet: held as credit
        payment_post(actor="system", loan=prepaid, amount=first.total_due, external_reference="PRE-1", channel="cash")
    prepaid.refresh_from_db()
    assert prepaid.credit_balance == first.total_due

    on_due_day = run(date(2026, 2, 15))
    assert (on_due_day.loans_scanned, on_due_day.credits_applied) == (3, 1)
    prepaid.refresh_from_db()
    first.refresh_from_db()
    assert prepaid.credit_balance == 0 and first.status == "paid" and first.paid_on == date(2026, 2, 15)
    next_day = run(date(2026, 2, 16))
    assert (next_day.cases_opened, next_day.credits_applied) == (2, 0)
    assert not CollectionCase.objects.filter(loan=prepaid).exists()


def test_classified_at_the_products_classify_day_by_the_rules(book):
    loan, refuser, _ = book["loans"]
    run(date(2026, 2, 16))
    services.contact_log(
        actor=case_of(refuser).officer,
        case=case_of(refuser),
        channel=ContactChannel.CALL,
        outcome=ContactOutcome.REFUSED,
        attempted_at=at(date(2026, 2, 18)),
    )
    assert run(date(2026, 2, 21)).cases_classified == 0  # 6 days past due
    assert run(date(2026, 2, 22)).cases_classified == 3  # 7 days: the product's classify day
    assert case_of(loan).state == S.MINOR
    assert case_of(refuser).state == S.SERIOUS
    assert [r["code"] for r in case_of(refuser).classification_reasons] == ["refused"]
    entry = ActivityLog.objects.get(action="collection.case.classified", target_id=str(case_of(refuser).pk))
    assert entry.actor_kind == "system" and entry.data["rule"] == "classification_rules"
    assert (entry.before, entry.after, entry.target_repr) == (
        {"state": "early_warning"},
        {"state": "serious"},
        str(case_of(refuser)),
    )
    assert [r["code"] for r in entry.data["reasons"]] == ["refused"]
    minor = ActivityLog.objects.get(action="collection.case.classified", target_id=str(case_of(loan).pk))
    assert minor.after == {"state": "minor"} and minor.data["reasons"] == case_of(loan).classification_reasons


def test_minor_escalates_past_the_serious_threshold_but_not_during_grace(book):
    loan, graced, _ = book["loans"]
    run(date(2026, 2, 22))
    grace_case = case_of(graced)
    with time_machine.travel(at(date(2026, 4, 10)), tick=False):
        services.case_grant_grace(
            actor=grace_case.officer, case=grace_case, until=date(2026, 4, 25), reason="Salary delayed"
        )
    run(date(2026, 4, 16))  # 60 days past due: not beyond the threshold yet
    assert case_of(loan).state == S.MINOR
    summary = run(date(2026, 4, 17))  # 61 days
    assert case_of(loan).state == S.SERIOUS and summary.cases_escalated == 2  # the third loan too
    assert case_of(graced).state == S.MINOR  # grace runs until 25 April
    entry = ActivityLog.objects.filter(action="collection.case.escalated", target_id=str(case_of(loan).pk)).get()
    assert [r["code"] for r in entry.data["reasons"]] == ["dpd_threshold"]
    run(date(2026, 4, 26))  # grace over, arrears unpaid
    codes = ActivityLog.objects.get(action="collection.case.escalated", target_id=str(case_of(graced).pk))
    assert "grace_expired" in [r["code"] for r in codes.data["reasons"]]


def test_grace_at_the_first_overdue_instalment_defers_classification_until_it_ends(book):
    """The lender grants 30 days' grace in early warning, before classifying; the case is classified
    only when the grace ends, serious when the arrears are still unpaid."""
    loan = book["loans"][0]
    run(date(2026, 2, 16))
    case = case_of(loan)
    assert case.state == S.EARLY_WARNING
    with time_machine.travel(at(date(2026, 2, 16)), tick=False):
        services.case_grant_grace(actor=case.officer, case=case, until=date(2026, 3, 18), reason="Salary delayed")
    assert case_of(loan).state == S.EARLY_WARNING
    assert ActivityLog.objects.filter(action="collection.case.grace_granted", target_id=str(case.pk)).exists()

    run(date(2026, 3, 18))  # 31 days past due, the classify day long gone, but in grace
    assert case_of(loan).state == S.EARLY_WARNING
    assert case_of(book["loans"][1]).state != S.EARLY_WARNING  # the others were classified

    run(date(2026, 3, 19))  # grace over, arrears unpaid
    assert case_of(loan).state == S.SERIOUS
    entry = ActivityLog.objects.get(action="collection.case.classified", target_id=str(case.pk))
    assert "grace_expired" in [reason["code"] for reason in entry.data["reasons"]]


def test_promises_are_judged_and_two_broken_make_the_case_serious(book):
    loan = book["loans"][0]
    run(date(2026, 2, 22))
    case = case_of(loan)
    officer = case.officer
    with time_machine.travel(at(date(2026, 2, 23)), tick=False):
        services.promise_record(actor=officer, case=case, amount="500.00", promised_for=date(2026, 2, 26))
        kept = services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 2, 27))
    with time_machine.travel(at(date(2026, 2, 25)), tick=False):
        payment_post(actor="system", loan=loan, amount=Decimal("100.00"), external_reference="PTP-1", channel="cash")
    summary = run(date(2026, 3, 1))
    # The ¥100 paid on 25 February falls inside both promises' windows.
    assert (summary.promises_kept, summary.promises_partially_kept, summary.promises_broken) == (1, 1, 0)
    kept.refresh_from_db()
    assert kept.status == PromiseStatus.KEPT and kept.paid_amount == Decimal("100.00")
    assert case_of(loan).state == S.MINOR

    with time_machine.travel(at(date(2026, 3, 2)), tick=False):
        case = case_of(loan)
        services.promise_record(actor=officer, case=case, amount="500.00", promised_for=date(2026, 3, 3))
        services.promise_record(actor=officer, case=case, amount="500.00", promised_for=date(2026, 3, 4))
    summary = run(date(2026, 3, 5))
    assert summary.promises_broken == 2
    case = case_of(loan)
    assert case.broken_promises == 2 and case.state == S.SERIOUS


def test_paying_the_arrears_resolves_the_case_as_cured(book):
    loan = book["loans"][0]
    run(date(2026, 2, 22))
    with time_machine.travel(at(date(2026, 2, 24)), tick=False):
        payment_post(
            actor="system",
            loan=loan,
            amount=loan_refresh_balances(loan=loan, as_of=business_today()).overdue_amount,  # what is owed today
            external_reference="CURE-1",
            channel="bank_transfer",
        )
    assert run(date(2026, 2, 25)).cases_resolved == 1
    case = case_of(loan)
    assert (case.state, case.resolution_reason, case.closed_on) == (
        S.RESOLVED,
        ResolutionReason.CURED,
        date(2026, 2, 25),
    )
    # The next miss opens a new case: one open case per loan, history kept.
    run(date(2026, 3, 16))
    assert CollectionCase.objects.filter(loan=loan).count() == 2
    assert case_of(loan).state == S.EARLY_WARNING


def test_the_query_count_does_not_grow_with_the_book():
    product = LoanProductFactory(code="qc")
    team = Team.objects.create(name="QC")
    team.products.add(product)
    team.members.add(make_officer("qc1"))

    def queries_for(count, day):
        with time_machine.travel(at(date(2026, 1, 15)), tick=False):
            for _ in range(count):
                make_loan(product=product)
        with CaptureQueriesContext(connection) as captured:
            run(day)
        CollectionCase.objects.all().update(state=S.RESOLVED)  # start the next round clean
        return len(captured)

    few = queries_for(2, date(2026, 2, 16))
    Loan.objects.all().update(status="written_off")
    many = queries_for(20, date(2026, 2, 16))
    assert few == many


def test_the_command_prints_a_summary(book, capsys):
    with time_machine.travel(at(date(2026, 2, 20)), tick=False):
        call_command("run_daily", "--date", "2026-02-17")
    out = capsys.readouterr().out
    assert "cases opened" in out and "3" in out


@pytest.mark.parametrize(
    ("kind", "method", "principal"),
    [
        (ProductKind.MICRO_LOAN, RepaymentMethod.EQUAL_INSTALLMENT, "3000.00"),
        (ProductKind.CONSUMER_CREDIT, RepaymentMethod.EQUAL_PRINCIPAL, "20000.00"),
        (ProductKind.CAR_TITLE, RepaymentMethod.EQUAL_INSTALLMENT, "80000.00"),
        (ProductKind.MORTGAGE, RepaymentMethod.EQUAL_INSTALLMENT, "600000.00"),
        (ProductKind.ENTERPRISE, RepaymentMethod.INTEREST_ONLY, "500000.00"),
    ],
)
def test_a_150_day_story_per_product_kind(kind, method, principal):
    """Disbursed, misses payments, case opens, classified minor, a promise is broken twice, the
    borrower goes quiet, escalates, and finally pays everything overdue: resolved."""
    product = LoanProductFactory(code=f"story-{kind}", kind=kind, repayment_method=method)
    team = Team.objects.create(name=f"Team {kind}")
    team.products.add(product)
    officer = make_officer(f"officer-{kind}")
    team.members.add(officer)
    start = date(2026, 1, 10)
    with time_machine.travel(at(start), tick=False):
        loan = make_loan(product=product, principal=principal, term_months=12, disbursed_on=start)
    states = {}
    day = start
    while day <= start + timedelta(days=150):
        run(day)
        case = case_of(loan)
        states[day] = case.state if case else None
        with time_machine.travel(at(day, 11), tick=False):
            if day == date(2026, 2, 20):
                services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 2, 25))
            if day == date(2026, 3, 1):
                services.promise_record(actor=officer, case=case, amount="100.00", promised_for=date(2026, 3, 5))
            if day == date(2026, 5, 20):
                owed = Loan.objects.get(pk=loan.pk).overdue_amount
                payment_post(actor="system", loan=loan, amount=owed, external_reference=f"S-{kind}", channel="cash")
        day += timedelta(days=1)
    assert states[date(2026, 2, 10)] is None  # due today
    assert states[date(2026, 2, 11)] == S.EARLY_WARNING
    assert states[date(2026, 2, 17)] == S.MINOR  # classify day 7
    assert states[date(2026, 3, 6)] == S.SERIOUS  # two broken promises
    assert states[date(2026, 5, 21)] == S.RESOLVED
    history = list(
        ActivityLog.objects.filter(target_id=str(case_of(loan).pk), action__startswith="collection.case.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert history == [
        "collection.case.opened",
        "collection.case.classified",
        "collection.case.escalated",
        "collection.case.resolved",
    ]


def test_a_minor_case_can_go_to_restructuring():
    product = LoanProductFactory(code="restructure")
    with time_machine.travel(at(date(2026, 1, 15)), tick=False):
        loan = make_loan(product=product)
    officer = make_officer("r1")
    run(date(2026, 2, 22))
    case = case_of(loan)
    services.cases_reassign(actor="system", case_ids=[case.pk], officer=officer)
    case = case_of(loan)
    assert case.state == S.MINOR
    with time_machine.travel(at(date(2026, 2, 23)), tick=False):
        case = services.case_propose_plan(actor=officer, case=case, note="Two-month extension requested")
    assert case.state == S.RESTRUCTURING
    run(date(2026, 4, 20))  # no automatic moves while a plan is being negotiated
    assert case_of(loan).state == S.RESTRUCTURING


def test_the_sql_priority_matches_the_rule(book):
    from collection import rules

    borrower = book["loans"][0].borrower
    borrower.risk_grade = "D"
    borrower.save()
    run(date(2026, 3, 20))
    for case in CollectionCase.objects.select_related("loan__borrower"):
        assert case.priority_score == rules.priority_score(
            aging_bucket=case.loan.aging_bucket,
            overdue_amount=case.overdue_amount,
            risk_grade=case.loan.borrower.risk_grade,
            broken_promises=case.broken_promises,
            unreachable=case.unreachable,
        )
    assert case_of(book["loans"][0]).priority_score > case_of(book["loans"][1]).priority_score
