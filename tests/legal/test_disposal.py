"""The smaller rules and services of the legal route: reserve price floors, how proceeds are split,
how long a preservation holds, preservation rulings, tasks, documents, releases, and who may act."""

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django_fsm import can_proceed
from hypothesis import given
from hypothesis import strategies as st

from collection import daily
from collection import services as collection_services
from collection.choices import CaseState, ContactChannel, ContactOutcome
from collection.errors import NotPermitted, TransitionNotAllowed
from collection.models import Approval
from core import roles
from core.errors import ApplicationError
from core.models import ActivityLog
from legal import rules, services
from legal.choices import AssetKind, DisposalState, PreservationStatus, TaskKind
from loans.choices import CollateralKind, CollateralStatus, LoanStatus
from loans.models import Collateral
from loans.services import loan_write_off, payment_post
from tests import files
from tests.collection.factories import make_case, make_officer, make_user
from tests.legal.factories import enforceable_from, judged, make_legal_case, on_day
from tests.loans.factories import make_loan

D = Decimal
money = st.decimals(min_value=0, max_value=10**8, places=2, allow_nan=False, allow_infinity=False)


def test_a_first_auction_starts_at_seventy_percent_and_each_relisting_at_most_twenty_percent_lower():
    assert rules.lowest_reserve(appraised_value=D("90000"), previous_reserve=None) == D("63000.00")
    assert rules.lowest_reserve(appraised_value=D("90000"), previous_reserve=D("63000")) == D("50400.00")
    assert rules.lowest_reserve(appraised_value=D("100.01"), previous_reserve=None) == D("70.01")


@given(proceeds=money, costs=money, owed=money)
def test_proceeds_pay_costs_then_the_loan_and_the_rest_is_the_borrowers(proceeds, costs, owed):
    split = rules.distribute(proceeds=proceeds, costs_outstanding=costs, loan_owed=owed)
    assert split.to_costs + split.to_loan + split.surplus == proceeds
    assert min(split.to_costs, split.to_loan, split.surplus) >= 0
    assert split.to_costs == min(proceeds, costs)
    assert split.to_loan == min(proceeds - split.to_costs, owed)
    assert split.surplus == 0 or (split.to_costs, split.to_loan) == (costs, owed)


@pytest.mark.parametrize(
    ("kind", "expires"),
    [
        (AssetKind.BANK_ACCOUNT, date(2027, 3, 15)),
        (AssetKind.VEHICLE, date(2028, 3, 15)),
        (AssetKind.REAL_PROPERTY, date(2029, 3, 15)),
    ],
)
def test_a_preservation_holds_for_the_term_of_its_asset(kind, expires):
    assert rules.preservation_expiry(kind, date(2026, 3, 15)) == expires


pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def lawyer():
    return make_user("counsel", roles.LEGAL_OFFICER)


@pytest.fixture
def filed(lawyer):
    """A lawsuit filed on a case in legal whose loan is secured by a car."""
    case = make_legal_case(make_officer("zhao"))
    Collateral.objects.create(loan=case.loan, kind=CollateralKind.VEHICLE, description="大众 帕萨特", identifier="沪B1")
    action = services.action_open(actor=lawyer, case=case, kind="lawsuit", lawyer_fee="1000", recoverable="90000")
    return services.action_advance(actor=lawyer, action=action, step="file", on=date(2026, 4, 20), court="某法院")


def test_a_refused_preservation_sets_no_task_and_a_ruling_is_given_once(filed, lawyer):
    car = filed.case.loan.collateral.get()
    order = services.preservation_apply(
        actor=lawyer,
        action=filed,
        asset_kind=AssetKind.VEHICLE,
        description="沪B1",
        amount="9000",
        applied_on=date(2026, 4, 20),
        collateral=car,
    )
    filed.refresh_from_db()
    assert filed.state == "preservation_applied"
    order = services.preservation_decide(actor=lawyer, order=order, granted=False, on=date(2026, 4, 20))
    assert (order.status, order.ended_on, order.expires_on) == (PreservationStatus.REFUSED, date(2026, 4, 20), None)
    assert not filed.tasks.exists()
    car.refresh_from_db()
    assert car.status == CollateralStatus.HELD
    with pytest.raises(ApplicationError, match="already ruled"):
        services.preservation_decide(actor=lawyer, order=order, granted=True, on=date(2026, 4, 20), ruling_number="1")


