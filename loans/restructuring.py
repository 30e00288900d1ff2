"""Restructured schedules, as pure Decimal maths (the collection app's plans call these).

A restructuring re-spreads what the borrower owes over a new schedule: all unpaid principal (overdue
included) over the remaining months plus any extension (展期), at the current or a reduced rate; the
overdue interest and fees, and the penalty left after any waiver, are split over the first
`arrears_instalments` new instalments (all on the first when that is 0 or 1). Amounts are rounded
to the fen; the remainder of every split lands on its last part, so nothing is created or lost."""

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal

from django.utils.translation import gettext as _

from core.money import FEN, ZERO, to_fen

from .cost import restructured_cost
from .schedule import ScheduleLine, build_schedule


@dataclass(frozen=True)
class Position:
    """What the loan owes the day it is restructured."""

    principal: Decimal  # all unpaid principal, overdue and not yet due
    interest_arrears: Decimal  # overdue interest unpaid
    fee_arrears: Decimal  # overdue fees unpaid
    penalty: Decimal  # penalty interest outstanding
    remaining_months: int  # unpaid instalments left on the current schedule
    annual_rate: Decimal
    method: str
    monthly_fee: Decimal = ZERO


@dataclass(frozen=True)
class Terms:
    extension_months: int = 0
    new_annual_rate: Decimal | None = None  # None: the rate stays
    arrears_instalments: int = 0  # the arrears split over this many new instalments
    penalty_waiver: Decimal = ZERO


@dataclass(frozen=True)
class Limits:
    """A product's ceilings for a restructuring."""

    max_extension_months: int
    max_rate_cut: Decimal  # annual, as a fraction: 0.06 is six points
    max_waiver_share: Decimal  # of the penalty outstanding: 1 waives it all
    max_arrears_instalments: int = 12


@dataclass(frozen=True)
class Summary:
    instalments: int
    total_payable: Decimal
    first_amount: Decimal
    regular_amount: Decimal
    end_date: date | None
    waived: Decimal = ZERO

    def as_dict(self):
        return {
            "instalments": self.instalments,
            "total_payable": str(self.total_payable),
            "first_amount": str(self.first_amount),
            "regular_amount": str(self.regular_amount),
            "end_date": self.end_date.isoformat() if self.end_date else None,
            "waived": str(self.waived),
        }


KINDS = ("term_extension", "rate_reduction", "arrears_instalments", "penalty_waiver")


def kinds(position: Position, terms: Terms) -> list[str]:
    """Which kinds of restructuring the terms make (any mix)."""
    found = {
        "term_extension": terms.extension_months > 0,
        "rate_reduction": terms.new_annual_rate is not None and terms.new_annual_rate < position.annual_rate,
        "arrears_instalments": terms.arrears_instalments > 1,
        "penalty_waiver": terms.penalty_waiver > 0,
    }
    return [kind for kind in KINDS if found[kind]]


def limit_errors(position: Position, terms: Terms, limits: Limits) -> dict[str, str]:
    """Each term beyond the product's limits, by field, with a message that says the limit."""
    errors = {}
    if terms.extension_months < 0:
        errors["extension_months"] = _("An extension cannot be negative.")
    elif terms.extension_months > limits.max_extension_months:
        errors["extension_months"] = _("This product allows an extension of at most %(months)s months.") % {
            "months": limits.max_extension_months
        }
    if terms.new_annual_rate is not None:
        if terms.new_annual_rate < 0:
            errors["new_annual_rate"] = _("A rate cannot be negative.")
        elif terms.new_annual_rate > position.annual_rate:
            errors["new_annual_rate"] = _("A restructuring may lower the rate, never raise it.")
        elif position.annual_rate - terms.new_annual_rate > limits.max_rate_cut:
            errors["new_annual_rate"] = _("This product allows a rate cut of at most %(points)s points.") % {
                "points": f"{limits.max_rate_cut * 100:.2f}"
            }
    if not 0 <= terms.arrears_instalments <= limits.max_arrears_instalments:
        errors["arrears_instalments"] = _("Split the arrears over 0 to %(count)s instalments.") % {
            "count": limits.max_arrears_instalments
        }
    elif terms.arrears_instalments > position.remaining_months + terms.extension_months:
        errors["arrears_instalments"] = _("The arrears cannot be split over more instalments than the schedule has.")
    waivable = to_fen(position.penalty * limits.max_waiver_share)
    if terms.penalty_waiver < 0:
        errors["penalty_waiver"] = _("A waiver cannot be negative.")
    elif terms.penalty_waiver > waivable:
        errors["penalty_waiver"] = _("At most ¥%(amount)s of the penalty may be waived on this product.") % {
            "amount": f"{waivable:,.2f}"
        }
    if not kinds(position, terms):
        errors["extension_months"] = errors.get("extension_months") or _(
            "Change at least one term: extend, lower the rate, split the arrears or waive penalty."
        )
    return errors


def restructured_schedule(
    position: Position, terms: Terms, first_due_date: date, *, day_of_month: int | None = None
) -> list[ScheduleLine]:
    """The new instalments, each on the contract day `day_of_month` (or the last day of a shorter
    month). Call limit_errors first: this only checks that the maths can be done."""
    months = position.remaining_months + terms.extension_months
    rate = position.annual_rate if terms.new_annual_rate is None else terms.new_annual_rate
    lines = build_schedule(
        method=position.method,
        principal=position.principal,
        annual_rate=rate,
        term_months=months,
        first_due_date=first_due_date,
        monthly_fee=position.monthly_fee,
        day_of_month=day_of_month,
    )
    parts = max(terms.arrears_instalments, 1)
    interest = split(position.interest_arrears, parts)
    fees = split(position.fee_arrears + position.penalty - terms.penalty_waiver, parts)
    return [
        ScheduleLine(
            seq=line.seq,
            due_date=line.due_date,
            principal=line.principal,
            interest=line.interest + (interest[n] if n < parts else ZERO),
            fee=line.fee + (fees[n] if n < parts else ZERO),
        )
        for n, line in enumerate(lines)
    ]


def restructured_annual_cost(position: Position, terms: Terms, lines: list[ScheduleLine], on: date) -> Decimal:
    """The comprehensive annual cost of the new terms: everything they re-spread (the principal and the
    arrears carried, less the waiver) stands in for a disbursement on the day, repaid by the new
    instalments. Arrears carried without interest lower it; the new rate and fees make it."""
    carried = position.interest_arrears + position.fee_arrears + position.penalty - terms.penalty_waiver
    return restructured_cost(balance=position.principal + carried, on=on, lines=lines)


def split(amount: Decimal, parts: int) -> list[Decimal]:
    """Equal parts to the fen, rounded down so the remainder on the last part is never negative."""
    share = (amount / parts).quantize(FEN, rounding=ROUND_DOWN)
    return [share] * (parts - 1) + [amount - share * (parts - 1)]


def summarise(lines: list[ScheduleLine], *, waived: Decimal = ZERO, regular_from: int = 1) -> Summary:
    """Totals of a schedule; the regular amount is that of instalment `regular_from` (counted from 0)."""
    if not lines:
        return Summary(0, ZERO, ZERO, ZERO, None, waived)
    regular = lines[min(regular_from, len(lines) - 1)]
    return Summary(
        instalments=len(lines),
        total_payable=sum((line.total for line in lines), ZERO),
        first_amount=lines[0].total,
        regular_amount=regular.total,
        end_date=lines[-1].due_date,
        waived=waived,
    )
