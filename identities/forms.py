"""GET filter and search forms of the browse pages; validation only."""

from __future__ import annotations

import logging
from typing import Any

from django import forms

from identities.models import Change
from identities.queries import (
    GROUP_SORTS,
    POLICY_SORTS,
    ROLE_SORTS,
    USER_SORTS,
    account_choices,
)

logger = logging.getLogger(__name__)

ANY = [("", "Any")]


def _sort_choices(sorts: dict[str, str]) -> list[tuple[str, str]]:
    return [("", "")] + [(k, k) for k in sorts] + [(f"-{k}", f"-{k}") for k in sorts]


class ListFilterForm(forms.Form):
    """Search text, account and path prefix shared by every estate list."""

    sorts: dict[str, str] = {}

    q = forms.CharField(required=False, max_length=2048, label="Search")
    account = forms.ChoiceField(required=False, label="Account")
    path = forms.CharField(required=False, max_length=512, label="Path prefix")
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", "All accounts"), *account_choices()]
        self.fields["sort"].choices = _sort_choices(self.sorts)

    def filters(self) -> dict[str, Any]:
        """The valid filters; an invalid field falls back to no filter rather than an error."""
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


class UserFilterForm(ListFilterForm):
    sorts = USER_SORTS
    mfa = forms.ChoiceField(
        required=False,
        label="MFA",
        choices=[*ANY, ("yes", "Has MFA"), ("no", "No MFA"), ("unknown", "No credential report")],
    )
    password = forms.ChoiceField(
        required=False,
        label="Console password",
        choices=[*ANY, ("yes", "Password enabled"), ("no", "No password")],
    )
    keys = forms.ChoiceField(
        required=False,
        label="Access keys",
        choices=[*ANY, ("yes", "Has active keys"), ("no", "No active keys")],
    )


class GroupFilterForm(ListFilterForm):
    sorts = GROUP_SORTS


class RoleFilterForm(ListFilterForm):
    sorts = ROLE_SORTS
    service_linked = forms.ChoiceField(
        required=False,
        label="Service-linked",
        choices=[("", "Include"), ("hide", "Hide"), ("only", "Only")],
    )


class PolicyFilterForm(ListFilterForm):
    sorts = POLICY_SORTS
    scope = forms.ChoiceField(
        required=False,
        label="Type",
        choices=[("", "All"), ("aws", "AWS managed"), ("customer", "Customer managed")],
    )
    usage = forms.ChoiceField(
        required=False,
        label="Usage",
        choices=[*ANY, ("attached", "Attached"), ("unattached", "Unused")],
    )


class ChangeFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, label="Kind")
    action = forms.ChoiceField(
        required=False, label="Action", choices=[("", "Any"), *Change.Action.choices]
    )
    page = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, kinds: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [("", "Any"), *((k, k) for k in kinds)]

    def filters(self) -> dict[str, Any]:
        self.is_valid()
        return {name: value for name, value in self.cleaned_data.items() if value}


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=2048, label="Search")
