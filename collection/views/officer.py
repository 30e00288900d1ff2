"""The officer's pages: the worklist (managers see the whole book there, with bulk reassignment)
and the case page with its forms.

Views stay thin: forms check the input, collection.selectors reads, collection.services writes and
decides. A service's refusal is shown where the user can act on it: on the field it names, or, when
the case moved on or the step is not the user's to take, as a message over the fresh case page.
Every POST that changes something redirects back (post/redirect/get)."""

from dataclasses import dataclass
from functools import partial
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django_tables2 import RequestConfig

from core import roles
from core.dates import business_today
from core.errors import ApplicationError
from core.http import redirect_back, safe_next
from core.permissions import has_role

from .. import restructuring, selectors, services
from ..choices import ApprovalAction, CaseState
from ..errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from ..filters import sees_own_cases_only
from ..forms import officer as forms
from ..forms import plans as plan_forms
from ..forms.manager import LoanClassForm
from ..tables import PER_PAGE, CaseTable

VIEW_CASES = "collection.view_collectioncase"


class CaseReaderMixin(PermissionRequiredMixin):
    """Signed-in users who read cases (officers, managers, legal officers, auditors); an anonymous
    visitor goes to the login page, anyone else gets 403. Which cases each sees is the selectors'."""

    permission_required = VIEW_CASES


def home(request):
    """The site's root: officers go to their worklist, managers to the queue overview, anonymous
    visitors to the login page."""
    if not request.user.is_authenticated:
        return redirect("login")
    if selectors.user_is_manager(request.user):
        return redirect("dashboard:queue")
    return redirect("dashboard:worklist")


# --- The worklist -----------------------------------------------------------------------------------

RESULTS_TARGET = "worklist-results"  # the element htmx swaps when filtering, sorting or paging


def default_states(user):
    """What the list shows before a state is chosen: a legal officer's work is the cases at law;
    everyone else's, the open cases."""
    if has_role(user, roles.LEGAL_OFFICER) and not has_role(user, roles.OFFICER, roles.MANAGER):
        return [CaseState.LEGAL]
    return CaseState.open_states()


class WorklistView(CaseReaderMixin, View):
    def get(self, request):
        user = request.user
        manager = selectors.user_is_manager(user)
        filterset = forms.WorklistFilter(
            request.GET, queryset=selectors.worklist(user), default_states=default_states(user), request=request
        )
        table = CaseTable(filterset.qs, manager=manager)
        RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
        context = {
            "filter": filterset,
            "table": table,
            "manager": manager,
            "reassign_form": forms.ReassignForm() if manager else None,
        }
        if request.htmx and request.htmx.target == RESULTS_TARGET:
            response = render(request, "collection/_worklist_results.html", context)
        else:
            context |= {
                "counts": selectors.worklist_counts(user, today=business_today()),
                "show_officer_filter": not sees_own_cases_only(user),
            }
            response = render(request, "collection/worklist.html", context)
        # The same URL answers with the whole page or only the results: caches must tell them apart.
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response


class ReassignView(CaseReaderMixin, View):
    """A manager moves the ticked cases to one officer (the service refuses anyone else)."""

    def post(self, request):
        back = safe_next(request, reverse("dashboard:worklist"))
        form = forms.ReassignForm(request.POST)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, error)
            return redirect(back)
        data = form.cleaned_data
        try:
            cases = services.cases_reassign(
                actor=request.user, case_ids=data["case_ids"], officer=data["officer"], reason=data["reason"]
            )
        except ApplicationError as error:
            messages.error(request, _("Nothing was reassigned: %(error)s") % {"error": error.message})
        else:
            message = ngettext(
                "%(count)s case reassigned to %(officer)s.", "%(count)s cases reassigned to %(officer)s.", len(cases)
            )
            messages.success(request, message % {"count": len(cases), "officer": forms.person_label(data["officer"])})
        return redirect(back)


# --- The case page ----------------------------------------------------------------------------------


def _request_approval(approval_action, *, actor, case, reason, **details):
    return services.approval_request(actor=actor, case=case, action=approval_action, reason=reason, details=details)


def _propose_plan(*, actor, case, **terms):
    """Draft the plan and send it for approval in one go: the case moves to `restructuring` with it.
    If the submission is refused, the draft goes too: nothing is saved."""
    with transaction.atomic():
        plan = restructuring.plan_propose(actor=actor, case=case, **terms)
        return restructuring.plan_submit(actor=actor, plan=plan)


