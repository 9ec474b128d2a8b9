"""Field helpers shared by the forms of every page."""

from __future__ import annotations

from django import forms

ANY = [("", "Any")]


def _choice_field(form: forms.BaseForm, name: str) -> forms.ChoiceField:
    """A choice field of `form`, whose choices are set per request."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


def _optional_choice(label: str, choices: list[tuple[str, str]]) -> forms.ChoiceField:
    """A filter the user may leave at its first choice."""
    return forms.ChoiceField(required=False, label=label, choices=choices)
