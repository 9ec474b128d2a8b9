"""The constraints and fields the models declare again and again, each written once."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Q


def one_of(field: str, values: list[Any], name: str) -> models.CheckConstraint:
    """The database refuses a `field` value that is not among `values`."""
    return models.CheckConstraint(condition=Q(**{f"{field}__in": values}), name=name)


def unique(*fields: str, name: str) -> models.UniqueConstraint:
    """The database refuses a second row with the same `fields`."""
    return models.UniqueConstraint(fields=list(fields), name=name)


def optional_link(
    to: Any,
    related_name: str,
    on_delete: Any = models.CASCADE,
    *,
    help_text: str = "",
    db_constraint: bool = True,
) -> models.ForeignKey[Any, Any]:
    """A foreign key that may be empty (null in the database, blank in forms)."""
    return models.ForeignKey(
        to,
        null=True,
        blank=True,
        on_delete=on_delete,
        related_name=related_name,
        help_text=help_text,
        db_constraint=db_constraint,
    )
