"""Browse pages: full pages, and their htmx fragments from the same URLs."""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from identities import queries
from identities.forms import (
    ChangeFilterForm,
    GroupFilterForm,
    ListFilterForm,
    PolicyFilterForm,
    RoleFilterForm,
    SearchForm,
    UserFilterForm,
)
from identities.models import Account, IamGroup, IamRole, IamUser, ManagedPolicy, SyncRun

logger = logging.getLogger(__name__)


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


# --- access helpers -------------------------------------------------------------------------


def _account_or_404(account_id: str) -> Account:
    try:
        return (
            Account.objects.select_related("last_sync_run")
            .defer("last_sync_run__bundle_gzip")
            .get(account_id=account_id)
        )
    except Account.DoesNotExist:
        raise Http404(f"No account {account_id} in the estate.") from None


def _user_or_404(account_id: str, name: str) -> IamUser:
    try:
        return IamUser.objects.select_related("account").get(
            account__account_id=account_id, name=name
        )
    except IamUser.DoesNotExist:
        raise Http404(f"No IAM user named “{name}” in account {account_id}.") from None


def _group_or_404(account_id: str, name: str) -> IamGroup:
    try:
        return IamGroup.objects.select_related("account").get(
            account__account_id=account_id, name=name
        )
    except IamGroup.DoesNotExist:
        raise Http404(f"No IAM group named “{name}” in account {account_id}.") from None


def _role_or_404(account_id: str, name: str) -> IamRole:
    try:
        return IamRole.objects.select_related("account").get(
            account__account_id=account_id, name=name
        )
    except IamRole.DoesNotExist:
        raise Http404(f"No IAM role named “{name}” in account {account_id}.") from None


def _policy_or_404(account_id: str, arn: str) -> ManagedPolicy:
    try:
        return ManagedPolicy.objects.select_related("account").get(
            account__account_id=account_id, arn=arn
        )
    except ManagedPolicy.DoesNotExist:
        raise Http404(f"No managed policy {arn} in account {account_id}.") from None


def _run_or_404(pk: int) -> SyncRun:
    try:
        return queries.sync_runs().get(pk=pk)
    except SyncRun.DoesNotExist:
        raise Http404(f"No sync run #{pk}.") from None


def _wants_fragment(request: HtmxHttpRequest) -> bool:
    # A history-restore request (cache miss on Back) needs the whole page, not the fragment.
    return bool(request.htmx) and not request.htmx.history_restore_request


