"""The legal officer's pages: the worklist of legal actions with the deadlines coming up, the action
page with a form for everything that can be recorded on it now, opening an action on a case in
legal, and the action's documents, served only to those who may see the action.

As on the case page (collection/views/officer.py), views stay thin: forms check the input,
legal.selectors reads, legal.services writes and decides. A service's refusal about the input is
shown on the field it names, with the form open; when the action moved on, or the step is not the
user's to take, as a message over the fresh page. Every POST that changed something redirects back.

Who: whoever reads cases reaches these pages and sees the actions on the cases they may see (an
officer, those on their own cases); legal officers and managers get the forms (`may_write`, the
role table's `legal.add_legalaction`); the services check the role again."""

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django_fsm import can_proceed
from django_tables2 import RequestConfig

from collection import selectors as case_selectors
from collection.choices import CaseState
from collection.errors import ConcurrentChange, NotPermitted, TransitionNotAllowed
from core.dates import business_today
from core.errors import ApplicationError
from core.http import redirect_back, safe_next
from loans.claim import claim_as_of
from loans.models import Collateral

from . import forms, letters, selectors, services
from .choices import ActionState, DisposalState, PreservationStatus
from .models import AssetDisposal, LegalAction, LegalDocument, LegalTask
from .tables import PER_PAGE, LegalActionTable

READ = "collection.view_collectioncase"  # who reads cases may read the actions on the cases they see
WRITE = "legal.add_legalaction"  # legal officers and managers (core/roles.py)
RESULTS_TARGET = "legal-results"
DEADLINE_DAYS = 30
DEADLINES_SHOWN = 100


class LegalReaderMixin(PermissionRequiredMixin):
    """Signed-in users who read cases; an anonymous visitor goes to the login page, anyone else
    gets 403. Which actions each sees is legal.selectors.visible_actions'."""

    permission_required = READ


def may_write(user) -> bool:
    """Legal officers and managers get the forms (the permission cache answers: no query)."""
    return user.has_perm(WRITE)


# --- The worklist -----------------------------------------------------------------------------------


class WorklistView(LegalReaderMixin, View):
    def get(self, request):
        user = request.user
        filterset = forms.LegalWorklistFilter(request.GET, queryset=selectors.worklist(user), request=request)
        table = LegalActionTable(filterset.qs, today=business_today())
        RequestConfig(request, paginate={"per_page": PER_PAGE}).configure(table)
        context = {"filter": filterset, "table": table}
        if request.htmx and request.htmx.target == RESULTS_TARGET:
            response = render(request, "legal/_worklist_results.html", context)
        else:
            today = business_today()
            deadlines = list(
                selectors.tasks_due(user, until=today + timedelta(days=DEADLINE_DAYS))[: DEADLINES_SHOWN + 1]
            )
            context |= {
                "deadlines": deadlines[:DEADLINES_SHOWN],
                "more_deadlines": len(deadlines) > DEADLINES_SHOWN,
                "deadline_days": DEADLINE_DAYS,
                "today": today,
                "may_write": may_write(user),
            }
            response = render(request, "legal/worklist.html", context)
        patch_vary_headers(response, ["HX-Request", "HX-Target"])
        return response


# --- The forms of the action page ---------------------------------------------------------------------


def _advance(step):
    def perform(*, actor, action, item, **arguments):
        return services.action_advance(actor=actor, action=action, step=step, **arguments)

    return perform


def _letter(*, actor, action, item, kind, on):
    return letters.letter_generate(actor=actor, action=action, kind=kind, on=on)


def letters_available() -> bool:
    try:
        from . import letters  # noqa: F401
    except ImportError:
        return False
    return True


def _on_action(service):
    def perform(*, actor, action, item, **arguments):
        return service(actor=actor, action=action, **arguments)

    return perform


def _on_item(service, keyword):
    def perform(*, actor, action, item, **arguments):
        return service(actor=actor, **{keyword: item}, **arguments)

    return perform


@dataclass(frozen=True)
class Form:
    """Something recorded on the action page: its form, the service, the button's label, the message
    after it worked, and what it is about (`item`: a task, preservation order or disposal of the
    action, or nothing: the action itself)."""

    form_class: type
    perform: Any
    label: str
    done: str
    item: str = ""
    danger: bool = False


