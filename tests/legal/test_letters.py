"""The letters a legal action generates: the law firm's lawyer's letter and the lender's demand letter,
as PDFs in the borrower's language, stored as the action's documents."""

import hashlib
from datetime import date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import translation
from django.utils.translation import gettext
from pypdf import PdfReader

from borrowers.choices import Channel, Relation
from borrowers.models import Borrower, ContactPoint
from collection.errors import NotPermitted, TransitionNotAllowed
from core import roles
from core.errors import ApplicationError
from core.models import ActivityLog
from core.templatetags.huishou import yuan
from legal import letters, services
from legal.models import LawFirm, LegalDocument
from loans.claim import claim_as_of
from loans.models import Loan
from tests.collection.factories import make_officer, make_user
from tests.legal.factories import make_legal_case

pytestmark = pytest.mark.django_db

TODAY = date(2026, 4, 20)


@pytest.fixture(autouse=True)
def today():
    with time_machine.travel(datetime(2026, 4, 20, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        yield


@pytest.fixture
def legal_case():
    return make_legal_case(make_officer("zhao"), as_of=TODAY)


@pytest.fixture
def lawyer():
    return make_user("counsel", roles.LEGAL_OFFICER)


@pytest.fixture
def firm():
    return LawFirm.objects.create(name="上海明理律师事务所", contact_name="王律师", phone="021-6888 1234")


@pytest.fixture
def action(legal_case, lawyer, firm):
    return services.action_open(
        actor=lawyer, case=legal_case, kind="lawyers_letter", law_firm=firm, lawyer_fee="500", recoverable="20000"
    )


def pdf_text(data: bytes) -> str:
    """The PDF's text with all whitespace removed: reportlab wraps lines wherever it must, even inside
    a number or a date, and pypdf gives each line break back as a newline."""
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(data)).pages)
    return "".join(text.split())


def assert_contains(text, *expected):
    for value in expected:
        assert "".join(str(value).split()) in text, value


def test_the_lawyers_letter_states_the_claim_and_the_deadline_for_the_firm(action, lawyer, firm, settings):
    document = letters.letter_generate(actor=lawyer, action=action, kind="lawyers_letter")
    loan = action.case.loan
    borrower = loan.borrower
    claim = claim_as_of(loan, TODAY)
    assert loan.overdue_amount > 0 and claim.interest > 0
    text = pdf_text(document.file.read())
    assert_contains(
        text,
        "律师函",
        firm.name,
        firm.contact_name,
        firm.phone,
        settings.LENDER_NAME,
        borrower.name,
        borrower.id_number,  # a legal letter names the borrower in full, as the agreement does
        loan.external_id,
        yuan(loan.principal),
        yuan(claim.principal),
        yuan(claim.interest),
        yuan(claim.penalty),
        yuan(claim.fees),
        yuan(claim.total),
        yuan(loan.overdue_amount),
        "2026年4月27日",  # the deadline: seven days from the letter's date
        "2026年4月20日",
        f"HS-LL-{action.pk:06d}-20260420",
    )
    with translation.override("zh-hans"):
        assert_contains(text, gettext("Principal"), gettext("Total"))


def test_the_stored_letter_is_a_generated_pdf_with_its_size_and_digest(action, lawyer):
    document = letters.letter_generate(actor=lawyer, action=action, kind="lawyers_letter", on=TODAY)
    data = document.file.read()
    assert data.startswith(b"%PDF-")
    assert (document.kind, document.generated, document.content_type) == ("lawyers_letter", True, "application/pdf")
    assert document.size == len(data) and document.sha256 == hashlib.sha256(data).hexdigest()
    assert document.original_name == f"lawyers-letter-{action.pk}-2026-04-20.pdf"
    assert document.uploaded_by == lawyer and document.action == action
    entry = ActivityLog.objects.get(action="legal.document.added")
    assert entry.data["document"] == document.pk and entry.data["generated"] is True


def test_a_letter_generated_again_is_a_second_document(action, lawyer):
    first = letters.letter_generate(actor=lawyer, action=action, kind="lawyers_letter")
    second = letters.letter_generate(actor=lawyer, action=action, kind="lawyers_letter")
    assert first.pk != second.pk
    assert LegalDocument.objects.filter(action=action, kind="lawyers_letter").count() == 2


def test_an_english_speaking_borrower_gets_the_letters_in_english(action, lawyer, firm):
    borrower = action.case.loan.borrower
    borrower.language = "en"
    borrower.save()
    text = pdf_text(letters.lawyers_letter_pdf(action, on=TODAY))
    assert_contains(
        text,
        "Lawyer's letter",
        "Article 577 of the Civil Code",
        "Article 676",
        "27 April 2026",
        firm.name,
        borrower.name,
        yuan(claim_as_of(action.case.loan, TODAY).total),
    )
    assert "律师函" not in text and "2026年" not in text
    demand = pdf_text(letters.demand_letter_pdf(action, on=TODAY))
    assert_contains(demand, "Demand letter", "25 April 2026", yuan(action.case.loan.overdue_amount))
    # The language can also be chosen: a Chinese copy for the file.
    assert_contains(
        pdf_text(letters.lawyers_letter_pdf(action, on=TODAY, language="zh-hans")), "律师函", "2026年4月27日"
    )


