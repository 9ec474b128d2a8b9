"""The what-if editor: a proposal of several changes.

Validated as the command line validates them (`what_if.proposal_from`: the importer's decoding
and quotas, the policy engine's parser), errors naming the change and the JSON path."""

from __future__ import annotations

import json
import shlex
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict

from identities.analysis.what_if import (
    ORG,
    PolicyRef,
    Proposal,
    WhatIfError,
    current_document,
    proposal_from,
)
from identities.bundle import BundleError, decode_policy_document
from identities.models import GroupMembership, IamRole, IamUser, ManagedPolicy

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
