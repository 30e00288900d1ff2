"""The working day under load: collection officers, managers and API clients at once, against gunicorn
with production settings, on the book bench/daily_run.py seeds (1,000,000 loans for the figures in the
README). Prints each request kind's p50, p95 and maximum latency, the errors, and the same again while
a daily run goes through the book.

    createdb -h 127.0.0.1 -U postgres bench_daily
    export DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_daily REDIS_URL=redis://127.0.0.1:6379/0
    .venv/bin/python bench/daily_run.py --loans 1000000 --rounds 1     # the book (about 15 min), once
    .venv/bin/python bench/load.py --seconds 120                       # people, then the two rounds

The first run prepares the book for people to work in, and keeps it (later runs reuse it):

- **teams and people**: 3 teams serving every product, 30 officers (`load-officer-01` ...) in them,
  10 managers (`load-manager-01` ...) and 10 payment gateways (`load-gateway-01` ..., API clients
  holding `loans.add_payment` and `loans.view_loan`, with their tokens); people sign in with the
  password `load-bench`;
- **officers holding cases**: every open case is given to an officer of a team, in turn;
- **history on the cases**: a contact attempt on each of the two days after a case opened (those
  already past), and a promise on every third case (kept, broken or pending by its date);
- **the KPI history**: the year's month ends rebuilt from the ledger, and today's snapshot.

Then gunicorn starts with `config.settings.production` (`config/gunicorn.py`: 2 x cores + 1 workers of
4 threads, DEBUG off, static files collected into var/bench/static), with a Celery worker that
computes the whole book's queue figures every minute (sent as beat sends them), everyone signs in, and the people
work for --seconds, each with
a pause of 5-15 s (--think) between requests, as someone reading a page or on the phone would, and
the gateways 1-3 s between payments (--gateway-think: 10 gateways post about 5 payments a second):

- an officer opens the worklist, one of their cases, logs a call that reached the borrower and a
  promise to pay (each POST answered by a redirect to the case page, which counts as a case page);
- a manager opens the queue overview, the approvals inbox, the KPI page, the whole book's case list
  and a search by borrower name;
- a payment gateway posts a payment of ¥10.00 to a loan in arrears (a new external reference each).

The second round runs the same load while `manage.py run_daily` goes through the book in another
process (for today: the cases' moves are those of a re-run). Targets: p95 under 500 ms for pages and
under 200 ms for a payment post, no errors, and the daily run pushing no p95 beyond twice."""

import argparse
import io
import math
import os
import random
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from bench.embedded import use_private_server_unless_configured

use_private_server_unless_configured("book")

import django  # noqa: E402

django.setup()

import requests  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from bench.api import children, cpu_seconds, free_port, stop_server  # noqa: E402
from collection import snapshots  # noqa: E402
from collection.choices import CaseState, PromiseStatus  # noqa: E402
from collection.models import CollectionCase, PortfolioSnapshot, Team  # noqa: E402
from core import roles  # noqa: E402
from core.dates import business_today  # noqa: E402
from loans.models import LoanProduct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "load-bench"
TEAMS, OFFICERS, MANAGERS, GATEWAYS = 3, 30, 10, 10
OPEN = [state.value for state in CaseState.open_states()]
PAGES = ("worklist", "case page", "queue", "approvals", "KPIs", "case list (book)", "search")


# --- The book made ready for people -----------------------------------------------------------------


def people():
    """The teams and users (created when missing); returns the officers', managers' and gateways' names."""
    User = get_user_model()
    groups = {name: Group.objects.get_or_create(name=name)[0] for name in (roles.OFFICER, roles.MANAGER)}
    products = list(LoanProduct.objects.all())
    officers = [f"load-officer-{n:02d}" for n in range(1, OFFICERS + 1)]
    managers = [f"load-manager-{n:02d}" for n in range(1, MANAGERS + 1)]
    gateways = [f"load-gateway-{n:02d}" for n in range(1, GATEWAYS + 1)]
    for names, group in ((officers, groups[roles.OFFICER]), (managers, groups[roles.MANAGER])):
        for name in names:
            user, created = User.objects.get_or_create(username=name)
            if created:
                user.set_password(PASSWORD)
                user.save()
                user.groups.add(group)
    for number in range(TEAMS):
        team, _ = Team.objects.get_or_create(name=f"Load team {number + 1}")
        team.products.set(products)
        team.members.set(User.objects.filter(username__in=officers[number::TEAMS]))
    tokens = []
    for name in gateways:
        out = io.StringIO()
        call_command("create_api_client", name, "--perm", "loans.add_payment", "--perm", "loans.view_loan", stdout=out)
        tokens.append(out.getvalue().strip())
    return officers, managers, tokens


