"""Helpers for the hand-written set-based SQL (the daily run, the book history, the case list).

Values never enter a statement's text: they travel as named parameters. `Params` collects them
while a statement is composed, and hands out the placeholder of each one, so a table of rule
values (aging buckets, class floors) becomes a CASE whose bounds and results are all parameters.
Only SQL fragments (column expressions, table names written in the code) are put into the text."""

from django.db import connection
from django.utils import timezone


class Params(dict):
    """The named parameters of one statement. Give the fixed ones by name and add the rest as the
    text is composed: `p.add(value)` stores the value and returns its placeholder."""

    def add(self, value):
        name = f"p{len(self)}"
        while name in self:
            name += "_"
        self[name] = value
        return f"%({name})s"

    def bound(self, bound):
        """A table's bound: a SQL expression (a column of the product, as text) stays one; a number
        is a parameter."""
        return bound if isinstance(bound, str) else self.add(bound)


def case_by_upper_bound(expr, table, last, params):
    """CASE over a table of (upper bound, value) pairs, ascending: the first bound `expr` is within."""
    whens = " ".join(f"WHEN {expr} <= {params.bound(bound)} THEN {params.add(value)}" for bound, value in table)
    return f"(CASE {whens} ELSE {params.add(last)} END)"


def case_by_lower_bound(expr, table, otherwise, params):
    """CASE over (strictly above, value) pairs, descending: the first bound `expr` is above."""
    whens = " ".join(f"WHEN {expr} > {params.bound(bound)} THEN {params.add(value)}" for bound, value in table)
    return f"(CASE {whens} ELSE {params.add(otherwise)} END)"


def tune_for_batch():
    """For the rest of the transaction: no JIT compilation (it takes longer than a batch step's
    statements run), no parallel workers (a batch spreads over chunks and workers instead, and
    starting them costs more than they save on a chunk), and no web statement timeout (a batch is
    bounded by its task's time limit)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true),"
            " set_config('statement_timeout', '0', true)"
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
