"""The admin role reaches Django's admin site (logins, groups, the audit log read-only); other
roles do not."""

from __future__ import annotations

import pytest

from identities.audit import record_audit
from identities.models import AuditEvent
from identities.roles import ADMIN, OPERATOR, REVIEWER, VIEWER, grant_role


@pytest.mark.parametrize("role", [VIEWER, REVIEWER, OPERATOR])
def test_granting_admin_makes_staff_and_another_role_takes_it_back(user_with_role, role):
    user = user_with_role(role)
    assert not user.is_staff

    grant_role(user, ADMIN)
    user.refresh_from_db()
    assert user.is_staff

    grant_role(user, role)
    user.refresh_from_db()
    assert not user.is_staff


def test_a_superuser_stays_staff_whatever_its_role(django_user_model):
    user = django_user_model.objects.create_superuser("root", password="x-long-password-1")

    grant_role(user, VIEWER)

    user.refresh_from_db()
    assert user.is_staff


def test_an_admin_reads_the_audit_log_in_the_admin_site_but_cannot_change_it(client_as):
    record_audit(None, "sync_now", "organisation", username="someone")
    event = AuditEvent.objects.get()

    admin = client_as(ADMIN)
    index = admin.get("/admin/")
    listing = admin.get("/admin/identities/auditevent/")
    detail = admin.get(f"/admin/identities/auditevent/{event.pk}/change/")
    delete = admin.post(f"/admin/identities/auditevent/{event.pk}/delete/", {"post": "yes"})

    assert index.status_code == 200 and "/admin/auth/user/" in index.content.decode()
    assert listing.status_code == 200 and "sync_now" in listing.content.decode()
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert delete.status_code == 403
    assert admin.get("/admin/identities/auditevent/add/").status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_an_operator_is_kept_out_of_the_admin_site(client_as):
    response = client_as(OPERATOR).get("/admin/identities/auditevent/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
