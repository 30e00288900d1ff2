"""The case list's pages: one SQL statement each, rows built straight from its values.

A page is the filtered cases (their query compiled once per filter shape: `page_statement`,
`cached_statement`) from the cursor's position on, sought in an index where one serves the ordering
(`_seek_in_index`), cut to the page and joined to the loans and the names (product, borrower, officer,
team). The statement is prepared once per database connection (`_execute_prepared`). The rows come
out in CaseSerializer's shape (tests/collection/test_api.py compares them); CaseSerializer is
what the schema documents.

Why not the ORM and the serializer: on a list request, model instances and DRF's field-by-field
machinery over six nested objects per row took most of the time; so did building and compiling the
filtered query (which the same filters, asked by users who see the same cases, compile to the same
SQL), and PostgreSQL's parsing and planning of the statement (about as long as running it)."""

import weakref
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import F
from django.utils import timezone

from borrowers.models import Borrower
from loans.models import Loan, LoanProduct

from ..models import CollectionCase, Team

CASE_COLUMNS = [
    *("id", "state", "severity", "version", "priority_score", "opened_on", "next_action_at"),
    *("loan_id", "officer_id", "team_id"),
]
LOAN_COLUMNS = ["external_id", "days_past_due", "overdue_amount", "aging_bucket", "borrower_id"]


def _row_select():
    """The SELECT of the rows (c is the page of cases, with their columns named as the fields'
    attributes; l their loans; pr, b, u, t the names of their products, borrowers, officers and teams)
    with `{page}` standing for the page's query, and the columns' names."""
    case, loan, product, borrower, user, team = (
        model._meta for model in (CollectionCase, Loan, LoanProduct, Borrower, get_user_model(), Team)
    )
    columns = {  # name: SQL
        **{key: f"c.{case.get_field(key).attname}" for key in CASE_COLUMNS},
        **{f"loan__{key}": f"l.{loan.get_field(key).column}" for key in LOAN_COLUMNS},
        "loan__product__code": f"pr.{product.get_field('code').column}",
        "loan__borrower__name": f"b.{borrower.get_field('name').column}",
        "officer__username": f"u.{user.get_field('username').column}",
        "team__name": f"t.{team.get_field('name').column}",
    }

    def join(kind, meta, alias, key):
        return f"{kind} JOIN {meta.db_table} {alias} ON {alias}.{meta.pk.column} = {key}"

    sql = " ".join(
        [
            f"SELECT {', '.join(columns.values())} FROM ({{page}}) c",
            join("INNER", loan, "l", f"c.{case.get_field('loan').attname}"),
            join("INNER", product, "pr", f"l.{loan.get_field('product').column}"),
            join("INNER", borrower, "b", f"l.{loan.get_field('borrower').column}"),
            join("LEFT", user, "u", f"c.{case.get_field('officer').attname}"),
            join("LEFT", team, "t", f"c.{case.get_field('team').attname}"),
        ]
    )
    return sql, list(columns)


_ROW_SELECT, _ROW_COLUMNS = _row_select()
# case_rows unpacks the columns in this order.
_UNPACKED = [
    *CASE_COLUMNS,
    *(f"loan__{key}" for key in LOAN_COLUMNS),
    *("loan__product__code", "loan__borrower__name", "officer__username", "team__name"),
]
assert _ROW_COLUMNS == _UNPACKED, _ROW_COLUMNS
_PAGE_FIELDS = [CollectionCase._meta.get_field(key).attname for key in CASE_COLUMNS]
# The ordering the case list's indexes serve (collection.0009: (state, -priority_score, id) and
# (-priority_score, id)): its pages are read run by run of equal keys (_seek_in_index).
INDEXED_ORDERING = tuple(CollectionCase._meta.ordering)


@dataclass(frozen=True)
class PageStatement:
    """The filtered cases as SQL, unordered, selecting the rows' case columns and the ordering's keys as
    key0, key1, ..., with the filters' values bound into the text by psycopg2 (see page_statement); None
    when the filters can match no case. `ordering` is the cases' ordering."""

    literal_sql: str | None
    ordering: tuple[str, ...]
    db: str