def _paginate(request: HttpRequest, queryset: QuerySet) -> Page:
    return Paginator(queryset, queries.PAGE_SIZE).get_page(request.GET.get("page"))


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(filename: str, rows: Iterator[list[str]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _list_context(form: ListFilterForm, page: Page, noun: str) -> dict[str, Any]:
    return {"form": form, "page": page, "noun": noun}


# --- pages ----------------------------------------------------------------------------------


@require_GET
@login_required
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "accounts": list(queries.accounts_with_counts()),
        "totals": queries.estate_totals(),
        "runs": list(queries.sync_runs()[:10]),
    }
    return render(request, "identities/dashboard.html", context)


@require_GET
@login_required
def account_detail(request: HtmxHttpRequest, account_id: str) -> HttpResponse:
    account = _account_or_404(account_id)
    return render(
        request, "identities/account_detail.html", queries.account_detail_context(account)
    )


@require_GET
@login_required
def user_list(request: HtmxHttpRequest) -> HttpResponse:
    form = UserFilterForm(request.GET)
    users = queries.filter_users(form.filters())
    if request.GET.get("format") == "csv":
        return _csv_response("iam-users.csv", queries.user_csv_rows(users))
    context = _list_context(form, _paginate(request, users), "users")
    if _wants_fragment(request):
        response = render(request, "identities/user_list.html#results", context)
    else:
        response = render(request, "identities/user_list.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def group_list(request: HtmxHttpRequest) -> HttpResponse:
    form = GroupFilterForm(request.GET)
    groups = queries.filter_groups(form.filters())
    if request.GET.get("format") == "csv":
        return _csv_response("iam-groups.csv", queries.group_csv_rows(groups))
    context = _list_context(form, _paginate(request, groups), "groups")
    if _wants_fragment(request):
        response = render(request, "identities/group_list.html#results", context)
    else:
        response = render(request, "identities/group_list.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def role_list(request: HtmxHttpRequest) -> HttpResponse:
    form = RoleFilterForm(request.GET)
    roles = queries.filter_roles(form.filters())
    if request.GET.get("format") == "csv":
        return _csv_response("iam-roles.csv", queries.role_csv_rows(roles))
    context = _list_context(form, _paginate(request, roles), "roles")
    if _wants_fragment(request):
        response = render(request, "identities/role_list.html#results", context)
    else:
        response = render(request, "identities/role_list.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def policy_list(request: HtmxHttpRequest) -> HttpResponse:
    form = PolicyFilterForm(request.GET)
    policies = queries.filter_policies(form.filters())
    if request.GET.get("format") == "csv":
        return _csv_response("iam-managed-policies.csv", queries.policy_csv_rows(policies))
    context = _list_context(form, _paginate(request, policies), "policies")
    if _wants_fragment(request):
        response = render(request, "identities/policy_list.html#results", context)
    else:
        response = render(request, "identities/policy_list.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def user_detail(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    user = _user_or_404(account_id, name)
    return render(request, "identities/user_detail.html", queries.user_detail_context(user))


@require_GET
@login_required
def group_detail(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    group = _group_or_404(account_id, name)
    return render(request, "identities/group_detail.html", queries.group_detail_context(group))


@require_GET
@login_required
def role_detail(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    role = _role_or_404(account_id, name)
    return render(request, "identities/role_detail.html", queries.role_detail_context(role))


@require_GET
@login_required
def policy_detail(request: HtmxHttpRequest, account_id: str, arn: str) -> HttpResponse:
    policy = _policy_or_404(account_id, arn)
    version_id = request.GET.get("version", "")
    context = queries.policy_detail_context(policy, version_id)
    if version_id and context["version"] is None:
        raise Http404(f"Policy {arn} has no version {version_id}.")
    if _wants_fragment(request) and version_id:
        response = render(request, "identities/policy_detail.html#version", context)
    else:
        response = render(request, "identities/policy_detail.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def syncrun_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {"page": _paginate(request, queries.sync_runs()), "noun": "sync runs"}
    if _wants_fragment(request):
        response = render(request, "identities/syncrun_list.html#results", context)
    else:
        response = render(request, "identities/syncrun_list.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def syncrun_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = _run_or_404(pk)
    form = ChangeFilterForm(request.GET, kinds=sorted(run.change_counts))
    filters = form.filters()
    changes = queries.changes_for(
        run, kind=filters.get("kind", ""), action=filters.get("action", "")
    )
    context = {"run": run, "form": form, "page": _paginate(request, changes), "noun": "changes"}
    if _wants_fragment(request):
        response = render(request, "identities/syncrun_detail.html#results", context)
    else:
        response = render(request, "identities/syncrun_detail.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def syncrun_bundle(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    blob = SyncRun.objects.filter(pk=pk).values_list("bundle_gzip", flat=True).first()
    if not blob:
        raise Http404(f"Sync run #{pk} has no archived bundle.")
    response = HttpResponse(bytes(blob), content_type="application/gzip")
    response["Content-Disposition"] = f'attachment; filename="iamviz-run-{pk}.json.gz"'
    return response


@require_GET
@login_required
def search(request: HtmxHttpRequest) -> HttpResponse:
    form = SearchForm(request.GET)
    q = form.cleaned_data.get("q", "") if form.is_valid() else ""
    if _wants_fragment(request) and request.htmx.target == "suggestions":
        context = queries.search_estate(q, limit=queries.SUGGESTION_LIMIT)
        response = render(request, "identities/search.html#suggestions", context)
    else:
        context = {**queries.search_estate(q), "form": form}
        template = "identities/search.html#results" if _wants_fragment(request) else None
        response = render(request, template or "identities/search.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def arn_redirect(request: HtmxHttpRequest, arn: str) -> HttpResponse:
    url = queries.resolve_arn(arn)
    if url is None:
        raise Http404(f"No user, group, role, policy or account with the ARN {arn} is known.")
    return redirect(url)
