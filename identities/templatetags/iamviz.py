"""Template helpers: highlighted policy documents and sortable column headers."""

from __future__ import annotations

import json
import logging
from typing import Any

from django import template
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import JsonLexer

logger = logging.getLogger(__name__)

register = template.Library()

_FORMATTER = HtmlFormatter(cssclass="highlight", wrapcode=True)
_LEXER = JsonLexer()


@register.filter
def policy_json(document: Any) -> SafeString:
    """A policy document as indented JSON, highlighted by Pygments (CSS classes in site.css)."""
    if document is None:
        return format_html('<p class="muted">{}</p>', "The document is not in the bundle.")
    text = json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False)
    # Pygments escapes the text it highlights, so the markup is safe.
    return mark_safe(highlight(text, _LEXER, _FORMATTER))


@register.filter
def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(", ", ": "), ensure_ascii=False)


@register.simple_tag(takes_context=True)
def sort_header(context: dict[str, Any], label: str, key: str, target: str = "#results") -> str:
    """A column header link that sorts by `key`, toggling the direction when already sorted;
    it keeps the other filters, drops the page, and swaps the results region with htmx."""
    request: HttpRequest = context["request"]
    current = request.GET.get("sort", "")
    if current == key:
        new, arrow, state = f"-{key}", " ▲", "(sorted ascending)"
    elif current == f"-{key}":
        new, arrow, state = key, " ▼", "(sorted descending)"
    else:
        new, arrow, state = key, "", ""
    params = request.GET.copy()
    params.pop("page", None)
    params["sort"] = new
    url = f"{request.path}?{params.urlencode()}"
    return format_html(
        '<a href="{}" hx-get="{}" hx-target="{}" hx-push-url="true">{}<span '
        'class="sort-arrow" aria-hidden="true">{}</span><span class="visually-hidden">{}</span>'
        "</a>",
        url,
        url,
        target,
        label,
        arrow,
        state,
    )


@register.simple_tag(takes_context=True)
def csv_url(context: dict[str, Any]) -> str:
    """The current list URL with its filters, asking for CSV (no page: the export is whole)."""
    request: HttpRequest = context["request"]
    params = request.GET.copy()
    params.pop("page", None)
    params["format"] = "csv"
    return f"{request.path}?{params.urlencode()}"
