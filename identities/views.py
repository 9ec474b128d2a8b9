"""Browse pages: full pages, and their htmx fragments from the same URLs."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Iterator
from typing import Any

import orjson
from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from django_htmx.middleware import HtmxDetails

from identities import access, graph, graph_panels, queries
from identities.analysis.explain import ExplainError
from identities.forms import (
    ChangeFilterForm,
    GroupFilterForm,
    ListFilterForm,
    PolicyFilterForm,
    RoleFilterForm,
    SearchForm,
    UserFilterForm,
)
from identities.graph_forms import AccessGraphForm, IdentityGraphForm, PathForm, SuggestForm
from identities.models import Account, Finding, IamGroup, IamRole, IamUser, ManagedPolicy, SyncRun

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


# --- graph ----------------------------------------------------------------------------------

GRAPH_VIEWS = ("identity", "access", "paths")


def _graph_or_404(build: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    try:
        return build(**params)
    except graph.GraphError as exc:
        raise Http404(str(exc)) from None


def _graph_data(request: HttpRequest, view: str) -> tuple[dict[str, Any], Any]:
    """The graph of one view from the query string, and the form that parsed it."""
    if view == "identity":
        form: Any = IdentityGraphForm(request.GET)
        return _graph_or_404(graph.build_identity_graph, **form.params()), form
    if view == "access":
        form = AccessGraphForm(request.GET)
        return _graph_or_404(graph.build_access_graph, **form.params()), form
    form = PathForm(request.GET)
    params = form.params()
    if not params["source"] or not params["target"]:
        return graph.empty_graph("paths"), form
    return _graph_or_404(graph.find_paths, **params), form


def _graph_page(request: HtmxHttpRequest, view: str) -> HttpResponse:
    data, form = _graph_data(request, view)
    context = graph_context(request, view, data, form)
    template = f"identities/graph_{view}.html"
    if _wants_fragment(request):
        response = render(request, f"{template}#graph-view", context)
    else:
        response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _selected_panel(node_id: str) -> dict[str, Any] | None:
    if not node_id:
        return None
    try:
        return graph_panels.node_panel(node_id)
    except graph.GraphError:
        return None


def graph_context(
    request: HttpRequest, view: str, data: dict[str, Any], form: Any
) -> dict[str, Any]:
    params = request.GET.copy()
    params.pop("node", None)
    query = params.urlencode()
    here = request.get_full_path()
    node_id = request.GET.get("node", "")
    return {
        "view": view,
        "graph": data,
        "form": form,
        "rows": graph.table_rows(data),
        "table_limit": graph.TABLE_LIMIT,
        "threshold": graph.AGGREGATE_THRESHOLD,
        "focus": graph.describe_node(request.GET.get("focus", "")),
        "expanded": request.GET.getlist("expand"),
        "clear_focus_url": graph.url_with(here, {}, drop=("focus", "expand", "node", "depth")),
        "clear_expand_url": graph.url_with(here, {}, drop=("expand",)),
        "source_node": graph.describe_node(request.GET.get("source", "")),
        "target_node": graph.describe_node(request.GET.get("target", "")),
        "panel": _selected_panel(node_id),
        "links": graph.panel_links(node_id, here) if node_id else {},
        "export_query": f"view={view}" + (f"&{query}" if query else ""),
        "filename": f"iamviz-{view}",
    }


@require_GET
@login_required
def graph_identity(request: HtmxHttpRequest) -> HttpResponse:
    return _graph_page(request, "identity")


@require_GET
@login_required
def graph_access(request: HtmxHttpRequest) -> HttpResponse:
    return _graph_page(request, "access")


@require_GET
@login_required
def graph_paths(request: HtmxHttpRequest) -> HttpResponse:
    return _graph_page(request, "paths")


def _export_view(request: HttpRequest) -> str:
    view = request.GET.get("view", "")
    if view not in GRAPH_VIEWS:
        raise Http404("Say which view to export: view=identity, access or paths.")
    return view


@require_GET
@login_required
def graph_data(request: HtmxHttpRequest) -> HttpResponse:
    view = _export_view(request)
    data, _ = _graph_data(request, view)
    response = HttpResponse(orjson.dumps(data), content_type="application/json")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="iamviz-{view}.json"'
    return response


@require_GET
@login_required
def graph_graphml(request: HtmxHttpRequest) -> HttpResponse:
    view = _export_view(request)
    data, _ = _graph_data(request, view)
    response = HttpResponse(graph.graph_to_graphml(data), content_type="application/xml")
    response["Content-Disposition"] = f'attachment; filename="iamviz-{view}.graphml"'
    return response


@require_GET
@login_required
def graph_svg(request: HtmxHttpRequest) -> HttpResponse:
    view = _export_view(request)
    data, _ = _graph_data(request, view)
    svg = graph.graph_to_svg(data, highlight=data.get("highlight", ()))
    response = HttpResponse(svg, content_type="image/svg+xml")
    response["Content-Disposition"] = f'attachment; filename="iamviz-{view}.svg"'
    return response


@require_GET
@login_required
def graph_node(request: HtmxHttpRequest, kind: str, key: str) -> HttpResponse:
    node_id = f"{kind}:{key}" if key != "-" else kind
    try:
        panel = graph_panels.node_panel(node_id)
    except graph.GraphError as exc:
        raise Http404(str(exc)) from None
    context = {"panel": panel, "links": graph.panel_links(node_id, _current_graph_url(request))}
    if _wants_fragment(request):
        response = render(request, "identities/graph_node.html#node-panel", context)
    else:
        response = render(request, "identities/graph_node.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def graph_edge(request: HtmxHttpRequest) -> HttpResponse:
    source = request.GET.get("source", "")
    target = request.GET.get("target", "")
    kind = request.GET.get("kind", "")
    try:
        panel = graph_panels.edge_panel(source, target, kind)
    except graph.GraphError as exc:
        raise Http404(str(exc)) from None
    context = {"edge": panel}
    if _wants_fragment(request):
        response = render(request, "identities/graph_edge.html#node-panel", context)
    else:
        response = render(request, "identities/graph_edge.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def graph_suggest(request: HtmxHttpRequest) -> HttpResponse:
    form = SuggestForm(request.GET)
    form.is_valid()
    q = form.cleaned_data.get("q", "")
    field = form.cleaned_data.get("field") or "focus"
    current = _current_graph_url(request)
    view = graph.view_of_url(current)
    suggestions = graph_panels.suggest_nodes(q, view)
    for item in suggestions:
        item["url"] = graph.url_with(current, {field: item["id"]}, drop=("node", "expand"))
    context = {"q": q, "suggestions": suggestions, "field": field}
    if _wants_fragment(request):
        response = render(request, "identities/graph_suggest.html#suggestions", context)
    else:
        response = render(request, "identities/graph_suggest.html", context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _current_graph_url(request: HtmxHttpRequest) -> str:
    """The graph page the request came from (htmx says), or the access view."""
    current = request.htmx.current_url if request.htmx else None
    if current and graph.view_of_url(current):
        return current
    back = request.GET.get("from", "")
    if back.startswith("/") and graph.view_of_url(back):
        return back
    return reverse("identities:graph-access")


# --- access ---------------------------------------------------------------------------------

ACCESS_ROWS_SHOWN = 500


def _render_page_or_fragment(
    request: HtmxHttpRequest, template: str, fragment: str, context: dict[str, Any]
) -> HttpResponse:
    name = f"{template}#{fragment}" if _wants_fragment(request) else template
    response = render(request, name, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@require_GET
@login_required
def role_access(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    """Who can assume a role: directly and through chains (also embedded in the role page)."""
    role = _role_or_404(account_id, name)
    direct = access.access_into(role)
    chains = [reached for reached in access.reach_to(role.arn) if reached.hops > 1]
    if request.GET.get("format") == "csv":
        rows = [
            [
                item.source,
                "1",
                item.outcome,
                " ".join(item.condition_keys),
                " | ".join(item.granted_by),
            ]
            for item in direct
        ] + [[item.node, str(item.hops), "chain", "", " -> ".join(item.path)] for item in chains]
        header = [["source", "hops", "outcome", "conditions", "granted_by_or_chain"]]
        return _csv_response(f"who-can-assume-{account_id}-{name}.csv", iter(header + rows))
    context = {
        "role": role,
        "analysis": access.current_run(),
        "direct": direct[:ACCESS_ROWS_SHOWN],
        "direct_count": len(direct),
        "chains": chains[:ACCESS_ROWS_SHOWN],
        "chain_count": len(chains),
    }
    return _render_page_or_fragment(
        request, "identities/role_access.html", "who-can-assume", context
    )


def _principal_reach(
    request: HtmxHttpRequest, principal: IamUser | IamRole, list_label: str
) -> HttpResponse:
    chains = [reached for reached in access.reach_from(principal.arn) if reached.hops > 1]
    context = {
        "principal": principal,
        "list_label": list_label,
        "analysis": access.current_run(),
        "administrator": access.administrators().filter(arn=principal.arn).first(),
        "direct": access.access_out_of(principal),
        "chains": chains[:ACCESS_ROWS_SHOWN],
        "chain_count": len(chains),
    }
    return _render_page_or_fragment(
        request, "identities/principal_reach.html", "can-assume", context
    )


@require_GET
@login_required
def user_reach(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    return _principal_reach(request, _user_or_404(account_id, name), "Users")


@require_GET
@login_required
def role_reach(request: HtmxHttpRequest, account_id: str, name: str) -> HttpResponse:
    return _principal_reach(request, _role_or_404(account_id, name), "Roles")


@require_GET
@login_required
def administrators(request: HtmxHttpRequest) -> HttpResponse:
    account = request.GET.get("account") or None
    paths = access.admin_paths()
    if account:
        paths = paths.filter(administrator__account__account_id=account)
    context = {
        "analysis": access.current_run(),
        "account": account or "",
        "account_choices": queries.account_choices(),
        "admins": list(access.administrators(account)),
        "paths": Paginator(paths, queries.PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return _render_page_or_fragment(
        request, "identities/administrators.html", "administrators", context
    )


@require_GET
@login_required
def findings(request: HtmxHttpRequest) -> HttpResponse:
    severity = request.GET.get("severity") or None
    kind = request.GET.get("kind") or None
    account = request.GET.get("account") or None
    found = sorted(
        access.findings(severity=severity, kind=kind, account_id=account),
        key=lambda finding: (access.severity_rank(finding), finding.kind, finding.principal_arn),
    )
    context = {
        "severity": severity or "",
        "kind": kind or "",
        "account": account or "",
        "severities": Finding.Severity.choices,
        "kinds": Finding.Kind.choices,
        "account_choices": queries.account_choices(),
        "page": Paginator(found, queries.PAGE_SIZE).get_page(request.GET.get("page")),
    }
    return _render_page_or_fragment(request, "identities/findings.html", "findings", context)


@require_GET
@login_required
def explain(request: HtmxHttpRequest) -> HttpResponse:
    """ "Why (not)?": evaluate one principal against one role, live, with every statement."""
    source = request.GET.get("source", "").strip()
    target = request.GET.get("target", "").strip()
    context: dict[str, Any] = {"source": source, "target": target}
    if source and target:
        try:
            context["explanation"] = access.explain(source, target)
        except ExplainError as exc:
            context["error"] = str(exc)
    return _render_page_or_fragment(request, "identities/explain.html", "explanation", context)
