"""The graph pages (identity, access, paths), their node and edge panels, node suggestions and
the exports (JSON, GraphML, SVG). A view's whole state is in its URL, so every view is a
permalink; htmx swaps `#graph-view` or a panel from the same URLs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from identities.forms import AccessGraphForm, IdentityGraphForm, PathForm, SuggestForm
from identities.graph.access import build_access_graph
from identities.graph.build import AGGREGATE_THRESHOLD, GraphError, describe_node
from identities.graph.export import TABLE_LIMIT, graph_to_graphml, graph_to_svg, table_rows
from identities.graph.identity import build_identity_graph
from identities.graph.panels import edge_panel, node_panel, suggest_nodes
from identities.graph.paths import find_paths
from identities.graph.urls import empty_graph, panel_links, url_with, view_of_url
from identities.roles import VIEWER
from identities.views.common import (
    HtmxHttpRequest,
    attachment,
    render_page_or_fragment,
    require_role,
)

logger = logging.getLogger(__name__)


GRAPH_VIEWS = ("identity", "access", "paths")


def _graph_or_404(build: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    try:
        return build(**params)
    except GraphError as exc:
        raise Http404(str(exc)) from None


def _graph_data(request: HttpRequest, view: str) -> tuple[dict[str, Any], Any]:
    """The graph of one view from the query string, and the form that parsed it."""
    if view == "identity":
        form: Any = IdentityGraphForm(request.GET)
        return _graph_or_404(build_identity_graph, **form.params()), form
    if view == "access":
        form = AccessGraphForm(request.GET)
        return _graph_or_404(build_access_graph, **form.params()), form
    form = PathForm(request.GET)
    params = form.params()
    if not params["source"] or not params["target"]:
        return empty_graph("paths"), form
    return _graph_or_404(find_paths, **params), form


@require_role(VIEWER)
@require_GET
def graph_page(request: HtmxHttpRequest, view: str) -> HttpResponse:
    """The identity, access or paths view (`view` comes from the URL conf)."""
    data, form = _graph_data(request, view)
    context = graph_context(request, view, data, form)
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
        "source_node": describe_node(request.GET.get("source", "")),
        "target_node": describe_node(request.GET.get("target", "")),
        "panel": panel,
        "links": panel_links(node_id, here) if panel else {},
        "export_query": f"view={view}" + (f"&{query}" if query else ""),
        "filename": f"iamviz-{view}",
    }


def _export_view(request: HttpRequest) -> str:
    view = request.GET.get("view", "")
    if view not in GRAPH_VIEWS:
        raise Http404("Say which view to export: view=identity, access or paths.")
    return view


@require_role(VIEWER)
@require_GET
def graph_data(request: HtmxHttpRequest) -> HttpResponse:
    view = _export_view(request)
    data, _ = _graph_data(request, view)
    response = HttpResponse(orjson.dumps(data), content_type="application/json")
    if request.GET.get("download"):
        return attachment(response, f"iamviz-{view}.json")
    return response


@require_role(VIEWER)
@require_GET
def graph_graphml(request: HtmxHttpRequest) -> HttpResponse:
    view = _export_view(request)
    data, _ = _graph_data(request, view)
    response = HttpResponse(graph_to_graphml(data), content_type="application/xml")
    return attachment(response, f"iamviz-{view}.graphml")


@require_role(VIEWER)
@require_GET
def graph_svg(request: HtmxHttpRequest) -> HttpResponse:
    view = _export_view(request)
    data, _ = _graph_data(request, view)
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
def graph_edge(request: HtmxHttpRequest) -> HttpResponse:
    source = request.GET.get("source", "")
    target = request.GET.get("target", "")
    kind = request.GET.get("kind", "")
    try:
        panel = edge_panel(source, target, kind)
    except GraphError as exc:
        raise Http404(str(exc)) from None
    context = {"edge": panel}
    return render_page_or_fragment(request, "identities/graph_edge.html", "node-panel", context)


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
    context = {"q": q, "suggestions": suggestions, "field": field}
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
