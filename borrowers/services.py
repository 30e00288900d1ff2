"""Every write to borrowers goes through here: checked, saved and logged."""

from django.db import transaction
from django.forms.models import model_to_dict

from core.audit import log_action

from .choices import Channel, Relation
from .models import Borrower, ContactPoint


@transaction.atomic
def borrower_create(*, actor, kind, name, id_number, **fields) -> Borrower:
    """Create a borrower after checking identifier, phone and e-mail (ValidationError naming the
    field otherwise). The borrower's own phone and e-mail also become contact points."""
    fields = {key: value.strip() if isinstance(value, str) else value for key, value in fields.items()}
    borrower = Borrower(kind=kind, name=name.strip(), id_number=id_number.strip(), **fields)
    borrower.full_clean()
    borrower.save()
    borrower_add_own_contact_points(borrower=borrower)
    log_action(actor=actor, action="borrowers.borrower.created", target=borrower, after=_snapshot(borrower))
    return borrower


def borrower_add_own_contact_points(*, borrower: Borrower) -> None:
    """The borrower's own phone, e-mail and address as contact points, skipping any already on file
    (the admin's inline may have added them)."""
    own = [(Channel.MOBILE, borrower.phone), (Channel.EMAIL, borrower.email), (Channel.ADDRESS, borrower.address)]
    on_file = set(borrower.contact_points.filter(relation=Relation.SELF).values_list("channel", "value"))
    ContactPoint.objects.bulk_create(
        ContactPoint(borrower=borrower, channel=channel, value=value, relation=Relation.SELF)
        for channel, value in own
        if value and (channel, value) not in on_file
    )


@transaction.atomic
def contact_point_create(
    *, actor, borrower: Borrower, channel: str, value: str, relation: str = Relation.SELF, contact_name: str = ""
) -> ContactPoint:
    point = ContactPoint(borrower=borrower, channel=channel, value=value, relation=relation, contact_name=contact_name)
    point.full_clean()
    point.save()
    log_action(actor=actor, action="borrowers.contact_point.created", target=borrower, after=model_to_dict(point))
    return point


def _snapshot(borrower):
    return {k: v for k, v in model_to_dict(borrower).items() if k not in ("id",)}
