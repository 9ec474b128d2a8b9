"""The estate's browse pages: dashboard, accounts, the four lists (with CSV), detail pages,
search and ARN links. Each list serves its page and its htmx `#results` fragment."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect
from django.utils import timezone
from django.views.decorators.http import require_GET

from identities.forms.browse import (
    GroupFilterForm,
    ListFilterForm,
    PolicyFilterForm,
    RoleFilterForm,
    SearchForm,
    UserFilterForm,
)
from identities.graph.urls import outside_party_url
from identities.queries import access, estate, exports
from identities.queries.changes import risk_summary
from identities.queries.paging import RowsInOrder
from identities.queries.sync import account_runs, sync_runs
from identities.roles import VIEWER
from identities.views.common import (
    HtmxHttpRequest,
    account_or_404,
    csv_response,
    group_or_404,
    paginate,
    policy_or_404,
    render_page_or_fragment,
    require_role,
    role_or_404,
    user_or_404,
    wants_fragment,
)

logger = logging.getLogger(__name__)


@require_role(VIEWER)
@require_GET
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "accounts": estate.accounts_with_counts(),
        "totals": estate.estate_totals(),
        "runs": list(sync_runs()[:10]),
        "risk": risk_summary(timezone.now()),
    }
    return render_page_or_fragment(request, "identities/dashboard.html", None, context)


@require_role(VIEWER)
@require_GET
def account_detail(request: HtmxHttpRequest, account_id: str) -> HttpResponse:
    account = account_or_404(account_id)
    context = {**estate.account_detail_context(account), "runs": account_runs(account)}
    return render_page_or_fragment(request, "identities/account_detail.html", None, context)


@dataclass(frozen=True)
class EstateList:
    """One of the four estate lists: its filter form, its rows and their CSV export."""

    name: str  # the template is identities/<name>_list.html
    noun: str
    form: type[ListFilterForm]
    rows: Callable[[dict[str, Any]], QuerySet[Any]]
    csv_rows: Callable[[RowsInOrder[Any] | QuerySet[Any]], Iterator[list[str]]]
    csv_name: str = ""


USERS = EstateList("user", "users", UserFilterForm, estate.filter_users, exports.user_csv_rows)
GROUPS = EstateList(
    "group", "groups", GroupFilterForm, estate.filter_groups, exports.group_csv_rows
)
ROLES = EstateList("role", "roles", RoleFilterForm, estate.filter_roles, exports.role_csv_rows)
POLICIES = EstateList(
    "policy", "policies", PolicyFilterForm, estate.filter_policies, exports.policy_csv_rows,
    csv_name="iam-managed-policies.csv",
)  # fmt: skip


@require_role(VIEWER)
@require_GET
def estate_list(request: HtmxHttpRequest, listing: EstateList) -> HttpResponseBase:
    """A filtered, sorted, paginated estate list (`listing` comes from the URL conf);
    `?format=csv` downloads every matching row."""
    form = listing.form(request.GET)
    filters = form.filters()
    queryset = listing.rows(filters)
    if request.GET.get("format") == "csv":
        csv_name = listing.csv_name or f"iam-{listing.noun}.csv"
        # In the list's kept order, a thousand rows a query: the first rows go out at once.
        rows = estate.list_rows(listing.noun, filters, queryset)
        return csv_response(csv_name, listing.csv_rows(rows))
    context = {
        "form": form,
        "page": paginate(request, estate.list_rows(listing.noun, filters, queryset)),
        "noun": listing.noun,
        "noun_one": listing.name,
    }
    template = f"identities/{listing.name}_list.html"
    return render_page_or_fragment(request, template, "results", context)


# The page of a user, group or role: how to find it, and its page's context.
PRINCIPAL_PAGES: dict[str, tuple[Callable[[str, str], Any], Callable[[Any], dict[str, Any]]]] = {
    "user": (user_or_404, estate.user_detail_context),
    "group": (group_or_404, estate.group_detail_context),
    "role": (role_or_404, estate.role_detail_context),
}


@require_role(VIEWER)
@require_GET
def principal_detail(
    request: HtmxHttpRequest, account_id: str, name: str, kind: str
) -> HttpResponse:
    find, page_context = PRINCIPAL_PAGES[kind]
    context = page_context(find(account_id, name))
    return render_page_or_fragment(request, f"identities/{kind}_detail.html", None, context)


@require_role(VIEWER)
@require_GET
def policy_detail(request: HtmxHttpRequest, account_id: str, arn: str) -> HttpResponse:
    policy = policy_or_404(account_id, arn)
    version_id = request.GET.get("version", "")
    context = estate.policy_detail_context(policy, version_id)
    if version_id and context["version"] is None:
        raise Http404(f"Policy {arn} has no version {version_id}.")
    # Only a chosen version swaps a region; without one htmx gets the page.
    fragment = "version" if version_id else None
    return render_page_or_fragment(request, "identities/policy_detail.html", fragment, context)


@require_role(VIEWER)
@require_GET
def search(request: HtmxHttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    q = form.cleaned_data.get("q", "") if form.is_valid() else ""
    if wants_fragment(request) and request.htmx.target == "suggestions":
        context = estate.search_estate(q, limit=estate.SUGGESTION_LIMIT)
        return render_page_or_fragment(request, "identities/search.html", "suggestions", context)
    context = {**estate.search_estate(q), "form": form}
    return render_page_or_fragment(request, "identities/search.html", "results", context)


@require_role(VIEWER)
@require_GET
def arn_redirect(request: HtmxHttpRequest, arn: str) -> HttpResponse:
    url = estate.resolve_arn(arn)
    if url is None and access.is_edge_source(arn):
        url = outside_party_url(arn, estate.synced_account_ids())
    if url is None:
        raise Http404(f"No user, group, role, policy or account with the ARN {arn} is known.")
    return redirect(url)
