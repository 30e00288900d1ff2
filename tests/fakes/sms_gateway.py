"""A fake SMS gateway: a real HTTP server on 127.0.0.1 that speaks the generic gateway protocol of
collection.sms.HttpBackend. It checks the bearer token, deduplicates by idempotency key as real
providers do (a repeat gets the first answer and is not delivered again), and keeps a log of every
request and every delivery, so tests and the bench can count exactly-once. It can be told to fail
(`fail_next`) or to hang past the client's timeout (`hang_next`)."""

import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeGateway:
    def __init__(self, token="gateway-secret", delay=0.0):
        self.token = token
        self.delay = delay  # seconds per accepted message, to stretch a batch
        self.requests = []  # every request body, repeats included
        self.deliveries = []  # one entry per message delivered to a handset
        self._by_key = {}
        self._lock = threading.Lock()
        self._failures = []  # queued (status, seconds to hang) for the next requests
        self._hold_after = None  # deliveries after which requests wait for release()
        self._released = threading.Event()
        self.waiting = 0  # requests being held right now
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = gateway._handle(self.headers, body)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def fail_next(self, count=1, status=500):
        with self._lock:
            self._failures += [(status, 0)] * count

    def hang_next(self, count=1, seconds=2.0):
        with self._lock:
            self._failures += [(200, seconds)] * count

    def hold_after(self, deliveries):
        """Make requests wait once `deliveries` messages went out, until release(): every sender is
        then caught in the middle of a send, which is where a test wants to kill one."""
        self._hold_after = deliveries
        self._released.clear()

    def release(self):
        self._hold_after = None
        self._released.set()

    def delivery_counts(self):
        """How many times each idempotency key reached a handset (exactly-once means all 1)."""
        return Counter(entry["idempotency_key"] for entry in self.deliveries)

    def _handle(self, headers, raw):
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": "bad token"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "not JSON"}
        key = headers.get("Idempotency-Key") or body.get("idempotency_key")
        if not body.get("to") or not body.get("text") or not key:
            return 400, {"error": "to, text and an idempotency key are required"}
        if self._hold_after is not None and len(self.deliveries) >= self._hold_after:
            with self._lock:
                self.waiting += 1
            self._released.wait(60)
            with self._lock:
                self.waiting -= 1
        with self._lock:
            self.requests.append(body)
            failure = self._failures.pop(0) if self._failures else None
        if failure and failure[1]:
            time.sleep(failure[1])  # the client times out; the message is still accepted below
        elif failure:
            return failure[0], {"error": "gateway failure"}
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            if key in self._by_key:
                return 200, {"id": self._by_key[key], "duplicate": True}
            message_id = f"gw-{len(self._by_key) + 1}"
            self._by_key[key] = message_id
            self.deliveries.append({"id": message_id, "to": body["to"], "text": body["text"], "idempotency_key": key})
        return 201, {"id": message_id}