STEP_LABELS = {
    "send_letter": (gettext_lazy("Record the letter sent"), gettext_lazy("The letter was recorded as sent.")),
    "file": (gettext_lazy("File with the court"), gettext_lazy("The action was filed.")),
    "schedule_hearing": (gettext_lazy("Schedule the hearing"), gettext_lazy("The hearing was scheduled.")),
    "record_judgment": (gettext_lazy("Record the judgment"), gettext_lazy("The judgment was recorded.")),
    "apply_enforcement": (
        gettext_lazy("Apply for enforcement"),
        gettext_lazy("The application for enforcement was recorded."),
    ),
    "close_recovered": (gettext_lazy("Close: recovered"), gettext_lazy("The action was closed as recovered.")),
    "close_settled": (gettext_lazy("Close: settled"), gettext_lazy("The action was closed as settled.")),
    "close_impossible": (
        gettext_lazy("Close: enforcement impossible"),
        gettext_lazy("The action was closed: enforcement found nothing. A write-off goes to a manager."),
    ),
    "withdraw": (gettext_lazy("Withdraw"), gettext_lazy("The action was withdrawn.")),
}
DANGER_STEPS = {"close_impossible", "withdraw"}

STEPS = {
    name: Form(forms.STEP_FORMS[name], _advance(name), label, done, danger=name in DANGER_STEPS)
    for name, (label, done) in STEP_LABELS.items()
}
RECORDS = {
    "letter": Form(
        forms.LetterForm,
        _letter,
        gettext_lazy("Generate lawyer's letter / demand letter"),
        gettext_lazy("The letter was generated: it is among the documents."),
    ),
    "task_add": Form(
        forms.TaskAddForm,
        _on_action(services.task_add),
        gettext_lazy("Add a task"),
        gettext_lazy("The task was added."),
    ),
    "cost_add": Form(
        forms.CostForm,
        _on_action(services.cost_add),
        gettext_lazy("Add a cost"),
        gettext_lazy("The cost was recorded."),
    ),
    "recovery_post": Form(
        forms.RecoveryForm,
        _on_action(services.recovery_post),
        gettext_lazy("Post a recovery"),
        gettext_lazy("The recovery was posted to the loan."),
    ),
    "document_upload": Form(
        forms.DocumentForm,
        _on_action(services.document_upload),
        gettext_lazy("Upload a document"),
        gettext_lazy("The document was uploaded."),
    ),
    "preservation_apply": Form(
        forms.PreservationApplyForm,
        _on_action(services.preservation_apply),
        gettext_lazy("Apply for preservation"),
        gettext_lazy("The application for preservation was recorded."),
    ),
    "disposal_open": Form(
        forms.DisposalOpenForm,
        _on_action(services.disposal_open),
        gettext_lazy("Seize collateral"),
        gettext_lazy("The collateral was recorded as seized."),
    ),
}
ITEM_FORMS = {
    "task_done": Form(
        forms.TaskDoneForm,
        _on_item(services.task_done, "task"),
        gettext_lazy("Done"),
        gettext_lazy("The task is done."),
        item="task",
    ),
    "preservation_decide": Form(
        forms.PreservationDecideForm,
        _on_item(services.preservation_decide, "order"),
        gettext_lazy("Record the ruling"),
        gettext_lazy("The court's ruling was recorded."),
        item="preservation",
    ),
    "preservation_lift": Form(
        forms.PreservationLiftForm,
        _on_item(services.preservation_lift, "order"),
        gettext_lazy("Lift"),
        gettext_lazy("The preservation was lifted."),
        item="preservation",
        danger=True,
    ),
    "disposal_appraise": Form(
        forms.AppraiseForm,
        _on_item(services.disposal_appraise, "disposal"),
        gettext_lazy("Appraise"),
        gettext_lazy("The appraisal was recorded."),
        item="disposal",
    ),
    "disposal_list": Form(
        forms.ListForm,
        _on_item(services.disposal_list, "disposal"),
        gettext_lazy("List for sale"),
        gettext_lazy("The asset was listed for sale."),
        item="disposal",
    ),
    "disposal_unsold": Form(
        forms.UnsoldForm,
        _on_item(services.disposal_unsold, "disposal"),
        gettext_lazy("Unsold"),
        gettext_lazy("The sale failed: the asset can be listed again."),
        item="disposal",
    ),
    "disposal_sell": Form(
        forms.SellForm,
        _on_item(services.disposal_sell, "disposal"),
        gettext_lazy("Sold"),
        gettext_lazy("The sale was recorded."),
        item="disposal",
    ),
    "disposal_distribute": Form(
        forms.DistributeForm,
        _on_item(services.disposal_distribute, "disposal"),
        gettext_lazy("Distribute the proceeds"),
        gettext_lazy("The proceeds were distributed."),
        item="disposal",
    ),
    "disposal_surplus_paid": Form(
        forms.SurplusPaidForm,
        _on_item(services.disposal_surplus_paid, "disposal"),
        gettext_lazy("Surplus paid back"),
        gettext_lazy("The surplus was recorded as paid back."),
        item="disposal",
    ),
    "disposal_release": Form(
        forms.ReleaseForm,
        _on_item(services.disposal_release, "disposal"),
        gettext_lazy("Release"),
        gettext_lazy("The asset was released."),
        item="disposal",
        danger=True,
    ),
}
ACTION_FORMS = STEPS | RECORDS
ALL_FORMS = ACTION_FORMS | ITEM_FORMS

