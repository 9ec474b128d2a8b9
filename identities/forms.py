"""Forms: validation only.

The browse pages' GET filters and search; the graph pages' GET forms, which parse what a view
shows from (and write it back to) its URL; the AWS sync pages' POST forms (settings, accounts,
schedule); the daily review's forms (the Changes filter, edge review, finding decisions,
suppression rules, notification settings, sensitive targets); the what-if editor's changes.

Every GET field is optional and an invalid value falls back to its default (or to no filter),
so a pasted permalink with a stale filter still opens a page rather than an error.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import zoneinfo
from datetime import datetime, time
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone

from identities import arns
from identities.analysis.sensitive import parse_tag_rule
from identities.analysis.what_if import (
    ORG,
    PolicyRef,
    Proposal,
    WhatIfError,
    current_document,
    proposal_from,
)
from identities.bundle import BundleError, decode_policy_document
from identities.graph.build import (
    ACCESS_EDGE_KINDS,
    IDENTITY_EDGE_KINDS,
    MAX_DEPTH,
    MAX_PATH_LENGTH,
)
from identities.models import (
    AccessChange,
    AccountSyncConfig,
    Change,
    Finding,
    GroupMembership,
    IamRole,
    IamUser,
    ManagedPolicy,
    NotificationDestination,
    NotificationSettings,
    SensitiveTarget,
    SuppressionRule,
    SyncSettings,
    TriageStatus,
)
from identities.models.review import Severity
from identities.queries.estate import (
    GROUP_SORTS,
    POLICY_SORTS,
    ROLE_SORTS,
    USER_SORTS,
    account_choices,
)
from identities.sync.schedule import validate_cron

logger = logging.getLogger(__name__)

ANY = [("", "Any")]


def _choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """A choice field of `form`, whose choices are set per request."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def _optional_choice(label: str, choices: list[tuple[str, str]]) -> forms.ChoiceField:
    """A filter the user may leave at its first choice."""
    return forms.ChoiceField(required=False, label=label, choices=choices)


def _sort_choices(sorts: dict[str, str]) -> list[tuple[str, str]]:
    return [("", "")] + [(k, k) for k in sorts] + [(f"-{k}", f"-{k}") for k in sorts]


class _FilterForm(forms.Form):
    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid field falls back to no filter rather than an error."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


class ListFilterForm(_FilterForm):
    """Search text, account and path prefix shared by every estate list."""

    sorts: dict[str, str] = {}

    q = forms.CharField(required=False, max_length=2048, label="Search")
    account = forms.ChoiceField(required=False, label="Account")
    path = forms.CharField(required=False, max_length=512, label="Path prefix")
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "account").choices = [("", "All accounts"), *account_choices()]
        _choice_field(self, "sort").choices = _sort_choices(self.sorts)


class UserFilterForm(ListFilterForm):
    sorts = USER_SORTS
    mfa = _optional_choice(
        "MFA", [*ANY, ("yes", "Has MFA"), ("no", "No MFA"), ("unknown", "No credential report")]
    )
    password = _optional_choice(
        "Console password", [*ANY, ("yes", "Password enabled"), ("no", "No password")]
    )
    keys = _optional_choice(
        "Access keys", [*ANY, ("yes", "Has active keys"), ("no", "No active keys")]
    )


class GroupFilterForm(ListFilterForm):
    sorts = GROUP_SORTS


class RoleFilterForm(ListFilterForm):
    sorts = ROLE_SORTS
    service_linked = _optional_choice(
        "Service-linked", [("", "Include"), ("hide", "Hide"), ("only", "Only")]
    )


class PolicyFilterForm(ListFilterForm):
    sorts = POLICY_SORTS
    scope = _optional_choice(
        "Type", [("", "All"), ("aws", "AWS managed"), ("customer", "Customer managed")]
    )
    usage = _optional_choice("Usage", [*ANY, ("attached", "Attached"), ("unattached", "Unused")])