def test_a_granted_order_needs_its_number_and_lifting_ends_its_renewal_task(filed, lawyer):
    order = services.preservation_apply(
        actor=lawyer,
        action=filed,
        asset_kind=AssetKind.BANK_ACCOUNT,
        description="农业银行 6228 ****",
        amount="5000",
        applied_on=date(2026, 4, 20),
    )
    with pytest.raises(ApplicationError) as missing:
        services.preservation_decide(actor=lawyer, order=order, granted=True, on=date(2026, 4, 20))
    assert missing.value.field == "ruling_number"
    order = services.preservation_decide(
        actor=lawyer, order=order, granted=True, on=date(2026, 4, 20), ruling_number="财保1号"
    )
    task = filed.tasks.get(kind=TaskKind.PRESERVATION_EXPIRY)
    assert (task.due_on, task.done_on) == (date(2027, 3, 21), None)
    services.preservation_lift(actor=lawyer, order=order, on=date(2026, 4, 20), note="Paid into court.")
    task.refresh_from_db()
    assert task.done_on == date(2026, 4, 20)


def test_preservation_and_seizure_wait_for_the_filing(lawyer):
    case = make_legal_case()
    action = services.action_open(actor=lawyer, case=case, kind="lawyers_letter", lawyer_fee="0", recoverable="100")
    with pytest.raises(TransitionNotAllowed):
        services.preservation_apply(
            actor=lawyer, action=action, asset_kind="other", description="x", amount="1", applied_on=date(2026, 4, 20)
        )
    with pytest.raises(TransitionNotAllowed):
        services.disposal_open(
            actor=lawyer, action=action, collateral=case.loan.collateral.first(), seized_on=date(2026, 4, 20)
        )
    assert D(action.feasibility["court_fee"]) == D(action.feasibility["preservation_fee"]) == 0


def test_a_payment_order_costs_a_third_of_the_lawsuit_fee():
    assert rules.filing_fee("payment_order", D("100000")) == D("766.67")
    assert rules.filing_fee("lawsuit", D("100000")) == D("2300.00")
    assert rules.filing_fee("lawyers_letter", D("100000")) == D("0")


def test_a_document_filed_with_a_step_that_fails_leaves_no_file_behind(filed, lawyer, monkeypatch):
    from legal.models import LegalDocument

    storage, saved = LegalDocument.file.field.storage, []
    save = storage.save
    monkeypatch.setattr(
        storage, "save", lambda name, content, **kw: saved.append(save(name, content, **kw)) or saved[-1]
    )
    log = services._log

    def log_fails(actor, action, code, **kwargs):
        if code == "action.schedule_hearing":  # the step's own entry, written after its document
            raise RuntimeError("the audit log is down")
        return log(actor, action, code, **kwargs)

    def schedule_hearing():
        return services.action_advance(
            actor=lawyer,
            action=filed,
            step="schedule_hearing",
            on=date(2026, 4, 20),
            hearing_on=date(2026, 5, 20),
            document=SimpleUploadedFile("传票.pdf", files.pdf("summons")),
            document_kind="ruling",
        )

    monkeypatch.setattr(services, "_log", log_fails)
    with pytest.raises(RuntimeError):
        schedule_hearing()
    assert len(saved) == 1 and not storage.exists(saved[0])  # the stored file went with the rolled-back rows
    assert not filed.documents.exists()
    monkeypatch.setattr(services, "_log", log)
    schedule_hearing()
    assert len(saved) == 2 and storage.exists(saved[1]) and filed.documents.get().file.name == saved[1]


def test_tasks_of_ones_own_and_done_once(filed, lawyer):
    task = services.task_add(actor=lawyer, action=filed, due_on=date(2026, 5, 1), note="Collect the filing receipt")
    with pytest.raises(ApplicationError):
        services.task_add(actor=lawyer, action=filed, due_on=date(2026, 5, 2), note="Collect the filing receipt")
    services.task_done(actor=lawyer, task=task, on=date(2026, 4, 20))
    with pytest.raises(ApplicationError, match="already done"):
        services.task_done(actor=lawyer, task=task, on=date(2026, 4, 20))