# Which disposal steps each state allows (the FSM's, plus the steps outside it).
DISPOSAL_TRANSITIONS = {
    "disposal_appraise": "appraise",
    "disposal_list": "list_for_sale",
    "disposal_unsold": "fail_sale",
    "disposal_sell": "sell",
    "disposal_distribute": "distribute",
    "disposal_release": "release",
}


@dataclass
class Panel:
    """A form of the action page, where it posts, and whether it is shown open (it failed)."""

    name: str
    spec: Form
    form: Any
    url: str
    is_open: bool = False


@dataclass
class ItemRow:
    """A task, order or disposal with the forms offered on it now."""

    obj: Any
    panels: list = field(default_factory=list)


# --- Reading the action page ------------------------------------------------------------------------------


def action_for_user(user, pk) -> LegalAction:
    """The action if `user` may see it (with its case, loan, borrower and people); else a 404."""
    queryset = LegalAction.objects.select_related(
        "case__loan__borrower", "case__officer", "law_firm", "handled_by", "opened_by"
    )
    return get_object_or_404(selectors.visible_actions(user, queryset), pk=pk)


def item_for(action, kind, pk):
    """The task, preservation order or disposal `pk` of this action; a 404 for another's."""
    if kind == "task":
        queryset = LegalTask.objects.filter(action=action)
    elif kind == "preservation":
        queryset = action.preservations.all()
    else:
        queryset = AssetDisposal.objects.filter(action=action).select_related("collateral")
    item = get_object_or_404(queryset, pk=pk)
    item.action = action  # the services read the case through it
    return item


def _collateral(action):
    """The loan's collateral, each marked with whether a disposal already took it (one query)."""
    return list(
        Collateral.objects.filter(loan_id=action.case.loan_id)
        .annotate(has_disposal=Exists(AssetDisposal.objects.filter(collateral=OuterRef("pk"))))
        .order_by("id")
    )


def _offered_steps(action):
    return [name for name in STEPS if can_proceed(getattr(action, name))]


def _filed(action):
    return action.state not in ActionState.closed() and action.state not in (
        ActionState.PREPARING,
        ActionState.LETTER_SENT,
    )


def _item_forms(obj, kind):
    """The item forms offered on `obj` now (what the services would allow)."""
    if kind == "task":
        return ["task_done"] if obj.done_on is None else []
    if kind == "preservation":
        if obj.status == PreservationStatus.APPLIED:
            return ["preservation_decide"]
        return ["preservation_lift"] if obj.status == PreservationStatus.GRANTED else []
    names = [name for name, method in DISPOSAL_TRANSITIONS.items() if can_proceed(getattr(obj, method))]
    if obj.state == DisposalState.DISTRIBUTED and obj.surplus > 0 and obj.surplus_paid_on is None:
        names.append("disposal_surplus_paid")
    return names