class ChangeFilterForm(_FilterForm):
    kind = forms.ChoiceField(required=False, label="Kind")
    action = _optional_choice("Action", [*ANY, *Change.Action.choices])
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _choice_field(self, "kind").choices = [("", "Any"), *((k, k) for k in kinds)]


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=2048, label="Search")


# --- graph pages ----------------------------------------------------------------------------------

DEPTH_CHOICES = [(str(n), f"{n} hop{'s' if n > 1 else ''}") for n in range(1, MAX_DEPTH + 1)]
# The kinds and their order are the graph's; only the filter's wording is said here.
_EDGE_KIND_FILTER_LABELS = {
    "member": "Group membership",
    "attached": "Managed policies",
    "inline": "Inline policies",
    "boundary": "Permission boundaries",
    "assume": "IAM principals (sts:AssumeRole)",
    "federated": "SAML / OIDC federation",
    "service": "AWS services",
    "anyone": "Anyone (*)",
    "outside": "Accounts outside the estate",
    "escalate": "Privilege escalation",
}
IDENTITY_KIND_CHOICES = [(kind, _EDGE_KIND_FILTER_LABELS[kind]) for kind in IDENTITY_EDGE_KINDS]
ACCESS_KIND_CHOICES = [(kind, _EDGE_KIND_FILTER_LABELS[kind]) for kind in ACCESS_EDGE_KINDS]
CONDITION_CHOICES = [
    ("", "Conditional and unconditional"),
    ("only", "Only conditional"),
    ("none", "Only unconditional"),
]
# Around a focus node: who can reach it ("in"), what it can reach ("out"), or both.
DIRECTION_CHOICES = [
    ("", "Both ways"),
    ("in", "Who can reach it"),
    ("out", "What it can reach"),
]
LENGTH_CHOICES = [(str(n), f"up to {n} hops") for n in range(1, MAX_PATH_LENGTH + 1)]


def _node_id_field() -> forms.CharField:
    """A graph node id carried in the query string (an ARN, with its kind)."""
    return forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)


def _number_choice(
    label: str, choices: list[tuple[str, str]], *, default: int
) -> forms.TypedChoiceField:
    return forms.TypedChoiceField(
        required=False,
        coerce=int,
        choices=choices,
        label=label,
        empty_value=default,  # type: ignore[arg-type]  # stubs say str; any value works
    )


