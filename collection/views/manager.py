"""The manager's pages: the queue overview and the approvals inbox (the KPI page is in kpis.py),
and the loan's class set from the case page.

Managers only (core.permissions.is_manager, asked once per request through selectors.user_is_manager,
as the navigation does). A team lead who is not a manager steers their team from the case list, which
already shows them their team's cases; and approvals are a manager's decision in the service too, so
showing the inbox to anyone else would only offer buttons that refuse."""

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.mixins import UserPassesTestMixin
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.generic import TemplateView, View

from core.dates import business_today
from core.errors import ApplicationError
from core.http import redirect_back
from loans.choices import AgingBucket
from loans.services import loan_set_class

from .. import kpis, selectors, services
from ..choices import ApprovalStatus
from ..forms.manager import ApprovalDecisionForm, LoanClassForm, QueueFilterForm
from ..models import Approval
from .officer import case_page_context

RECENT_DECISIONS = 20


class ManagerRequiredMixin(UserPassesTestMixin):
    """Managers only: anyone else signed in gets 403, an anonymous visitor the login page."""

    def test_func(self):
        return selectors.user_is_manager(self.request.user)


# --- Queue overview ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Link:
    """A figure of the overview and the case list it stands for (None: the list cannot show it)."""

    cell: kpis.QueueCell
    url: str | None


class QueueLinks:
    """Builds case-list URLs carrying collection.filters.CaseFilter's parameters (the case list's
    filter extends it and shows the open cases when no state is chosen)."""

    def __init__(self, narrowed: dict):
        self.base = reverse("dashboard:worklist")
        self.narrowed = narrowed  # officer / team chosen on the overview, carried into every link

    def url(self, *, states=(), bucket=None, officer=None, unassigned=False):
        # No state given: the case list shows the open cases, which is what the overview counts.
        params = [("state", state) for state in states]
        if bucket:
            params.append(("aging_bucket", bucket))
        params += {**self.narrowed, **({"officer": officer} if officer else {})}.items()
        if unassigned:
            params.append(("unassigned", "true"))
        return f"{self.base}?{urlencode(params)}" if params else self.base


def state_bucket_rows(queue: kpis.Queue, links: QueueLinks):
    """Rows of (state, its cell per bucket, its total), open states in workflow order."""
    rows = []
    for state in kpis.OPEN_STATES:
        cells = [
            Link(queue.total(state=state, bucket=bucket), links.url(states=[state], bucket=bucket))
            for bucket in AgingBucket
        ]
        total = Link(queue.total(state=state), links.url(states=[state]))
        rows.append({"state": state, "cells": cells, "total": total})
    footer = [Link(queue.total(bucket=bucket), links.url(bucket=bucket)) for bucket in AgingBucket]
    return rows, footer, Link(queue.total(), links.url())


def officer_rows(queue: kpis.Queue, links: QueueLinks):
    """One row per officer holding open cases (busiest first), then the unassigned cases."""
    officers = sorted(queue.officers.values(), key=lambda user: (-queue.total(officer=user.pk).cases, user.username))
    rows = [
        {
            "officer": user,
            "cells": [
                Link(queue.total(state=state, officer=user.pk), links.url(states=[state], officer=user.pk))
                for state in kpis.OPEN_STATES
            ],
            "total": Link(queue.total(officer=user.pk), links.url(officer=user.pk)),
        }
        for user in officers
    ]
    unassigned = {
        "officer": None,
        "cells": [
            Link(queue.total(state=state, officer=None), links.url(states=[state], unassigned=True))
            for state in kpis.OPEN_STATES
        ],
        "total": Link(queue.total(officer=None), links.url(unassigned=True)),
    }
    return rows, unassigned


