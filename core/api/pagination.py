"""The API's two ways of paging a list, both over a stable ordering and with strict page sizes:

- Pagination: page numbers and a total `count`, for the lists that stay small (a case's contacts, the
  approvals inbox, the legal actions).
- KeysetPagination: an opaque `cursor` holding the last row's ordering keys, for the lists that grow with
  the book (the case list). A page is a seek in the ordering's index: no COUNT and no OFFSET, so page
  1,000 costs what page 1 does, and a case that moves while a client walks the list is neither skipped
  nor repeated because of the others that moved."""

import binascii
import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from functools import cache

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.db.models.constants import LOOKUP_SEP
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.response import Response


class StrictPageSize:
    """`page_size` from 1 to the maximum; asking for more is an error, not a silent cut."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {self.page_size_query_param: [_("Give a page size from 1 to %(max)s.") % {"max": self.max_page_size}]}
            )
        return int(raw)


class Pagination(StrictPageSize, PageNumberPagination):
    """Page numbers over a stable ordering, with the total count."""


@cache
def _ordering_fields(model, ordering):
    """The model field behind each ordering term ("-loan__days_past_due" -> Loan.days_past_due). The
    keys must be columns that are never null and end with a unique one (the primary key), or the
    cursor could not say where a page ends."""
    fields = []
    for term in ordering:
        meta = model._meta
        *path, name = term.removeprefix("-").split(LOOKUP_SEP)
        for step in path:
            meta = meta.get_field(step).related_model._meta
        field = meta.pk if name == "pk" else meta.get_field(name)
        if field.null:
            raise ImproperlyConfigured(f"{model.__name__}: keyset ordering on nullable {term!r}")
        fields.append(field)
    if model._meta.pk not in fields:
        raise ImproperlyConfigured(f"{model.__name__}: keyset ordering {ordering} must include the primary key")
    return tuple(fields)


def _after(keys, values):
    """The rows after `values` in the ordering `keys` ((name, descending) pairs), as one condition:
    k1 > v1, or k1 = v1 and (k2 > v2, or ...), with k1 >= v1 said first so that the database seeks to
    the position in an index on the keys rather than filtering the rows before it."""
    (name, descending), value = keys[0], values[0]
    beyond = "lt" if descending else "gt"
    if len(keys) == 1:
        return Q(**{f"{name}__{beyond}": value})
    return Q(**{f"{name}__{beyond}e": value}) & (
        Q(**{f"{name}__{beyond}": value}) | (Q(**{name: value}) & _after(keys[1:], values[1:]))
    )


def _key_of(row, term):
    """A row's value for an ordering term ("loan__days_past_due"): the row is a model instance or a dict,
    flat (keyed by the terms) or nested as a serializer's output ({"loan": {"days_past_due": …}})."""
    if isinstance(row, dict) and term in row:
        return row[term]
    for step in term.split(LOOKUP_SEP):
        row = row[step] if isinstance(row, dict) else getattr(row, step)
    return row