@dataclass(frozen=True)
class CaseAction:
    """Something a user does on the case page: its form, the service that does it, the button's label
    and the message after it worked. `approval` names the manager's approval a step asks for."""

    form_class: type
    perform: Any
    label: str
    done: str
    approval: str = ""
    danger: bool = False
    is_transition: bool = True


# Steps of the workflow, by the case transition's name (what services.allowed_transitions lists).
# The steps a manager must approve are offered as requests for that approval (maker-checker). A
# proposal comes with its plan's terms; the plan is then rejected or put in force on the plan panel
# (views/plans.py), and defaulted by the daily run, so `reject_plan`, `activate_plan` and
# `default_plan` have no button here.
TRANSITIONS = {
    "classify": CaseAction(
        forms.ClassifyForm, services.case_classify, gettext_lazy("Classify"), gettext_lazy("The case was classified.")
    ),
    "escalate": CaseAction(
        forms.EscalateForm,
        services.case_escalate,
        gettext_lazy("Escalate to serious"),
        gettext_lazy("The case was escalated to serious."),
        danger=True,
    ),
    "grant_grace": CaseAction(
        forms.GrantGraceForm,
        services.case_grant_grace,
        gettext_lazy("Grant grace period"),
        gettext_lazy("A grace period was granted."),
    ),
    "propose_plan": CaseAction(
        plan_forms.ProposePlanForm,
        _propose_plan,
        gettext_lazy("Propose restructuring"),
        gettext_lazy("The restructuring plan was proposed and sent to a manager for approval."),
    ),
    "hold": CaseAction(
        forms.HoldForm, services.case_hold, gettext_lazy("Put on hold"), gettext_lazy("The case is on hold.")
    ),
    "release": CaseAction(
        forms.ReleaseForm,
        services.case_release,
        gettext_lazy("Release from hold"),
        gettext_lazy("The case was released from hold."),
    ),
    "resolve": CaseAction(
        forms.ResolveForm, services.case_resolve, gettext_lazy("Resolve"), gettext_lazy("The case was resolved.")
    ),
    "deescalate": CaseAction(
        forms.DeescalateRequestForm,
        partial(_request_approval, ApprovalAction.DEESCALATE),
        gettext_lazy("Request de-escalation"),
        gettext_lazy("De-escalation requested: a manager will decide."),
        approval=ApprovalAction.DEESCALATE,
    ),
    "refer_to_legal": CaseAction(
        forms.LegalReferralRequestForm,
        partial(_request_approval, ApprovalAction.REFER_TO_LEGAL),
        gettext_lazy("Request legal referral"),
        gettext_lazy("Legal referral requested: a manager will decide."),
        approval=ApprovalAction.REFER_TO_LEGAL,
    ),
    "write_off": CaseAction(
        forms.WriteOffRequestForm,
        partial(_request_approval, ApprovalAction.WRITE_OFF),
        gettext_lazy("Request write-off"),
        gettext_lazy("Write-off requested: a manager will decide."),
        approval=ApprovalAction.WRITE_OFF,
        danger=True,
    ),
    "transfer": CaseAction(
        forms.TransferRequestForm,
        partial(_request_approval, ApprovalAction.TRANSFER),
        gettext_lazy("Request transfer"),
        gettext_lazy("Transfer requested: a manager will decide."),
        approval=ApprovalAction.TRANSFER,
        danger=True,
    ),
}

# Records added to an open case by whoever works it.
RECORDS = {
    "contact": CaseAction(
        forms.ContactForm,
        services.contact_log,
        gettext_lazy("Log a contact"),
        gettext_lazy("The contact was logged."),
        is_transition=False,
    ),
    "promise": CaseAction(
        forms.PromiseForm,
        services.promise_record,
        gettext_lazy("Record a promise"),
        gettext_lazy("The promise to pay was recorded."),
        is_transition=False,
    ),
}
ACTIONS = TRANSITIONS | RECORDS


@dataclass
class ActionPanel:
    """A button of the case page and the form it opens."""

    name: str
    action: CaseAction
    form: Any
    is_open: bool = False
    awaiting_approval: bool = False
    other_request_waiting: bool = False  # one request waits per case (collection.approvals)


def _make_form(name, case, *, data=None, unmasked=False):
    form_class = ACTIONS[name].form_class
    extra = {"unmasked": unmasked} if form_class is forms.ContactForm else {}
    return form_class(data, case=case, **extra)


def loan_class_form(user, loan, bound=None):
    """The loan card's "Set class" form (views/manager.py takes it), for a manager while the loan is
    open; `bound` is one that failed."""
    if not selectors.user_is_manager(user) or loan.is_closed:
        return None
    return bound or LoanClassForm(loan=loan)


