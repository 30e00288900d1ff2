"""Requests per second of the filtered case list against a trivial DRF endpoint on the same gunicorn
server. Prints both, their median latencies and the ratio (target >= 0.5).

    .venv/bin/python bench/daily_run.py --loans 100000 && .venv/bin/python bench/api.py --client   # private server
    createdb -h 127.0.0.1 -U postgres bench_api
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/daily_run.py --loans 100000
    export REDIS_URL=redis://127.0.0.1:6379/0   # the cache every worker shares, as in production
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api .venv/bin/python bench/api.py --cases 1000000 --client

The database is used as it is (seed it with bench/daily_run.py first), except that --cases N first
grows it to N cases with synthetic copies of its open cases and their loans (bench/api_seed.py says
exactly what they are; about 100 s for a million), and that the superuser `bench-api` and its API
token are created when missing. gunicorn (--workers 2 --threads 1, DEBUG off, bench.trivial_wsgi: the
product's URLs plus `bench/trivial/`) is started on a free port of 127.0.0.1 and stopped at the end.
Each endpoint gets a warm-up, then --threads client threads send requests for --seconds. Every
response must be a 200: the others are counted and reported. The throttle is raised for the server
(API_THROTTLE_RATE) so the bench measures the views, not the rate limit; both endpoints still pass
through it.

The list pages by cursor, so each client thread reads it as a client would: it follows the `next`
link of each page it gets and starts again at the first page at the end of the list (--first-page
asks for the first page every time). Each thread reads hundreds of pages a round, so most requests
are for pages deep in the list, many starting inside a run of cases with the same priority.

The bench's user is a superuser: it sees the whole book, and its permissions take no query.
--client requests as `bench-api-client` instead, an API client (`manage.py create_api_client`) holding
only `collection.view_collectioncase`, as an external system would: the list then reads its role and
permissions too (the trivial endpoint asks only that the user be signed in).

Before measuring, the tables the list reads are vacuumed and analysed (--no-vacuum skips it): the
daily run rewrites most cases and loans, and where autovacuum is off or has not caught up yet, the
list would be measured over dead rows and stale statistics rather than over the portfolio (and its
pages' ids could not be read from the index alone).

The machine is shared, so besides requests per second the bench reports the server's CPU time per
request: the gunicorn workers' and their PostgreSQL backends' (read from /proc, so only when the
database runs on this machine). Other processes slow both endpoints' rates unevenly; they change the
CPU a request takes much less."""

import argparse
import http.client
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from bench.embedded import use_private_server_unless_configured

use_private_server_unless_configured("book")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.api_seed import PREFIX as SYNTHETIC_PREFIX  # noqa: E402
from bench.api_seed import add_synthetic_cases  # noqa: E402
from collection.models import CollectionCase  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH_USER = "bench-api"
CLIENT_USER = "bench-api-client"
CASE_LIST = "/api/v1/cases/?state=early_warning&page_size=50"
TRIVIAL = "/bench/trivial/"
NEEDED_APPS = {"auth", "contenttypes", "authtoken", "core", "borrowers", "loans", "collection"}


def unapplied_apps():
    executor = MigrationExecutor(connection)
    return {migration.app_label for migration, _ in executor.migration_plan(executor.loader.graph.leaf_nodes())}


def ensure_schema():
    """The token table is the one thing the bench adds (a seeded database may predate it). The apps the
    case list reads must be migrated (seed with bench/daily_run.py); other apps' missing migrations are
    only reported, since the bench leaves the database otherwise as it is."""
    if "authtoken" in unapplied_apps():
        call_command("migrate", "authtoken", verbosity=0)
        print("applied the authtoken migrations (the token table was missing)")
    missing = unapplied_apps()
    if missing & NEEDED_APPS:
        raise SystemExit(f"unapplied migrations for {', '.join(sorted(missing))}: run bench/daily_run.py first")
    if missing:
        print(f"note: unapplied migrations for {', '.join(sorted(missing))} (not used by the bench)")


