"""Where webhooks may be sent: public internet addresses only. A subscription pointing at loopback,
a private network, link-local (cloud metadata at 169.254.169.254) or any other non-global address
would let whoever manages subscriptions make the worker reach inside the lender's network.

The check runs on the addresses the host name resolves to at delivery time, and the connection is
made to the address that was checked (no second lookup a rebinding DNS server could answer
differently). WEBHOOK_ALLOWED_NETWORKS lists networks allowed all the same (a receiver on the
internal network, on purpose)."""

import http.client
import ipaddress
import socket
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings


class ForbiddenDestination(OSError):
    """The URL's host is, or resolves to, an address webhooks may not be sent to."""


def _allowed_networks():
    return [ipaddress.ip_network(network, strict=False) for network in settings.WEBHOOK_ALLOWED_NETWORKS]


def address_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") names no other host
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    if any(ip in network for network in _allowed_networks()):
        return True
    return ip.is_global and not ip.is_multicast


def checked_addresses(host: str, port: int) -> list[tuple]:
    """The socket addresses `host` resolves to, if every one of them may be reached."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ForbiddenDestination(f"{host} does not resolve") from exc
    refused = sorted({info[4][0] for info in found if not address_allowed(info[4][0])})
    if refused or not found:
        raise ForbiddenDestination(f"{host} resolves to a non-public address")
    return [info[4] for info in found]


def url_problem(url: str) -> str | None:
    """Why webhooks may not go to `url` (for the form that saves a subscription), or None."""
    parts = urlsplit(url)
    try:
        checked_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))
    except ForbiddenDestination as exc:
        return str(exc)
    return None


def create_connection(address, timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source_address=None):
    """socket.create_connection, to the addresses checked just now."""
    host, port = address
    error = None
    for sockaddr in checked_addresses(host, port):
        try:
            return socket.create_connection(sockaddr[:2], timeout, source_address)
        except OSError as exc:
            error = exc
    raise error


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    """TLS is still verified against the host name (the certificate and SNI use `host`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection


class CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)
