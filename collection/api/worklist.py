"""The case list's pages: one SQL statement each, rows built straight from its values.

A page is the filtered cases (their query compiled once per filter shape: `page_statement`,
`cached_statement`) from the cursor's position on, sought in an index where one serves the ordering
(`_seek_in_index`), cut to the page and joined to the loans and the names (product, borrower, officer,
team). On PostgreSQL the statement is prepared once per database connection (`_execute_prepared`). The
rows come out in CaseSerializer's shape (tests/collection/test_api.py compares them); CaseSerializer is
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
    with `{page}` standing for the page's query, the columns' names, and the model field behind each
    column."""
    case, loan, product, borrower, user, team = (
        model._meta for model in (CollectionCase, Loan, LoanProduct, Borrower, get_user_model(), Team)
    )
    columns = {  # name: (SQL, the field it reads)
        **{key: (f"c.{case.get_field(key).attname}", case.get_field(key)) for key in CASE_COLUMNS},
        **{f"loan__{key}": (f"l.{loan.get_field(key).column}", loan.get_field(key)) for key in LOAN_COLUMNS},
        "loan__product__code": (f"pr.{product.get_field('code').column}", product.get_field("code")),
        "loan__borrower__name": (f"b.{borrower.get_field('name').column}", borrower.get_field("name")),
        "officer__username": (f"u.{user.get_field('username').column}", user.get_field("username")),
        "team__name": (f"t.{team.get_field('name').column}", team.get_field("name")),
    }

    def join(kind, meta, alias, key):
        return f"{kind} JOIN {meta.db_table} {alias} ON {alias}.{meta.pk.column} = {key}"

    sql = " ".join(
        [
            f"SELECT {', '.join(expression for expression, _field in columns.values())} FROM ({{page}}) c",
            join("INNER", loan, "l", f"c.{case.get_field('loan').attname}"),
            join("INNER", product, "pr", f"l.{loan.get_field('product').column}"),
            join("INNER", borrower, "b", f"l.{loan.get_field('borrower').column}"),
            join("LEFT", user, "u", f"c.{case.get_field('officer').attname}"),
            join("LEFT", team, "t", f"c.{case.get_field('team').attname}"),
        ]
    )
    return sql, list(columns), [field for _expression, field in columns.values()]


_ROW_SELECT, _ROW_COLUMNS, _ROW_FIELDS = _row_select()
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


def _prepares(connection):
    """Whether the pages' statements are prepared on this connection (_execute_prepared)."""
    return connection.vendor == "postgresql"


@dataclass(frozen=True)
class PageStatement:
    """The filtered cases as SQL, unordered, selecting the rows' case columns and the ordering's keys as
    key0, key1, ... (None when the filters can match no case); `ordering` is the cases' ordering."""

    sql: str | None
    params: tuple
    ordering: tuple[str, ...]
    db: str
    literal_sql: str | None = None  # on PostgreSQL: the SQL with the parameters' values written in


def page_statement(cases) -> PageStatement:
    """`cases` (filtered and ordered; the model's ordering when not) compiled once."""
    query = cases.query
    ordering = query.order_by or (query.get_meta().ordering if query.default_ordering else ["pk"])
    pk = CollectionCase._meta.pk.name
    ordering = tuple(f"{term[:-2]}{pk}" if term in ("pk", "-pk") else term for term in ordering)
    keys = {f"key{index}": F(term.removeprefix("-")) for index, term in enumerate(ordering)}
    try:
        sql, params = cases.order_by().values(*_PAGE_FIELDS, **keys).query.sql_with_params()
    except EmptyResultSet:  # filters no case can match
        return PageStatement(None, (), ordering, cases.db)
    literal_sql, connection = None, connections[cases.db]
    if _prepares(connection):
        with connection.cursor() as cursor:
            literal_sql = cursor.mogrify(sql, params).decode()
    return PageStatement(sql, tuple(params), ordering, cases.db, literal_sql)


_statements = {}
_MAX_STATEMENTS = 500


def cached_statement(key, compile_statement) -> PageStatement:
    """The statement compiled for `key` (what the filtered cases' SQL depends on: the filters asked for
    and whose cases the user sees), compiling it with `compile_statement()` the first time. Nothing
    but SQL text and its parameters is kept: every page is read afresh. At most _MAX_STATEMENTS are
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


def _after(keys, mark, index=0):
    """The rows after the position in the order `keys` ((name, descending) pairs), over the page query's
    key columns, as one condition: key0 > v0, or key0 = v0 and (key1 > v1, or ...), with key0 >= v0
    said first so that an index on key0 bounds the scan. `mark(i)` is the placeholder of the i-th
    key's value."""
    column, beyond, value = f"f.key{index}", "<" if keys[0][1] else ">", mark(index)
    if len(keys) == 1:
        return f"{column} {beyond} {value}"
    rest = _after(keys[1:], mark, index + 1)
    return f"{column} {beyond}= {value} AND ({column} {beyond} {value} OR ({column} = {value} AND {rest}))"


