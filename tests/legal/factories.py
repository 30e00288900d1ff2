from datetime import date

from collection.choices import CaseState
from loans.services import loan_refresh_balances
from tests.collection.factories import make_case


def make_legal_case(officer=None, *, as_of=date(2026, 4, 20)):
    """A case referred to legal whose loan's balances are as of `as_of` (the claim an action takes)."""
    case = make_case(state=CaseState.LEGAL, officer=officer)
    loan_refresh_balances(loan=case.loan, as_of=as_of)
    case.loan.refresh_from_db()
    return case
