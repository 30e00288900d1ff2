"""No value is formatted into SQL text: the product's hand-written statements pass values as
parameters, and compose only SQL fragments (column expressions, quoted identifiers) in Python.

The check reads the product's source: in every string that is SQL, a piece formatted in must not
be a value. A value shows itself by how it is written in: inside quotes ('{day}'), through a
conversion or a format spec ({x!r}, {x:.2f}), or through a call that turns a value into text
(str(), int(), .isoformat(), ...). %-formatting and str.format() on SQL are refused outright."""

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ["core", "config", "borrowers", "loans", "collection", "legal", "webhooks", "bench"]
SQL = re.compile(r"\b(SELECT|UPDATE|INSERT INTO|DELETE FROM|WHERE|JOIN|VALUES|CASE WHEN|BETWEEN|PREPARE|EXECUTE)\b")
TEXT_OF_A_VALUE = {"str", "int", "float", "repr", "format", "isoformat", "strftime", "Decimal"}


def product_files():
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _called_name(node):
    if isinstance(node, ast.Call):
        function = node.func
        return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
    return None


def _a_quoted_value(node):
    """f"'{value}'": a value made into an SQL string literal, to be pasted into a statement later."""
    parts = node.values
    return (
        len(parts) == 3
        and isinstance(parts[1], ast.FormattedValue)
        and all(isinstance(part, ast.Constant) and part.value == "'" for part in (parts[0], parts[2]))
    )


def values_formatted_into_sql(source, filename="<source>"):
    """(line, why) for each value formatted into SQL text in `source`."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.JoinedStr) and _a_quoted_value(node):
            found.append((node.lineno, "a value made a quoted literal"))
        elif isinstance(node, ast.JoinedStr):
            text = "".join(part.value for part in node.values if isinstance(part, ast.Constant))
            if not SQL.search(text):
                continue
            parts = node.values
            for index, part in enumerate(parts):
                if not isinstance(part, ast.FormattedValue):
                    continue
                before = parts[index - 1].value if index and isinstance(parts[index - 1], ast.Constant) else ""
                after = (
                    parts[index + 1].value
                    if index + 1 < len(parts) and isinstance(parts[index + 1], ast.Constant)
                    else ""
                )
                if str(before).endswith("'") and str(after).startswith("'"):
                    found.append((part.lineno, "a value in quotes"))
                elif part.conversion != -1 or part.format_spec is not None:
                    found.append((part.lineno, "a conversion or format spec"))
                elif _called_name(part.value) in TEXT_OF_A_VALUE:
                    found.append((part.lineno, f"{_called_name(part.value)}() of a value"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            if isinstance(node.left, ast.Constant) and isinstance(node.left.value, str) and SQL.search(node.left.value):
                found.append((node.lineno, "%-formatting"))
        elif _called_name(node) == "format" and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Constant) and isinstance(target.value, str) and SQL.search(target.value):
                found.append((node.lineno, "str.format()"))
    return found


@pytest.mark.parametrize(
    "source",
    [
        "cursor.execute(f\"SELECT * FROM loans_loan WHERE due_date < '{day}'\")",
        'cursor.execute(f"SELECT * FROM loans_loan WHERE id BETWEEN {int(low)} AND {high}")',
        'cursor.execute(f"UPDATE loans_loan SET balances_as_of = {day.isoformat()}")',
        'cursor.execute(f"SELECT * FROM t WHERE x = {value!r}")',
        'cursor.execute("SELECT * FROM t WHERE x = %s" % value)',
        'cursor.execute("SELECT * FROM t WHERE x = {}".format(value))',
        'states = ", ".join(f"\'{state}\'" for state in OPEN)',
    ],
)
def test_the_check_finds_a_value_formatted_into_sql(source):
    assert values_formatted_into_sql(source)


def test_the_check_lets_fragments_and_parameters_through():
    source = (
        'cursor.execute(f"UPDATE {table} SET a = {bucket} WHERE id BETWEEN %(lo)s AND %(hi)s", params)\n'
        'cursor.execute(f"SELECT {quote(name)} FROM t WHERE s = ANY({params.add(states)})", params)\n'
    )
    assert values_formatted_into_sql(source) == []


def test_no_value_is_formatted_into_sql_in_the_product():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {why}"
        for path in product_files()
        for line, why in values_formatted_into_sql(path.read_text(), str(path))
    ]
    assert found == []


def test_there_is_one_engine():
    """PostgreSQL only: no SQLite branch, no switch on the database vendor."""
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in product_files()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"sqlite|\.vendor\b", line, re.IGNORECASE)
    ]
    assert found == []