def test_documents_are_checked_and_stored_with_the_step(filed, lawyer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with pytest.raises(ApplicationError) as refused:
        services.document_upload(
            actor=lawyer, action=filed, kind="judgment", file=SimpleUploadedFile("judgment.pdf", b"not a pdf")
        )
    assert refused.value.field == "file"
    ruling = files.pdf("ruling")
    document = services.document_upload(
        actor=lawyer, action=filed, kind="judgment", file=SimpleUploadedFile("判决书.pdf", ruling)
    )
    assert (document.original_name, document.content_type) == ("判决书.pdf", "application/pdf")
    assert document.size == len(ruling)
    assert document.file.name.startswith("legal/") and document.file.name.endswith(".pdf")
    assert "判决书" not in document.file.name  # stored under a name the server chose
    action = services.action_advance(
        actor=lawyer,
        action=filed,
        step="schedule_hearing",
        on=date(2026, 4, 20),
        hearing_on=date(2026, 5, 20),
        document=SimpleUploadedFile("传票.png", files.image("PNG")),
        document_kind="ruling",
        note="Summons received",
    )
    summons = action.documents.get(kind="ruling")
    assert (summons.step, summons.content_type, summons.file.read()) == (
        "schedule_hearing",
        "image/png",
        files.image("PNG"),
    )


def test_collateral_of_another_loan_is_not_seized_and_an_unsold_asset_can_be_released(filed, lawyer):
    other = Collateral.objects.create(loan=make_loan(), kind=CollateralKind.VEHICLE, description="别人的车")
    with pytest.raises(ApplicationError) as refused:
        services.disposal_open(actor=lawyer, action=filed, collateral=other, seized_on=date(2026, 4, 20))
    assert refused.value.field == "collateral"
    car = filed.case.loan.collateral.get()
    disposal = services.disposal_open(actor=lawyer, action=filed, collateral=car, seized_on=date(2026, 4, 20))
    with pytest.raises(TransitionNotAllowed):
        services.disposal_sell(actor=lawyer, disposal=disposal, price="1", on=date(2026, 4, 20), buyer="x")
    with pytest.raises(ApplicationError) as no_reason:
        services.disposal_release(actor=lawyer, disposal=disposal, on=date(2026, 4, 20), note=" ")
    assert no_reason.value.field == "note"
    disposal = services.disposal_release(actor=lawyer, disposal=disposal, on=date(2026, 4, 20), note="Borrower paid.")
    car.refresh_from_db()
    assert (disposal.state, car.status) == (DisposalState.RELEASED, CollateralStatus.RELEASED)


def test_a_closed_action_takes_no_more_costs(filed, lawyer):
    action = services.action_advance(actor=lawyer, action=filed, step="withdraw", on=date(2026, 4, 20), note="Paid.")
    with pytest.raises(TransitionNotAllowed, match="closed"):
        services.cost_add(actor=lawyer, action=action, kind="other", amount="10", incurred_on=date(2026, 4, 20))


def test_a_legal_officer_works_only_cases_in_legal(lawyer):
    serious = make_case(state=CaseState.SERIOUS)
    with pytest.raises(NotPermitted):
        collection_services.contact_log(
            actor=lawyer, case=serious, channel=ContactChannel.CALL, outcome=ContactOutcome.NO_ANSWER
        )
    in_legal = make_case(state=CaseState.LEGAL)
    attempt = collection_services.contact_log(
        actor=lawyer, case=in_legal, channel=ContactChannel.CALL, outcome=ContactOutcome.NO_ANSWER
    )
    assert attempt.case == in_legal


def test_a_closed_loan_is_not_written_off_again():
    loan = make_loan()
    loan_write_off(actor="system", loan=loan, on=date(2026, 4, 20), reason="Approved.")
    loan.refresh_from_db()
    assert loan.status == LoanStatus.WRITTEN_OFF
    with pytest.raises(ApplicationError, match="cannot be written off"):
        loan_write_off(actor="system", loan=loan, on=date(2026, 4, 20), reason="Again.")


def test_a_far_date_is_refused_on_its_field(filed, lawyer):
    with pytest.raises(ApplicationError) as refused:
        services.action_advance(
            actor=lawyer, action=filed, step="schedule_hearing", on=date(2026, 4, 20), hearing_on=date(9999, 6, 1)
        )
    assert refused.value.field == "hearing_on"


def test_enforcement_is_not_impossible_while_a_seized_asset_may_still_sell(filed, lawyer):
    car = filed.case.loan.collateral.get()
    action = judged(lawyer, filed)
    day = enforceable_from(date(2026, 4, 20))
    with on_day(day):
        action = services.action_advance(actor=lawyer, action=action, step="apply_enforcement", on=day)
        services.disposal_open(actor=lawyer, action=action, collateral=car, seized_on=day)
        with pytest.raises(TransitionNotAllowed, match="still being sold"):
            services.action_advance(actor=lawyer, action=action, step="close_impossible", on=day)
    assert not can_proceed(action.close_impossible)  # so neither the page nor the API offers it


def test_proceeds_need_a_reference_of_their_own_and_a_long_description_fits(filed, lawyer):
    car = filed.case.loan.collateral.get()
    Collateral.objects.filter(pk=car.pk).update(description="很长的描述" * 60)  # 300 characters
    services.recovery_post(
        actor=lawyer, action=filed, amount="100.00", external_reference="R-1", channel="legal_recovery"
    )
    disposal = services.disposal_open(actor=lawyer, action=filed, collateral=car, seized_on=date(2026, 4, 20))
    disposal = services.disposal_appraise(
        actor=lawyer, disposal=disposal, value="1000", on=date(2026, 4, 20), appraiser="A"
    )
    disposal = services.disposal_list(
        actor=lawyer, disposal=disposal, method="negotiated_sale", reserve_price="100", on=date(2026, 4, 20)
    )
    disposal = services.disposal_sell(actor=lawyer, disposal=disposal, price="100.00", on=date(2026, 4, 20), buyer="B")
    with pytest.raises(ApplicationError) as reused:
        services.disposal_distribute(actor=lawyer, disposal=disposal, on=date(2026, 4, 20), external_reference="R-1")
    assert (reused.value.field, reused.value.code) == ("external_reference", "conflict")
    disposal = services.disposal_distribute(
        actor=lawyer, disposal=disposal, on=date(2026, 4, 20), external_reference="R-2"
    )
    assert disposal.payment.amount == D("100.00") and len(disposal.payment.note) <= 300


def test_the_last_action_to_close_puts_the_write_off_once(lawyer):
    case = make_legal_case()
    letter = services.action_open(actor=lawyer, case=case, kind="lawyers_letter", lawyer_fee="0", recoverable="100")
    suit = services.action_open(actor=lawyer, case=case, kind="lawsuit", lawyer_fee="0", recoverable="100000")
    suit = services.action_advance(actor=lawyer, action=suit, step="file", on=date(2026, 4, 20), court="某法院")
    suit = judged(lawyer, suit)
    day = enforceable_from(date(2026, 4, 20))
    with on_day(day):
        for step in ("apply_enforcement", "close_impossible"):
            suit = services.action_advance(actor=lawyer, action=suit, step=step, on=day)
        assert not Approval.objects.filter(case=case).exists()  # the letter is still open
        services.action_advance(actor=lawyer, action=letter, step="withdraw", on=day, note="Pointless now")
    approval = Approval.objects.get(case=case, action="write_off")
    assert approval.details["legal_action"] == suit.pk and "Pointless" not in approval.reason


def test_only_those_who_may_see_ids_open_legal_documents(filed, lawyer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    document = services.document_upload(
        actor=lawyer, action=filed, kind="judgment", file=SimpleUploadedFile("判决书.pdf", files.pdf("ruling"))
    )
    assert services.document_open(actor=lawyer, document=document).read() == files.pdf("ruling")
    for reader in (filed.case.officer, make_user("watcher", roles.AUDITOR)):
        with pytest.raises(NotPermitted):
            services.document_open(actor=reader, document=document)
    opened = ActivityLog.objects.filter(action="legal.document.opened")
    assert [entry.actor_label for entry in opened] == ["counsel"]


def test_a_case_in_legal_waits_for_its_open_action_before_the_daily_run_resolves_it(filed, lawyer):
    case, loan = filed.case, filed.case.loan
    payment_post(actor="system", loan=loan, amount=loan.overdue_amount, external_reference="CURE", channel="cash")
    loan.refresh_from_db()
    assert loan.overdue_amount == 0
    daily.run_daily(as_of=date(2026, 4, 20))
    case.refresh_from_db()
    assert case.state == CaseState.LEGAL  # the lawsuit is still under way
    services.action_advance(actor=lawyer, action=filed, step="close_settled", on=date(2026, 4, 20), note="Paid up.")
    case.refresh_from_db()
    assert (case.state, case.resolution_reason) == (CaseState.RESOLVED, "settled")
