"""Notifications after an analysis: a real local HTTP receiver, a failing one retried without
failing the sync, email through Django's email settings."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.core import mail

from identities import tasks
from identities.ingest.imports import import_bundle
from identities.models import AnalysisRun, NotificationDelivery, NotificationDestination
from identities.notify import notification_settings
from tests.review.conftest import change_sample


class Receiver:
    """An HTTP server on 127.0.0.1 that records the JSON bodies POSTed to it."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    found = Receiver(getattr(request, "param", 200))
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.server.shutdown()
    found.server.server_close()


def sync_changed_sample(bundle: dict[str, Any]) -> dict[str, Any]:
    """What a sync does: import, then the analysis task (which queues the notifications)."""
    import_bundle(copy.deepcopy(change_sample(bundle)), label="changed.json")
    return tasks.analyse_estate_task.delay().get()


def test_new_admin_path_is_posted_to_a_local_webhook(imported_sample, sample_bundle, receiver):
    NotificationDestination.objects.create(kind="webhook", name="slack", url=receiver.url)

    sync_changed_sample(sample_bundle)

    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("sent", 1)
    assert len(receiver.bodies) == 1
    body = receiver.bodies[0]
    assert sorted(body) == ["blocks", "text"]
    assert body["text"].splitlines()[1:] == [
        "[high] New path to an administrator: arn:aws:iam::999999999999:root -> "
        "arn:aws:iam::444444444444:role/prod-ops -> arn:aws:iam::444444444444:role/prod-break-glass",
        "[high] New access: arn:aws:iam::999999999999:root can assume "
        "arn:aws:iam::444444444444:role/prod-ops",
        "[high] New finding: prod-ops in acme-prod trusts the whole account 999999999999, "
        "outside the organisation, without an ExternalId",
    ]


@pytest.mark.parametrize("receiver", [500], indirect=True)
def test_failing_receiver_is_retried_and_never_fails_the_sync(
    imported_sample, sample_bundle, receiver
):
    NotificationDestination.objects.create(kind="webhook", name="broken", url=receiver.url)

    outcome = sync_changed_sample(sample_bundle)

    delivery = NotificationDelivery.objects.get()
    latest = AnalysisRun.objects.order_by("-id").first()
    assert latest is not None and latest.status == "succeeded"
    assert outcome is not None
    assert len(receiver.bodies) == tasks.NOTIFY_RETRIES + 1
    assert (delivery.status, delivery.attempts) == ("failed", tasks.NOTIFY_RETRIES + 1)
    assert delivery.last_error.startswith("HTTPError: HTTP Error 500")


def test_unreachable_receiver_is_a_failed_delivery(imported_sample, sample_bundle):
    NotificationDestination.objects.create(kind="webhook", name="gone", url="http://127.0.0.1:9/")

    sync_changed_sample(sample_bundle)

    delivery = NotificationDelivery.objects.get()
    assert (delivery.status, delivery.attempts) == ("failed", tasks.NOTIFY_RETRIES + 1)


def test_email_goes_through_django_email(imported_sample, sample_bundle):
    NotificationDestination.objects.create(kind="email", name="team", email="sec@example.com")

    sync_changed_sample(sample_bundle)

    # Run ids come from the database's sequence, which PostgreSQL does not reset between tests.
    run = AnalysisRun.objects.latest("pk").pk
    assert [(m.to, m.subject) for m in mail.outbox] == [
        (["sec@example.com"], f"iamviz: 3 new changes in access (analysis #{run})")
    ]


def test_below_the_threshold_nothing_is_sent(imported_sample, sample_bundle, receiver):
    NotificationDestination.objects.create(kind="webhook", name="slack", url=receiver.url)
    config = notification_settings()
    config.enabled = False
    config.save()

    sync_changed_sample(sample_bundle)

    assert (receiver.bodies, NotificationDelivery.objects.count()) == ([], 0)


def test_low_threshold_includes_medium_and_low_changes(imported_sample, sample_bundle, receiver):
    NotificationDestination.objects.create(kind="webhook", name="slack", url=receiver.url)
    config = notification_settings()
    config.min_severity = "low"
    config.save()

    sync_changed_sample(sample_bundle)

    run = AnalysisRun.objects.latest("pk").pk
    assert receiver.bodies[0]["text"].splitlines()[0] == (
        # 5 of edges, reach and findings; 8 escalations ci-deploy gains with developers
        f"iamviz: 13 new changes in access (analysis #{run})"
    )
