"""`record_audit`: the one writer of the audit log, called by mutating views, bundle downloads
and the login signals (connected in `apps.py`)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from identities.models import AuditEvent

logger = logging.getLogger(__name__)

LOGIN = "login"
LOGIN_FAILED = "login_failed"


def client_ip(request: HttpRequest | None) -> str | None:
    """The peer address Django saw (a proxy in front sets REMOTE_ADDR through its own config)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record_audit(
    request: HttpRequest | None,
    action: str,
    target: str = "",
    /,
    *,
    username: str = "",
    **details: Any,
) -> AuditEvent:
    """Store who did `action` to `target`, when and from where; `details` must be JSON.

    `username` names the actor when no one is logged in (a failed login)."""
    user = getattr(request, "user", None)
    if user is not None and not user.is_authenticated:
        user = None
    event = AuditEvent.objects.create(
        at=timezone.now(),
        user=user,
        username=username or (user.get_username() if user is not None else ""),
        action=action,
        target=str(target)[:500],
        details=details,
        ip=client_ip(request),
    )
    logger.info("audit: %s", event)
    return event


def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    record_audit(request, LOGIN, user.get_username(), username=user.get_username())


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django already replaced the password in `credentials` by asterisks; keep only the name.
    username = str(credentials.get("username", ""))[:150]
    record_audit(request, LOGIN_FAILED, username, username=username)
