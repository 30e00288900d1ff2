import datetime as dt
from decimal import Decimal as D
import pytest, time_machine
from zoneinfo import ZoneInfo
from tests.loans.factories import make_loan
from loans.services import payment_post, payment_reverse

SH = ZoneInfo("Asia/Shanghai")

@pytest.mark.django_db
def test_flow():
    with time_machine.travel(dt.datetime(2026, 4, 20, 10, tzinfo=SH), tick=False):
        loan = make_loan()
        print(loan.__dict__)
        for i in loan.installments.all()[:4]: print(i.seq, i.due_date, i.principal_due, i.interest_due, i.status)
        p, c = payment_post(actor="system", loan=loan, amount="1500.00", external_reference="X1", channel="bank_transfer")
        loan.refresh_from_db()
        print(p.unapplied_amount, loan.overdue_amount, loan.days_past_due, loan.credit_balance, loan.status)
        for i in loan.installments.all()[:4]: print(i.seq, i.due_date, i.principal_paid, i.interest_paid, i.status, i.paid_on)
        p2, c = payment_post(actor="system", loan=loan, amount="1500.00", external_reference="X1", channel="bank_transfer")
        assert p2 == p and not c
        r, c = payment_reverse(actor="system", payment=p, reason="bounced")
        loan.refresh_from_db()
        print(loan.overdue_amount, loan.days_past_due, loan.credit_balance, loan.status)
