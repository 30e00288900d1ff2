from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import call_command

from collection.choices import ApprovalAction, ApprovalStatus, CaseState
from collection.models import Approval
from legal.choices import ActionState, DisposalState
from legal.models import AssetDisposal, LegalAction

pytestmark = pytest.mark.django_db


def test_the_demo_opens_with_legal_actions_at_every_stage():
    with time_machine.travel(datetime(2026, 11, 23, 10, tzinfo=ZoneInfo("Asia/Shanghai")), tick=False):
        call_command("seed_demo", "--loans", "600")
        call_command("seed_demo_collection", "--history-days", "0")
        call_command("seed_demo_legal")
        actions = LegalAction.objects.count()
        call_command("seed_demo_legal")  # again: nothing more
    assert LegalAction.objects.count() == actions == 4
    states = set(LegalAction.objects.values_list("state", flat=True))
    assert states == {
        ActionState.LETTER_SENT,
        ActionState.HEARING,
        ActionState.ENFORCEMENT,
        ActionState.CLOSED_IMPOSSIBLE,
    }
    assert AssetDisposal.objects.get().state == DisposalState.LISTED
    assert set(LegalAction.objects.values_list("case__state", flat=True)) == {CaseState.LEGAL}
    write_off = Approval.objects.get(action=ApprovalAction.WRITE_OFF)
    assert (write_off.status, write_off.requested_by.username) == (ApprovalStatus.PENDING, "legal")
