"""Every environment variable the app reads is in the README's settings table, so an operator never
has to read code to configure it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READS = re.compile(r"""(?:env(?:\.\w+)?\(\s*|os\.environ\.get\(\s*|os\.environ\[\s*)["']([A-Z][A-Z0-9_]+)["']""")


def read_by_the_app():
    names = set()
    for folder in ("config", "core", "borrowers", "loans", "collection", "legal", "webhooks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "localdb.py":
                continue  # the private server's wrapper, documented in its own section
            names.update(READS.findall(path.read_text(encoding="utf-8")))
    return names


def test_every_setting_the_app_reads_is_in_the_readme_table():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    table = "\n".join(line for line in lines if line.startswith("| `"))
    missing = sorted(name for name in read_by_the_app() if f"`{name}`" not in table)
    assert missing == []


def test_the_scan_finds_what_the_settings_read():
    assert {"DATABASE_URL", "DB_STATEMENT_TIMEOUT", "WEB_CONCURRENCY", "DJANGO_STATIC_ROOT"} <= read_by_the_app()
