"""Webhooks go to public internet addresses only: a subscription pointing at loopback, a private
network or link-local (cloud metadata) is refused when saved and, whatever it resolves to by then,
when sent; the delivery log keeps the status and the kind of failure, never what was answered."""

import socket

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from tests.webhooks.test_webhooks import Receiver, retries_run_eagerly, subscribe  # noqa: F401 (a fixture)
from webhooks.destinations import address_allowed
from webhooks.models import DeliveryStatus, WebhookSubscription
from webhooks.services import event_publish
from webhooks.tasks import deliver

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.9",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # carrier-grade NAT
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fc00::5",
        "::ffff:127.0.0.1",  # loopback written as IPv6
        "::ffff:10.0.0.1",
    ],
)
def test_non_public_addresses_are_refused(settings, address):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(settings, address):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    assert address_allowed(address)


def test_a_network_the_lender_allows_is_reachable(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["10.8.0.0/24"]
    assert address_allowed("10.8.0.5") and not address_allowed("10.8.1.5")


def publish_and_send(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        (delivery,) = event_publish(event_type="payment.posted", payload={"loan": "L-1"})
    deliver.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_to_loopback_is_refused_without_a_connection(settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with Receiver() as receiver:
        subscribe(receiver.url, "payment.posted")
        delivery = publish_and_send(django_capture_on_commit_callbacks)
    assert receiver.requests == []
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1  # not worth a retry
    assert delivery.last_status_code is None
    assert delivery.last_error == "ForbiddenDestination: 127.0.0.1 resolves to a non-public address"


def test_a_host_name_is_checked_by_what_it_resolves_to_when_sent(
    settings, monkeypatch, django_capture_on_commit_callbacks
):
    """A name that pointed somewhere public when saved and resolves inside the network when sent (a
    rebinding DNS server) is refused, and nothing connects to it."""
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    WebhookSubscription.objects.create(
        name="rebinding", url="http://hooks.example.net:8080/in", event_types=["payment.posted"]
    )
    real = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host == "hooks.example.net":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.7", port))]
        return real(host, port, *args, **kwargs)

    def no_connection(*args, **kwargs):
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    monkeypatch.setattr(socket, "create_connection", no_connection)
    delivery = publish_and_send(django_capture_on_commit_callbacks)
    assert delivery.status == DeliveryStatus.FAILED
    assert "non-public" in delivery.last_error


@pytest.mark.usefixtures("retries_run_eagerly")
def test_a_connection_error_keeps_its_kind_only(settings, django_capture_on_commit_callbacks):
    with Receiver() as receiver:
        url = receiver.url
    subscribe(url, "payment.posted")  # the receiver is gone: connection refused on loopback (allowed in tests)
    delivery = publish_and_send(django_capture_on_commit_callbacks)
    assert delivery.last_error == "ConnectionRefusedError"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:5432/", "http://169.254.169.254/latest/meta-data/", "https://10.0.0.3/hooks"]
)
def test_the_admin_refuses_a_subscription_to_a_non_public_address(client, settings, url):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "x"))
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {"name": "inside", "url": url, "event_types": ["case.opened"], "is_active": "on"},
    )
    assert response.status_code == 200
    assert "public internet addresses only" in response.content.decode()
    assert not WebhookSubscription.objects.exists()