class KeysetPagination(StrictPageSize, BasePagination):
    """Pages by cursor over the queryset's ordering (its order_by, else the model's Meta.ordering), which
    must end in a unique key. The response is {"next", "previous", "results"}: `next` and `previous` are
    the links to follow (null at either end); there is no total.

    The cursor is the ordering and the keys of the row a page starts after (or, going back, before),
    base64-encoded JSON: opaque to clients, and refused with a 400 when it is not one this list made
    (garbage, another ordering, a key out of range). The rows are model instances or dicts (`paginate`
    lets a list read its rows its own way)."""

    cursor_query_param = "cursor"
    cursor_query_description = gettext_lazy("The page to read: the `next` or `previous` link's cursor.")
    page_size_query_description = gettext_lazy("Rows a page, from 1 to 500 (default 50).")
    invalid_cursor_message = gettext_lazy(
        "This cursor is not one this list gave (or was given for another ordering): follow the `next` or "
        "`previous` link."
    )
    page_number_message = gettext_lazy("This list pages by cursor, not by number: follow the `next` link.")

    def paginate_queryset(self, queryset, request, view=None):
        """A page of the queryset's rows (model instances), read by the ORM."""
        query = queryset.query
        ordering = query.order_by or (query.get_meta().ordering if query.default_ordering else ())

        def read(keys, after, limit):
            page = queryset.order_by(*(f"{'-' if descending else ''}{name}" for name, descending in keys))
            return list((page if after is None else page.filter(_after(keys, after)))[:limit])

        return self.paginate(request, queryset.model, ordering, read)

    def paginate(self, request, model, ordering, read):
        """The page the request's cursor points to, of the rows of `model` in `ordering` that `read(keys,
        after, limit)` returns: up to `limit` of them in the order `keys` ((name, descending) pairs: the
        ordering, or its reverse to read backwards), after the row whose keys are `after` (None: from the
        start). For the lists that read their rows their own way; paginate_queryset reads a queryset."""
        if "page" in request.query_params:
            raise ValidationError({"page": [str(self.page_number_message)]})
        # The links are this URL with the request's parameters as they came, the cursor last.
        kept = [part for part in request.META.get("QUERY_STRING", "").split("&") if part and not self._is_cursor(part)]
        self.link_prefix = f"{request.build_absolute_uri(request.path)}?{''.join(f'{part}&' for part in kept)}"
        size = self.get_page_size(request)
        pk = model._meta.pk.name
        ordering = tuple(f"{term[:-2]}{pk}" if term in ("pk", "-pk") else term for term in ordering)
        fields = _ordering_fields(model, ordering)
        position = self._decode(request, ordering, fields)
        self.ordering = ordering
        going_back = bool(position and position[1])
        keys = [(term.removeprefix("-"), term.startswith("-") != going_back) for term in ordering]
        rows = list(read(keys, position[0] if position else None, size + 1))
        more = len(rows) > size
        rows = rows[:size]
        if going_back:
            rows.reverse()
        self.rows = rows
        # Coming from a page (a cursor), there is one on that side; past the page, there is one if
        # the read found a row more.
        self.has_next = more if not going_back else position is not None
        self.has_previous = more if going_back else position is not None
        return rows

    def _decode(self, request, ordering, fields):
        """(key values, going back) from the request's cursor; None without one."""
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            cursor = json.loads(urlsafe_b64decode(raw.encode("ascii") + b"=" * (-len(raw) % 4)))
            values, going_back = cursor["k"], cursor.get("r", False)
            if cursor["o"] != list(ordering) or len(values) != len(fields) or not isinstance(going_back, bool):
                raise ValueError
            keys = []
            for field, value in zip(fields, values, strict=True):
                if value is None or not isinstance(value, str | int):
                    raise ValueError
                key = field.to_python(value)
                field.run_validators(key)
                keys.append(key)
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, DjangoValidationError):
            raise ValidationError({self.cursor_query_param: [str(self.invalid_cursor_message)]}) from None
        return keys, going_back

    def _link(self, row, going_back):
        values = [_key_of(row, term.removeprefix("-")) for term in self.ordering]
        values = [value if isinstance(value, int) else str(value) for value in values]
        cursor = {"o": list(self.ordering), "k": values, **({"r": True} if going_back else {})}
        encoded = urlsafe_b64encode(json.dumps(cursor, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{self.link_prefix}{self.cursor_query_param}={encoded}"  # base64url needs no quoting

    def _is_cursor(self, part):
        return part.partition("=")[0] == self.cursor_query_param

    def get_next_link(self):
        return self._link(self.rows[-1], going_back=False) if self.has_next and self.rows else None

    def get_previous_link(self):
        return self._link(self.rows[0], going_back=True) if self.has_previous and self.rows else None

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(), "results": data})

    def get_paginated_response_schema(self, schema):
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "example": "https://huishou.example/api/v1/cases/?cursor=eyJvIjpb…"},
                "previous": link,
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": str(self.cursor_query_description),
                "schema": {"type": "string"},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": str(self.page_size_query_description),
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

    def get_html_context(self):
        return {"previous_url": self.get_previous_link(), "next_url": self.get_next_link()}
