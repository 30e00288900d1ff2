"""A real Celery worker process on the configured broker (Redis in CI, the file-system transport by
default) picks up a task and answers: proves the wiring, not only eager mode."""

import subprocess
import uuid

import pytest
from django.conf import settings

from config.celery import app
from core.tasks import ping
from tests.workers import start_worker

pytestmark = pytest.mark.worker


@pytest.fixture
def worker_queue():
    queue = f"smoke-{uuid.uuid4().hex[:8]}"  # a queue of its own: no stale message can answer for it
    worker = start_worker(queue, queue, DJANGO_SETTINGS_MODULE="config.settings.test")
    try:
        yield queue
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_real_worker_runs_a_task(worker_queue):
    eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    try:
        token = uuid.uuid4().hex
        result = ping.apply_async(args=[token], queue=worker_queue)
        answer = result.get(timeout=90)
    finally:
        app.conf.task_always_eager = eager
    assert answer == {"echo": token, "time_zone": settings.TIME_ZONE}
    assert result.status == "SUCCESS"
