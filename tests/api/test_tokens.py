"""API tokens: shown once, stored as a digest, audited, refused once revoked or expired; the
answers without credentials, with bad ones and without the role; throttling."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from identities.api.tokens import create_token
from identities.models import ApiToken, AuditEvent

EDGES = "/api/v1/access-edges/"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_new_token_is_shown_once_and_only_its_digest_is_stored(viewer_client):
    response = viewer_client.post("/api/tokens/", {"name": "SIEM export", "expires_in_days": "30"})

    row = ApiToken.objects.get()
    page = response.content.decode()
    token = page.split('<code id="new-token">')[1].split("</code>")[0]
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert token.startswith("iamviz_") and len(token) > 40
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    assert not any(token in value for value in stored)
    assert token.startswith(row.prefix)
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    assert token not in viewer_client.get("/api/tokens/").content.decode()
    event = AuditEvent.objects.get(action="api_token_created")
    assert (event.username, event.target) == ("as-viewer", str(row))
    assert token not in str(event.details) and token not in event.target


def test_a_token_reads_the_api_until_its_owner_revokes_it(viewer_client, imported_sample):
    owner = viewer_client.get("/api/tokens/").wsgi_request.user
    row, token = create_token(None, owner, "script")
    assert f"{row.prefix}…" in viewer_client.get("/api/tokens/").content.decode()
    script = Client()
    answer = script.get(EDGES, headers=bearer(token))
    assert answer.status_code == 200 and "no-store" in answer["Cache-Control"]
    assert ApiToken.objects.get(pk=row.pk).last_used_at is not None

    revoked = viewer_client.post(f"/api/tokens/{row.pk}/revoke/")

    assert revoked.status_code == 302
    refused = script.get(EDGES, headers=bearer(token))
    assert refused.status_code == 401
    assert refused.json() == {"detail": "This API token was revoked."}
    assert AuditEvent.objects.filter(action="api_token_revoked", target=str(row)).count() == 1


def test_an_expired_token_is_refused(db, token_for, client):
    token = token_for("viewer")
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get(EDGES, headers=bearer(token))

    assert response.status_code == 401
    assert response.json() == {"detail": "This API token has expired."}


def test_a_disabled_logins_token_is_refused(db, token_for, client):
    token = token_for("admin")
    ApiToken.objects.get().user.__class__.objects.update(is_active=False)

    assert client.get(EDGES, headers=bearer(token)).status_code == 401


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "Authentication needed: send an API token"),
        ("Bearer iamviz_not-a-token", "Unknown API token."),
        ("Bearer something-else", "Unknown API token."),
        ("Token abc", "Send the token as 'Authorization: Bearer <token>'."),
        ("Bearer ", "Send the token as 'Authorization: Bearer <token>'."),
    ],
)
def test_no_or_bad_credentials_get_a_401_json_error(db, client, header, detail):
    headers = {"Authorization": header} if header is not None else {}

    response = client.get(EDGES, headers=headers)

    assert response.status_code == 401
    assert response["Content-Type"] == "application/json"
    assert response["WWW-Authenticate"] == 'Bearer realm="iamviz"'
    assert response.json()["detail"].startswith(detail)


def test_a_token_of_a_login_without_a_role_gets_a_403(db, token_for, client):
    response = client.get(EDGES, headers=bearer(token_for("")))

    assert response.status_code == 403
    assert response.json() == {"detail": "This needs the viewer role."}


def test_a_logged_in_browser_may_read_but_not_write(viewer_client, client_as):
    assert viewer_client.get(EDGES).status_code == 200
    assert viewer_client.post(EDGES).status_code == 405
    assert client_as("").get(EDGES).status_code == 403


def test_the_api_is_read_only_with_a_token(db, token_for, client):
    token = token_for("admin")

    for method in (client.post, client.put, client.delete):
        assert method(EDGES, headers=bearer(token)).status_code == 405


def test_a_login_cannot_revoke_anothers_token_but_an_admin_can(
    db, token_for, client_as, user_with_role
):
    token_for("viewer")
    row = ApiToken.objects.get()

    other = client_as("reviewer")
    assert other.post(f"/api/tokens/{row.pk}/revoke/").status_code == 404
    assert row.prefix not in other.get("/api/tokens/").content.decode()
    admin = client_as("admin")
    assert row.prefix in admin.get("/api/tokens/").content.decode()
    assert admin.post(f"/api/tokens/{row.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get().revoked_at is not None
    assert AuditEvent.objects.get(action="api_token_revoked").username == "as-admin"


def test_a_token_needs_a_name(viewer_client):
    response = viewer_client.post("/api/tokens/", {"name": ""})

    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_requests_past_the_rate_are_throttled(db, token_for, client, settings):
    settings.IAMVIZ_API_RATE = "3/minute"
    token = token_for("viewer")

    statuses = [client.get(EDGES, headers=bearer(token)).status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert "Retry-After" in client.get(EDGES, headers=bearer(token))


def test_an_admin_makes_a_token_for_another_login_and_only_an_admin_may(client_as, user_with_role):
    service = user_with_role("viewer")

    client_as("admin").post("/api/tokens/", {"name": "for the SIEM", "owner": service.pk})
    refused = client_as("operator").post("/api/tokens/", {"name": "mine", "owner": service.pk})

    made = ApiToken.objects.get(name="for the SIEM")
    assert made.user == service
    assert AuditEvent.objects.get(action="api_token_created", target=str(made)).details[
        "owner"
    ] == (service.username)
    assert ApiToken.objects.get(name="mine").user.username == "as-operator"
    assert refused.status_code == 200