def page_statement(cases) -> PageStatement:
    """`cases` (filtered and ordered; the model's ordering when not) compiled once. The ORM's parameters
    are bound into the SQL text by psycopg2's `cursor.mogrify`, its own quoting: psycopg2 binds every
    query's parameters on the client, so this is the very text `cursor.execute(sql, params)` would send.
    It is kept as text so that it can be prepared with the filters' values in it (_execute_prepared)."""
    query = cases.query
    ordering = query.order_by or (query.get_meta().ordering if query.default_ordering else ["pk"])
    pk = CollectionCase._meta.pk.name
    ordering = tuple(f"{term[:-2]}{pk}" if term in ("pk", "-pk") else term for term in ordering)
    keys = {f"key{index}": F(term.removeprefix("-")) for index, term in enumerate(ordering)}
    try:
        sql, params = cases.order_by().values(*_PAGE_FIELDS, **keys).query.sql_with_params()
    except EmptyResultSet:  # filters no case can match
        return PageStatement(None, ordering, cases.db)
    with connections[cases.db].cursor() as cursor:
        literal_sql = cursor.mogrify(sql, params).decode()
    return PageStatement(literal_sql, ordering, cases.db)


_statements = {}
_MAX_STATEMENTS = 500


def cached_statement(key, compile_statement) -> PageStatement:
    """The statement compiled for `key` (what the filtered cases' SQL depends on: the filters asked for
    and whose cases the user sees), compiling it with `compile_statement()` the first time. Nothing
    but SQL text is kept: every page is read afresh. At most _MAX_STATEMENTS are
    kept; past that the cache starts over (a client sending ever new filters only costs compiling)."""
    statement = _statements.get(key)
    if statement is None:
        statement = compile_statement()
        if len(_statements) >= _MAX_STATEMENTS:
            _statements.clear()
        _statements[key] = statement
    return statement


def _order_by(keys, alias):
    return ", ".join(f"{alias}.key{i} {'DESC' if descending else 'ASC'}" for i, (_name, descending) in enumerate(keys))


def _position(index):
    """The placeholder of the position's `index`-th key value: a parameter of the prepared statement."""
    return f"${index + 1}"


def _after(keys, index=0):
    """The rows after the position in the order `keys` ((name, descending) pairs), over the page query's
    key columns, as one condition: key0 > v0, or key0 = v0 and (key1 > v1, or ...), with key0 >= v0
    said first so that an index on key0 bounds the scan."""
    column, beyond, value = f"f.key{index}", "<" if keys[0][1] else ">", _position(index)
    if len(keys) == 1:
        return f"{column} {beyond} {value}"
    rest = _after(keys[1:], index + 1)
    return f"{column} {beyond}= {value} AND ({column} {beyond} {value} OR ({column} = {value} AND {rest}))"


def _seek_in_index(cases_sql, keys, size):
    """The page after the position, for an ordering an index serves: the rest of the run of cases with
    the position's first key (key0 = v0 and key1 > v1), then those past it (key0 < v0), each read by
    a seek in the index and merged. One condition (_after) would make the database read the run's
    cases before the position too (a few thousand cases may share a priority) and drop them; here no
    case is read that the page does not show. With more keys, one part per key."""
    order = _order_by(keys, "f")
    parts = []
    for index, (_name, descending) in enumerate(keys):
        conditions = [*(f"f.key{before} = {_position(before)}" for before in range(index))]
        conditions.append(f"f.key{index} {'<' if descending else '>'} {_position(index)}")
        parts.append(
            f"SELECT * FROM (SELECT f.* FROM ({cases_sql}) f WHERE {' AND '.join(conditions)} "
            f"ORDER BY {order} LIMIT {size}) part{index}"
        )
    return f"SELECT f.* FROM ({' UNION ALL '.join(parts)}) f ORDER BY {order} LIMIT {size}"


