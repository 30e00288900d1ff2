"""The Celery application, configured from Django settings (the CELERY_ prefix)."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("huishou")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# kombu's file-system transport does not create its folders; make them before anyone uses them.
for _key in ("data_folder_in", "data_folder_out", "control_folder", "processed_folder"):
    _folder = (app.conf.broker_transport_options or {}).get(_key)
    if _folder:
        Path(_folder).mkdir(parents=True, exist_ok=True)
if str(app.conf.result_backend or "").startswith("file://"):
    Path(app.conf.result_backend.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
