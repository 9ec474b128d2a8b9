"""The four roles (issue 14, item 11): groups created idempotently, each including the ones
below it; superusers are admins; setup_demo's login is an admin."""

from __future__ import annotations

import io
from typing import Any

from django.contrib.auth.models import Group
from django.core.management import call_command

from identities.roles import (
    ADMIN,
    OPERATOR,
    REVIEWER,
    ROLES,
    VIEWER,
    ensure_roles,
    has_role,
    role_of,
)


def test_groups_exist_after_migrate_and_ensure_roles_is_idempotent(db: None) -> None:
    ensure_roles()
    ensure_roles()

    assert sorted(Group.objects.filter(name__in=ROLES).values_list("name", flat=True)) == sorted(
        ROLES
    )
    counts = [Group.objects.get(name=role).permissions.count() for role in ROLES]
    assert counts == [1, 2, 3, 4 + 5]  # admin also manages logins and groups


def test_each_role_includes_the_ones_below(user_with_role: Any) -> None:
    operator = user_with_role(OPERATOR)

    assert [has_role(operator, role) for role in ROLES] == [True, True, True, False]
    assert role_of(operator) == OPERATOR
    assert role_of(user_with_role("")) == ""
    assert role_of(user_with_role(VIEWER)) == VIEWER


def test_superuser_is_admin_and_inactive_user_has_no_role(
    staff_user: Any, user_with_role: Any
) -> None:
    gone = user_with_role(REVIEWER)
    gone.is_active = False

    assert role_of(staff_user) == ADMIN
    assert role_of(gone) == ""


def test_setup_demo_login_is_in_the_admin_group(db: None, settings: Any, tmp_path: Any) -> None:
    settings.DATA_DIR = tmp_path
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

    call_command("setup_demo", "--no-sample", stdout=io.StringIO())
    call_command("setup_demo", "--no-sample", stdout=io.StringIO())

    admin = Group.objects.get(name=ADMIN).user_set.get()
    assert admin.username == "admin"
    assert role_of(admin) == ADMIN
