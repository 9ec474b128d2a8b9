"""GET forms of the graph pages: what a view shows, parsed from (and written back to) its URL.

Every field is optional and an invalid value falls back to its default, so a pasted permalink
with a stale filter still opens a view rather than an error.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.http import QueryDict

from identities.graph import MAX_DEPTH, MAX_PATH_LENGTH
from identities.queries import account_choices

logger = logging.getLogger(__name__)

DEPTH_CHOICES = [(str(n), f"{n} hop{'s' if n > 1 else ''}") for n in range(1, MAX_DEPTH + 1)]
IDENTITY_KIND_CHOICES = [
    ("member", "Group membership"),
    ("attached", "Managed policies"),
    ("inline", "Inline policies"),
    ("boundary", "Permission boundaries"),
]
ACCESS_KIND_CHOICES = [
    ("assume", "IAM principals (sts:AssumeRole)"),
    ("federated", "SAML / OIDC federation"),
    ("service", "AWS services"),
    ("anyone", "Anyone (*)"),
    ("outside", "Accounts outside the estate"),
]
CONDITION_CHOICES = [
    ("", "Conditional and unconditional"),
    ("only", "Only conditional"),
    ("none", "Only unconditional"),
]
LENGTH_CHOICES = [(str(n), f"up to {n} hops") for n in range(1, MAX_PATH_LENGTH + 1)]


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
    node = forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)

    def __init__(self, data: QueryDict, *args: Any, **kwargs: Any) -> None:
        super().__init__(data, *args, **kwargs)
        choices = account_choices()
        self.account_labels = dict(choices)
        self.fields["kinds"].choices = self.edge_kind_choices
        self.fields["accounts"].choices = choices
        if "account" in self.fields:
            self.fields["account"].choices = [("", "All accounts"), *choices]

    def clean_value(self, name: str) -> Any:
        """The cleaned value of a field, or its empty value when it did not validate."""
        self.is_valid()
        if name in self.cleaned_data:
            return self.cleaned_data[name]
        field = self.fields[name]
        return field.empty_value if hasattr(field, "empty_value") else field.to_python(None)


class IdentityGraphForm(_GraphForm):
    edge_kind_choices = IDENTITY_KIND_CHOICES

    account = forms.ChoiceField(required=False, label="Account")
    focus = forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)
    depth = forms.TypedChoiceField(
        required=False, coerce=int, choices=DEPTH_CHOICES, label="Depth", empty_value=2
    )
    hide_aws = forms.BooleanField(required=False, label="Hide AWS-managed policies")

    def params(self) -> dict[str, Any]:
        """Keyword arguments of graph.build_identity_graph."""
        return {
            "account_id": self.clean_value("account") or "",
            "focus": self.clean_value("focus") or "",
            "depth": self.clean_value("depth") or 2,
            "expand": self.clean_value("expand"),
            "edge_kinds": self.clean_value("kinds"),
            "accounts": self.clean_value("accounts"),
            "hide_aws_managed": bool(self.clean_value("hide_aws")),
        }


class AccessGraphForm(_GraphForm):
    edge_kind_choices = ACCESS_KIND_CHOICES

    account = forms.ChoiceField(required=False, label="Account")
    focus = forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)
    depth = forms.TypedChoiceField(
        required=False, coerce=int, choices=DEPTH_CHOICES, label="Depth", empty_value=2
    )
    cond = forms.ChoiceField(required=False, choices=CONDITION_CHOICES, label="Conditions")
    denied = forms.BooleanField(required=False, label="Show refused candidates")

    def params(self) -> dict[str, Any]:
        """Keyword arguments of graph.build_access_graph."""
        return {
            "account_id": self.clean_value("account") or "",
            "focus": self.clean_value("focus") or "",
            "depth": self.clean_value("depth") or 2,
            "expand": self.clean_value("expand"),
            "edge_kinds": self.clean_value("kinds"),
            "accounts": self.clean_value("accounts"),
            "conditional": self.clean_value("cond") or "",
            "show_denied": bool(self.clean_value("denied")),
        }


class PathForm(forms.Form):
    source = forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)
    target = forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)
    length = forms.TypedChoiceField(
        required=False, coerce=int, choices=LENGTH_CHOICES, label="Longest chain", empty_value=4
    )
    mode = forms.ChoiceField(
        required=False,
        choices=[("shortest", "Shortest chains"), ("all", "All simple chains")],
        label="Show",
    )
    cond = forms.ChoiceField(required=False, choices=CONDITION_CHOICES, label="Conditions")
    node = forms.CharField(required=False, max_length=2200, widget=forms.HiddenInput)

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
