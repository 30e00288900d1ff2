"""The few SQL spellings that differ between PostgreSQL and SQLite, for the set-based batch code.
Each returns a SQL fragment; arguments are SQL fragments too (column names or placeholders). And the
batch code's two helpers that run SQL: tune_for_batch and insert_rows."""

from datetime import date

from django.db import connection
from django.utils import timezone


def is_postgres():
    return connection.vendor == "postgresql"


def date_literal(day):
    """A date as a SQL literal. Only real `date` objects are accepted, so nothing else can be
    spliced into the statement."""
    if not isinstance(day, date):
        raise TypeError(f"expected a date, got {day!r}")
    text = f"'{day.isoformat()}'"
    return f"{text}::date" if is_postgres() else text


def int_literal(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an int, got {value!r}")
    return str(value)


def days_between(later, earlier):
    """Whole days from `earlier` to `later` (dates)."""
    if is_postgres():
        return f"({later} - {earlier})"
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


def add_days(day, days):
    if is_postgres():
        return f"({day} + ({days}))"
    return f"date({day}, printf('%+d days', {days}))"


def floor_int(expr):
    """The integer part of a non-negative number."""
    return f"FLOOR({expr})" if is_postgres() else f"CAST({expr} AS INTEGER)"


def greatest(*args):
    return f"{'GREATEST' if is_postgres() else 'MAX'}({', '.join(args)})"


def least(*args):
    return f"{'LEAST' if is_postgres() else 'MIN'}({', '.join(args)})"


def case_by_upper_bound(expr, table, last):
    """CASE over a table of (upper bound, value) pairs, ascending: the first bound `expr` is within."""
    whens = " ".join(f"WHEN {expr} <= {bound} THEN {_literal(value)}" for bound, value in table)
    return f"(CASE {whens} ELSE {_literal(last)} END)"


def case_by_lower_bound(expr, table, otherwise):
    """CASE over (strictly above, value) pairs, descending: the first bound `expr` is above."""
    whens = " ".join(f"WHEN {expr} > {bound} THEN {_literal(value)}" for bound, value in table)
    return f"(CASE {whens} ELSE {_literal(otherwise)} END)"


def _literal(value):
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def tune_for_batch():
    """For the rest of the transaction, on PostgreSQL: no JIT compilation (it takes longer than a
    batch step's statements run) and no parallel workers (a batch spreads over chunks and workers
    instead, and starting them costs more than they save on a chunk)."""
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
            )


def insert_rows(model, rows, *, batch_size=500):
    """Insert `rows` (dicts by field attname: "loan_id", "opened_on") into the model's table, in
    multi-row INSERTs: what bulk_create does, without a model instance and a compiled value per field
    of every row, which cost the daily run more than the database's work when it opens thousands of
    cases. Fields a row leaves out take their default (auto_now fields: now), prepared once; the primary
    key is the database's to give. No save(), no signals: for batch code whose rows need nothing else.
    Every row gives the same fields."""
    if not rows:
        return
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    given = set(rows[0])
    now = timezone.now()
    defaults = {
        field.attname: field.get_db_prep_save(
            now if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False) else field.get_default(),
            connection,
        )
        for field in fields
        if field.attname not in given
    }
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            params = [
                field.get_db_prep_save(row[field.attname], connection)
                if field.attname in given
                else defaults[field.attname]
                for row in batch
                for field in fields
            ]
            values = ", ".join([placeholders] * len(batch))
            cursor.execute(f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES {values}", params)