def hand_out_cases(officers):
    """Every open case to an officer of a team, in turn (skipped when the officers already hold cases)."""
    User = get_user_model()
    ids = dict(User.objects.filter(username__in=officers).values_list("username", "pk"))
    if CollectionCase.objects.filter(officer_id__in=ids.values(), state__in=OPEN).exists():
        return 0
    team_of = {
        user: team
        for team, user in Team.members.through.objects.filter(user_id__in=ids.values()).values_list(
            "team_id", "user_id"
        )
    }
    pairs = [(number, ids[name], team_of[ids[name]]) for number, name in enumerate(officers)]
    values = ", ".join("(%s, %s, %s)" for _ in pairs)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE collection_collectioncase c SET officer_id = o.officer, team_id = o.team
            FROM (SELECT id, (row_number() OVER (ORDER BY id)) %% %s AS k
                  FROM collection_collectioncase WHERE state = ANY(%s)) x
            JOIN (VALUES {values}) o(k, officer, team) ON o.k = x.k
            WHERE c.id = x.id""",
            [len(pairs), OPEN, *[value for pair in pairs for value in pair]],
        )
        return cursor.rowcount


def case_history():
    """Two contact attempts on every open case and a promise on every third (skipped when there are some)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT EXISTS (SELECT 1 FROM collection_contactattempt)")
        if cursor.fetchone()[0]:
            return 0
        today = business_today()
        with transaction.atomic():
            cursor.execute(
                """
                INSERT INTO collection_contactattempt (created_at, updated_at, case_id, channel, direction, party,
                    contact_point_id, attempted_at, by_id, outcome, note, recording_reference)
                SELECT now(), now(), c.id, 'call', 'outbound', 'borrower', NULL,
                       ((c.opened_on + n)::timestamp + interval '10 hours' + (c.id %% 300) * interval '1 minute')
                           AT TIME ZONE 'Asia/Shanghai',
                       c.officer_id, CASE WHEN n = 1 THEN 'no_answer' ELSE 'reached' END, '', ''
                FROM collection_collectioncase c CROSS JOIN (VALUES (1), (2)) d(n)
                WHERE c.state = ANY(%s) AND c.opened_on + n <= %s""",
                [OPEN, today],
            )
            contacts = cursor.rowcount
            cursor.execute(
                """
                INSERT INTO collection_promisetopay (created_at, updated_at, case_id, amount, promised_for,
                    status, paid_amount, judged_on, recorded_by_id, note)
                SELECT now(), now(), c.id, 500, c.opened_on + 7 + (c.id %% 14)::int,
                       CASE WHEN c.opened_on + 7 + (c.id %% 14)::int >= %s THEN %s
                            WHEN c.id %% 2 = 0 THEN %s ELSE %s END,
                       CASE WHEN c.opened_on + 7 + (c.id %% 14)::int < %s AND c.id %% 2 = 0 THEN 500 ELSE 0 END,
                       CASE WHEN c.opened_on + 7 + (c.id %% 14)::int < %s THEN c.opened_on + 8 + (c.id %% 14)::int END,
                       c.officer_id, ''
                FROM collection_collectioncase c WHERE c.state = ANY(%s) AND c.id %% 3 = 0""",
                [today, PromiseStatus.PENDING, PromiseStatus.KEPT, PromiseStatus.BROKEN, today, today, OPEN],
            )
        return contacts + cursor.rowcount