def client_token():
    """The token of `bench-api-client`, an API client holding only the case list's permission, as
    `manage.py create_api_client` makes one (run each time: it sets exactly that permission)."""
    out = io.StringIO()
    call_command("create_api_client", CLIENT_USER, "--perm", "collection.view_collectioncase", stdout=out)
    return out.getvalue().strip()


def bench_token():
    """The token of the superuser `bench-api`, created with the user when missing."""
    user, created = get_user_model().objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return Token.objects.get_or_create(user=user)[0].key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port, workers):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"],
        "DJANGO_DEBUG": "false",
        "API_THROTTLE_RATE": "100000000/minute",
    }
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "bench.trivial_wsgi:application",
        "--chdir", str(ROOT),
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers),
        "--threads", "1",
        "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)


def wait_ready(server, port, token, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            status, _ = request(http.client.HTTPConnection("127.0.0.1", port, timeout=5), TRIVIAL, token)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


def stop_server(server):
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def request(conn, path, token):
    status, connection_header, _body = request_body(conn, path, token)
    return status, connection_header


def request_body(conn, path, token):
    conn.request("GET", path, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    response = conn.getresponse()
    body = response.read()
    return response.status, response.getheader("Connection", ""), body


def next_path(body):
    """The path and query of the page's `next` link (the body starts with it), None at the end. Read
    off the start of the body rather than by parsing it all: the client shares the server's CPUs."""
    if not body.startswith(b'{"next":"'):
        return None
    return urlsplit(body[9 : body.index(b'"', 9)].decode())._replace(scheme="", netloc="").geturl()


def children(pid):
    """The ids of the processes whose parent is `pid` (gunicorn's workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return found


def database_backends():
    """The PostgreSQL backends serving the bench's database, other than this process's own; [] when
    the server is not on this machine (their CPU time cannot be read)."""
    host = connection.settings_dict["HOST"]
    if host not in ("", "localhost", "127.0.0.1") and not host.startswith("/"):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        pids = [pid for (pid,) in cursor.fetchall()]
    connection.close()
    return pids


def cpu_seconds(pids):
    """User and system CPU time of these processes so far (those that have exited count as 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load(port, path, token, threads, seconds, workers=(), backends=(), follow=False):
    """Requests per second, median latency (s), the number of requests, a count of non-200 answers,
    and the server's CPU seconds per request: the workers' and the database backends'. With `follow`,
    each client follows the pages' `next` links from `path` (and starts over at the end)."""
    latencies, statuses, lock = [], {}, threading.Lock()
    start = threading.Barrier(threads + 1)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # reopened when the server closes
        mine, codes, page = [], {}, path
        start.wait()
        deadline = time.perf_counter() + seconds
        try:
            while (began := time.perf_counter()) < deadline:
                try:
                    status, _, body = request_body(conn, page, token)
                    if follow:
                        page = (next_path(body) if status == 200 else None) or path
                except (OSError, http.client.HTTPException):
                    conn.close()
                    status = "error"
                mine.append(time.perf_counter() - began)
                codes[status] = codes.get(status, 0) + 1
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)
                for code, n in codes.items():
                    statuses[code] = statuses.get(code, 0) + n

    clients = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for thread in clients:
        thread.start()
    cpu_before = cpu_seconds(workers), cpu_seconds(backends)
    start.wait()
    began = time.perf_counter()
    for thread in clients:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu_after = cpu_seconds(workers), cpu_seconds(backends)
    cpu = [(after - before) / len(latencies) for before, after in zip(cpu_before, cpu_after, strict=True)]
    failures = {code: n for code, n in statuses.items() if code != 200}
    return len(latencies) / elapsed, statistics.median(latencies), len(latencies), failures, cpu


def vacuum():
    """VACUUM ANALYZE the tables the case list and the token lookup read."""
    from borrowers.models import Borrower
    from collection.models import Team
    from loans.models import Loan, LoanProduct

    models = (CollectionCase, Loan, Borrower, LoanProduct, Team, get_user_model(), Token)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM (ANALYZE) {', '.join(model._meta.db_table for model in models)}")
    print(f"vacuum analyze    {time.perf_counter() - started:8.1f} s")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed load per endpoint and round")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed load per endpoint first")
    parser.add_argument("--rounds", type=int, default=1, help="the two endpoints take turns this many times")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--path", default=CASE_LIST, help="the case list's first page")
    parser.add_argument("--first-page", action="store_true", help="ask for the first page every time")
    parser.add_argument("--cases", type=int, help="first grow the book to this many cases (bench/api_seed.py)")
    parser.add_argument("--no-vacuum", action="store_true", help="measure the tables as they are")
    parser.add_argument(
        "--client", action="store_true", help="request as an API client holding only the list's permission"
    )
    args = parser.parse_args()
    ensure_schema()
    if args.cases:
        add_synthetic_cases(args.cases)
    token = client_token() if args.client else bench_token()
    if not args.no_vacuum:
        vacuum()
    cases = CollectionCase.objects.count()
    matching = CollectionCase.objects.filter(state="early_warning").count()
    synthetic = CollectionCase.objects.filter(loan__external_id__startswith=SYNTHETIC_PREFIX).count()
    connection.close()
    port = free_port()
    server = start_server(port, args.workers)
    endpoints = {"case list": args.path, "trivial": TRIVIAL}
    runs = {name: [] for name in endpoints}
    try:
        wait_ready(server, port, token)
        follow = {"case list": not args.first_page, "trivial": False}
        for name, path in endpoints.items():
            load(port, path, token, args.threads, args.warmup, follow=follow[name])
        workers, backends = children(server.pid), database_backends()
        for _round in range(args.rounds):
            for name, path in endpoints.items():
                runs[name].append(
                    load(port, path, token, args.threads, args.seconds, workers, backends, follow=follow[name])
                )
    finally:
        stop_server(server)
    print(f"database          {connection.settings_dict['NAME']} on {connection.settings_dict['HOST'] or 'localhost'}")
    print(f"cases             {cases:,} ({matching:,} early warning; {synthetic:,} synthetic, bench/api_seed.py)")
    print(f"server            gunicorn --workers {args.workers} --threads 1, {args.threads} client threads")
    print(f"user              {CLIENT_USER + ' (API client)' if args.client else BENCH_USER + ' (superuser)'}")
    print(f"case list         {args.path}{'' if args.first_page else ', each client following `next`'}")
    rates, cpu = {}, {}
    for name, results in runs.items():
        count = sum(result[2] for result in results)
        rates[name] = statistics.median(result[0] for result in results)
        median = statistics.median(result[1] for result in results)
        failures = {}
        for result in results:
            for code, n in result[3].items():
                failures[code] = failures.get(code, 0) + n
        python, database = (statistics.median(result[4][i] for result in results) for i in (0, 1))
        cpu[name] = python + database
        detail = f"  {failures}" if failures else ""
        print(
            f"{name:<17} {rates[name]:8.1f} req/s  median {median * 1000:6.1f} ms  ({count:,} requests, "
            f"{sum(failures.values())} not 200){detail}"
        )
        print(
            f"{'':<17} server CPU {cpu[name] * 1000:5.2f} ms a request "
            f"(gunicorn {python * 1000:.2f}, PostgreSQL {database * 1000:.2f})"
        )
    ratio = rates["case list"] / rates["trivial"]
    print(f"ratio             {ratio:8.2f}  (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    if cpu["case list"]:
        ratio = cpu["trivial"] / cpu["case list"]
        print(f"ratio by CPU      {ratio:8.2f}  (server CPU of a trivial request / of a list request)")
    if any(result[3] for results in runs.values() for result in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
