"""Admin: a read-only window on the estate. Only ingest writes estate rows and sync runs, so
nothing here can add, change or delete them."""

from __future__ import annotations

import logging
from typing import ClassVar

from django.contrib import admin
from django.http import HttpRequest

from identities import models
from identities.roles import ADMIN, has_role

logger = logging.getLogger(__name__)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Viewable, never editable: the next sync would silently undo any edit."""

    list_per_page = 100
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(models.Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ("account_id", "name", "alias", "ou_path", "is_management", "in_organization")
    list_filter = ("is_management", "in_organization")
    search_fields = ("account_id", "name", "alias", "ou_path")


@admin.register(models.OrgNode)
class OrgNodeAdmin(ReadOnlyAdmin):
    list_display = ("path", "node_id", "kind")
    list_filter = ("kind",)
    search_fields = ("node_id", "name", "path")


@admin.register(models.OrgPolicy)
class OrgPolicyAdmin(ReadOnlyAdmin):
    list_display = ("name", "policy_id", "type")
    list_filter = ("type",)
    search_fields = ("policy_id", "name")


class AccountRowAdmin(ReadOnlyAdmin):
    """The rows of one account: listed with their account, filtered and searched by it."""

    list_filter: ClassVar[tuple[str, ...]] = ("account",)
    list_select_related = ("account",)
    search_fields: ClassVar[tuple[str, ...]] = ("name", "arn", "=unique_id")


@admin.register(models.IamUser)
class IamUserAdmin(AccountRowAdmin):
    list_display = ("name", "account", "path", "mfa_active", "password_enabled", "create_date")
    list_filter = ("mfa_active", "password_enabled", "account")


@admin.register(models.IamGroup)
class IamGroupAdmin(AccountRowAdmin):
    list_display = ("name", "account", "path", "create_date")


@admin.register(models.IamRole)
class IamRoleAdmin(AccountRowAdmin):
    list_display = ("name", "account", "path", "last_used_date", "last_used_region", "create_date")
    search_fields = (*AccountRowAdmin.search_fields, "description")


@admin.register(models.ManagedPolicy)
class ManagedPolicyAdmin(AccountRowAdmin):
    list_display = ("name", "account", "is_aws_managed", "default_version_id", "attachment_count")
    list_filter = ("is_aws_managed", "account")
    search_fields = ("name", "arn", "=policy_id")


@admin.register(models.PolicyVersion)
class PolicyVersionAdmin(ReadOnlyAdmin):
    list_display = ("policy", "version_id", "is_default", "create_date")
    list_filter = ("is_default",)
    list_select_related = ("policy",)
    search_fields = ("policy__name", "policy__arn")


@admin.register(models.GroupMembership)
class GroupMembershipAdmin(ReadOnlyAdmin):
    list_display = ("user", "group")
    list_select_related = ("user", "group")
    search_fields = ("user__name", "group__name")


@admin.register(models.PolicyAttachment)
class PolicyAttachmentAdmin(ReadOnlyAdmin):
    list_display = ("policy", "user", "group", "role")
    list_select_related = ("policy", "user", "group", "role")
    search_fields = ("policy__name", "user__name", "group__name", "role__name")


@admin.register(models.InlinePolicy)
class InlinePolicyAdmin(ReadOnlyAdmin):
    list_display = ("name", "account", "user", "group", "role")
    list_filter = ("account",)
    list_select_related = ("account", "user", "group", "role")
    search_fields = ("name", "user__name", "group__name", "role__name")


@admin.register(models.InstanceProfile)
class InstanceProfileAdmin(AccountRowAdmin):
    list_display = ("name", "account", "path")
    list_filter = ()


@admin.register(models.IdentityProvider)
class IdentityProviderAdmin(AccountRowAdmin):
    list_display = ("name", "kind", "account")
    list_filter = ("kind",)
    search_fields = ("name", "arn")


@admin.register(models.AccessKey)
class AccessKeyAdmin(ReadOnlyAdmin):
    list_display = ("user", "slot", "active", "last_rotated", "last_used_date")
    list_filter = ("active",)
    list_select_related = ("user",)
    search_fields = ("user__name",)


@admin.register(models.SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    list_display = ("pk", "source", "status", "label", "started_at", "finished_at")
    list_filter = ("status", "source")
    search_fields = ("label", "error")
    exclude = ("bundle_gzip",)

    def get_queryset(self, request: HttpRequest):  # type: ignore[no-untyped-def]
        return super().get_queryset(request).defer("bundle_gzip")


@admin.register(models.Change)
class ChangeAdmin(ReadOnlyAdmin):
    # sync_run_id, not the run: loading runs would drag their archived bundles along.
    list_display = ("sync_run_id", "action", "kind", "account_id", "key")
    list_filter = ("action", "kind")
    search_fields = ("key", "account_id")


@admin.register(models.AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """The audit log, for admins: only `identities.audit.record_audit` writes it."""

    list_display = ("at", "username", "action", "target", "ip")
    list_filter = ("action",)
    search_fields = ("username", "action", "target")
    date_hierarchy = "at"

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return has_role(request.user, ADMIN)


# --- AWS sync configuration (editable: it is configuration, not estate) ----------------------
# Staff only, as all of the admin. No credential is stored: boto3's credential chain is used.

from identities.forms.sync import AccountSyncConfigForm, SyncSettingsForm  # noqa: E402


@admin.register(models.SyncSettings)
class SyncSettingsAdmin(admin.ModelAdmin):
    form = SyncSettingsForm
    list_display = ("__str__", "discover_accounts", "role_name", "region", "profile_name")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One row: identities.sync.load_settings() reads the first.
        return super().has_add_permission(request) and not models.SyncSettings.objects.exists()


@admin.register(models.AccountSyncConfig)
class AccountSyncConfigAdmin(admin.ModelAdmin):
    form = AccountSyncConfigForm
    list_display = ("account_id", "name", "role_name_or_arn", "enabled", "discovered")
    list_filter = ("enabled", "discovered")
    search_fields = ("account_id", "name")

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> tuple[str, ...]:
        return ("account_id", "discovered") if obj is not None else ("discovered",)
