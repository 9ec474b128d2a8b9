"""The escalation pages: who can escalate how (by method, by principal, CSV), the catalogue of
methods, one principal's "Can escalate" (also embedded in the user and role pages), and the
live "Who can…?" question."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from django.views.decorators.http import require_GET

from identities.analysis.escalation_methods import METHODS, METHODS_BY_ID
from identities.analysis.who_can import who_can
from identities.models import IamRole, IamUser
from identities.queries import access
from identities.queries.escalations import (
    ESCALATION_ROW_FIELDS,
    Escalation,
    ExpandedEscalations,
    count_methods,
    count_principals,
    escalation_rows,
    escalations_of,
    iter_escalations,
)
from identities.queries.estate import account_choices
from identities.queries.shared_cache import warmer
from identities.roles import VIEWER
from identities.views import common
from identities.views.common import HtmxHttpRequest, paginate, render_page_or_fragment, require_role

VIEWS = ("method", "principal", "all")
STATUSES = ("proven", "potential")
FILTERS = ("account", "method", "status")


def _csv_rows(escalations: Iterable[Escalation]) -> Iterator[list[str]]:
    yield list(ESCALATION_ROW_FIELDS)
    for e in escalations:
        yield [
            e.principal,
            e.method,
            e.status,
            e.target or "",
            " | ".join(e.conditions),
            " | ".join(e.granted_by),
        ]


@require_role(VIEWER)
@require_GET
def escalations(request: HtmxHttpRequest) -> HttpResponseBase:
    """Who can escalate how: counts by method or by principal, and every escalation."""
    account, method, status = (request.GET.get(name) or None for name in FILTERS)
    query = (request.GET.get("q") or "").strip()
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "method"
    filters: dict[str, Any] = {
        "account_id": account,
        "method": method if method in METHODS_BY_ID else None,
        "status": status if status in STATUSES else None,
    }
    if request.GET.get("format") == "csv":
        found = iter_escalations(**filters)
        if query:
            found = (e for e in found if query.lower() in e.principal.lower())
        return common.csv_response("escalations.csv", _csv_rows(found))
    by_principal = count_principals(**filters, query=query)
    totals = sorted((row.principal, row.escalations) for row in by_principal)
    context: dict[str, Any] = {
        "analysis": access.current_run(),
        "account": account or "",
        "account_choices": account_choices(),
        "method": method or "",
        "methods": METHODS,
        "status": status or "",
        "q": query,
        "view": view,
        "total": sum(n for _, n in totals),
        "by_method": count_methods(**filters, query=query) if view == "method" else [],
        "by_principal": paginate(request, by_principal) if view == "principal" else None,
        "rows": paginate(request, ExpandedEscalations(totals, escalation_rows(**filters)))
        if view == "all"
        else None,
        "csv_query": request.GET.urlencode(),
    }
    return render_page_or_fragment(request, "identities/escalations.html", "escalations", context)


@warmer("escalation-counts")
def warm_escalation_counts() -> None:
    """The counts of the escalations page without filters (by method and by principal)."""
    count_principals()
    count_methods()


@require_role(VIEWER)
@require_GET
def escalation_catalogue(request: HtmxHttpRequest) -> HttpResponse:
    """Every method: what it needs, what it yields, proven or potential, references, the fix."""
    categories: dict[str, list[Any]] = {}
    for method in METHODS:
        categories.setdefault(method.category, []).append(method)
    return render_page_or_fragment(
        request,
        "identities/escalation_catalogue.html",
        None,
        {"categories": categories, "count": len(METHODS)},
    )


def _can_escalate(request: HtmxHttpRequest, principal: IamUser | IamRole) -> HttpResponse:
    found = escalations_of(principal.arn)
    methods = {e.method: METHODS_BY_ID[e.method] for e in found}
    context = {
        "principal": principal,
        "analysis": access.current_run(),
        "escalations": found,
        "methods": list(methods.values()),
    }
    return render_page_or_fragment(
        request, "identities/escalation_principal.html", "can-escalate", context
    )


@require_role(VIEWER)
@require_GET
def user_escalations(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    return _can_escalate(request, common.user_or_404(account_id, name))


@require_role(VIEWER)
@require_GET
def role_escalations(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    return _can_escalate(request, common.role_or_404(account_id, name))


@require_role(VIEWER)
@require_GET
def who_can_page(request: HtmxHttpRequest) -> HttpResponse:
    """Who can do ACTION on RESOURCE? Every principal whose effective permissions allow it."""
    action = (request.GET.get("action") or "").strip()
    resource = (request.GET.get("resource") or "").strip()
    error = ""
    found = None
    if action or resource:
        service, _, name = action.partition(":")
        if not service or not name:
            error = "Give an action as service:Name, e.g. iam:CreateAccessKey."
        elif resource != "*" and not resource.startswith("arn:"):
            error = "Give a resource ARN, or * for any resource."
        else:
            found = who_can(action, resource, now=timezone.now())
    context = {
        "action": action,
        "resource": resource,
        "error": error,
        "found": found,
        "conditional": sum(1 for allowed in found or () if allowed.conditional),
    }
    return render_page_or_fragment(request, "identities/who_can.html", "who-can", context)
