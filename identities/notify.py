"""Notifications after an analysis: what is new and at least the chosen severity, sent to the
destinations staff configured (a webhook with a Slack-compatible JSON body, or email through
Django's email settings).

`plan_notifications` decides and records one `NotificationDelivery` per destination;
`attempt_delivery` sends one and records the outcome. The Celery tasks around them
(`identities.tasks`) retry a failed delivery with backoff; nothing here raises into the sync.
Slack's incoming webhooks take ``{"text": ..., "blocks": [...]}``:
https://api.slack.com/messaging/webhooks
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from identities.models import (
    AccessChange,
    AnalysisRun,
    NotificationDelivery,
    NotificationDestination,
    NotificationSettings,
)
from identities.models.review import SEVERITY_RANK
from identities.queries.changes import ChangeItem, HistoryUnavailable, changes_between

logger = logging.getLogger(__name__)

Category = AccessChange.Category
TIMEOUT_SECONDS = 10
MAX_ITEMS = 20
_HEADLINES: dict[str, str] = {
    Category.ADMIN_ADDED: "New administrator",
    Category.REACH_ADDED: "New path to an administrator",
    Category.SENSITIVE_ADDED: "New path to a sensitive role",
    Category.EDGE_ADDED: "New access",
    Category.FINDING_NEW: "New finding",
}


class DeliveryError(Exception):
    """The destination did not take the message (retried by the task)."""


def notification_settings() -> NotificationSettings:
    found = NotificationSettings.objects.first()
    return found if found is not None else NotificationSettings.objects.create()


def notable_changes(items: list[ChangeItem], min_severity: str) -> list[ChangeItem]:
    """New (not expected) administrators, paths to one, edges and findings at least this
    severe; new trust from anyone or outside the estate is high (`history.edge_severity`)."""
    limit = SEVERITY_RANK.get(min_severity, 0)
    return [item for item in items if item.is_new and SEVERITY_RANK.get(item.severity, 9) <= limit]


def _line(item: ChangeItem) -> str:
    headline = _HEADLINES.get(item.category, item.get_category_display())
    if item.category == Category.EDGE_ADDED:
        conditions = f" (if {', '.join(item.conditions)})" if item.conditions else ""
        what = f"{item.source} can assume {item.target}{conditions}"
    elif item.category in (Category.REACH_ADDED, Category.SENSITIVE_ADDED):
        what = " -> ".join(item.after.get("path", [item.source, item.target]))
    elif item.category == Category.FINDING_NEW:
        what = item.after.get("title", item.source)
    else:
        what = item.source
    return f"[{item.severity}] {headline}: {what}"


def build_message(run: AnalysisRun, items: list[ChangeItem], link: str = "") -> dict[str, Any]:
    """The Slack-compatible body (``text`` for every client, ``blocks`` for Slack)."""
    title = f"iamviz: {len(items)} new change{'s' if len(items) != 1 else ''} in access (analysis #{run.pk})"
    lines = [_line(item) for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        lines.append(f"… and {len(items) - MAX_ITEMS} more")
    if link:
        lines.append(f"Review: {link}")
    text = "\n".join([title, *lines])
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]}},
        ],
    }


def plan_notifications(*, run_id: int, link: str = "") -> list[int]:
    """Record one pending delivery per enabled destination when the analysis ``run_id`` found
    something notable; returns their ids (none when nothing is, or already planned)."""
    config = notification_settings()
    destinations = list(NotificationDestination.objects.filter(enabled=True))
    if not config.enabled or not destinations:
        return []
    try:
        changes = changes_between(None, run_id)
    except HistoryUnavailable:
        return []
    items = notable_changes(changes.items, config.min_severity)
    if not items:
        return []
    message = build_message(changes.to_run, items, link)
    planned = []
    for destination in destinations:
        try:
            with transaction.atomic():
                delivery = NotificationDelivery.objects.create(
                    destination=destination,
                    run=changes.to_run,
                    message=message,
                    created_at=timezone.now(),
                )
        except IntegrityError:
            continue  # planned by an earlier attempt of the same task
        planned.append(delivery.pk)
    return planned


def send_message(destination: NotificationDestination, message: dict[str, Any]) -> None:
    """Send one message; raises `DeliveryError` when the destination does not take it."""
    if destination.kind == NotificationDestination.Kind.WEBHOOK:
        request = urllib.request.Request(
            destination.url,
            data=json.dumps(message).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                response.read()
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        return
    subject = message["text"].splitlines()[0]
    try:
        send_mail(subject, message["text"], settings.DEFAULT_FROM_EMAIL, [destination.email])
    except Exception as exc:  # any backend's failure (SMTP, socket) is a failed delivery
        raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


def attempt_delivery(*, delivery_id: int, final: bool) -> str:
    """Try one delivery once and record it; returns ``sent``, ``retry`` or ``failed`` (when
    ``final``, the last attempt)."""
    delivery = NotificationDelivery.objects.select_related("destination").get(pk=delivery_id)
    if delivery.status == NotificationDelivery.Status.SENT:
        return "sent"
    delivery.attempts += 1
    try:
        send_message(delivery.destination, delivery.message)
    except DeliveryError as exc:
        delivery.last_error = str(exc)[:2000]
        delivery.status = (
            NotificationDelivery.Status.FAILED if final else NotificationDelivery.Status.PENDING
        )
        delivery.save(update_fields=["attempts", "last_error", "status"])
        logger.warning("delivery %s to %s failed: %s", delivery.pk, delivery.destination, exc)
        return "failed" if final else "retry"
    delivery.status = NotificationDelivery.Status.SENT
    delivery.sent_at = timezone.now()
    delivery.save(update_fields=["attempts", "status", "sent_at", "last_error"])
    return "sent"
