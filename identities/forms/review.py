"""The daily review's forms: the Changes filter, edge review, finding decisions, suppression
rules, notification settings, sensitive targets."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django import forms
from django.utils import timezone

from identities import arns
from identities.analysis.sensitive import parse_tag_rule
from identities.forms.common import ANY
from identities.models import (
    AccessChange,
    Finding,
    NotificationDestination,
    NotificationSettings,
    SensitiveTarget,
    SuppressionRule,
    TriageStatus,
)
from identities.models.review import Severity

KIND_CHOICES = [
    *ANY,
    ("edge", "Access edges"),
    ("admin", "Administrators"),
    ("reach", "Paths to an administrator"),
    ("sensitive", "Paths to a sensitive role"),
    ("escalation", "Escalations"),
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