def _seek_in_index(cases_sql, keys, limit, mark):
    """The page after the position, for an ordering an index serves: the rest of the run of cases with
    the position's first key (key0 = v0 and key1 > v1), then those past it (key0 < v0), each read by
    a seek in the index and merged. One condition (_after) would make the database read the run's
    cases before the position too (a few thousand cases may share a priority) and drop them; here no
    case is read that the page does not show. With more keys, one part per key."""
    order = _order_by(keys, "f")
    parts = []
    for index, (_name, descending) in enumerate(keys):
        conditions = [*(f"f.key{before} = {mark(before)}" for before in range(index))]
        conditions.append(f"f.key{index} {'<' if descending else '>'} {mark(index)}")
        parts.append(
            f"SELECT * FROM (SELECT f.* FROM ({cases_sql}) f WHERE {' AND '.join(conditions)} "
            f"ORDER BY {order} LIMIT {limit}) part{index}"
        )
    return f"SELECT f.* FROM ({' UNION ALL '.join(parts)}) f ORDER BY {order} LIMIT {limit}"


def _statement(statement, cases_sql, keys, seek, limit, mark):
    """The page's statement over the filtered cases' SQL: after a position when `seek` (`mark(i)`: the
    placeholder of the i-th key's value), `limit` rows (an int: see _execute_prepared)."""
    limit = int(limit)
    if seek and statement.ordering == INDEXED_ORDERING:
        page = _seek_in_index(cases_sql, keys, limit, mark)
    else:  # from the start; or, where the database sorts the cases anyway, in one pass on one condition
        where = f" WHERE {_after(keys, mark)}" if seek else ""
        page = f"SELECT f.* FROM ({cases_sql}) f{where} ORDER BY {_order_by(keys, 'f')} LIMIT {limit}"
    return f"{_ROW_SELECT.format(page=page)} ORDER BY {_order_by(keys, 'c')}"


def _parameters(statement, keys, after):
    """The parameters of _statement's placeholders in order, where they are `%s`."""
    if after is None:
        return list(statement.params)
    if statement.ordering == INDEXED_ORDERING:  # each part: the filters', then its keys'
        return [value for index in range(len(keys)) for value in (*statement.params, *after[: index + 1])]
    # _after: each key's value three times but the last key's
    return [*statement.params, *(value for value in after[:-1] for _ in range(3)), after[-1]]


# Per database connection, the statements prepared on it: their SQL -> their name.
_prepared = weakref.WeakKeyDictionary()
_MAX_PREPARED = 200


def _execute_prepared(connection, cursor, statement, keys, after, limit):
    """Runs the page's statement as one prepared on this database connection (PREPARE the first time,
    then EXECUTE): PostgreSQL then neither parses nor plans it again (after five runs it keeps a generic
    plan), which was half of its work for a page. The filters' values and the page's size are written
    into the prepared statement (one per filter shape and size, as the statements are cached), so that
    the plan kept fits them; only the position is a parameter. Prepared statements live as long as the
    database session: this needs a connection that keeps its session (PostgreSQL itself, as here, or a
    pooler in session mode)."""
    seek = after is not None
    sql = _statement(statement, statement.literal_sql, keys, seek, limit, lambda i: f"${i + 1}")
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


_converters = {}


def _row_converters(connection):
    """(column, converters, column expression) where the backend needs the ORM's conversions (SQLite
    returns dates, times and decimals as text; PostgreSQL needs none here); found once per backend."""
    if connection.vendor not in _converters:
        found = []
        for index, field in enumerate(_ROW_FIELDS):
            column = field.get_col(field.model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
            if converters:
                found.append((index, converters, column))
        _converters[connection.vendor] = found
    return _converters[connection.vendor]


def _iso_datetime(value, zone):
    """What DRF's DateTimeField writes (ISO 8601 in the current time zone, UTC as "Z"), with the time
    zone looked up once per page rather than once per value."""
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def case_rows(statement, keys, after, limit) -> list[dict]:
    """Up to `limit` rows of the statement's cases in the order `keys` ((name, descending) pairs: the
    statement's ordering, or its reverse to read backwards), after the case whose keys are `after`
    (None: from the start), in CaseSerializer's shape."""
    if statement.sql is None:
        return []
    connection = connections[statement.db]
    with connection.cursor() as cursor:
        if _prepares(connection):
            _execute_prepared(connection, cursor, statement, keys, after, limit)
        else:
            sql = _statement(statement, statement.sql, keys, after is not None, limit, lambda _index: "%s")
            cursor.execute(sql, _parameters(statement, keys, after))
        rows = cursor.fetchall()
    converters = _row_converters(connection)
    if converters:
        rows = [list(row) for row in rows]
        for row in rows:
            for index, functions, column in converters:
                for function in functions:
                    row[index] = function(row[index], column, connection)
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
