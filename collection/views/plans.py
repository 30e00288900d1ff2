"""The restructuring plan on the case page: the panel of the case's latest plan (old and new terms,
the new schedule, who proposed, decided and signed), its steps (a manager other than the proposer
approves or rejects, the approving manager records both signatures, a manager puts the signed plan
in force) and the supplementary agreement as a PDF.

Proposing is a step of the case (officer.TRANSITIONS["propose_plan"]): the case moves with its plan.
The rules are collection.restructuring's; as on the rest of the case page, a refusal about the input
shows on its field, any other as a message over the fresh page, and every change redirects back."""

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View

from core.errors import ApplicationError
from core.http import redirect_back
from core.permissions import may_see_full_id

from .. import restructuring, selectors
from ..agreements import agreement_download
from ..choices import PlanKind, PlanState
from ..errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from ..forms import plans as forms
from ..models import RestructuringPlan
from .officer import CaseReaderMixin, case_page_context

PLANS = RestructuringPlan.objects.select_related("proposed_by", "decided_by", "lender_signed_by")


def latest_plan(case) -> RestructuringPlan | None:
    """The case's newest plan, in any state, with the people the panel names (one query)."""
    return PLANS.filter(case=case).order_by("-created_at", "-id").first()


# --- Steps on a plan ----------------------------------------------------------------------------------


def _activate(*, actor, plan):
    # plan_activate leaves who may do it to its callers: a manager puts the new schedule in force.
    if not selectors.user_is_manager(actor):
        raise NotPermitted(_("Only a manager puts a plan in force."))
    return restructuring.plan_activate(actor=actor, plan=plan)


def _deciding_manager(user, plan):
    return plan.state == PlanState.SUBMITTED and selectors.user_is_manager(user) and plan.proposed_by_id != user.pk


@dataclass(frozen=True)
class PlanStep:
    """A step on a plan: its form, the service, the button's label, the message after it worked, and
    whether to offer it to `user` (the service decides again when it is taken)."""

    form_class: type
    perform: Any
    label: str
    done: str
    offered: Any
    danger: bool = False


PLAN_STEPS = {
    "approve": PlanStep(
        forms.ApprovePlanForm,
        restructuring.plan_approve,
        gettext_lazy("Approve plan"),
        gettext_lazy("The plan was approved: print the agreement for the borrower to sign."),
        offered=_deciding_manager,
    ),
    "reject": PlanStep(
        forms.RejectPlanForm,
        restructuring.plan_reject,
        gettext_lazy("Reject plan"),
        gettext_lazy("The plan was rejected; the case is back where it was."),
        offered=_deciding_manager,
        danger=True,
    ),
    "sign": PlanStep(
        forms.SignPlanForm,
        restructuring.plan_sign,
        gettext_lazy("Record signatures"),
        gettext_lazy("Both signatures were recorded: the plan can be put in force."),
        offered=lambda user, plan: plan.state == PlanState.APPROVED and plan.decided_by_id == user.pk,
    ),
    "activate": PlanStep(
        forms.ActivatePlanForm,
        _activate,
        gettext_lazy("Put the plan in force"),
        gettext_lazy("The new schedule is in force; the case is monitored for the observation period."),
        offered=lambda user, plan: plan.state == PlanState.SIGNED and selectors.user_is_manager(user),
    ),
}


@dataclass
class PlanAction:
    """A step's button on the plan panel and the form it opens."""

    name: str
    step: PlanStep
    form: Any
    url: str
    is_open: bool = False


@dataclass
class PlanPanel:
    plan: RestructuringPlan
    kinds: list
    actions: list
    agreement_url: str


def _action(case, plan, name, form=None, *, data=None, files=None, is_open=False):
    step = PLAN_STEPS[name]
    form = form or step.form_class(data, files, plan=plan)
    url = reverse("dashboard:plan_action", args=[case.pk, plan.pk, name])
    return PlanAction(name, step, form, url, is_open=is_open)


def plan_panel(user, case, *, may_work: bool, bound=None) -> PlanPanel | None:
    """What the plan panel shows `user`: the latest plan and the steps offered to them now (none when
    they may only read the case: `may_work`, as services.may_work says). `bound` is a (name, form)
    that failed, shown open."""
    plan = latest_plan(case)
    if plan is None:
        return None
    bound_name, bound_form = bound or (None, None)
    actions = [
        _action(case, plan, name, bound_form if name == bound_name else None, is_open=name == bound_name)
        for name, step in PLAN_STEPS.items()
        if may_work and step.offered(user, plan)
    ]
    return PlanPanel(
        plan=plan,
        kinds=[PlanKind(kind).label for kind in plan.kinds if kind in PlanKind.values],
        actions=actions,
        agreement_url=reverse("dashboard:plan_agreement", args=[case.pk, plan.pk]) if may_see_full_id(user) else "",
    )


def _back_to(request, case):
    return redirect_back(request, reverse("dashboard:case", args=[case.pk]))


class PlanActionView(CaseReaderMixin, View):
    """POST a step on one of the case's plans; answers as the case page's other forms do."""

    def post(self, request, pk, plan_pk, name):
        if name not in PLAN_STEPS:
            raise Http404
        case = selectors.case_for_user(request.user, pk)
        plan = get_object_or_404(PLANS, pk=plan_pk, case=case)
        action = _action(case, plan, name, data=request.POST, files=request.FILES, is_open=True)
        form = action.form
        if form.is_valid():
            try:
                action.step.perform(actor=request.user, plan=plan, **form.arguments())
            except (ConcurrentChange, TransitionNotAllowed, NotPermitted) as error:
                messages.error(request, error.message)
                return _back_to(request, case)
            except ApplicationError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                messages.success(request, action.step.done)
                return _back_to(request, case)
        if request.htmx:
            return render(request, "collection/_plan_form.html", {"case": case, "plan": plan, "action": action})
        context = case_page_context(request, case, plan_bound=(name, form))
        panel = context["plan_panel"]
        if panel is None or not any(shown.form is form for shown in panel.actions):
            # The page no longer offers this step (the plan moved on, or it is not the user's).
            messages.error(request, _("This step is not available on this plan now. Nothing was done."))
            return _back_to(request, case)
        return render(request, "collection/case.html", context)


class PlanAgreementView(CaseReaderMixin, View):
    """The plan's supplementary agreement as a PDF, for whoever may see the case (a 404 otherwise) and
    the borrower's full ID number (a 403 otherwise)."""

    def get(self, request, pk, plan_pk):
        case = selectors.case_for_user(request.user, pk)
        plan = get_object_or_404(PLANS, pk=plan_pk, case=case)
        plan.case = case  # the loan and borrower come with the case
        try:
            content = agreement_download(actor=request.user, plan=plan)
        except NotPermitted:
            raise PermissionDenied from None
        response = HttpResponse(content, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="agreement-{plan.pk}.pdf"'
        return response