def case_page_context(request, case, *, bound=None, unmasked=False, plan_bound=None, loan_class_bound=None):
    """Everything the case page template needs; `bound` is a (name, form) of the case's steps that
    failed, `plan_bound` one of the plan panel's, `loan_class_bound` the loan's class form, shown open."""
    from .plans import plan_panel  # views/plans.py builds on this module

    page = selectors.case_page(request.user, case, unmasked=unmasked)
    bound_name, bound_form = bound or (None, None)
    awaiting = {services.APPROVAL_TRANSITIONS[approval.action] for approval in page.pending_approvals}
    requested = set(services.APPROVAL_TRANSITIONS.values())

    def panel(name):
        form = bound_form if name == bound_name else _make_form(name, case, unmasked=page.unmasked)
        return ActionPanel(
            name,
            ACTIONS[name],
            form,
            is_open=name == bound_name,
            awaiting_approval=name in awaiting,
            other_request_waiting=bool(awaiting) and name in requested and name not in awaiting,
        )

    may_record = page.may_work and case.is_open
    loan = case.loan
    return {
        "page": page,
        "case": case,
        "loan": loan,
        # A fraction (0.2350) kept to six places; the page shows it as a percentage with two.
        "annual_cost_percent": None if loan.annual_cost is None else loan.annual_cost * 100,
        "loan_class_form": loan_class_form(request.user, loan, loan_class_bound),
        "borrower": case.loan.borrower,
        "transitions": [panel(name) for name in page.allowed if name in TRANSITIONS],
        "records": [panel(name) for name in RECORDS] if may_record else [],
        "plan_panel": plan_panel(request.user, case, may_work=page.may_work, bound=plan_bound),
        "today": business_today(),
        # Where the language switch returns: the case page, even when this answer is to a POST.
        "canonical_url": reverse("dashboard:case", args=[case.pk]),
    }


class CaseView(CaseReaderMixin, View):
    def get(self, request, pk):
        case = selectors.case_for_user(request.user, pk)
        return render(request, "collection/case.html", case_page_context(request, case))


class CaseActionView(CaseReaderMixin, View):
    """POST one of the case page's forms. On success: a message and back to the case page. On a
    refusal about the input: the page again with the form open and the error on its field. When the
    case moved on, or the step is not the user's: a message over the fresh case page."""

    def post(self, request, pk, name):
        if name not in ACTIONS:
            raise Http404
        case = selectors.case_for_user(request.user, pk)
        action = ACTIONS[name]
        form = _make_form(name, case, data=request.POST)
        if form.is_valid():
            try:
                self.perform(request, case, action, form)
            except (ConcurrentChange, TransitionNotAllowed, NotPermitted) as error:
                messages.error(request, error.message)
                return self.back_to(request, case)
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, action.done)
                return self.back_to(request, case)
        if request.htmx:
            panel = ActionPanel(name, action, form, is_open=True)
            return render(request, "collection/_action_form.html", {"case": case, "panel": panel})
        context = case_page_context(request, case, bound=(name, form))
        if not any(panel.form is form for panel in context["transitions"] + context["records"]):
            # The page no longer offers this form (the case moved on, or it is not the user's to
            # work): its errors would have nowhere to show.
            messages.error(request, _("This step is not available on this case now. Nothing was done."))
            return self.back_to(request, case)
        return render(request, "collection/case.html", context)

    def perform(self, request, case, action, form):
        if not action.is_transition:
            return action.perform(actor=request.user, case=case, **form.cleaned_data)
        # The step applies to the case as the page showed it: if it moved on since, nothing is done.
        # The services check the version again under the row lock; the approval requests do not
        # look at it, so it is checked here for every step.
        if form.cleaned_data["version"] != case.version:
            raise ConcurrentChange(
                _("Someone else changed this case first: it is now “%(state)s”. Nothing was done.")
                % {"state": case.get_state_display()}
            )
        return action.perform(actor=request.user, case=case, **form.arguments())

    def back_to(self, request, case):
        return redirect_back(request, reverse("dashboard:case", args=[case.pk]))


class UnmaskView(CaseReaderMixin, View):
    """Show the borrower's ID number and phones whole, for those allowed, and log that they looked.

    A read, so the answer is the page itself rather than a redirect: the unmasked numbers are never
    kept anywhere for a later page to show."""

    def post(self, request, pk):
        case = selectors.case_for_user(request.user, pk)
        if not selectors.unmask_pii(request.user, case):
            raise PermissionDenied
        context = case_page_context(request, case, unmasked=True)
        if request.htmx:
            return render(request, "collection/_borrower_card.html", context)
        return render(request, "collection/case.html", context)
