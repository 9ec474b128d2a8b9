"""The graph pages' GET forms, which parse what a view shows from (and write it back to) its
URL; an invalid value falls back to its default."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from identities.forms.common import _choice_field
from identities.graph.build import (
    ACCESS_EDGE_KINDS,
    IDENTITY_EDGE_KINDS,
    MAX_DEPTH,
    MAX_PATH_LENGTH,
)
from identities.queries.estate import account_choices

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
    full = forms.BooleanField(required=False, label="Every hop, however wide")

    def params(self) -> dict[str, Any]:
        """Keyword arguments of graph.build_access_graph."""
        return {
            **self.scope_params(),
            "conditional": self.clean_value("cond") or "",
            "show_denied": bool(self.clean_value("denied")),
            "direction": self.clean_value("dir") or "",
            "full": bool(self.clean_value("full")),
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
