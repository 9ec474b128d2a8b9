"""The graph pages (identity, access, paths), their node and edge panels, node suggestions and
the exports (JSON, GraphML, SVG). A view's whole state is in its URL, so every view is a
permalink; htmx swaps `#graph-view` or a panel from the same URLs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.views.decorators.http import require_GET

from identities.forms.graph import AccessGraphForm, IdentityGraphForm, PathForm, SuggestForm
from identities.graph.access import build_access_graph
from identities.graph.build import (
    AGGREGATE_THRESHOLD,
    EDGE_KIND_LABELS,
    WIDE_FRONTIER,
    GraphError,
    describe_node,
)
from identities.graph.export import TABLE_LIMIT, graph_to_graphml, graph_to_svg, table_rows
from identities.graph.folded import (
    database_members,
    folded_edge,
    folded_member_ids,
    folded_member_rows,
    folded_node,
    is_folded_id,
)
from identities.graph.highlight import apply_highlight, key_kind, since_choices, since_sync
from identities.graph.identity import build_identity_graph
from identities.graph.panels import edge_panel, node_panel, suggest_nodes
from identities.graph.paths import find_paths
from identities.graph.proposal import proposal_highlight
from identities.graph.urls import (
    collapse_links,
    empty_graph,
    panel_links,
    questions,
    url_with,
    view_of_url,
)
from identities.queries.changes import HistoryUnavailable
from identities.queries.estate import account_choices
from identities.roles import VIEWER
from identities.views.common import (
    HtmxHttpRequest,
    attachment,
    paginate,
    render_page_or_fragment,
    require_role,
    wants_fragment,
)

logger = logging.getLogger(__name__)

FOLDED_PAGE_SIZE = 25


GRAPH_VIEWS = ("identity", "access", "paths")


def _graph_or_404(build: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    try:
        return build(**params)
    except GraphError as exc:
        raise Http404(str(exc)) from None


def _graph_data(request: HttpRequest, view: str) -> tuple[dict[str, Any], Any]:
    """The graph of one view from the query string (its changes marked when ``since`` asks),
    and the form that parsed it."""
    data, form = _graph_of(request.GET, view)
    data.pop("folded_members", None)  # listed on demand (`graph_folded`), never sent whole
    since = request.GET.get("since", "")
    if since and data["edges"]:
        try:
            apply_highlight(data, since_sync(since))
        except HistoryUnavailable as exc:
            data["changes"] = {"since": since, "error": str(exc)}
    what_if = request.GET.get("what_if", "")
    if what_if.isdigit() and data["edges"]:
        apply_highlight(data, proposal_highlight(int(what_if)))
    return data, form


def _graph_of(query: QueryDict, view: str) -> tuple[dict[str, Any], Any]:
    if view == "identity":
        form: Any = IdentityGraphForm(query)
        return _graph_or_404(build_identity_graph, **form.params()), form
    if view == "access":
        form = AccessGraphForm(query)
        return _graph_or_404(build_access_graph, **form.params()), form
    form = PathForm(query)
    params = form.params()
    if not params["source"] or not params["target"]:
        return empty_graph("paths"), form
    return _graph_or_404(find_paths, **params), form


@require_role(VIEWER)
@require_GET
def graph_start(request: HtmxHttpRequest) -> HttpResponse:
    """Where the graphs start: a question, each answered by a view scoped to it."""
    accounts = account_choices()
    context = {"view": "start", "questions": questions(), "accounts": accounts}
    return render_page_or_fragment(request, "identities/graph_start.html", None, context)


@require_role(VIEWER)
@require_GET
def graph_page(request: HtmxHttpRequest, view: str) -> HttpResponse:
    """The identity, access or paths view (`view` comes from the URL conf)."""
    data, form = _graph_data(request, view)
    context = graph_context(request, view, data, form)
    if request.GET.get("table") and wants_fragment(request):
        # A busy view's table, fetched when it is opened (partials/graph_table.html).
        return render_page_or_fragment(request, "partials/graph_table.html", None, context)
    return render_page_or_fragment(request, f"identities/graph_{view}.html", "graph-view", context)


def _selected_panel(node_id: str) -> dict[str, Any] | None:
    if not node_id:
        return None
    try:
        return node_panel(node_id)
    except GraphError:
        return None


def graph_context(
    request: HttpRequest, view: str, data: dict[str, Any], form: Any
) -> dict[str, Any]:
    params = request.GET.copy()
    params.pop("node", None)
    query = params.urlencode()
    here = request.get_full_path()
    node_id = request.GET.get("node", "")
    panel = _selected_panel(node_id)
    return {
        "view": view,
        "graph": data,
        "form": form,
        "rows": table_rows(data),
        "table_limit": TABLE_LIMIT,
        "threshold": AGGREGATE_THRESHOLD,
        "focus": describe_node(request.GET.get("focus", "")),
        "expanded": request.GET.getlist("expand"),
        "clear_focus_url": url_with(here, {}, drop=("focus", "expand", "node", "depth")),
        "clear_expand_url": url_with(here, {}, drop=("expand",)),
        "every_hop_url": url_with(here, {"full": "1"}, drop=("node",)),
        "wide_hops_url": url_with(here, {}, drop=("full", "node")),
        "wide_frontier": WIDE_FRONTIER,
        "collapse_links": collapse_links(url_with(here, {}, drop=("node",))),
        "source_node": describe_node(request.GET.get("source", "")),
        "target_node": describe_node(request.GET.get("target", "")),
        "panel": panel,
        "links": panel_links(node_id, here) if panel else {},
        "since_choices": since_choices() if view != "identity" else [],
        "export_query": f"view={view}" + (f"&{query}" if query else ""),
        "filename": f"iamviz-{view}",
    }


def _exported_graph(request: HttpRequest) -> tuple[str, dict[str, Any]]:
    """The view named by ``view=`` and its graph from the rest of the query string."""
    view = request.GET.get("view", "")
    if view not in GRAPH_VIEWS:
        raise Http404("Say which view to export: view=identity, access or paths.")
    data, _ = _graph_data(request, view)
    return view, data


@require_role(VIEWER)
@require_GET
def graph_data(request: HtmxHttpRequest) -> HttpResponse:
    view, data = _exported_graph(request)
    response = HttpResponse(orjson.dumps(data), content_type="application/json")
    if request.GET.get("download"):
        return attachment(response, f"iamviz-{view}.json")
    return response


@require_role(VIEWER)
@require_GET
def graph_graphml(request: HtmxHttpRequest) -> HttpResponse:
    view, data = _exported_graph(request)
    response = HttpResponse(graph_to_graphml(data), content_type="application/xml")
    return attachment(response, f"iamviz-{view}.graphml")


@require_role(VIEWER)
@require_GET
def graph_svg(request: HtmxHttpRequest) -> HttpResponse:
    view, data = _exported_graph(request)
    svg = graph_to_svg(data, highlight=data.get("highlight", ()))
    return attachment(HttpResponse(svg, content_type="image/svg+xml"), f"iamviz-{view}.svg")


@require_role(VIEWER)
@require_GET
def graph_node(request: HtmxHttpRequest, kind: str, key: str) -> HttpResponse:
    node_id = f"{kind}:{key}" if key != "-" else kind
    try:
        panel = node_panel(node_id)
    except GraphError as exc:
        raise Http404(str(exc)) from None
    context = {"panel": panel, "links": panel_links(node_id, _current_graph_url(request))}
    return render_page_or_fragment(request, "identities/graph_node.html", "node-panel", context)


@require_role(VIEWER)
@require_GET
def graph_folded(request: HtmxHttpRequest) -> HttpResponse:
    """The members of a folded node of the graph page the request came from, searchable and a
    page at a time, each with the links that add it to that graph or focus on it."""
    node_id = request.GET.get("id", "")
    q = request.GET.get("q", "").strip()
    current = _current_graph_url(request)
    view = view_of_url(current)
    if view not in {"identity", "access"}:
        raise Http404("Folded nodes are in the identity and access views only.")
    of, account = request.GET.get("of", ""), request.GET.get("account", "")
    if of:  # all of its kind in the account: no need to build the view again
        ids = database_members(of, account)
        node = {"label": f"{of}s", "count": len(ids), "account": account}
    else:
        data, _ = _graph_of(QueryDict(urlsplit(current).query), view)
        try:
            node = folded_node(data, node_id)
            ids = folded_member_ids(data, node_id)
        except GraphError as exc:
            raise Http404(str(exc)) from None
    page = paginate(request, folded_member_rows(ids, q), FOLDED_PAGE_SIZE)
    drill_url = node.get("drill_url", "")
    context = {
        "node": node,
        "node_id": node_id,
        "view": view,
        "of": of,
        "q": q,
        "from": url_with(current, {}),
        "total": len(ids),
        "page": page,
        "rows": [(row, panel_links(row["id"], current)) for row in page],
        # Drilling in is offered only where it leads to another picture.
        "drill_url": drill_url if drill_url != url_with(current, {}, drop=("node",)) else "",
    }
    fragment = "folded-panel"
    if wants_fragment(request) and request.htmx.target == "folded-rows":
        fragment = "folded-rows"
    return render_page_or_fragment(request, "identities/graph_folded.html", fragment, context)


@require_role(VIEWER)
@require_GET
def graph_edge(request: HtmxHttpRequest) -> HttpResponse:
    source = request.GET.get("source", "")
    target = request.GET.get("target", "")
    kind = request.GET.get("kind", "")
    try:
        if is_folded_id(source) or is_folded_id(target):
            panel = _folded_edge_panel(request, source, target, kind)
        else:
            panel = edge_panel(source, target, kind)
    except GraphError as exc:
        raise Http404(str(exc)) from None
    context = {"edge": panel, "change": _edge_change(request, source, target, kind)}
    return render_page_or_fragment(request, "identities/graph_edge.html", "node-panel", context)


def _folded_edge_panel(
    request: HtmxHttpRequest, source: str, target: str, kind: str
) -> dict[str, Any]:
    """The panel of an edge with a folded end, read from the graph page the request came from
    (built again, as for a folded node's list); each folded end links to that list."""
    current = _current_graph_url(request)
    view = view_of_url(current)
    if view not in {"identity", "access"}:
        raise GraphError("Folded nodes are in the identity and access views only.")
    data, _ = _graph_of(QueryDict(urlsplit(current).query), view)
    folded = folded_edge(data, source, target, kind)
    back = url_with(current, {})
    for end in folded["ends"]:
        if "members_url" in end:
            end["members_url"] = url_with(end["members_url"], {"from": back})
    source_end, target_end = folded["ends"]
    return {
        "source": source,
        "target": target,
        "kind": kind,
        "relation": EDGE_KIND_LABELS.get(kind, kind),
        "source_label": source_end["label"],
        "target_label": target_end["label"],
        "folded": folded,
    }


def _edge_change(request: HttpRequest, source: str, target: str, kind: str) -> dict[str, str]:
    """Whether the edge was added since the ``since`` of the graph it was clicked in."""
    since = request.GET.get("since", "")
    if not since:
        return {}
    try:
        highlight = since_sync(since)
    except HistoryUnavailable:
        return {}
    return {"mark": highlight.mark_of((source, target, key_kind(kind))), "label": highlight.label}


@require_role(VIEWER)
@require_GET
def graph_suggest(request: HtmxHttpRequest) -> HttpResponse:
    form = SuggestForm(request.GET)
    form.is_valid()
    q = form.cleaned_data.get("q", "")
    field = form.cleaned_data.get("field") or "focus"
    current = _current_graph_url(request)
    view = view_of_url(current)
    suggestions = suggest_nodes(q, view)
    for item in suggestions:
        item["url"] = url_with(current, {field: item["id"]}, drop=("node", "expand"))
    # Asked from the questions page: a suggestion opens its view rather than swapping one.
    navigate = not (request.htmx and view_of_url(request.htmx.current_url or ""))
    context = {"q": q, "suggestions": suggestions, "field": field, "navigate": navigate}
    return render_page_or_fragment(request, "identities/graph_suggest.html", "suggestions", context)


def _current_graph_url(request: HtmxHttpRequest) -> str:
    """The graph page the request came from (htmx says), or the access view."""
    current = request.htmx.current_url if request.htmx else None
    if current and view_of_url(current):
        return current
    back = request.GET.get("from", "")
    if back.startswith("/") and view_of_url(back):
        return back
    return reverse("identities:graph-access")
