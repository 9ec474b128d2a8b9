"""Per-user API tokens: made (shown once), checked, revoked. Only a SHA-256 digest is stored;
a token is 32 random bytes, so a fast digest is enough (no password hashing needed)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from identities.audit import record_audit
from identities.models import ApiToken

PREFIX = "iamviz_"
# Characters of a token kept in clear to tell tokens apart: "iamviz_" and 6 random ones.
SHOWN = len(PREFIX) + 6

TOKEN_CREATED = "api_token_created"
TOKEN_REVOKED = "api_token_revoked"

# last_used_at is written at most this often per token, not on every request.
USE_RESOLUTION = timedelta(minutes=1)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    request: HttpRequest | None, user: Any, name: str, *, expires_at: datetime | None = None
) -> tuple[ApiToken, str]:
    """A new token for `user`: the stored row and the token itself, which nothing keeps."""
    token = PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        row = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=token[:SHOWN],
            digest=digest(token),
            created_at=timezone.now(),
            expires_at=expires_at,
        )
        record_audit(
            request,
            TOKEN_CREATED,
            str(row),
            owner=user.get_username(),
            expires_at=expires_at.isoformat() if expires_at else None,
        )
    return row, token


def revoke_token(request: HttpRequest | None, row: ApiToken) -> None:
    """Refuse `row` from now on (kept, so the page and the audit log can still name it)."""
    if row.revoked_at is not None:
        return
    with transaction.atomic():
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        record_audit(request, TOKEN_REVOKED, str(row), owner=row.user.get_username())


def refusal(row: ApiToken | None, now: datetime) -> str:
    """Why `row` may not be used now, or "" when it may."""
    if row is None:
        return "Unknown API token."
    if row.revoked_at is not None:
        return "This API token was revoked."
    if row.expires_at is not None and row.expires_at <= now:
        return "This API token has expired."
    if not row.user.is_active:
        return "The login owning this API token is disabled."
    return ""


def check_token(token: str) -> tuple[ApiToken | None, str]:
    """The token row for `token` and "", or None and why it is refused. Notes the use."""
    now = timezone.now()
    row = (
        ApiToken.objects.select_related("user").filter(digest=digest(token)).first()
        if token.startswith(PREFIX)
        else None
    )
    reason = refusal(row, now)
    if reason or row is None:
        return None, reason
    if row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
    return row, ""


def tokens_visible_to(user: Any, *, everyone: bool) -> QuerySet[ApiToken]:
    """The tokens a page lists: the user's own, or every login's for an admin."""
    rows = ApiToken.objects.select_related("user")
    return rows if everyone else rows.filter(user=user)
