"""The browse pages' GET filters and search: every field is optional and an invalid value
falls back to no filter, so a pasted permalink with a stale filter still opens a page."""

from __future__ import annotations

from typing import Any

from django import forms

from identities.forms.common import ANY, _choice_field, _optional_choice
from identities.models import Change
from identities.queries.estate import (
    GROUP_SORTS,
    POLICY_SORTS,
    ROLE_SORTS,
    USER_SORTS,
    account_choices,
)


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
