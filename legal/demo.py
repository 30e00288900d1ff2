"""The legal side of the demo: a few serious cases taken to legal through the real services (the
officer asks, the manager approves), so the legal officer's worklist opens with actions at different
stages: a lawyer's letter sent, a lawsuit waiting for its hearing with an account frozen, a car-title
loan whose vehicle is at auction, and an enforcement that found nothing, waiting for the manager to
approve its write-off. Dates are set back from today so the deadlines fall around it."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from collection.choices import ApprovalAction, CaseState
from collection.models import CollectionCase
from collection.services import approval_decide, approval_request
from loans.choices import CollateralKind, CollateralStatus, ProductKind

from . import rules, services
from .choices import ActionKind, AssetKind
from .models import LawFirm, LegalAction

FIRMS = [
    ("北京市中伦律师事务所", "周律师", "010-59572288", "一封律师函 ¥800；诉讼按标的 3%，最低 ¥5,000"),
    ("上海市锦天城律师事务所", "吴律师", "021-20511000", "诉讼与执行风险代理：回款的 12%"),
]


MIN_CLAIM = Decimal("30000")


@dataclass
class Summary:
    actions: list[str] = field(default_factory=list)


def _users():
    users = get_user_model().objects
    return users.get(username="legal"), users.get(username="manager")


def _serious_cases(*, car_title: bool):
    queryset = CollectionCase.objects.filter(state=CaseState.SERIOUS, officer__isnull=False).select_related("loan")
    if car_title:
        queryset = queryset.filter(
            loan__product__kind=ProductKind.CAR_TITLE,
            loan__collateral__kind=CollateralKind.VEHICLE,
            loan__collateral__status__in=[CollateralStatus.HELD, CollateralStatus.SEIZED],
        )
    else:  # worth a lawsuit: the costs would eat a small loan
        queryset = queryset.exclude(loan__product__kind=ProductKind.CAR_TITLE).filter(
            loan__principal_outstanding__gte=MIN_CLAIM
        )
    return queryset.order_by("-loan__days_past_due", "id")


def _refer(case, manager):
    approval = approval_request(
        actor=case.officer,
        case=case,
        action=ApprovalAction.REFER_TO_LEGAL,
        reason="多次联系无果，借款人拒绝还款。",
        details={"feasibility_note": "名下有可供执行的财产线索，预计回收高于诉讼成本。"},
    )
    approval_decide(actor=manager, approval=approval, approve=True, note="同意起诉。")
    case.refresh_from_db()
    return case


def _open(case, lawyer, firm, kind, recoverable):
    return services.action_open(
        actor=lawyer,
        case=case,
        kind=kind,
        law_firm=firm,
        lawyer_fee="5000",
        recoverable=recoverable,
    )


def _claim_costs(action, lawyer, day):
    services.cost_add(
        actor=lawyer, action=action, kind="court_fee", amount=rules.court_fee(action.claim), incurred_on=day
    )


def _to_enforcement(action, lawyer, *, court, filed, costs=False):
    """File the lawsuit on `filed`, then hearing (+20 days), judgment for the claim (+30, to be
    performed 15 days later, when the appeal period also ends) and enforcement (+50)."""

    def step(name, days, **fields):
        return services.action_advance(
            actor=lawyer, action=action, step=name, on=filed + timedelta(days=days), **fields
        )

    action = step("file", 0, court=court)
    if costs:
        _claim_costs(action, lawyer, filed)
    action = step("schedule_hearing", 0, hearing_on=filed + timedelta(days=20))
    judged = filed + timedelta(days=30)
    action = step(
        "record_judgment",
        30,
        judgment_on=judged,
        performance_due_on=judged + timedelta(days=15),
        **_judgment_for_the_claim(action),
    )
    return step("apply_enforcement", 50)  # the day after the appeal deadline and the performance date


def _judgment_for_the_claim(action):
    """The court awards what was claimed, component by component, and puts the court fee booked so far
    on the borrower."""
    court_fees = sum((cost.amount for cost in action.costs.filter(kind="court_fee")), Decimal("0.00"))
    return {
        "judgment_principal": action.claim_principal,
        "judgment_interest": action.claim_interest,
        "judgment_fees": action.claim_fees,
        "judgment_penalty": action.claim_penalty,
        "judgment_costs": action.claim_costs + court_fees,
    }


def seed_demo_legal(*, today: date) -> Summary:
    """Take up to four serious cases to legal (nothing is done if any legal action exists)."""
    summary = Summary()
    if LegalAction.objects.exists():
        return summary
    lawyer, manager = _users()
    firms = [
        LawFirm.objects.get_or_create(name=name, defaults={"contact_name": who, "phone": phone, "fee_terms": terms})[0]
        for name, who, phone, terms in FIRMS
    ]
    plain = list(_serious_cases(car_title=False)[:3])
    cars = list(_serious_cases(car_title=True)[:1])
    ago = lambda days: today - timedelta(days=days)  # noqa: E731

    with transaction.atomic():
        if plain:  # a lawyer's letter, sent last week
            case = _refer(plain[0], manager)
            action = _open(case, lawyer, firms[0], ActionKind.LAWYERS_LETTER, case.loan.total_outstanding)
            services.action_advance(actor=lawyer, action=action, step="send_letter", on=ago(6), note="EMS 快递寄出")
            services.cost_add(actor=lawyer, action=action, kind="lawyer_fee", amount="800", incurred_on=ago(6))
            summary.actions.append(f"lawyer's letter #{action.pk}")
        if len(plain) > 1:  # a lawsuit waiting for its hearing, an account frozen
            case = _refer(plain[1], manager)
            action = _open(case, lawyer, firms[0], ActionKind.LAWSUIT, case.loan.total_outstanding)
            action = services.action_advance(
                actor=lawyer,
                action=action,
                step="file",
                on=ago(40),
                court="上海市浦东新区人民法院",
                court_case_number=f"({today.year})沪0115民初{action.pk:04d}号",
            )
            _claim_costs(action, lawyer, ago(40))
            order = services.preservation_apply(
                actor=lawyer,
                action=action,
                asset_kind=AssetKind.BANK_ACCOUNT,
                description="招商银行 6214 **** 3301",
                amount=min(case.loan.total_outstanding, Decimal("50000")),
                applied_on=ago(40),
            )
            services.preservation_decide(
                actor=lawyer, order=order, granted=True, on=ago(35), ruling_number=f"({today.year})沪0115财保88号"
            )
            services.action_advance(
                actor=lawyer, action=action, step="schedule_hearing", on=ago(20), hearing_on=today + timedelta(days=9)
            )
            summary.actions.append(f"lawsuit #{action.pk} (hearing in 9 days)")
        if cars:  # a car-title loan: judgment, enforcement, the vehicle at auction
            case = _refer(cars[0], manager)
            car = case.loan.collateral.filter(kind=CollateralKind.VEHICLE).first()
            action = _open(case, lawyer, firms[1], ActionKind.LAWSUIT, car.appraised_value or case.loan.principal)
            action = _to_enforcement(action, lawyer, court="上海市闵行区人民法院", filed=ago(120), costs=True)
            disposal = services.disposal_open(
                actor=lawyer, action=action, collateral=car, seized_on=ago(45), location="闵行区法院停车场"
            )
            value = car.appraised_value or case.loan.principal
            disposal = services.disposal_appraise(
                actor=lawyer,
                disposal=disposal,
                value=value,
                on=ago(30),
                appraiser="上海信达资产评估有限公司",
                fee="1500",
            )
            services.disposal_list(
                actor=lawyer,
                disposal=disposal,
                method="judicial_auction",
                reserve_price=rules.lowest_reserve(appraised_value=value, previous_reserve=None),
                on=ago(10),
            )
            summary.actions.append(f"lawsuit #{action.pk} (vehicle at auction)")
        if len(plain) > 2:  # enforcement found nothing: the write-off waits for the manager
            case = _refer(plain[2], manager)
            action = _open(case, lawyer, firms[1], ActionKind.LAWSUIT, case.loan.total_outstanding)
            action = _to_enforcement(action, lawyer, court="北京市朝阳区人民法院", filed=ago(150))
            services.action_advance(
                actor=lawyer,
                action=action,
                step="close_impossible",
                on=ago(2),
                note="法院终结本次执行程序：未发现可供执行的财产。",
            )
            summary.actions.append(f"lawsuit #{action.pk} (enforcement impossible, write-off awaiting approval)")
    return summary
