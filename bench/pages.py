"""Server time and queries of each page for one person on the seeded book: the view, middleware and
template in this process (Django's test client, DEBUG off), no network. Prints, per page, the median
and best of --rounds requests and the queries one request runs.

    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_daily
    .venv/bin/python bench/load.py --seconds 1 --no-daily-run     # once: people and cases
    .venv/bin/python bench/pages.py --rounds 10

Production settings (DEBUG off, static files collected into var/bench/static). The officer is
`load-officer-01` and the manager `load-manager-01` of bench/load.py. --queries N lists each page's
slowest statements; py-spy shows where the rest goes:
`py-spy record -o profile.svg -- .venv/bin/python bench/pages.py --only worklist --rounds 50`."""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# Production settings, as bench/load.py's gunicorn runs them (static files collected there).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
os.environ.setdefault("DJANGO_SECRET_KEY", "load-bench-" + "x" * 50)
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")
os.environ.setdefault("DJANGO_HTTPS", "false")
os.environ.setdefault("DJANGO_STATIC_ROOT", str(ROOT / "var" / "bench" / "static"))

from bench.embedded import use_private_server_unless_configured  # noqa: E402

use_private_server_unless_configured("book")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402

from collection.models import CollectionCase  # noqa: E402

OFFICER, MANAGER = "load-officer-01", "load-manager-01"


def pages():
    case = CollectionCase.objects.filter(officer__username=OFFICER).order_by("-priority_score").first()
    name = case.loan.borrower.name[:2]
    return [
        ("worklist", OFFICER, "/cases/"),
        ("case page", OFFICER, f"/cases/{case.pk}/"),
        ("queue", MANAGER, "/manager/queue/"),
        ("approvals", MANAGER, "/manager/approvals/"),
        ("KPIs", MANAGER, "/manager/kpis/"),
        ("case list (book)", MANAGER, "/cases/"),
        ("search by name", MANAGER, f"/cases/?q={name}"),
        ("search by phone end", MANAGER, f"/cases/?q={case.loan.borrower.phone[-4:]}"),
        ("API loan list", MANAGER, "/api/v1/loans/"),
        ("API case list", MANAGER, "/api/v1/cases/"),
    ]


class QueryTimer:
    """Counts and times the statements a request runs."""

    def __init__(self):
        self.count, self.seconds, self.statements = 0, 0.0, []

    def __call__(self, execute, sql, params, many, context):
        began = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.perf_counter() - began
            self.count, self.seconds = self.count + 1, self.seconds + elapsed
            self.statements.append((elapsed, " ".join(sql.split())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--only", help="one page's name")
    parser.add_argument("--queries", type=int, default=0, help="list each page's N slowest statements")
    args = parser.parse_args()
    call_command("collectstatic", "--noinput", verbosity=0)
    setup_test_environment()
    clients = {}
    for who in (OFFICER, MANAGER):
        clients[who] = Client()
        clients[who].force_login(django.contrib.auth.get_user_model().objects.get(username=who))
    print(f"{'page':<22} {'median ms':>10} {'best ms':>8} {'SQL ms':>8} {'queries':>8}")
    for name, who, path in pages():
        if args.only and name != args.only:
            continue
        client, times = clients[who], []
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        for _ in range(args.rounds):
            timer = QueryTimer()
            began = time.perf_counter()
            with connection.execute_wrapper(timer):
                client.get(path)
            times.append((time.perf_counter() - began, timer.seconds, timer.count))
        total, database, queries = sorted(times)[len(times) // 2]
        print(f"{name:<22} {total * 1000:>10.1f} {min(times)[0] * 1000:>8.1f} {database * 1000:>8.1f} {queries:>8}")
        if args.queries:
            for seconds, text in sorted(timer.statements, reverse=True)[: args.queries]:
                print(f"    {seconds * 1000:7.1f} ms  {text[:150]}")


if __name__ == "__main__":
    main()
