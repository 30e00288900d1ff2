"""gunicorn's settings for the web app (`gunicorn -c config/gunicorn.py config.wsgi`), each number
chosen on purpose and each overridable from the environment.

- workers: two per core plus one (WEB_CONCURRENCY), each with 4 threads (GUNICORN_THREADS): a
  request waits on PostgreSQL, Redis or a lock for much of its time, and with threads one slow
  request (a whole-book figure being computed, a payment waiting on its loan's lock) holds one thread,
  not a whole worker that the requests behind it would queue for. Each thread keeps its own database
  connection: workers × threads connections in all (20 on 2 cores).
- timeout: a worker silent for this long is killed and replaced (GUNICORN_TIMEOUT, 30 s). Web
  requests stop their SQL first: config/wsgi.py gives the web's database sessions a statement timeout
  below it (DB_STATEMENT_TIMEOUT, 25 s), so a slow page ends with a message, not a killed worker
  whose query PostgreSQL would keep running.
- graceful_timeout: on a restart or a deploy, requests under way get this long to finish
  (GUNICORN_GRACEFUL_TIMEOUT, 30 s).
- max_requests: each worker is replaced after this many requests, with jitter so they do not all go
  at once (GUNICORN_MAX_REQUESTS, 2000): memory a long-lived worker gathers is given back.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
accesslog = "-"
