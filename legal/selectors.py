"""Reads of the legal route: the legal officer's worklist (actions by stage and next deadline), the
open tasks as a calendar, and one action's history. Who sees what follows the cases: an officer sees
the actions on their own cases, everyone else who reads legal actions sees them all."""

from datetime import date

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery

from collection.filters import visible_cases
from core.models import ActivityLog

from .models import LegalAction, LegalTask

OPEN_TASK = Q(tasks__done_on__isnull=True)


def visible_actions(user, queryset=None) -> QuerySet:
    queryset = LegalAction.objects.all() if queryset is None else queryset
    return queryset.filter(case__in=visible_cases(user).values("pk"))


def worklist(user) -> QuerySet:
    """The actions `user` may see with what a worklist row shows: case, loan, borrower, firm, the
    legal officer, the next open task's date and kind, and the open task count. Open actions come
    first, by their next deadline (none last), then the newest."""
    next_task = LegalTask.objects.filter(action=OuterRef("pk"), done_on__isnull=True).order_by("due_on", "id")
    queryset = LegalAction.objects.select_related("case__loan__borrower", "law_firm", "handled_by").annotate(
        next_due_on=Min("tasks__due_on", filter=OPEN_TASK),
        next_task_kind=Subquery(next_task.values("kind")[:1]),
        open_tasks=Count("tasks", filter=OPEN_TASK),
    )
    return visible_actions(user, queryset).order_by(
        F("closed_on").desc(nulls_first=True), F("next_due_on").asc(nulls_last=True), "-created_at", "-id"
    )


def tasks_due(user, *, until: date, start: date | None = None) -> QuerySet:
    """The open tasks on the actions `user` may see falling due by `until` (overdue ones included
    unless `start` is given), soonest first: the legal officer's calendar."""
    queryset = LegalTask.objects.filter(done_on__isnull=True, due_on__lte=until)
    if start is not None:
        queryset = queryset.filter(due_on__gte=start)
    queryset = queryset.filter(action__in=visible_actions(user).values("pk"))
    return queryset.select_related("action__case__loan__borrower", "action__handled_by").order_by("due_on", "id")


def action_history(action: LegalAction) -> QuerySet:
    """The audit entries of this action (steps, costs, documents, preservation, disposals, tasks),
    newest first."""
    return ActivityLog.objects.filter(
        action__startswith="legal.",
        target_type__app_label="collection",
        target_type__model="collectioncase",
        target_id=str(action.case_id),
        data__action=action.pk,
    ).select_related("actor")
