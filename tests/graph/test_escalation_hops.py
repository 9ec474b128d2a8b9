"""The escalation hops read without the rest of the reach graph (`reach.EscalationHops`) give
the graph pictures what the whole graph gave them: the same hops, the same principals
escalating into and out of each one, and the same JSON for the identity and access views."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import networkx as nx
import orjson
import pytest

from identities.analysis.reach import (
    ESCALATE_PREFIX,
    GROUP_PREFIX,
    EscalationHops,
    ReachGraph,
)
from identities.graph import escalations
from identities.graph.access import build_access_graph
from identities.graph.identity import build_identity_graph
from identities.models import Account, IamRole, IamUser
from identities.queries import access as queries


def _normalised(hops: EscalationHops) -> dict[str, dict[str, frozenset[str]]]:
    return {
        name: {key: frozenset(values) for key, values in getattr(hops, name).items()}
        for name in ("out", "members", "onto", "into")
    }


def _graph_escalating_into(graph: nx.DiGraph, targets: Iterable[str]) -> set[str]:
    """What the pictures read of the whole graph before: principals escalating into targets."""
    found: set[str] = set()
    for target in targets:
        if target not in graph:
            continue
        for hop in graph.predecessors(target):
            if not hop.startswith(ESCALATE_PREFIX):
                continue
            if hop.startswith(ESCALATE_PREFIX + GROUP_PREFIX):
                found.update(p for p in graph.predecessors(hop) if p != target)
            else:
                found.add(hop.removeprefix(ESCALATE_PREFIX))
    return found


def _graph_escalation_targets(
    graph: nx.DiGraph, asked: Mapping[str, set[str] | None]
) -> dict[str, set[str]]:
    """What the pictures read of the whole graph before: each source's escalation targets."""
    succ = graph._succ
    found: dict[str, set[str]] = {}
    for source, wanted in asked.items():
        if source not in succ:
            continue
        sets = [
            set(succ[hop]) if wanted is None else wanted.intersection(succ[hop])
            for hop in succ[source]
            if hop.startswith(ESCALATE_PREFIX)
        ]
        targets = set().union(*sets) - {source}
        if targets:
            found[source] = targets
    return found


def test_hops_of_a_built_graph_are_read_back_from_its_bytes() -> None:
    graph = ReachGraph.build(
        edges=[("arn:u1", "arn:r1"), ("group:g", "arn:r2")],
        memberships=[("arn:u2", "group:g"), ("arn:u3", "group:g")],
        escalations=[("arn:u1", "arn:r2"), ("escalate:group:1", "arn:r1")],
        escalation_memberships=[("arn:u2", "escalate:group:1"), ("arn:u3", "escalate:group:1")],
    )
    hops = EscalationHops.from_bytes(graph.to_bytes())
    assert _normalised(hops) == _normalised(EscalationHops.of_graph(graph.graph))
    assert set(hops.out) == {"arn:u1", "arn:u2", "arn:u3"}
    assert hops.onto["escalate:group:1"] == frozenset({"arn:r1"})
    assert set(hops.members["escalate:group:1"]) == {"arn:u2", "arn:u3"}
    assert hops.into == {
        "arn:r2": frozenset({"escalate:arn:u1"}),
        "arn:r1": frozenset({"escalate:group:1"}),
    }


@pytest.fixture
def generated_estate(db: None) -> None:
    """Ten generated accounts, analysed: escalations between many principals, grouped too."""
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=10, users=30, roles=60, seed=1), label="generated")
    analyse_estate()


def test_stored_hops_answer_as_the_whole_graph(generated_estate: None) -> None:
    whole = queries.reach_graph()
    assert whole is not None
    graph = whole.graph
    hops = queries.escalation_hops()
    assert hops is not None and hops.out and hops.into
    assert _normalised(hops) == _normalised(EscalationHops.of_graph(graph))
    principals = set(IamUser.objects.values_list("arn", flat=True))
    principals |= set(IamRole.objects.values_list("arn", flat=True))
    assert escalations._escalating_into(principals) == _graph_escalating_into(graph, principals)
    some = set(sorted(principals)[::3])
    asked: dict[str, set[str] | None] = dict.fromkeys(sorted(principals)[::2])
    asked.update((arn, some) for arn in sorted(principals)[1::2])
    found = escalations._escalation_targets(asked)
    assert found == _graph_escalation_targets(graph, asked)
    assert found  # escalations were found, so the comparison compared something


def _both_ways(monkeypatch: pytest.MonkeyPatch, build: Any, **params: Any) -> tuple[bytes, bytes]:
    """A view's JSON read through the escalation hops and through the whole graph."""
    sort = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS
    plain = getattr(build, "__wrapped__", build)
    with_hops = orjson.dumps(plain(**params), option=sort)
    whole = queries.reach_graph()
    assert whole is not None
    monkeypatch.setattr(
        escalations, "_escalating_into", lambda t: _graph_escalating_into(whole.graph, t)
    )
    monkeypatch.setattr(
        escalations, "_escalation_targets", lambda a: _graph_escalation_targets(whole.graph, a)
    )
    with_graph = orjson.dumps(plain(**params), option=sort)
    monkeypatch.undo()
    return with_hops, with_graph


def test_views_are_the_same_json_either_way(
    generated_estate: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = IamRole.objects.select_related("account").order_by("pk")[7]
    focus = f"role:{role.account.account_id}:{role.name}"
    account = Account.objects.order_by("account_id").values_list("account_id", flat=True)[0]
    cases: list[tuple[Any, dict[str, Any]]] = [
        (build_identity_graph, {"focus": focus}),
        (build_identity_graph, {"account_id": account}),
        (build_access_graph, {"focus": focus}),
    ]
    escalating = 0
    for build, params in cases:
        with_hops, with_graph = _both_ways(monkeypatch, build, **params)
        assert with_hops == with_graph, (build.__name__, params)
        escalating += with_hops.count(b'"escalate"')
    assert escalating  # some view drew escalation edges
