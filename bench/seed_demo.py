"""Times `seed_demo` on a scratch database and prints the figures.

    .venv/bin/python bench/seed_demo.py --loans 100000            # a throwaway private PostgreSQL server
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_seed .venv/bin/python bench/seed_demo.py --loans 20000

With DATABASE_URL set, that database is used as it is (migrated first); otherwise a new cluster of
the private server (core/localdb.py --throwaway), deleted afterwards."""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loans", type=int, default=100_000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        localdb = [sys.executable, str(ROOT / "core" / "localdb.py"), "--throwaway", "--"]
        sys.exit(subprocess.call([*localdb, sys.executable, *sys.argv]))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], env=env, check=True, cwd=ROOT)
    started = time.perf_counter()
    subprocess.run([*manage, "seed_demo", "--loans", str(args.loans)], env=env, check=True, cwd=ROOT)
    seconds = time.perf_counter() - started
    print(f"seed_demo --loans {args.loans}: {seconds:.1f} s ({args.loans / seconds:,.0f} loans/s)")


if __name__ == "__main__":
    main()
