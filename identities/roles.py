"""Who may do what: four roles, each a Django group holding one permission per role it includes.

viewer reads pages; reviewer also triages findings and edges; operator also runs the sync
(settings, schedules, "Sync now", imports) and downloads raw bundles; admin also manages users and
roles and reads the audit log. A superuser is an admin. A user in no group has no role and sees
no page: an admin gives each login its role.
"""

from __future__ import annotations

from typing import Any

VIEWER = "viewer"
REVIEWER = "reviewer"
OPERATOR = "operator"
ADMIN = "admin"

# Lowest first: each role holds the permissions of the roles before it.
ROLES = (VIEWER, REVIEWER, OPERATOR, ADMIN)

# The permission (codename, name) that each role adds; declared on AuditEvent's Meta.
ROLE_PERMISSIONS = {
    VIEWER: ("view_estate", "Read the estate, access and graph pages"),
    REVIEWER: ("triage", "Triage findings and review edges"),
    OPERATOR: ("operate_sync", "Change sync settings and schedules, start syncs, download bundles"),
    ADMIN: ("administer", "Manage users and roles, read the audit log"),
}

# What an admin also holds so that Django's admin site lets them manage logins and groups.
ADMIN_AUTH_PERMISSIONS = (
    "add_user",
    "change_user",
    "delete_user",
    "view_user",
    "view_group",
)


def permission_name(role: str) -> str:
    """`identities.<codename>`, as `User.has_perm` takes it."""
    return f"identities.{ROLE_PERMISSIONS[role][0]}"


def has_role(user: Any, role: str) -> bool:
    """True when `user` holds `role` or a higher one."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return bool(user.is_superuser or user.has_perm(permission_name(role)))


def role_of(user: Any) -> str:
    """The highest role `user` holds, or "" when none."""
    for role in reversed(ROLES):
        if has_role(user, role):
            return role
    return ""


def ensure_roles(apps: Any = None) -> None:
    """Create the four groups with their permissions (idempotent). `apps` is a migration's
    historical registry, or None for the live models."""
    if apps is None:
        from django.apps import apps as live_apps  # noqa: PLC0415 - callable from migrations

        apps = live_apps
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    content_type_model = apps.get_model("contenttypes", "ContentType")
    audit_type, _ = content_type_model.objects.get_or_create(
        app_label="identities", model="auditevent"
    )
    user_type, _ = content_type_model.objects.get_or_create(app_label="auth", model="user")
    group_type, _ = content_type_model.objects.get_or_create(app_label="auth", model="group")
    granted: list[Any] = []
    for role in ROLES:
        codename, name = ROLE_PERMISSIONS[role]
        permission, _ = permission_model.objects.get_or_create(
            content_type=audit_type, codename=codename, defaults={"name": name}
        )
        granted.append(permission)
        group, _ = group_model.objects.get_or_create(name=role)
        extra = []
        if role == ADMIN:
            for auth_codename in ADMIN_AUTH_PERMISSIONS:
                content_type = group_type if auth_codename.endswith("_group") else user_type
                auth_permission, _ = permission_model.objects.get_or_create(
                    content_type=content_type,
                    codename=auth_codename,
                    defaults={"name": auth_codename.replace("_", " ").capitalize()},
                )
                extra.append(auth_permission)
        group.permissions.add(*granted, *extra)


def grant_role(user: Any, role: str) -> None:
    """Make `role` the user's only role (the live models). An admin is also staff, which Django's
    admin site (logins and groups) requires; any other role is not, unless a superuser."""
    from django.contrib.auth.models import Group  # noqa: PLC0415 - importable before apps load

    ensure_roles()
    user.groups.remove(*Group.objects.filter(name__in=ROLES))
    user.groups.add(Group.objects.get(name=role))
    staff = role == ADMIN or user.is_superuser
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