class NodeListField(forms.Field):
    """Repeated node ids (`expand=a&expand=b`), deduplicated in order."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[str]:
        if not value:
            return []
        values = [value] if isinstance(value, str) else list(value)
        return list(dict.fromkeys(v.strip() for v in values if v and v.strip()))[:50]


class _GraphForm(forms.Form):
    edge_kind_choices: list[tuple[str, str]] = []

    kinds = forms.MultipleChoiceField(
        required=False, label="Edge kinds", widget=forms.CheckboxSelectMultiple
    )
    accounts = forms.MultipleChoiceField(required=False, label="Only accounts")
    expand = NodeListField(required=False)
    node = _node_id_field()
    account = forms.ChoiceField(required=False, label="Account")
    focus = _node_id_field()
    depth = _number_choice("Depth", DEPTH_CHOICES, default=2)

    def __init__(self, data: QueryDict, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        choices = account_choices()
        self.account_labels = dict(choices)
        _choice_field(self, "kinds").choices = self.edge_kind_choices
        _choice_field(self, "accounts").choices = choices
        _choice_field(self, "account").choices = [("", "All accounts"), *choices]

    def scope_params(self) -> dict[str, Any]:
        """The keyword arguments every neighbourhood view takes: account, focus, depth, the
        expanded nodes, edge kinds and accounts shown."""
        return {
            "account_id": self.clean_value("account") or "",
            "focus": self.clean_value("focus") or "",
            "depth": self.clean_value("depth") or 2,
            "expand": self.clean_value("expand"),
            "edge_kinds": self.clean_value("kinds"),
            "accounts": self.clean_value("accounts"),
        }

    def clean_value(self, name: str) -> Any:
        """The cleaned value of a field, or its empty value when it did not validate."""
        self.is_valid()
        if name in self.cleaned_data:
            return self.cleaned_data[name]
        field = self.fields[name]
        return field.empty_value if hasattr(field, "empty_value") else field.to_python(None)


class IdentityGraphForm(_GraphForm):
    edge_kind_choices = IDENTITY_KIND_CHOICES

    hide_aws = forms.BooleanField(required=False, label="Hide AWS-managed policies")

    def params(self) -> dict[str, Any]:
        """Keyword arguments of graph.build_identity_graph."""
        return {
            **self.scope_params(),
            "hide_aws_managed": bool(self.clean_value("hide_aws")),
        }


class AccessGraphForm(_GraphForm):
    edge_kind_choices = ACCESS_KIND_CHOICES

    cond = forms.ChoiceField(required=False, choices=CONDITION_CHOICES, label="Conditions")
    denied = forms.BooleanField(required=False, label="Show refused candidates")
    dir = forms.ChoiceField(required=False, choices=DIRECTION_CHOICES, label="Direction")

    def params(self) -> dict[str, Any]:
        """Keyword arguments of graph.build_access_graph."""
        return {
            **self.scope_params(),
            "conditional": self.clean_value("cond") or "",
            "show_denied": bool(self.clean_value("denied")),
            "direction": self.clean_value("dir") or "",
        }


class PathForm(forms.Form):
    source = _node_id_field()
    target = _node_id_field()
    length = _number_choice("Longest chain", LENGTH_CHOICES, default=4)
    mode = forms.ChoiceField(
        required=False,
        choices=[("shortest", "Shortest chains"), ("all", "All simple chains")],
        label="Show",
    )
    cond = forms.ChoiceField(required=False, choices=CONDITION_CHOICES, label="Conditions")
    node = _node_id_field()

    def params(self) -> dict[str, Any]:
        """Keyword arguments of graph.find_paths."""
        self.is_valid()
        data = self.cleaned_data
        return {
            "source": data.get("source") or "",
            "target": data.get("target") or "",
            "max_length": data.get("length") or 4,
            "mode": data.get("mode") or "shortest",
            "conditional": data.get("cond") or "",
        }


class SuggestForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)
    field = forms.ChoiceField(
        required=False, choices=[("focus", "focus"), ("source", "source"), ("target", "target")]
    )


# --- AWS sync pages -------------------------------------------------------------------------------

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


KIND_CHOICES = [
    *ANY,
    ("edge", "Access edges"),
    ("admin", "Administrators"),
    ("reach", "Paths to an administrator"),
    ("sensitive", "Paths to a sensitive role"),
    ("finding", "Findings"),
    *AccessChange.Category.choices,
]


class ChangesFilterForm(forms.Form):
    """``from``/``to`` are analysis run ids (default: the last two analyses)."""

    since = forms.IntegerField(required=False, min_value=1, label="Since analysis")
    to = forms.IntegerField(required=False, min_value=1, label="Up to analysis")
    account = forms.CharField(required=False, max_length=12)
    kind = forms.ChoiceField(required=False, choices=KIND_CHOICES)
    severity = forms.ChoiceField(required=False, choices=[("", "Any"), *Severity.choices])

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        return {
            "from_id": data.get("since"),
            "to_id": data.get("to"),
            "account_id": data.get("account") or "",
            "category": data.get("kind") or "",
            "severity": data.get("severity") or "",
        }


class EdgeReviewForm(forms.Form):
    source = forms.CharField(max_length=2048, widget=forms.HiddenInput)
    target = forms.CharField(max_length=2048, widget=forms.HiddenInput)
    conditions = forms.CharField(required=False, widget=forms.HiddenInput)
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    next = forms.CharField(required=False, widget=forms.HiddenInput)


def _end_of_day(day: Any) -> datetime | None:
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


class FindingDecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(TriageStatus.ACCEPTED, "Accept"), (TriageStatus.SUPPRESSED, "Suppress")]
    )
    reason = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    until = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="re-opened automatically after this day",
    )

    def clean_until(self) -> datetime | None:
        until = _end_of_day(self.cleaned_data.get("until"))
        if until is not None and until <= timezone.now():
            raise forms.ValidationError("Choose a day in the future.")
        return until

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == TriageStatus.SUPPRESSED and not data.get("until"):
            self.add_error("until", "A suppression needs an end; accept the finding otherwise.")
        return data


class FindingReopenForm(forms.Form):
    note = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))


class SuppressionRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    finding_kind = forms.ChoiceField(
        required=False, choices=[("", "Any kind"), *Finding.Kind.choices]
    )
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    class Meta:
        model = SuppressionRule
        fields = [
            "applies_to",
            "decision",
            "finding_kind",
            "principal",
            "source",
            "account_id",
            "condition_key",
            "reason",
            "until",
        ]
        widgets = {"reason": forms.Textarea(attrs={"rows": 2})}
        help_texts = {
            "principal": "pattern: the finding's principal, or the edge's role (* matches any)",
            "source": "pattern: the account a finding's role trusts, or who holds the edge",
            "condition_key": "the edge (or finding) must have a condition on this key",
        }

    def clean_until(self) -> datetime | None:
        return _end_of_day(self.cleaned_data.get("until"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        applies_to, decision = data.get("applies_to"), data.get("decision")
        if applies_to == SuppressionRule.AppliesTo.EDGE and decision != "expected":
            self.add_error("decision", "A rule for edges marks them expected.")
        if applies_to == SuppressionRule.AppliesTo.FINDING and decision == "expected":
            self.add_error("decision", "A rule for findings accepts or suppresses them.")
        return data


class NotificationSettingsForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = NotificationSettings
        fields = ["enabled", "min_severity"]
        labels = {"min_severity": "Notify from this severity up"}


class NotificationDestinationForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(required=False, max_length=2048, assume_scheme="https")

    class Meta:
        model = NotificationDestination
        fields = ["kind", "name", "url", "email", "enabled"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("kind") == NotificationDestination.Kind.WEBHOOK and not data.get("url"):
            self.add_error("url", "A webhook needs its URL.")
        if data.get("kind") == NotificationDestination.Kind.EMAIL and not data.get("email"):
            self.add_error("email", "An email destination needs an address.")
        return data


class SensitiveTargetForm(forms.ModelForm):  # type: ignore[type-arg]
    """A rule marking roles sensitive: the value is checked for its kind."""

    class Meta:
        model = SensitiveTarget
        fields = ["kind", "value", "reason"]
        help_texts = {
            "value": "arn:aws:iam::123456789012:role/deploy, *break-glass*, or env=prod",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, value = data.get("kind"), (data.get("value") or "").strip()
        if not value:
            return data
        if (
            kind == SensitiveTarget.Kind.ARN
            and arns.classify_arn(value) is not arns.SourceKind.ROLE
        ):
            self.add_error("value", f"{value!r} is not a role ARN (arn:aws:iam::ID:role/NAME).")
        elif kind == SensitiveTarget.Kind.TAG:
            try:
                key, pattern = parse_tag_rule(value)
            except ValueError as exc:
                self.add_error("value", str(exc))
            else:
                value = f"{key}={pattern}" if pattern else key
        data["value"] = value
        return data


# -- what if: a proposal of several changes -----------------------------------------------------
# Validated as the command line validates them (`what_if.proposal_from`: the importer's decoding
# and quotas, the policy engine's parser), errors naming the change and the JSON path.

WHAT_IF_DOCUMENT_OPTIONS = {
    "trust-policy": "Replace a role's trust policy",
    "policy": "Replace an identity policy (managed, or OWNER_ARN#NAME inline)",
    "boundary": "Give a user or role this permissions boundary",
    "scp": "Replace an SCP or RCP",
}
WHAT_IF_OTHER_OPTIONS = {
    "remove-statement": "Remove one statement (by Sid or 0-based index)",
    "remove-membership": "Take a user out of a group",
    "detach": "Detach a managed policy from a user, group or role",
}
WHAT_IF_DOCUMENT_SOURCE = "document"  # how errors name an edited document
WHAT_IF_MAX_CHANGES = 20


class WhatIfChangeForm(forms.Form):
    """One change of a proposal: ``argument`` for a removal or a detach, ``document`` for the
    others."""

    change = forms.ChoiceField(
        choices=[*WHAT_IF_DOCUMENT_OPTIONS.items(), *WHAT_IF_OTHER_OPTIONS.items()]
    )
    target = forms.CharField(
        max_length=2048,
        help_text="The role, policy (ARN, OWNER_ARN#NAME, p-…), principal or user it changes.",
    )
    argument = forms.CharField(
        max_length=2048,
        required=False,
        label="Group, statement or principal",
        help_text="The group ARN (membership), the statement's Sid or index, or the user, group "
        "or role ARN to detach the policy from.",
    )
    document = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false", "class": "code"}),
        required=False,
        help_text="The policy document as it would be (JSON).",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        option = data.get("change")
        if option and data.get("target"):
            field = "document" if option in WHAT_IF_DOCUMENT_OPTIONS else "argument"
            if not data.get(field):
                self.add_error(field, "This change needs it.")
        return data

    @property
    def takes_document(self) -> bool:
        return self["change"].value() in WHAT_IF_DOCUMENT_OPTIONS

    def as_change(self) -> tuple[str, list[Any]]:
        """(option, [target, document or argument]), as `proposal_from` takes it."""
        option, target = self.cleaned_data["change"], self.cleaned_data["target"]
        field = "document" if option in WHAT_IF_DOCUMENT_OPTIONS else "argument"
        return option, [target, self.cleaned_data[field]]


class BaseWhatIfFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    """The changes of one proposal, in order; valid when together they make a `Proposal`."""

    proposal: Proposal | None = None

    def kept(self) -> list[WhatIfChangeForm]:
        """The changes not marked for removal."""
        return [form for form in self.forms if not getattr(form, "cleaned_data", {}).get("DELETE")]

    def clean(self) -> None:
        if any(self.errors):
            return
        forms_kept = self.kept()
        if not forms_kept:
            raise ValidationError("Give at least one change.")
        changes = [form.as_change() for form in forms_kept]
        for count in range(1, len(changes) + 1):  # the first change that fails names it
            try:
                self.proposal = proposal_from(changes[:count], source=WHAT_IF_DOCUMENT_SOURCE)
            except BundleError as exc:
                forms_kept[count - 1].add_error("document", f"{exc.path}: {exc.problem}")
            except WhatIfError as exc:
                forms_kept[count - 1].add_error("target", str(exc))
            else:
                continue
            self.proposal = None
            return

    def changes(self) -> list[list[Any]]:
        """The changes as a saved proposal keeps them: documents as decoded."""
        saved: list[list[Any]] = []
        for form in self.kept():
            option, (target, value) = form.as_change()
            if option in WHAT_IF_DOCUMENT_OPTIONS:
                value = decode_policy_document(value, source=WHAT_IF_DOCUMENT_SOURCE, path="$")
            saved.append([option, [target, value]])
        return saved


WhatIfFormSet = cast(
    type[BaseWhatIfFormSet],
    forms.formset_factory(
        WhatIfChangeForm,
        formset=BaseWhatIfFormSet,
        extra=0,
        can_delete=True,
        max_num=WHAT_IF_MAX_CHANGES,
        validate_max=True,
    ),
)


class WhatIfNameForm(forms.Form):
    name = forms.CharField(
        max_length=200, required=False, help_text="A name, to save the proposal."
    )


def what_if_initial(params: Any) -> list[dict[str, Any]]:
    """The editor's first changes: each ``change``, a ``what_if`` command line (what the Choke
    points page links with); or ``edit`` (an option) with ``target`` (and ``group`` for a
    membership, ``principal`` for a detach), the current document prefilled."""
    if params.get("change"):
        found: list[dict[str, Any]] = []
        for line in params.getlist("change") if hasattr(params, "getlist") else [params["change"]]:
            try:
                argv = shlex.split(line)
            except ValueError:
                continue
            if len(argv) == 3 and argv[0].startswith("--"):
                found.append({"change": argv[0][2:], "target": argv[1], "argument": argv[2]})
        return found or [{}]
    option = params.get("edit") or "trust-policy"
    target = params.get("target") or ""
    initial = {"change": option, "target": target}
    if option in ("remove-membership", "detach"):
        initial["argument"] = params.get("group") or params.get("principal") or ""
    elif option in WHAT_IF_DOCUMENT_OPTIONS:
        initial["document"] = _what_if_document(option, target)
    return [initial]


def what_if_initial_of_saved(changes: list[Any]) -> list[dict[str, Any]]:
    """The editor's values for a saved proposal's changes."""
    found = []
    for option, args in changes:
        initial: dict[str, Any] = {"change": option, "target": args[0]}
        if option in WHAT_IF_DOCUMENT_OPTIONS:
            initial["document"] = json.dumps(args[1], indent=2)
        else:
            initial["argument"] = args[1]
        found.append(initial)
    return found or [{}]


def what_if_initial_of_data(data: QueryDict, *, add: bool) -> list[dict[str, Any]]:
    """The changes as posted, without the removed ones (and one more to fill in with ``add``);
    a document change without a document starts from the current one."""
    prefix = WhatIfFormSet().prefix
    try:
        count = min(int(data.get(f"{prefix}-TOTAL_FORMS", "0")), WHAT_IF_MAX_CHANGES)
    except ValueError:
        count = 0
    found: list[dict[str, Any]] = []
    for index in range(count):
        row = {
            name: data.get(f"{prefix}-{index}-{name}", "")
            for name in ("change", "target", "argument", "document")
        }
        if data.get(f"{prefix}-{index}-DELETE"):
            continue
        if row["change"] in WHAT_IF_DOCUMENT_OPTIONS and row["target"] and not row["document"]:
            row["document"] = _what_if_document(row["change"], row["target"])
        found.append(row)
    if add and len(found) < WHAT_IF_MAX_CHANGES:
        found.append({"change": "trust-policy"})
    return found or [{}]


def _what_if_document(option: str, target: str) -> str:
    """The current document the change replaces, as indented JSON ("" if none)."""
    if not target:
        return ""
    try:
        if option == "scp":
            document = current_document(PolicyRef(ORG, target.rsplit("/", 1)[-1]))
        elif option == "boundary":
            document = _boundary_of(target)
        else:
            document = current_document(PolicyRef.parse(target))
    except (WhatIfError, BundleError):
        return ""
    return json.dumps(document, indent=2)


def _boundary_of(principal: str) -> dict[str, Any]:
    """The principal's current boundary document, or an empty policy to start from."""
    kind = IamRole if ":role/" in principal else IamUser
    arn = kind.objects.filter(arn=principal).values_list("boundary_arn", flat=True).first()
    if arn and ManagedPolicy.objects.filter(arn=arn).exists():
        return current_document(PolicyRef.parse(arn))
    return {"Version": "2012-10-17", "Statement": []}


def group_members(group_arn: str) -> list[str]:
    """The users of a group, for the membership editor."""
    return list(
        GroupMembership.objects.filter(group__arn=group_arn)
        .order_by("user__arn")
        .values_list("user__arn", flat=True)
    )
