"""The access view built with its edges deferred to the fold (`identities.graph.access`,
``DEFER_EDGES``) is the view built the plain way, each edge drawn as it is read: on a
generated estate, around busy and quiet roles, folded and not, with the view's filters."""

from __future__ import annotations

from typing import Any

import networkx as nx
import orjson
import pytest

from identities.graph import access
from identities.graph.fold import access_fold_steps, fold_graph
from identities.models import AccessEdge, IamRole

build = access.build_access_graph.__wrapped__  # type: ignore[attr-defined]


@pytest.fixture
def generated_estate(db: None) -> None:
    """Ten generated accounts: a 2-hop neighbourhood of a busy role passes small thresholds."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=10, users=30, roles=60, seed=1), label="generated")
    analyse_estate()


def _role_node(pk: int) -> str:
    role = IamRole.objects.select_related("account").get(pk=pk)
    return f"role:{role.account.account_id}:{role.name}"


def _focus_roles() -> list[str]:
    """The two roles with the most edges in, and two with the fewest (but some)."""
    counts: dict[int, int] = {}
    for target in AccessEdge.objects.values_list("target_id", flat=True):
        counts[target] = counts.get(target, 0) + 1
    ranked = sorted(counts, key=lambda pk: (-counts[pk], pk))
    return [_role_node(pk) for pk in (*ranked[:2], *ranked[-2:])]


def _both_ways(monkeypatch: pytest.MonkeyPatch, **params: Any) -> tuple[bytes, bytes, Any]:
    """The view's JSON built plainly and deferred, and the deferred view."""
    monkeypatch.setattr(access, "DEFER_EDGES", False)
    plain = build(**params)
    monkeypatch.setattr(access, "DEFER_EDGES", True)
    deferred = build(**params)
    sort = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    return orjson.dumps(plain, option=sort), orjson.dumps(deferred, option=sort), deferred


VARIANTS: list[dict[str, Any]] = [
    {},
    {"depth": 1},
    {"depth": 3},
    {"threshold": 40},
    {"threshold": 120, "depth": 3},
    {"threshold": 40, "conditional": "only"},
    {"threshold": 40, "conditional": "none"},
    {"threshold": 40, "show_denied": True},
    {"threshold": 40, "direction": "in"},
    {"threshold": 40, "direction": "out"},
    {"threshold": 40, "edge_kinds": ["assume"]},
]


@pytest.mark.parametrize("variant", range(len(VARIANTS)))
def test_deferred_edges_build_the_same_view_around_roles(
    generated_estate: None, monkeypatch: pytest.MonkeyPatch, variant: int
) -> None:
    folded = 0
    for focus in _focus_roles():
        plain, deferred, data = _both_ways(monkeypatch, focus=focus, **VARIANTS[variant])
        assert plain == deferred, focus
        assert data["nodes"] and data["stats"]["focus"] == focus
        folded += bool(data["stats"]["folded"])
    if VARIANTS[variant].get("threshold") == 40 and "direction" not in VARIANTS[variant]:
        assert folded, "a threshold of 40 folds the busiest roles' neighbourhoods"