def _statement(statement, keys, seek, size):
    """The page's statement over the filtered cases: after the position ($1, $2, ...: its keys' values)
    when `seek`, `size` rows (SQL text: the page's size as bound by psycopg2, see _execute_prepared)."""
    cases_sql = statement.literal_sql
    if seek and statement.ordering == INDEXED_ORDERING:
        page = _seek_in_index(cases_sql, keys, size)
    else:  # from the start; or, where the database sorts the cases anyway, in one pass on one condition
        where = f" WHERE {_after(keys)}" if seek else ""
        page = f"SELECT f.* FROM ({cases_sql}) f{where} ORDER BY {_order_by(keys, 'f')} LIMIT {size}"
    return f"{_ROW_SELECT.format(page=page)} ORDER BY {_order_by(keys, 'c')}"


# Per database connection, the statements prepared on it: their SQL -> their name.
_prepared = weakref.WeakKeyDictionary()
_MAX_PREPARED = 200


def _execute_prepared(connection, cursor, statement, keys, after, limit):
    """Runs the page's statement as one prepared on this database connection (PREPARE the first time,
    then EXECUTE): PostgreSQL then neither parses nor plans it again (after five runs it keeps a generic
    plan), which was half of its work for a page. The filters' values and the page's size are in the
    prepared statement's text, bound there by psycopg2 exactly as it binds any query's parameters (one
    statement per filter shape and size, as the statements are cached), so that the plan kept fits
    them; only the position is a parameter, of EXECUTE. Prepared statements live as long as the
    database session: this needs a connection that keeps its session (PostgreSQL itself, as here, or a
    pooler in session mode)."""
    seek = after is not None
    size = cursor.mogrify("%s", [int(limit)]).decode()  # bound as the filters' values were
    sql = _statement(statement, keys, seek, size)
    names = _prepared.setdefault(connection.connection, {})
    name = names.get(sql)
    if name is None:
        if len(names) >= _MAX_PREPARED:  # a client sending ever new filters: start over
            cursor.execute("DEALLOCATE ALL")
            names.clear()
        name = f"worklist_page_{len(names)}"
        cursor.execute(f"PREPARE {name} AS {sql}")
        names[sql] = name
    if seek:
        cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(after))})", after)
    else:
        cursor.execute(f"EXECUTE {name}")


def _iso_datetime(value, zone):
    """What DRF's DateTimeField writes (ISO 8601 in the current time zone, UTC as "Z"), with the time
    zone looked up once per page rather than once per value."""
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def case_rows(statement, keys, after, limit) -> list[dict]:
    """Up to `limit` rows of the statement's cases in the order `keys` ((name, descending) pairs: the
    statement's ordering, or its reverse to read backwards), after the case whose keys are `after`
    (None: from the start), in CaseSerializer's shape. psycopg2 returns every column as the field would
    (dates, aware datetimes, Decimals), so the values need none of the ORM's conversions."""
    if statement.literal_sql is None:
        return []
    connection = connections[statement.db]
    with connection.cursor() as cursor:
        _execute_prepared(connection, cursor, statement, keys, after, limit)
        rows = cursor.fetchall()
    zone = timezone.get_current_timezone()
    return [
        {
            "id": case_id,
            "state": state,
            "severity": severity,
            "version": version,
            "priority_score": priority_score,
            "opened_on": opened_on.isoformat(),
            "next_action_at": _iso_datetime(next_action_at, zone) if next_action_at else None,
            "loan": {
                "id": loan_id,
                "external_id": external_id,
                "product": product,
                "days_past_due": days_past_due,
                # Two places, as DRF's DecimalField writes the column's values (never an exponent).
                "overdue_amount": f"{overdue_amount:.2f}",
                "aging_bucket": aging_bucket,
            },
            "borrower": {"id": borrower_id, "name": borrower},
            "officer": {"id": officer_id, "username": officer} if officer_id else None,
            "team": {"id": team_id, "name": team} if team_id else None,
        }
        for (
            case_id, state, severity, version, priority_score, opened_on, next_action_at, loan_id, officer_id, team_id,
            external_id, days_past_due, overdue_amount, aging_bucket, borrower_id, product, borrower, officer, team,
        ) in rows
    ]  # fmt: skip
