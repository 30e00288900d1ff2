"""Real Celery worker processes for the tests and benches that must not run tasks in-process."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_worker(queue, name, **environment):
    """A solo-pool worker (one task at a time, in the process itself, so its pid is the one that
    claims rows) consuming only `queue`, with extra environment variables for its settings."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ.get("DJANGO_SETTINGS_MODULE", "config.settings.test")}
    env.update({key: str(value) for key, value in environment.items()})
    command = [
        sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=WARNING",
        "-Q", queue, "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle",
    ]  # fmt: skip
    return subprocess.Popen(command, cwd=ROOT, env=env)


def database_url(connection):
    """The URL of the database a connection uses (a TCP address or a socket folder), for a worker to
    use the same one."""
    db = connection.settings_dict
    if db["HOST"].startswith("/"):
        return f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}"
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
