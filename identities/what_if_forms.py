"""The what-if editor: one change, prefilled from the document it replaces, validated as the
command line validates it (`what_if.proposal_from`: the importer's decoding and quotas, the
policy engine's parser), errors naming the JSON path."""

from __future__ import annotations

import json
import shlex
from typing import Any

from django import forms

from identities.analysis.what_if import (
    ORG,
    PolicyRef,
    Proposal,
    WhatIfError,
    current_document,
    proposal_from,
)
from identities.bundle import BundleError
from identities.models import GroupMembership, IamRole, IamUser, ManagedPolicy

DOCUMENT_OPTIONS = {
    "trust-policy": "Replace a role's trust policy",
    "policy": "Replace an identity policy (managed, or OWNER_ARN#NAME inline)",
    "boundary": "Give a user or role this permissions boundary",
    "scp": "Replace an SCP or RCP",
}
OTHER_OPTIONS = {
    "remove-membership": "Take a user out of a group",
    "remove-statement": "Remove one statement (by Sid or 0-based index)",
}
DOCUMENT_SOURCE = "document"  # how errors name the edited document


class WhatIfForm(forms.Form):
    change = forms.ChoiceField(choices=[*DOCUMENT_OPTIONS.items(), *OTHER_OPTIONS.items()])
    target = forms.CharField(
        max_length=2048,
        help_text="The role, policy (ARN, OWNER_ARN#NAME, p-…), principal or user it changes.",
    )
    argument = forms.CharField(
        max_length=2048,
        required=False,
        label="Group or statement",
        help_text="The group ARN (membership) or the statement's Sid or index.",
    )
    document = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 18, "spellcheck": "false", "class": "code"}),
        required=False,
        help_text="The policy document as it would be (JSON).",
    )
    name = forms.CharField(
        max_length=200, required=False, help_text="A name, to save the proposal."
    )

    proposal: Proposal | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        option, target = data.get("change"), data.get("target")
        if not option or not target:
            return data
        argument = data.get("document") if option in DOCUMENT_OPTIONS else data.get("argument")
        if not argument:
            field = "document" if option in DOCUMENT_OPTIONS else "argument"
            self.add_error(field, "This change needs it.")
            return data
        try:
            self.proposal = proposal_from([(option, [target, argument])], source=DOCUMENT_SOURCE)
        except BundleError as exc:
            self.add_error("document", f"{exc.path}: {exc.problem}")
        except WhatIfError as exc:
            self.add_error("target", str(exc))
        return data

    def changes(self) -> list[list[Any]]:
        """The change as a saved proposal keeps it: the document as decoded."""
        assert self.proposal is not None
        option, target = self.cleaned_data["change"], self.cleaned_data["target"]
        if option in DOCUMENT_OPTIONS:
            return [[option, [target, next(iter(self.proposal.documents.values()))]]]
        return [[option, [target, self.cleaned_data["argument"]]]]


def initial_of(params: Any) -> dict[str, Any]:
    """The editor's first values: ``edit`` (an option) and ``target`` (``group`` for a
    membership), the current document prefilled; or ``change``, a ``what_if`` command line
    (what the Choke points page links with)."""
    if params.get("change"):
        try:
            argv = shlex.split(params["change"])
        except ValueError:
            return {}
        if len(argv) == 3 and argv[0].startswith("--"):
            return {"change": argv[0][2:], "target": argv[1], "argument": argv[2]}
        return {}
    option = params.get("edit") or "trust-policy"
    target = params.get("target") or ""
    initial = {"change": option, "target": target}
    if option == "remove-membership":
        initial["argument"] = params.get("group") or ""
        return initial
    if option in DOCUMENT_OPTIONS and target:
        document = _document_of(option, target)
        if document is not None:
            initial["document"] = json.dumps(document, indent=2)
    return initial


def initial_of_changes(changes: list[Any]) -> dict[str, Any]:
    """The editor's values for a saved proposal's first change."""
    if not changes:
        return {}
    option, args = changes[0]
    initial: dict[str, Any] = {"change": option, "target": args[0]}
    if option in DOCUMENT_OPTIONS:
        initial["document"] = json.dumps(args[1], indent=2)
    else:
        initial["argument"] = args[1]
    return initial


def _document_of(option: str, target: str) -> dict[str, Any] | None:
    try:
        if option == "scp":
            return current_document(PolicyRef(ORG, target.rsplit("/", 1)[-1]))
        if option == "boundary":
            return _boundary_of(target)
        return current_document(PolicyRef.parse(target))
    except (WhatIfError, BundleError):
        return None


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
