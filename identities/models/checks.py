"""The constraints the models declare again and again, each written once."""

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