class ActionPage:
    """Everything the action page shows `user`, read with a fixed number of queries whatever the
    number of tasks, costs, documents, orders or disposals. `bound` is a (name, item pk, form) that
    failed, shown open in place of a fresh one."""

    def __init__(self, user, action, *, bound=None):
        self.user = user
        self.action = action
        self.case = action.case
        self.loan = action.case.loan
        self.borrower = self.loan.borrower
        self.may_write = may_write(user)
        self.bound = bound or (None, None, None)
        self.open = action.state not in ActionState.closed()

        self.tasks = list(action.tasks.select_related("done_by").order_by("done_on", "due_on", "id"))
        self.open_tasks = [task for task in self.tasks if task.done_on is None]
        self.done_tasks = [task for task in self.tasks if task.done_on is not None]
        self.costs = list(action.costs.select_related("recorded_by"))
        self.documents = list(action.documents.select_related("uploaded_by"))
        self.recoveries = list(action.recoveries.order_by("received_at", "id"))
        self.preservations = list(action.preservations.select_related("collateral"))
        self.disposals = list(action.disposals.select_related("collateral", "payment"))
        self.collateral = _collateral(action)
        self.history = list(selectors.action_history(action)[:200])
        self.result = services.action_result(action)
        self.feasibility = action.feasibility or {}
        self.today = business_today()
        self.enforcement_from = services.earliest_enforcement(action) if action.state == ActionState.JUDGMENT else None

        self.steps = [self._panel(name) for name in _offered_steps(action)] if self.may_write else []
        self.records = self._records() if self.may_write else {}
        self.task_rows = [self._row(task, "task") for task in self.open_tasks]
        self.preservation_rows = [self._row(order, "preservation") for order in self.preservations]
        self.disposal_rows = [self._row(disposal, "disposal") for disposal in self.disposals]

    def _records(self):
        """The records offered now: a closed action still takes late recoveries and documents."""
        if not self.open:
            return {name: self._panel(name) for name in ("recovery_post", "document_upload")}
        names = ["task_add", "cost_add", "recovery_post", "document_upload"]
        if letters_available():
            names.append("letter")
        if _filed(self.action):
            names.append("preservation_apply")
            if forms.seizable(self.collateral):
                names.append("disposal_open")
        return {name: self._panel(name) for name in names}

    def _panel(self, name, item=None):
        spec = ALL_FORMS[name]
        bound_name, bound_item, bound_form = self.bound
        is_bound = name == bound_name and (item.pk if item is not None else None) == bound_item
        form = bound_form if is_bound else make_form(name, self.action, item, collateral=self.collateral)
        if item is None:
            url = reverse("legal:action_form", args=[self.action.pk, name])
        else:
            url = reverse("legal:item_form", args=[self.action.pk, name, item.pk])
        return Panel(name, spec, form, url, is_open=is_bound)

    def _row(self, obj, kind):
        if not self.may_write:
            return ItemRow(obj)
        return ItemRow(obj, [self._panel(name, obj) for name in _item_forms(obj, kind)])

    def shown_forms(self):
        panels = [*self.steps, *self.records.values()]
        for row in [*self.task_rows, *self.preservation_rows, *self.disposal_rows]:
            panels.extend(row.panels)
        return panels


def make_form(name, action, item=None, *, data=None, files=None, collateral=()):
    form_class = ALL_FORMS[name].form_class
    extra = {"collateral": collateral} if name in ("preservation_apply", "disposal_open") else {}
    return form_class(data, files, action=action, item=item, **extra)


def page_context(request, action, *, bound=None):
    page = ActionPage(request.user, action, bound=bound)
    return {
        "page": page,
        "action": action,
        "case": page.case,
        "loan": page.loan,
        "borrower": page.borrower,
        "canonical_url": reverse("legal:action", args=[action.pk]),
    }


class ActionView(LegalReaderMixin, View):
    def get(self, request, pk):
        action = action_for_user(request.user, pk)
        return render(request, "legal/action.html", page_context(request, action))


