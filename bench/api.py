"""Requests per second of the filtered case list against a trivial DRF endpoint on the same gunicorn
server. Prints both, their median latencies and the ratio (target >= 0.5).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_daily .venv/bin/python bench/api.py

The database is used as it is (seed it with bench/daily_run.py first); the only write is the superuser
`bench-api` and its API token, created when missing. gunicorn (--workers 2 --threads 1, DEBUG off,
bench.trivial_wsgi: the product's URLs plus `bench/trivial/`) is started on a free port of 127.0.0.1
and stopped at the end. Each endpoint gets a warm-up, then --threads client threads send requests
for --seconds. Every response must be a 200: the others are counted and reported. The throttle is
raised for the server (API_THROTTLE_RATE) so the bench measures the views, not the rate limit; both
endpoints still pass through it."""

import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.migrations.executor import MigrationExecutor  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from collection.models import CollectionCase  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BENCH_USER = "bench-api"
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
    conn.request("GET", path, headers={"Authorization": f"Token {token}", "Accept": "application/json"})
    response = conn.getresponse()
    response.read()
    return response.status, response.getheader("Connection", "")


def load(port, path, token, threads, seconds):
    """Requests per second, median latency (s) and a count of non-200 answers over `seconds`."""
    latencies, statuses, lock = [], {}, threading.Lock()
    start = threading.Barrier(threads + 1)

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)  # reopened when the server closes
        mine, codes = [], {}
        start.wait()
        deadline = time.perf_counter() + seconds
        try:
            while (began := time.perf_counter()) < deadline:
                try:
                    status, _ = request(conn, path, token)
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

    workers = [threading.Thread(target=client, daemon=True) for _ in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    began = time.perf_counter()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - began
    failures = {code: n for code, n in statuses.items() if code != 200}
    return len(latencies) / elapsed, statistics.median(latencies), len(latencies), failures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="timed load per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed load per endpoint first")
    parser.add_argument("--threads", type=int, default=8, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--path", default=CASE_LIST, help="the case-list request")
    args = parser.parse_args()
    ensure_schema()
    token = bench_token()
    cases = CollectionCase.objects.count()
    matching = CollectionCase.objects.filter(state="early_warning").count()
    connection.close()
    port = free_port()
    server = start_server(port, args.workers)
    try:
        wait_ready(server, port, token)
        results = {}
        for name, path in (("case list", args.path), ("trivial", TRIVIAL)):
            load(port, path, token, args.threads, args.warmup)
            results[name] = load(port, path, token, args.threads, args.seconds)
    finally:
        stop_server(server)
    print(f"database          {connection.vendor} {connection.settings_dict['NAME']}")
    print(f"cases             {cases:,} ({matching:,} early warning)")
    print(f"server            gunicorn --workers {args.workers} --threads 1, {args.threads} client threads")
    print(f"case list         {args.path}")
    for name, (rate, median, count, failures) in results.items():
        bad = sum(failures.values())
        detail = f"  {failures}" if failures else ""
        print(
            f"{name:<17} {rate:8.1f} req/s  median {median * 1000:6.1f} ms  ({count:,} requests, {bad} not 200){detail}"
        )
    ratio = results["case list"][0] / results["trivial"][0]
    print(f"ratio             {ratio:8.2f}  (target >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")
    if any(result[3] for result in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
