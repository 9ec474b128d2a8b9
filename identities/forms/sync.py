"""The AWS sync pages' POST forms: settings, accounts, schedule."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from identities import arns
from identities.forms.common import _choice_field
from identities.models import AccountSyncConfig, SyncSettings
from identities.sync.schedule import validate_cron

# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (RoleArn, ExternalId)
ACCOUNT_PLACEHOLDER = "{account_id}"
ROLE_NAME_RE = re.compile(r"^[\w+=,.@/-]+$")
EXTERNAL_ID_RE = re.compile(r"^[\w+=,.@:/-]{2,1224}$")
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-[0-9]+$")


def validate_role(value: str) -> str:
    """A role name (with an optional path, `audit/iamviz`) or a role ARN, where the account
    may be written `{account_id}`. Role names are at most 64 characters."""
    value = value.strip()
    if value.startswith("arn:"):
        if not _is_role_arn(value):
            raise ValidationError(
                "Not a role ARN: expected arn:aws:iam::<account id or {account_id}>:role/NAME."
            )
        return value
    if not ROLE_NAME_RE.match(value) or len(value.strip("/").rsplit("/", 1)[-1]) > 64:
        raise ValidationError(
            "A role name has at most 64 letters, digits and +=,.@_- (a path may precede it)."
        )
    return value.strip("/")


def _is_role_arn(value: str) -> bool:
    parts = value.split(":", 5)
    if len(parts) == 6 and parts[4] == ACCOUNT_PLACEHOLDER:
        parts[4] = "0" * 12
    parsed = arns.parse_arn(":".join(parts))
    return (
        parsed is not None
        and parsed.service == "iam"
        and not parsed.region
        and arns.is_account_id(parsed.account)
        and parsed.resource_type == "role"
        and ROLE_NAME_RE.match(parsed.resource.removeprefix("role/")) is not None
    )


def validate_external_id(value: str) -> str:
    if value and not EXTERNAL_ID_RE.match(value):
        raise ValidationError(
            "An ExternalId has 2 to 1224 letters, digits and +=,.@:/_- (no spaces)."
        )
    return value


# ModelForm[Model] is not subscriptable at run time (no django_stubs_ext monkeypatch).
class SyncSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = SyncSettings
        fields = ["discover_accounts", "role_name", "external_id", "region", "profile_name"]
        labels = {
            "discover_accounts": "Discover member accounts through AWS Organizations",
            "role_name": "Read-only role in each account",
            "external_id": "ExternalId",
            "region": "Region for STS",
            "profile_name": "AWS profile for the management account",
        }
        help_texts = {
            "discover_accounts": "Off: only the accounts listed below are synced.",
            "region": "The regional STS endpoint used for AssumeRole, e.g. eu-west-1.",
            "role_name": "A name (iamviz-readonly) or an ARN with {account_id} in it.",
            "external_id": "Optional; presented on AssumeRole when the trust policy asks for it.",
            "profile_name": "Blank: boto3's standard credential chain of the worker.",
        }

    def clean_role_name(self) -> str:
        return validate_role(str(self.cleaned_data["role_name"]))

    def clean_external_id(self) -> str:
        return validate_external_id(str(self.cleaned_data["external_id"]).strip())

    def clean_region(self) -> str:
        region = str(self.cleaned_data["region"]).strip()
        if not REGION_RE.match(region):
            raise ValidationError("Not an AWS region name such as eu-west-1.")
        return region


class AccountSyncConfigForm(forms.ModelForm):  # type: ignore[type-arg]  # as above
    """An account listed by hand, or the settings of a discovered one."""

    class Meta:
        model = AccountSyncConfig
        fields = ["account_id", "name", "role_name_or_arn", "external_id", "enabled"]
        labels = {"role_name_or_arn": "Role (name or ARN)", "external_id": "ExternalId"}
        help_texts = {"role_name_or_arn": "Blank: the role of the sync settings."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            # The account id is the row's identity: it is in the URL, not editable.
            self.fields.pop("account_id", None)

    def clean_account_id(self) -> str:
        account_id: str = self.cleaned_data["account_id"].strip()
        if not arns.is_account_id(account_id):
            raise ValidationError("An AWS account id is 12 digits.")
        return account_id

    def clean_role_name_or_arn(self) -> str:
        value = str(self.cleaned_data["role_name_or_arn"]).strip()
        return validate_role(value) if value else ""

    def clean_external_id(self) -> str:
        return validate_external_id(str(self.cleaned_data["external_id"]).strip())


class ScheduleForm(forms.Form):
    """When the nightly organisation sync runs, or that it is paused."""

    cron = forms.CharField(
        label="Cron expression",
        max_length=200,
        help_text="minute hour day-of-month month day-of-week, e.g. 0 2 * * * for 02:00 daily",
    )
    timezone = forms.ChoiceField(label="Time zone")
    paused = forms.BooleanField(label="Paused", required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "timezone").choices = [
            (name, name) for name in sorted(zoneinfo.available_timezones())
        ]

    def clean_cron(self) -> str:
        return " ".join(validate_cron(self.cleaned_data["cron"]))
