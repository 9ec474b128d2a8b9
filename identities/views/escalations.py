"""The escalation pages: who can escalate how (by method, by principal, CSV), the catalogue of
methods, one principal's "Can escalate" (also embedded in the user and role pages), and the
live "Who can…?" question."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, QueryDict
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from identities.analysis.escalation_methods import METHODS, METHODS_BY_ID
from identities.analysis.who_can import Allowed
from identities.models import IamRole, IamUser
from identities.queries import access
from identities.queries.escalations import (
    ExpandedEscalations,
    count_methods,
    count_principals,
    escalation_rows,
    escalations_of,
    matching_escalations,
    total_escalations,
)
from identities.queries.estate import account_choices
from identities.queries.exports import escalation_csv_rows, who_can_csv_rows
from identities.queries.shared_cache import warmer
from identities.queries.who_can import (
    answer_failed,
    answer_who_can,
    answered,
    answered_summary,
    answers_in_background,
    select_allowed,
    start_answering,
    summarise_who_can,
)
from identities.roles import VIEWER
from identities.views import common
from identities.views.common import HtmxHttpRequest, paginate, render_page_or_fragment, require_role

VIEWS = ("method", "principal", "all")
# The most escalations one CSV streams: about 10 s at ~100,000 rows a second, within the web
# worker's 30 s timeout (gunicorn ends a sync worker mid-stream past it, and the download
# breaks off). A 50-account estate holds 16 million; past this, the page asks for a filter.
CSV_LIMIT = 1_000_000
STATUSES = ("proven", "potential")


def escalation_filters(data: QueryDict) -> dict[str, Any]:
    """The escalations page's filters (account, method, status, q) as `matching_escalations`
    takes them; an unknown method or status is no filter."""
    method, status = data.get("method"), data.get("status")
    return {
        "account_id": data.get("account") or None,
        "method": method if method in METHODS_BY_ID else None,
        "status": status if status in STATUSES else None,
        "query": (data.get("q") or "").strip(),
    }


@require_role(VIEWER)
@require_GET
def escalations(request: HtmxHttpRequest) -> HttpResponseBase:
    """Who can escalate how: counts by method or by principal, and every escalation."""
    filters = escalation_filters(request.GET)
    account, method, status = filters["account_id"], filters["method"], filters["status"]
    query = filters.pop("query")
    view = request.GET.get("view") if request.GET.get("view") in VIEWS else "method"
    if request.GET.get("format") == "csv":
        total = total_escalations(**filters, query=query)
        if total > CSV_LIMIT:
            return HttpResponse(
                f"The CSV would hold {total:,} escalations, more than the {CSV_LIMIT:,} one "
                "download streams: narrow it to an account, a method, a status or a principal "
                "(q=), or build it in the background (the page's button: POST to "
                f"{reverse('identities:export-escalations')}).\n",
                status=422,
                content_type="text/plain; charset=utf-8",
            )
        found = matching_escalations(**filters, query=query)
        return common.csv_response("escalations.csv", escalation_csv_rows(found))
    # The counts by method add up to the total: the default view reads no principal's count.
    by_method = count_methods(**filters, query=query) if view == "method" else []
    by_principal = count_principals(**filters, query=query) if view != "method" else []
    totals = sorted((row.principal, row.escalations) for row in by_principal)
    total = sum(row.escalations for row in by_method) + sum(n for _, n in totals)
    context: dict[str, Any] = {
        "analysis": access.current_run(),
        "account": account or "",
        "account_choices": account_choices(),
        "method": method or "",
        "methods": METHODS,
        "status": status or "",
        "q": query,
        "view": view,
        "total": total,
        "by_method": by_method,
        "by_principal": paginate(request, by_principal) if view == "principal" else None,
        "rows": paginate(request, ExpandedEscalations(totals, escalation_rows(**filters)))
        if view == "all"
        else None,
        "csv_query": request.GET.urlencode(),
        "csv_limit": CSV_LIMIT,
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


# Principals of an opened list of the "Who can…?" page shown at a time.
WHO_CAN_PAGE_SIZE = 50
# Sets of granting statements shown, most principals first (an estate of many customer-managed
# policies can have thousands); the accounts and the CSV cover the rest.
WHO_CAN_GRANT_ROWS = 50


def _who_can_error(action: str, resource: str) -> str:
    service, _, name = action.partition(":")
    if not service or not name:
        return "Give an action as service:Name, e.g. iam:CreateAccessKey."
    if resource != "*" and not resource.startswith("arn:"):
        return "Give a resource ARN, or * for any resource."
    return ""


def _allowed_later(action: str, resource: str) -> Iterator[Allowed]:
    """The answer, asked only when the first row is read: a download starts with its header
    while an answer not yet kept for this run is computed."""
    yield from answer_who_can(action, resource, now=timezone.now())


def _who_can_pending(request: HtmxHttpRequest, context: dict[str, Any]) -> HttpResponse:
    """The question answered in the background (`start_answering`): a notice that asks again
    in a second, or the error of an answer that failed."""
    action, resource = context["action"], context["resource"]
    if answer_failed(action, resource):
        context["error"] = "This question could not be answered; try again in a few minutes."
    else:
        start_answering(action, resource, now=timezone.now())
        context.update(pending=True, poll_url=request.get_full_path())
    return render_page_or_fragment(request, "identities/who_can.html", "who-can", context)


@require_role(VIEWER)
@require_GET
def who_can_page(request: HtmxHttpRequest) -> HttpResponseBase:
    """Who can do ACTION on RESOURCE? Every principal whose effective permissions allow it,
    counted per account and per granting statements; each count opens its principals a page
    at a time (``account=ID`` or ``grant=KEY``, searched with ``q``); the CSV has them all.
    A question that takes seconds (`answers_in_background`) is answered in the background:
    the page says so and asks again every second until the answer is there."""
    action = (request.GET.get("action") or "").strip()
    resource = (request.GET.get("resource") or "").strip()
    account = (request.GET.get("account") or "").strip()
    grant = (request.GET.get("grant") or "").strip()
    query = (request.GET.get("q") or "").strip()
    error = _who_can_error(action, resource) if action or resource else ""
    asked = bool(action or resource) and not error
    if asked and request.GET.get("format") == "csv":
        return common.csv_response(
            "who-can.csv", who_can_csv_rows(_allowed_later(action, resource))
        )
    context: dict[str, Any] = {
        "action": action,
        "resource": resource,
        "error": error,
        "summary": None,
        "pending": False,
    }
    if asked and (account or grant):
        found = answered(action, resource)
        if found is None:
            if answers_in_background(action, resource):
                return _who_can_pending(request, context)
            found = answer_who_can(action, resource, now=timezone.now())
        rows = select_allowed(found, account=account, grant=grant, q=query)
        page = paginate(request, rows, WHO_CAN_PAGE_SIZE)
        context["opened"] = {
            "account": account,
            "grant": grant,
            "q": query,
            "list_id": f"account-{account}" if account else f"grant-{grant}",
            "page": page,
        }
        if common.wants_fragment(request) and request.htmx.target != "who-can":
            fragment = "who-can-rows" if (request.htmx.target or "").startswith("rows-") else None
            return render_page_or_fragment(
                request,
                "identities/who_can.html",
                fragment or "who-can-list",
                {**context, **context["opened"]},
            )
    if asked:
        summary = answered_summary(action, resource)
        if summary is None:
            if answers_in_background(action, resource):
                return _who_can_pending(request, context)
            summary = summarise_who_can(action, resource, now=timezone.now())
        names = dict(account_choices())
        context["summary"] = summary
        context["accounts"] = [(row, names.get(row.account_id, "")) for row in summary.by_account]
        context["grants"] = summary.by_grant[:WHO_CAN_GRANT_ROWS]
        context["grants_left"] = len(summary.by_grant) - len(context["grants"])
    return render_page_or_fragment(request, "identities/who_can.html", "who-can", context)