def test_deferred_edges_build_the_same_view_with_an_account_filter_and_an_expansion(
    generated_estate: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    busiest = _focus_roles()[0]
    account_id = busiest.split(":")[1]
    plain, deferred, data = _both_ways(monkeypatch, focus=busiest, accounts=[account_id])
    assert plain == deferred
    assert {n["account"] for n in data["nodes"] if n["kind"] == "role"} <= {account_id}
    other = _focus_roles()[-1]
    plain, deferred, data = _both_ways(monkeypatch, focus=busiest, expand=[other], threshold=40)
    assert plain == deferred
    assert other in {node["id"] for node in data["nodes"]}


def test_deferred_edges_build_the_same_account_and_estate_views(
    generated_estate: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    account_id = _focus_roles()[0].split(":")[1]
    for params in ({"account_id": account_id}, {"account_id": account_id, "threshold": 40}, {}):
        plain, deferred, data = _both_ways(monkeypatch, **params)
        assert plain == deferred, params
        assert data["edges"]


def _graph() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for name in ("ann", "bob", "cid"):
        graph.add_node(f"user:1:{name}", kind="user", label=name, account="1")
    for name in ("ops", "dev", "audit"):
        graph.add_node(f"role:2:{name}", kind="role", label=name, account="2")
    graph.add_edge("user:1:ann", "role:2:ops", key=("assume", "allow"), kind="assume", n=1)
    return graph


def _pending() -> dict[tuple[str, str, Any], dict[str, Any]]:
    edges: dict[tuple[str, str, Any], dict[str, Any]] = {}
    for user in ("ann", "bob", "cid"):
        for role, outcome, conditions in (
            ("ops", "allow", []),
            ("dev", "conditional", ["aws:MultiFactorAuthPresent"]),
            ("audit", "conditional", ["aws:SourceIp"]),
        ):
            edges[(f"user:1:{user}", f"role:2:{role}", ("assume", outcome))] = {
                "kind": "assume",
                "outcome": outcome,
                "conditions": conditions,
                "requirements": [f"{key} holds" for key in conditions],
            }
    return edges


def _as_lists(graph: nx.MultiDiGraph) -> tuple[list[Any], list[Any]]:
    nodes = sorted((node, sorted(map(str, data.items()))) for node, data in graph.nodes(data=True))
    edges = sorted(
        (s, t, str(k), sorted(map(str, d.items())))
        for s, t, k, d in graph.edges(keys=True, data=True)
    )
    return nodes, edges


@pytest.mark.parametrize("threshold", [2, 5, 6, 100])
def test_fold_graph_with_pending_edges_is_fold_graph_with_them_added(threshold: int) -> None:
    expected_graph = _graph()
    expected_graph.add_edges_from((*ends, dict(data)) for ends, data in _pending().items())
    expected, expected_steps = fold_graph(
        expected_graph, threshold, access_fold_steps, focus="role:2:ops"
    )

    got, steps = fold_graph(
        _graph(), threshold, access_fold_steps, focus="role:2:ops", pending=_pending()
    )

    assert steps == expected_steps
    assert _as_lists(got) == _as_lists(expected)
    # The pending edge the graph held already updated it (``n`` kept, the rest replaced).
    ann_ops = got.get_edge_data("user:1:ann", "role:2:ops", ("assume", "allow"))
    if ann_ops is not None:
        assert ann_ops["n"] == 1 and ann_ops["outcome"] == "allow"
    if threshold < 6:
        assert any(data["kind"] == "aggregate" for _, data in got.nodes(data=True))


def _view_edges(selection: Any, outcomes: set[str], kinds: set[str]) -> list[tuple[Any, ...]]:
    """The edges of a selection read from the `AccessEdge` view, sorted."""
    from django.db.models import Q

    where = Q() if selection.every else Q(pk__in=[])
    for part in selection.parts():
        where |= part
    rows = AccessEdge.objects.filter(where, outcome__in=outcomes, source_kind__in=kinds)
    found = []
    for edge in rows:
        keys = tuple(edge.condition_keys) if edge.outcome != "allow" else ()
        texts = tuple((edge.condition_values or {}).get(key) or key for key in keys)
        found.append(
            (
                edge.source, edge.source_kind, edge.source_user_id, edge.source_role_id,
                edge.source_group_id, edge.target_id, edge.action, edge.outcome, keys,
                edge.via_pass_role, texts,
            )
        )  # fmt: skip
    return sorted(found, key=repr)


def test_stored_edges_are_the_view_s_edges_with_role_class_grants_written_out(
    generated_estate: None,
) -> None:
    from identities.models import AccessGroup, RoleClassGrant
    from identities.queries.graph_edges import EdgeSelection, stored_edges

    assert RoleClassGrant.objects.exists(), "the generated estate stores role class grants"
    busy = list(IamRole.objects.order_by("pk").values_list("pk", flat=True)[:40])
    groups = list(
        RoleClassGrant.objects.order_by("source_group_id")
        .values_list("source_group_id", flat=True)
        .distinct()[:8]
    )
    outside = list(
        AccessEdge.objects.exclude(source_kind__in=["user", "role", "group"])
        .values_list("source", flat=True)
        .distinct()[:5]
    )
    group_sources = [
        f"group:{key}" for key in AccessGroup.objects.values_list("key", flat=True)[:3]
    ]
    selections = [
        EdgeSelection(targets=busy),
        EdgeSelection(source_groups=groups),
        EdgeSelection(source_roles=busy, targets=busy[:10]),
        EdgeSelection(sources=[*outside, *group_sources]),
        EdgeSelection(targets=busy, source_groups=groups),
        EdgeSelection(every=True),
    ]
    every_kind = {"user", "role", "group", "account", "external", "service", "federated", "anyone"}
    class_edges = 0
    for selection in selections:
        for outcomes in ({"allow", "conditional"}, {"conditional", "denied"}):
            got = stored_edges(selection, outcomes=outcomes, source_kinds=every_kind)
            rows = sorted(
                (
                    (
                        e.source, e.source_kind, e.user_id, e.role_id, e.group_id, e.target_id,
                        e.action, e.outcome, e.conditions, e.via_pass_role, e.requirements,
                    )
                    for e in got
                ),
                key=repr,
            )  # fmt: skip
            assert rows == _view_edges(selection, outcomes, every_kind), selection
            class_edges += sum(1 for e in got if e.group_id is not None)
    assert class_edges
