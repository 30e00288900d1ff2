"""SMS backends, chosen by settings.SMS_BACKEND: `console` (prints), `file` (one JSON line per
message under SMS_FILE_PATH), `locmem` (kept in `outbox`, for tests) and `http`, a generic gateway
that takes a JSON POST with a bearer token.

A backend's `send` returns the provider's message id, or raises TransientError (worth retrying:
timeouts, 5xx, 429, a refused connection) or PermanentError (4xx: the gateway will never take it).
`idempotent` says whether the provider drops a second message with the same idempotency key: only
then may the dispatcher retry a send whose outcome it never learned (a worker killed mid-send)."""

import http.client
import json
import sys
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.utils import timezone


class SendError(Exception):
    transient = False


class TransientError(SendError):
    transient = True


class PermanentError(SendError):
    pass


@dataclass(frozen=True)
class Sms:
    to: str
    text: str
    idempotency_key: str


class ConsoleBackend:
    idempotent = False

    def send(self, sms: Sms) -> str:
        sys.stdout.write(f"[SMS to {sms.to}] {sms.text}\n")
        sys.stdout.flush()
        return f"console-{sms.idempotency_key}"


class FileBackend:
    """Appends to <SMS_FILE_PATH>/<date>.jsonl: a demo's outbox one can read."""

    idempotent = False

    def __init__(self, path=None):
        self.path = Path(path or settings.SMS_FILE_PATH)

    def send(self, sms: Sms) -> str:
        self.path.mkdir(parents=True, exist_ok=True)
        line = {"at": timezone.now().isoformat(), "to": sms.to, "text": sms.text, "key": sms.idempotency_key}
        with open(self.path / f"{timezone.localdate().isoformat()}.jsonl", "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")
        return f"file-{sms.idempotency_key}"


# The in-memory outbox, like django.core.mail.outbox; it behaves as an idempotent provider.
outbox: list[Sms] = []
_outbox_lock = threading.Lock()


class LocmemBackend:
    idempotent = True

    def send(self, sms: Sms) -> str:
        with _outbox_lock:
            if not any(sent.idempotency_key == sms.idempotency_key for sent in outbox):
                outbox.append(sms)
        return f"locmem-{sms.idempotency_key}"


class HttpBackend:
    """POST {"to", "text", "sender", "idempotency_key"} to SMS_HTTP_URL with `Authorization: Bearer`
    and an `Idempotency-Key` header; a 2xx answer carries the message id as `id` (or `message_id`).
    One backend object keeps its connection open across the messages of a batch."""

    idempotent = True
    RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}

    def __init__(self, url=None, token=None, timeout=None):
        self.url = urlsplit(url or settings.SMS_HTTP_URL)
        self.token = token if token is not None else settings.SMS_HTTP_TOKEN
        self.timeout = timeout or settings.SMS_HTTP_TIMEOUT
        if self.url.scheme not in ("http", "https") or not self.url.hostname:
            raise PermanentError("SMS_HTTP_URL is not an http(s) URL")
        self.path = (self.url.path or "/") + (f"?{self.url.query}" if self.url.query else "")
        self.connection = None

    def send(self, sms: Sms) -> str:
        body = {"to": sms.to, "text": sms.text, "sender": settings.LENDER_NAME, "idempotency_key": sms.idempotency_key}
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"Bearer {self.token}",
            "Idempotency-Key": sms.idempotency_key,
        }
        payload = json.dumps(body, ensure_ascii=False).encode()
        status, raw = self._post(payload, headers)
        if status >= 300:
            detail = f"gateway answered {status}: {raw[:300].decode(errors='replace')}"
            raise (TransientError if status in self.RETRY_STATUSES else PermanentError)(detail)
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            raise TransientError("gateway answered with something that is not JSON") from None
        message_id = answer.get("id") or answer.get("message_id")
        if not message_id:
            raise TransientError(f"gateway answered without a message id: {answer!r}"[:300])
        return str(message_id)

    def _post(self, payload, headers):
        # A kept-alive connection the gateway closed meanwhile fails at once: open a new one and try
        # again. Sending twice is safe: the gateway drops a repeated idempotency key.
        for fresh in (self.connection is None, True):
            if fresh:
                self.close()
                kind = http.client.HTTPSConnection if self.url.scheme == "https" else http.client.HTTPConnection
                self.connection = kind(self.url.hostname, self.url.port, timeout=self.timeout)
            try:
                self.connection.request("POST", self.path, payload, headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as error:
                self.close()
                if fresh:
                    raise TransientError(f"gateway unreachable: {error}") from None
            except (TimeoutError, OSError, http.client.HTTPException) as error:
                self.close()
                raise TransientError(f"gateway unreachable: {error}") from None
        raise AssertionError("unreachable")

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


BACKENDS = {"console": ConsoleBackend, "file": FileBackend, "locmem": LocmemBackend, "http": HttpBackend}


@cache
def _backend_class(name):
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(f"SMS_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}") from None


def get_backend():
    return _backend_class(settings.SMS_BACKEND)()
