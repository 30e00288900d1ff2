"""Times `seed_demo` on a scratch database and prints the figures.

    .venv/bin/python bench/seed_demo.py --loans 100000            # a scratch SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_seed .venv/bin/python bench/seed_demo.py --loans 20000

With DATABASE_URL set, that database is used as it is (migrated first); otherwise a new SQLite file in
a temporary folder, removed afterwards."""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
        env.setdefault("DATABASE_URL", f"sqlite:///{scratch}/bench.sqlite3")
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
        started = time.perf_counter()
        subprocess.run([*manage, "seed_demo", "--loans", str(args.loans)], env=env, check=True, cwd=ROOT)
        seconds = time.perf_counter() - started
    engine = "postgresql" if env["DATABASE_URL"].startswith("postgres") else "sqlite"
    print(f"seed_demo --loans {args.loans}: {seconds:.1f} s on {engine} ({args.loans / seconds:,.0f} loans/s)")


if __name__ == "__main__":
    main()