class QueueView(ManagerRequiredMixin, TemplateView):
    """Open cases by state × aging bucket and by officer, every figure a link to those cases."""

    template_name = "collection/manager/queue.html"

    def get_template_names(self):
        # The filter form swaps only the overview when htmx is on the page; restoring history (the
        # back button after such a swap) needs the whole page.
        if self.request.htmx and not self.request.htmx.history_restore_request:
            return ["collection/manager/_queue_overview.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        form = QueueFilterForm(self.request.GET or None)
        officer = team = None
        if form.is_valid():
            officer, team = form.cleaned_data["officer"], form.cleaned_data["team"]
        narrowed = {name: obj.pk for name, obj in (("officer", officer), ("team", team)) if obj}
        queue = kpis.queue_overview(officer_id=narrowed.get("officer"), team_id=narrowed.get("team"))
        links = QueueLinks(narrowed)
        state_rows, bucket_totals, grand_total = state_bucket_rows(queue, links)
        officer_lines, unassigned = officer_rows(queue, links)
        return super().get_context_data(
            form=form,
            buckets=list(AgingBucket),
            open_states=kpis.OPEN_STATES,
            state_rows=state_rows,
            bucket_totals=bucket_totals,
            grand_total=grand_total,
            officer_rows=officer_lines,
            unassigned=unassigned,
            **kwargs,
        )


# --- Approvals inbox --------------------------------------------------------------------------------


def pending_approvals():
    """Requests waiting for a decision, oldest first (they have waited longest)."""
    return (
        Approval.objects.filter(status=ApprovalStatus.PENDING)
        .select_related("case__loan__borrower", "requested_by")
        .order_by("created_at", "id")
    )


def recent_decisions(limit=RECENT_DECISIONS):
    """The latest requests decided, or cancelled because their case moved on, newest first."""
    return (
        Approval.objects.exclude(status=ApprovalStatus.PENDING)
        .select_related("case__loan", "requested_by", "decided_by")
        .order_by("-decided_at", "-id")[:limit]
    )


@dataclass(frozen=True)
class PendingRow:
    approval: Approval
    form: ApprovalDecisionForm
    own: bool  # the viewer asked for it: maker-checker keeps them from deciding it


class ApprovalsView(ManagerRequiredMixin, TemplateView):
    """Pending requests with approve / reject forms, and the latest decisions."""

    template_name = "collection/manager/approvals.html"

    def get_context_data(self, *, bound_form=None, bound_pk=None, **kwargs):
        user = self.request.user
        rows = [
            PendingRow(
                approval=approval,
                form=bound_form if approval.pk == bound_pk else ApprovalDecisionForm(approval_id=approval.pk),
                own=approval.requested_by_id == user.pk,
            )
            for approval in pending_approvals()
        ]
        return super().get_context_data(pending=rows, decided=recent_decisions(), **kwargs)


class ApprovalDecideView(ManagerRequiredMixin, View):
    """POST a decision. Success and refusals (already decided, one's own request, the case moved on)
    come back to the inbox as a message; a rejection without a note shows the form again."""

    http_method_names = ["post"]

    def post(self, request, pk):
        approval = get_object_or_404(Approval, pk=pk)
        form = ApprovalDecisionForm(request.POST, approval_id=pk)
        if form.is_valid():
            try:
                decided = services.approval_decide(
                    actor=request.user, approval=approval, approve=form.approve, note=form.cleaned_data["note"]
                )
            except ApplicationError as error:
                if error.field not in form.fields:
                    messages.error(request, error.message)
                    return redirect("dashboard:approvals")
                form.add_error(error.field, error.message)
            else:
                messages.success(request, self.success_message(decided))
                return redirect("dashboard:approvals")
        inbox = ApprovalsView(request=request, args=(), kwargs={})
        context = inbox.get_context_data(bound_form=form, bound_pk=pk)
        return inbox.render_to_response(context, status=400)

    @staticmethod
    def success_message(approval):
        values = {"action": approval.get_action_display(), "case": approval.case_id}
        if approval.status == ApprovalStatus.APPROVED:
            return _("Approved: %(action)s for case #%(case)s.") % values
        return _("Rejected: %(action)s for case #%(case)s.") % values


# --- The loan's class, from the case page -------------------------------------------------------------


class LoanClassView(ManagerRequiredMixin, View):
    """POST the case page's "Set class" form: a manager's judgment of the case's loan's regulatory
    class (loans.services.loan_set_class). Answers as the case page's other forms do: a message and
    back to the page; a refusal about the input shows on its field; a form sent again after the class
    changed (twice, or by someone else) does nothing and says so."""

    http_method_names = ["post"]

    def post(self, request, pk):
        case = selectors.case_for_user(request.user, pk)
        form = LoanClassForm(request.POST, loan=case.loan)
        if form.is_valid():
            if form.is_stale():
                messages.error(request, self.stale_message(case.loan))
                return self.back_to(request, case)
            try:
                loan = loan_set_class(actor=request.user, loan=case.loan, on=business_today(), **form.arguments())
            except ApplicationError as error:
                if error.field not in form.fields:  # the loan closed, or the user is no longer a manager
                    messages.error(request, error.message)
                    return self.back_to(request, case)
                form.add_error(error.field, error.message)
            else:
                messages.success(request, self.success_message(loan))
                return self.back_to(request, case)
        if request.htmx:
            return render(request, "collection/_loan_class_form.html", {"case": case, "loan_class_form": form})
        context = case_page_context(request, case, loan_class_bound=form)
        if context["loan_class_form"] is not form:
            # The page no longer offers the form (the loan closed): its errors would have nowhere to show.
            messages.error(request, _("The loan's class cannot be set now. Nothing was done."))
            return self.back_to(request, case)
        return render(request, "collection/case.html", context)

    def back_to(self, request, case):
        return redirect_back(request, reverse("dashboard:case", args=[case.pk]))

    @staticmethod
    def success_message(loan):
        values = {"class": loan.get_regulatory_class_display()}
        if loan.manual_regulatory_class is None:
            return _("The manual class was withdrawn: by days past due, the loan is %(class)s.") % values
        return _("The class was set: the loan is %(class)s.") % values

    @staticmethod
    def stale_message(loan):
        if loan.manual_regulatory_class is None:
            return _("The loan's class changed since the page was shown: it has no manual class now. Nothing was done.")
        return _(
            "The loan's class changed since the page was shown: it is now %(class)s (manual). Nothing was done."
        ) % {"class": loan.get_manual_regulatory_class_display()}