class ActionFormView(LegalReaderMixin, View):
    """POST one of the action page's forms (`item` names the task, order or disposal it is about).
    On success: a message and back to the action page (or to `next`, the worklist's done buttons).
    On a refusal about the input: the page again with the form open and the error on its field.
    When the action moved on, or the step is not the user's: a message over the fresh page."""

    def post(self, request, pk, name, item=None):
        spec = ALL_FORMS.get(name)
        if spec is None or bool(spec.item) != (item is not None):
            raise Http404
        action = action_for_user(request.user, pk)
        if not may_write(request.user):
            raise PermissionDenied
        obj = item_for(action, spec.item, item) if spec.item else None
        collateral = _collateral(action) if name in ("preservation_apply", "disposal_open") else ()
        form = make_form(name, action, obj, data=request.POST, files=request.FILES, collateral=collateral)
        back = safe_next(request, reverse("legal:action", args=[action.pk]))
        if form.is_valid():
            try:
                spec.perform(actor=request.user, action=action, item=obj, **form.arguments())
            except (ConcurrentChange, TransitionNotAllowed, NotPermitted) as error:
                messages.error(request, error.message)
                return redirect_back(request, back)
            except ApplicationError as error:
                form.add_error(form.error_field(error.field) if error.field else None, error.message)
            else:
                messages.success(request, spec.done)
                return redirect_back(request, back)
        url = request.path
        panel = Panel(name, spec, form, url, is_open=True)
        if request.htmx:
            return render(request, "legal/_form.html", {"panel": panel, "action": action})
        action = action_for_user(request.user, pk)  # as it is now, for the page around the form
        context = page_context(request, action, bound=(name, item, form))
        if not any(shown.form is form for shown in context["page"].shown_forms()):
            # The page no longer offers this form (the action moved on): its errors would have
            # nowhere to show.
            messages.error(request, _("This step is not available on this action now. Nothing was done."))
            return redirect_back(request, back)
        return render(request, "legal/action.html", context)


class DocumentView(LegalReaderMixin, View):
    """One of an action's documents, for whoever may see the action (a 404 otherwise), with the
    content type checked when it was stored."""

    def get(self, request, pk):
        document = get_object_or_404(
            LegalDocument.objects.filter(
                action__in=selectors.visible_actions(request.user).values("pk")
            ).select_related("action__case"),
            pk=pk,
        )
        try:
            content = services.document_open(actor=request.user, document=document)
        except NotPermitted:
            raise PermissionDenied from None
        except OSError:  # the row outlived its file (storage restored from another backup)
            raise Http404 from None
        response = FileResponse(
            content,
            content_type=document.content_type,
            as_attachment=request.GET.get("inline") is None,
            filename=document.original_name,
        )
        response["X-Content-Type-Options"] = "nosniff"
        return response


# --- Opening an action ----------------------------------------------------------------------------------


class OpenActionView(LegalReaderMixin, View):
    """A legal officer or a manager opens an action on a case in legal; the feasibility estimate's
    refusal (or its demand for a manager's reason) shows on the form."""

    template_name = "legal/open.html"

    def setup_case(self, request, case_pk):
        if not may_write(request.user):
            raise PermissionDenied
        return case_selectors.case_for_user(request.user, case_pk)

    def get(self, request, case_pk):
        case = self.setup_case(request, case_pk)
        return self.show(request, case, forms.OpenActionForm(case=case))

    def post(self, request, case_pk):
        case = self.setup_case(request, case_pk)
        form = forms.OpenActionForm(request.POST, case=case)
        if form.is_valid():
            try:
                action = services.action_open(actor=request.user, case=case, **form.arguments())
            except (ConcurrentChange, TransitionNotAllowed) as error:
                messages.error(request, error.message)
                return redirect("dashboard:case", case.pk)
            except NotPermitted as error:
                # Expected to lose money: the officer learns on the form that a manager must decide.
                form.add_error(None, error.message)
            except ApplicationError as error:
                form.add_error(form.error_field(error.field) if error.field else None, error.message)
            else:
                messages.success(request, _("The legal action was opened."))
                return redirect("legal:action", action.pk)
        return self.show(request, case, form)

    def show(self, request, case, form):
        loan = case.loan
        context = {
            "case": case,
            "loan": loan,
            "borrower": loan.borrower,
            "claim": claim_as_of(loan, business_today()),  # what the action would claim
            "form": form,
            "in_legal": case.state == CaseState.LEGAL,
            "actions": LegalAction.objects.filter(case=case).select_related("law_firm"),
        }
        return render(request, self.template_name, context)
