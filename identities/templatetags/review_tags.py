"""Template helpers of the review pages."""

from __future__ import annotations

from typing import Any

from django import template
from django.http import QueryDict

register = template.Library()


@register.simple_tag
def edge_query(query: str, item: Any) -> str:
    """The Changes page's query (its runs and filters) with this change's edge."""
    params = QueryDict(query, mutable=True)
    params["source"] = item.source
    params["target"] = item.target
    return params.urlencode()
