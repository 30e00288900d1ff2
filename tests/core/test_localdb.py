"""The private PostgreSQL server of the embedded defaults (core/localdb.py), started for real: a
command runs against it with DATABASE_URL set, a kept cluster keeps its data between runs, a
throwaway one is deleted, and the server stops when the command ends."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import os, sys, psycopg2
url = os.environ["DATABASE_URL"]
connection = psycopg2.connect(url)
connection.autocommit = True
cursor = connection.cursor()
cursor.execute("SELECT current_database(), current_setting('fsync'), current_setting('listen_addresses')")
print(url, *cursor.fetchone(), sep="|")
cursor.execute("CREATE TABLE IF NOT EXISTS visits (n int)")
cursor.execute("INSERT INTO visits VALUES (1)")
cursor.execute("SELECT count(*) FROM visits")
print("visits", cursor.fetchone()[0])
sys.exit(int(os.environ.get("PROBE_EXIT", "0")))
"""


def localdb(*args, env=None):
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "core.localdb", *args], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def running_servers(folder):
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if str(folder) in line and "postgres" in line]


def test_a_kept_cluster_keeps_its_data_and_stops_with_the_command(tmp_path):
    data = tmp_path / "pg"
    first = localdb("--data", str(data), "--", sys.executable, "-c", PROBE)
    assert first.returncode == 0, first.stderr
    url, database, fsync, listen = first.stdout.splitlines()[-2].split("|")
    assert url.startswith("postgresql://") and f"host={data}" in url
    assert (database, fsync, listen) == ("huishou", "on", "")  # durable; a socket, no TCP port
    assert first.stdout.splitlines()[-1] == "visits 1"
    assert not (data / "postmaster.pid").exists()
    assert running_servers(data) == []

    second = localdb("--data", str(data), "--", sys.executable, "-c", PROBE)
    assert second.stdout.splitlines()[-1] == "visits 2"


def test_a_throwaway_cluster_is_fast_and_deleted_and_the_exit_status_passes_through(tmp_path):
    result = localdb("--throwaway", "--", sys.executable, "-c", PROBE, env={"PROBE_EXIT": "3"})
    assert result.returncode == 3, result.stderr
    url, _database, fsync, _listen = result.stdout.splitlines()[-2].split("|")
    assert fsync == "off"
    folder = Path(url.partition("host=")[2])
    assert not folder.exists()
    assert running_servers(folder) == []


def test_with_database_url_set_the_command_runs_as_it_is():
    result = localdb(
        "--",
        sys.executable,
        "-c",
        "import os; print(os.environ['DATABASE_URL'])",
        env={"DATABASE_URL": "postgres://x/y"},
    )
    assert result.stdout.strip() == "postgres://x/y"


def test_a_termination_reaches_the_command_and_the_server_stops(tmp_path):
    data, started = tmp_path / "pg", tmp_path / "started"
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    command = f"import pathlib, time; pathlib.Path({str(started)!r}).touch(); time.sleep(60)"
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "core.localdb", "--data", str(data), "--", sys.executable, "-c", command],
        cwd=ROOT,
        env=environment,
    )
    for _ in range(300):
        if started.exists():
            break
        time.sleep(0.1)
    assert started.exists()
    wrapper.send_signal(signal.SIGTERM)
    assert wrapper.wait(timeout=30) != 0  # the command was terminated
    assert not (data / "postmaster.pid").exists()
    assert running_servers(data) == []


def test_a_termination_while_the_server_starts_still_stops_it(tmp_path):
    data = tmp_path / "pg"
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    wrapper = subprocess.Popen(
        [sys.executable, "-m", "core.localdb", "--data", str(data), "--", "sleep", "60"], cwd=ROOT, env=environment
    )
    for _ in range(300):
        if data.exists():
            break
        time.sleep(0.01)
    wrapper.send_signal(signal.SIGTERM)
    wrapper.wait(timeout=30)
    assert running_servers(data) == []


def test_reset_is_refused_while_the_server_runs(tmp_path, monkeypatch):
    from core import localdb as module

    monkeypatch.setattr(module, "DATA_DIR", tmp_path)
    (tmp_path / "postmaster.pid").write_text(f"{os.getpid()}\n")
    assert module.reset() == 1