def prepare():
    started = time.perf_counter()
    officers, managers, gateways = people()
    handed = hand_out_cases(officers)
    history = case_history()
    today = business_today()
    rebuilt = snapshots.snapshots_rebuild(snapshots.month_ends_before(today, 13))
    if rebuilt or not PortfolioSnapshot.objects.filter(as_of=today).exists():
        snapshots.snapshot_write(today)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) collection_collectioncase, collection_contactattempt, collection_promisetopay")
        # A book just loaded by seed_demo has no statistics yet (autovacuum gets to a million-row table
        # in its own time): the planner would guess, and the rounds would measure the guesses. A book
        # that has lived has them.
        cursor.execute(
            "SELECT count(*) FROM pg_stat_user_tables WHERE relname LIKE 'loans\\_%%' "
            "AND last_analyze IS NULL AND last_autoanalyze IS NULL AND n_live_tup > 0"
        )
        if cursor.fetchone()[0]:
            cursor.execute("VACUUM (ANALYZE)")
    print(
        f"prepared in {time.perf_counter() - started:.1f} s: {handed:,} cases handed out, {history:,} contacts and "
        f"promises added, {len(rebuilt)} month ends rebuilt"
    )
    return officers, managers, gateways


def work_for(officers):
    """Each officer's open cases (up to 2,000) and each gateway's loans in arrears to pay into."""
    User = get_user_model()
    ids = dict(User.objects.filter(username__in=officers).values_list("pk", "username"))
    cases = defaultdict(list)
    for officer_id, case_id in (
        CollectionCase.objects.filter(officer_id__in=ids, state__in=[CaseState.MINOR, CaseState.EARLY_WARNING])
        .order_by("officer_id", "-priority_score")
        .values_list("officer_id", "id")
    ):
        if len(cases[ids[officer_id]]) < 2000:
            cases[ids[officer_id]].append(case_id)
    loans = list(
        CollectionCase.objects.filter(state__in=OPEN).order_by("?").values_list("loan__external_id", flat=True)[:2000]
    )
    names = list(CollectionCase.objects.filter(state__in=OPEN).values_list("loan__borrower__name", flat=True)[:500])
    return cases, loans, [name[:2] for name in names]


# --- The server -----------------------------------------------------------------------------------------


def production_env():
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "load-bench-" + "x" * 50,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_HTTPS": "false",
        "DJANGO_STATIC_ROOT": str(ROOT / "var" / "bench" / "static"),
        "API_THROTTLE_RATE": "100000000/minute",
    }


def start_worker():
    """A Celery worker with production settings, on the broker REDIS_URL names: it runs the minute's
    refresh of the whole book's figures, as in production."""
    command = [str(ROOT / ".venv" / "bin" / "celery"), "-A", "config", "worker", "--pool", "solo", "-l", "warning"]
    return subprocess.Popen(command, env=production_env(), cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)


def every_minute_as_beat_would(stop: threading.Event):
    """Sends collection.tasks.refresh_book_figures each minute with beat's options (the schedule's
    other entries, reminders and the nightly run, stay out of the rounds)."""
    from django.conf import settings

    from collection.tasks import refresh_book_figures

    options = settings.CELERY_BEAT_SCHEDULE["book-figures"]["options"]
    while not stop.is_set():
        refresh_book_figures.apply_async(**options)
        stop.wait(60)


def start_server(port):
    env = production_env()
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v0"], env=env, cwd=ROOT, check=True)
    command = [
        str(ROOT / ".venv" / "bin" / "gunicorn"),
        "-c",
        "config/gunicorn.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "config.wsgi",
    ]
    return subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL)


