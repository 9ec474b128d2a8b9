"""The graph as the page's script reads it (`browser_island`): what it derives is left out only
where the derivation gives it back, and the JSON is safe inside a script element."""

from __future__ import annotations

import json

import networkx as nx

from identities.graph.identity import build_identity_graph
from identities.graph.serialise import browser_island, island_json, serialise_graph

DEV, PROD = "333333333333", "444444444444"


def _data() -> dict:
    graph = nx.MultiDiGraph()
    graph.add_node("user:1:ann", kind="user", label="ann", account="1")
    graph.add_node("role:2:ops", kind="role", label="ops", account="2")
    graph.add_node("role:2:a(b)!", kind="role", label="a(b)!", account="2")
    graph.add_node(
        "aggregate:roles:2",
        kind="aggregate",
        label="roles",
        account="2",
        count=40,
        of="role",
        sample=["role:2:x", "role:2:y"],
        drill={"view": "access", "account": "2"},
    )
    graph.add_edge(
        "user:1:ann", "role:2:ops", key=("assume", "denied"), kind="assume", outcome="denied"
    )
    graph.add_edge(
        "user:1:ann",
        "role:2:a(b)!",
        key=("escalate", "allow"),
        kind="escalate",
        outcome="allow",
        methods=["iam:PassRole"],
    )
    positions = {node: (index * 300.0, 0.0) for index, node in enumerate(sorted(graph))}
    return serialise_graph(
        graph, positions, view="access", account_names={"1": "dev", "2": "prod <main>"}
    )


def test_island_leaves_out_what_the_script_derives_and_never_reads():
    data = _data()

    island = browser_island(data)

    by_id = {node["id"]: node for node in island["nodes"]}
    for node in island["nodes"]:
        assert not {"title", "panel", "members_url", "drill_url", "sample", "account_name"} & set(
            node
        ), node
    assert by_id["aggregate:roles:2"]["members_by_account"] is True
    assert all(not {"id", "summary", "route"} & set(edge) for edge in island["edges"])
    # What the derivations start from travels along.
    assert island["words"]["kinds"] == {
        "aggregate": "Folded nodes",
        "role": "IAM role",
        "user": "IAM user",
    }
    assert island["words"]["accounts"] == {"1": "dev", "2": "prod <main>"}
    assert island["words"]["verbs"] == {
        "assume|denied": "is refused",
        "escalate|allow": "can escalate to",
    }
    assert island["links"]["node"] == "/graph/node/"
    assert island["links"]["folded"] == "/graph/folded/"
    # The full data keeps every field: the exports and the table read it.
    assert data["nodes"][0]["title"] == "Folded nodes: roles · prod <main>"
    assert data["edges"][0]["summary"] == "ann can escalate to a(b)! (iam:PassRole)"


def test_island_keeps_a_field_its_derivation_would_not_give_back():
    data = _data()
    ops = next(node for node in data["nodes"] if node["id"] == "role:2:ops")
    ops["title"] = "IAM role: ops (the break-glass one)"
    ops["panel"] = "/elsewhere/"
    data["edges"][1]["summary"] = "ann lost ops: removed since the last sync"
    data["edges"][1]["id"] = "removed:ann|ops"

    island = browser_island(data)

    slim = next(node for node in island["nodes"] if node["id"] == "role:2:ops")
    assert slim["title"] == "IAM role: ops (the break-glass one)"
    assert slim["panel"] == "/elsewhere/"
    assert island["edges"][1]["summary"] == "ann lost ops: removed since the last sync"
    assert island["edges"][1]["id"] == "removed:ann|ops"


def test_island_json_is_escaped_for_a_script_element():
    text = island_json(_data())

    assert "<" not in text and ">" not in text and "&" not in text
    assert "\\u003Cmain\\u003E" in text
    assert json.loads(text)["words"]["accounts"]["2"] == "prod <main>"


def test_island_of_the_sample_identity_view_is_smaller_and_complete(imported_sample):
    data = build_identity_graph(account_id=DEV)

    island = browser_island(data)

    assert [node["id"] for node in island["nodes"]] == [node["id"] for node in data["nodes"]]
    assert [(e["source"], e["target"]) for e in island["edges"]] == [
        (e["source"], e["target"]) for e in data["edges"]
    ]
    assert not any("title" in node or "panel" in node for node in island["nodes"])
    assert len(island_json(data)) < 0.75 * len(json.dumps(data))
