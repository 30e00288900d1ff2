"""The benches' database: DATABASE_URL when set; otherwise a private PostgreSQL server (core/localdb.py)
with a kept cluster of the bench's own in var/bench/<name>, so a book seeded once is reused by the
next run and never mixes with the demo data of `make run`."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def use_private_server_unless_configured(name):
    """Run this script again under the private server when no DATABASE_URL is set (before Django is
    set up); return when it is."""
    if os.environ.get("DATABASE_URL"):
        return
    data = ROOT / "var" / "bench" / name
    data.parent.mkdir(parents=True, exist_ok=True)
    localdb = str(ROOT / "core" / "localdb.py")
    os.execv(sys.executable, [sys.executable, localdb, "--data", str(data), "--", sys.executable, *sys.argv])