def test_the_demand_letter_comes_from_the_lender_with_the_hotline(legal_case, lawyer, settings):
    settings.LENDER_REPAYMENT_ACCOUNT = "中国工商银行上海分行 1001 2345 6789 0000"
    action = services.action_open(
        actor=lawyer, case=legal_case, kind="lawsuit", lawyer_fee="500", recoverable="20000"
    )  # no law firm: the lender writes this one itself
    document = letters.letter_generate(actor=lawyer, action=action, kind="demand_letter")
    loan = legal_case.loan
    assert document.original_name == f"demand-letter-{action.pk}-2026-04-20.pdf"
    assert_contains(
        pdf_text(document.file.read()),
        settings.LENDER_NAME,
        settings.LENDER_HOTLINE,
        settings.LENDER_REPAYMENT_ACCOUNT,
        loan.borrower.name,
        loan.external_id,
        yuan(claim_as_of(loan, TODAY).interest),
        yuan(loan.overdue_amount),
        "2026年4月25日",  # five days
    )


def test_an_enterprise_is_named_by_its_credit_code(action):
    borrower = action.case.loan.borrower
    Borrower.objects.filter(pk=borrower.pk).update(kind="enterprise", name="回收测试科技有限公司", language="en")
    borrower.refresh_from_db()
    text = pdf_text(letters.demand_letter_pdf(action, on=TODAY))
    assert_contains(text, "Unified social credit code: " + borrower.id_number, "回收测试科技有限公司")


def test_the_letter_goes_to_the_borrowers_own_valid_address(action):
    borrower = action.case.loan.borrower
    borrower.address = "北京市东城区登记地址1号"
    borrower.save()
    assert letters.borrower_address(borrower) == "北京市东城区登记地址1号"
    ContactPoint.objects.create(
        borrower=borrower, channel=Channel.ADDRESS, value="上海市黄浦区旧址2号", invalid_since=date(2026, 3, 1)
    )
    ContactPoint.objects.create(
        borrower=borrower, channel=Channel.ADDRESS, value="公司地址3号", relation=Relation.EMPLOYER, contact_name="HR"
    )
    assert letters.borrower_address(borrower) == "北京市东城区登记地址1号"
    ContactPoint.objects.create(borrower=borrower, channel=Channel.ADDRESS, value="上海市浦东新区现住址4号")
    assert letters.borrower_address(borrower) == "上海市浦东新区现住址4号"
    assert_contains(pdf_text(letters.lawyers_letter_pdf(action, on=TODAY)), "上海市浦东新区现住址4号")


def test_credit_reporting_is_announced_only_to_a_borrower_who_consented(action):
    borrower = action.case.loan.borrower
    borrower.language = "en"
    borrower.credit_reporting_consent = False
    borrower.save()
    assert "Article15" not in pdf_text(letters.lawyers_letter_pdf(action, on=TODAY))
    borrower.credit_reporting_consent = True
    borrower.save()
    assert "Article15" in pdf_text(letters.lawyers_letter_pdf(action, on=TODAY))
    assert "Article15" in pdf_text(letters.demand_letter_pdf(action, on=TODAY))


def test_a_lawyers_letter_needs_a_law_firm(legal_case, lawyer):
    action = services.action_open(actor=lawyer, case=legal_case, kind="lawsuit", lawyer_fee="500", recoverable="20000")
    with pytest.raises(ApplicationError) as refused:
        letters.letter_generate(actor=lawyer, action=action, kind="lawyers_letter")
    assert refused.value.field == "law_firm"
    assert not LegalDocument.objects.exists()


def test_only_legal_staff_generate_letters(action):
    with pytest.raises(NotPermitted):
        letters.letter_generate(actor=make_officer("li"), action=action, kind="demand_letter")
    assert not LegalDocument.objects.exists()


def test_a_closed_action_gets_no_letter(action, lawyer):
    action = services.action_advance(actor=lawyer, action=action, step="withdraw", on=TODAY, note="Paid in full.")
    with pytest.raises(TransitionNotAllowed):
        letters.letter_generate(actor=lawyer, action=action, kind="demand_letter")
    assert not LegalDocument.objects.exists()


def test_only_the_two_letters_dated_today_or_before_and_only_for_what_is_overdue(action, lawyer):
    with pytest.raises(ApplicationError) as refused:
        letters.letter_generate(actor=lawyer, action=action, kind="complaint")
    assert refused.value.field == "kind"
    with pytest.raises(ApplicationError) as refused:
        letters.letter_generate(actor=lawyer, action=action, kind="demand_letter", on=date(2026, 4, 21))
    assert refused.value.field == "on"
    Loan.objects.filter(pk=action.case.loan_id).update(overdue_amount=0, days_past_due=0)
    with pytest.raises(ApplicationError, match="Nothing is overdue"):
        letters.letter_generate(actor=lawyer, action=action, kind="demand_letter")
    assert not LegalDocument.objects.exists()