def wait_ready(server, base, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if requests.get(base + "/accounts/login/", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise SystemExit("gunicorn did not answer in time")


# --- The people -----------------------------------------------------------------------------------------

CSRF = re.compile(rb'name="csrfmiddlewaretoken" value="([^"]+)"')


class Recorder:
    def __init__(self):
        self.samples, self.errors, self.lock = defaultdict(list), defaultdict(int), threading.Lock()

    def timed(self, kind, send, url, ok=(200,), **options):
        """`send(url, **options)` (a session's get or post) timed and its status checked against `ok`."""
        began = time.perf_counter()
        try:
            response = send(url, timeout=60, **options)
            status = response.status_code
        except requests.RequestException as error:
            response, status = None, type(error).__name__
        elapsed = time.perf_counter() - began
        with self.lock:
            self.samples[kind].append(elapsed)
            if status not in ok:
                self.errors[(kind, status)] += 1
        return response


def sign_in(base, username):
    session = requests.Session()
    page = session.get(base + "/accounts/login/", timeout=30)
    token = CSRF.search(page.content).group(1).decode()
    answer = session.post(
        base + "/accounts/login/",
        data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token},
        allow_redirects=False,
        timeout=30,
    )
    if answer.status_code != 302:
        raise SystemExit(f"{username} could not sign in: {answer.status_code}")
    return session


def officer(base, session, cases, record, until, think):
    # Each case once, in a random order: a borrower is called at most 3 times a day (the product
    # refuses a fourth), and an officer works through their list rather than ringing one number again.
    queue = random.sample(cases, len(cases))
    think()
    while time.monotonic() < until and queue:
        record.timed("worklist", session.get, base + "/cases/")
        think()
        case = queue.pop()
        page = record.timed("case page", session.get, f"{base}/cases/{case}/")
        think()
        match = page is not None and CSRF.search(page.content)
        if not match:
            continue
        token = match.group(1).decode()
        moment = timezone.localtime().replace(hour=10, minute=random.randrange(60), second=0, microsecond=0)
        if moment > timezone.localtime():
            moment -= timedelta(days=1)  # before 10:00 the call was yesterday's
        contact = {
            "csrfmiddlewaretoken": token,
            "contact-channel": "call",
            "contact-direction": "outbound",
            "contact-party": "borrower",
            "contact-outcome": "reached",
            "contact-attempted_at": moment.strftime("%Y-%m-%dT%H:%M"),
            "contact-note": "load bench",
        }
        post = f"{base}/cases/{case}/contact/"
        record.timed("log contact", session.post, post, data=contact, allow_redirects=False, ok=(302,))
        record.timed("case page", session.get, f"{base}/cases/{case}/")
        think()
        promise = {
            "csrfmiddlewaretoken": token,
            "promise-amount": "300.00",
            "promise-promised_for": (business_today() + timedelta(days=3)).isoformat(),
        }
        post = f"{base}/cases/{case}/promise/"
        record.timed("log promise", session.post, post, data=promise, allow_redirects=False, ok=(302,))
        record.timed("case page", session.get, f"{base}/cases/{case}/")
        think()


def manager(base, session, searches, record, until, think):
    think()
    pages = [
        ("queue", "/manager/queue/"),
        ("approvals", "/manager/approvals/"),
        ("KPIs", "/manager/kpis/"),
        ("case list (book)", "/cases/"),
    ]
    while time.monotonic() < until:
        for kind, path in pages:
            record.timed(kind, session.get, base + path)
            think()
        text = random.choice(searches)
        record.timed("search", session.get, base + "/cases/", params={"q": text})
        think()


def gateway(base, session, loans, record, until, think):
    think()
    headers = {"Authorization": f"Token {session.token}"}
    while time.monotonic() < until:
        body = {
            "loan": random.choice(loans),
            "amount": "10.00",
            "channel": "bank_transfer",
            "external_reference": f"LOAD-{uuid.uuid4().hex}",
        }
        post = base + "/api/v1/payments/"
        record.timed("payment post", session.post, post, json=body, headers=headers, ok=(201,))
        think()


# --- Rounds ---------------------------------------------------------------------------------------------


def machine_cpu_seconds():
    """CPU seconds every process on the machine has spent (user, nice, system), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(value) for value in fields[:3]) / os.sysconf("SC_CLK_TCK")


def run_round(base, crowd, seconds, server):
    """Everyone at once for `seconds`; returns the recorder, with the CPU seconds the web workers,
    this client and everything else on the machine (PostgreSQL, mostly) spent (`record.cpu`)."""
    record = Recorder()

    until = time.monotonic() + seconds
    threads = [
        threading.Thread(target=work, args=(base, who, what, record, until, pause(think)), daemon=True)
        for work, who, what, think in crowd
    ]
    for thread in threads:
        thread.start()
    workers = children(server.pid)
    counted = sum(len(values) for values in record.samples.values())
    before = cpu_seconds(workers), time.process_time(), machine_cpu_seconds(), time.monotonic()
    for thread in threads:
        thread.join()
    after = cpu_seconds(workers), time.process_time(), machine_cpu_seconds(), time.monotonic()
    web, client, machine, elapsed = (end - start for start, end in zip(before, after, strict=True))
    requests_ = sum(len(values) for values in record.samples.values()) - counted
    record.cpu = {
        "web": web / requests_,
        "client": client / requests_,
        "rest": (machine - web - client) / requests_,
        "busy": machine / elapsed / os.cpu_count(),
    }
    return record


def pause(think_range):
    """The person's pause between requests; the first, before anything, is anywhere up to the longest,
    so that people start as they would, one after another, not all in the same second."""
    low, high = think_range
    first = [True]

    def think():
        time.sleep(random.uniform(0 if first[0] else low, high))
        first[0] = False

    return think


def p95(values):
    """The 95th percentile by nearest rank: a latency some request really had."""
    ordered = sorted(values)
    return ordered[max(math.ceil(len(ordered) * 0.95) - 1, 0)]


def report(title, record, seconds):
    total = sum(len(v) for v in record.samples.values())
    print(f"\n{title}: {total:,} requests in {seconds:.0f} s ({total / seconds:.1f}/s)")
    print(f"  {'request':<18} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    figures = {}
    for kind in (*PAGES, "log contact", "log promise", "payment post"):
        values = record.samples.get(kind)
        if not values:
            continue
        figures[kind] = p95(values)
        print(
            f"  {kind:<18} {len(values):>6} {statistics.median(values) * 1000:>8.0f} {figures[kind] * 1000:>8.0f} "
            f"{max(values) * 1000:>8.0f}"
        )
    pages = [value for kind in PAGES for value in record.samples.get(kind, [])]
    if pages:
        figures["all pages"] = p95(pages)
        median = statistics.median(pages) * 1000
        print(f"  {'all pages':<18} {len(pages):>6} {median:>8.0f} {figures['all pages'] * 1000:>8.0f}")
    errors = dict(record.errors)
    print(f"  errors: {errors or 'none'}")
    cpu = record.cpu
    print(
        f"  CPU a request: web workers {cpu['web'] * 1000:.1f} ms, PostgreSQL and the rest of the machine "
        f"{cpu['rest'] * 1000:.1f} ms, this client {cpu['client'] * 1000:.1f} ms; the cores {cpu['busy']:.0%} busy"
    )
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120, help="length of each round")
    parser.add_argument(
        "--think", default="5-15", help="an officer's or manager's pause between requests, s (low-high)"
    )
    parser.add_argument("--gateway-think", default="1-3", help="a payment gateway's pause between posts, s (low-high)")
    parser.add_argument("--no-daily-run", action="store_true", help="skip the round with the daily run")
    args = parser.parse_args()
    think = tuple(float(part) for part in args.think.split("-"))
    gateway_think = tuple(float(part) for part in args.gateway_think.split("-"))

    officers, managers, tokens = prepare()
    cases, loans, searches = work_for(officers)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    connection.close()
    server, worker, stop_beat = start_server(port), start_worker(), threading.Event()
    threading.Thread(target=every_minute_as_beat_would, args=(stop_beat,), daemon=True).start()
    try:
        wait_ready(server, base)
        # Everyone signs in before the rounds: a password check costs a third of a second of CPU
        # (PBKDF2), and fifty at once are a morning's, not a working minute's.
        with ThreadPoolExecutor(8) as pool:
            people = list(pool.map(lambda name: sign_in(base, name), [*officers, *managers]))
        sessions = dict(zip([*officers, *managers], people, strict=True))
        crowd = [(officer, sessions[name], cases[name], think) for name in officers if cases[name]]
        crowd += [(manager, sessions[name], searches, think) for name in managers]
        for token in tokens:
            session = requests.Session()
            session.token = token
            crowd.append((gateway, session, loans, gateway_think))
        print(
            f"{len(crowd)} people: {len(officers)} officers, {len(managers)} managers, {len(tokens)} payment gateways"
        )
        quiet = report("Working day", run_round(base, crowd, args.seconds, server), args.seconds)
        if args.no_daily_run:
            return
        started = time.perf_counter()
        run = subprocess.Popen(
            [sys.executable, "manage.py", "run_daily"], env=production_env(), cwd=ROOT, stdout=subprocess.DEVNULL
        )
        busy = report("Working day with the daily run", run_round(base, crowd, args.seconds, server), args.seconds)
        run.wait()
        print(f"  the daily run took {time.perf_counter() - started:.1f} s (exit {run.returncode})")
        print("\np95 with the daily run / without:")
        for kind, value in busy.items():
            if kind in quiet:
                print(f"  {kind:<18} {value / quiet[kind]:.2f}x")
    finally:
        stop_beat.set()
        stop_server(server)
        stop_server(worker)


if __name__ == "__main__":
    main()
