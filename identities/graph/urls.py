"""The URLs of the graph pages: a node's panel and detail page, a view with its parameters, the
links of a node's panel. No query; ``reverse`` needs only the URL configuration."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from django.urls import reverse

from identities.arns import SourceKind, classify_arn, parse_arn
from identities.graph.build import PRINCIPAL_KINDS, arn_node_id, describe_node, split_node_id


class NodeUrls:
    """Prefixes reversed once per request; a node's URL is then string formatting."""

    def __init__(self) -> None:
        self.panel = reverse("identities:graph-node", args=["K", "X"]).removesuffix("K/X")
        account = reverse("identities:account-detail", args=["000000000000"])
        self.account = account.removesuffix("000000000000/")

    def panel_url(self, node_id: str) -> str:
        kind, key = split_node_id(node_id)
        return f"{self.panel}{kind}/{quote(key or '-', safe=':/@+=,.-_*')}"

    def detail_url(self, node_id: str) -> str:
        kind, key = split_node_id(node_id)
        if kind in PRINCIPAL_KINDS:
            account_id, name = key.split(":", 1)
            return f"{self.account}{account_id}/{kind}s/{quote(name, safe='@+=,.-_')}/"
        return ""


def outside_party_url(arn: str, synced_accounts: Iterable[str]) -> str | None:
    """The access graph around a user, role or account root of an account outside the synced
    estate (known only from the trust policies naming it), or None for any other ARN."""
    parsed = parse_arn(arn)
    if parsed is None or parsed.account in set(synced_accounts):
        return None
    if classify_arn(arn) not in (SourceKind.USER, SourceKind.ROLE, SourceKind.ACCOUNT):
        return None
    query = urlencode({"focus": arn_node_id(arn), "depth": 1})
    return f"{reverse('identities:graph-access')}?{query}"


_VIEW_URLS = {
    "identity": "identities:graph-identity",
    "access": "identities:graph-access",
    "paths": "identities:graph-paths",
}


def questions() -> list[dict[str, str]]:
    """The questions a graph starts from, each a search box whose pick opens the view that
    answers it (``from_url``, the picked node set as ``field``)."""
    access = reverse("identities:graph-access")
    return [
        {
            "key": "reach-in",
            "title": "Who can reach this role?",
            "text": "Everyone who can assume it, directly or through other roles: users, "
            "roles, services and providers, one role assumption at a time.",
            "field": "focus",
            "from_url": f"{access}?dir=in",
            "placeholder": "A role, e.g. an administrator role",
        },
        {
            "key": "reach-out",
            "title": "What can this principal reach?",
            "text": "The roles a user or role can assume, and what those roles can assume.",
            "field": "focus",
            "from_url": f"{access}?dir=out",
            "placeholder": "A user or role",
        },
        {
            "key": "paths",
            "title": "Paths from A to B",
            "text": "Each chain of role assumptions and escalations from one principal to "
            "another, hop by hop with the statements behind it. Pick A here, B next.",
            "field": "source",
            "from_url": reverse("identities:graph-paths"),
            "placeholder": "From: a user, role, service…",
        },
    ]


def empty_graph(view: str) -> dict[str, Any]:
    """A view with nothing in it (a path finder before both ends are chosen)."""
    return {
        "view": view,
        "nodes": [],
        "edges": [],
        "aggregated": False,
        "stats": {"nodes": 0, "edges": 0, "by_kind": {}},
        "links": graph_links(),
        "paths": [],
        "highlight": [],
    }


def view_of_url(url: str) -> str:
    """ "identity", "access" or "paths" when the URL is one of the graph pages, else ""."""
    path = urlsplit(url).path
    for view, name in _VIEW_URLS.items():
        if path == reverse(name):
            return view
    return ""


def url_with(url: str, params: dict[str, str], drop: Iterable[str] = ()) -> str:
    """The URL's path and query with ``params`` set and the ``drop`` parameters removed."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in params and k not in drop]
    query.extend((k, v) for k, v in params.items() if v != "")
    return f"{parts.path}?{urlencode(query)}" if query else parts.path


def url_without(url: str, key: str, value: str) -> str:
    """The URL with one value of a repeated parameter removed (an expansion collapsed)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if (k, v) != (key, value)]
    return f"{parts.path}?{urlencode(query)}" if query else parts.path


def collapse_links(url: str) -> list[tuple[dict[str, str] | None, str]]:
    """Each expanded node of a view's URL and the URL of the view without that expansion."""
    expanded = [v for k, v in parse_qsl(urlsplit(url).query) if k == "expand"]
    return [(describe_node(n), url_without(url, "expand", n)) for n in expanded]


def node_panel_url(node_id: str) -> str:
    """The URL of a node's detail panel."""
    return NodeUrls().panel_url(node_id)


def view_url(view: str, params: dict[str, str]) -> str:
    return url_with(reverse(_VIEW_URLS[view]), params)


def panel_links(node_id: str, current_url: str) -> dict[str, str]:
    """The graph links of a node's panel: expand it in the current view, focus it, find paths."""
    kind, _ = split_node_id(node_id)
    view = view_of_url(current_url)
    links = {}
    if view in {"identity", "access"}:
        present = [v for k, v in parse_qsl(urlsplit(current_url).query) if k == "expand"]
        parts = urlsplit(current_url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "node"]
        if node_id not in present:
            query.append(("expand", node_id))
        else:
            links["collapse"] = url_without(current_url, "expand", node_id)
        query.append(("node", node_id))
        links["expand"] = f"{parts.path}?{urlencode(query)}"
    if kind in {"user", "group", "role", "policy", "inline"}:
        links["identity"] = view_url("identity", {"focus": node_id, "node": node_id})
    if kind not in {"group", "policy", "inline"}:
        links["access"] = view_url("access", {"focus": node_id, "node": node_id})
        links["paths_from"] = view_url("paths", {"source": node_id})
    if kind == "role":
        links["paths_to"] = view_url("paths", {"target": node_id})
    return links


def folded_members_url(node_id: str, database: tuple[str, str] | None = None) -> str:
    """The URL of a folded node's list of members (asked from the graph page it is in);
    ``database`` = (of, account) for a node that stands for all of them in an account."""
    query = {"id": node_id}
    if database:
        query.update(of=database[0], account=database[1])
    return f"{reverse('identities:graph-folded')}?{urlencode(query)}"


def graph_links() -> dict[str, str]:
    return {"edge": reverse("identities:graph-edge")}
