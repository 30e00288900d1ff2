"""The dashboard: officer pages (officer.py) and manager pages (manager.py)."""
