"""Node ids and their descriptions (no database)."""

from __future__ import annotations

import pytest

from identities.graph.build import GraphError, describe_node, split_node_id


def test_node_ids_split_and_describe():
    assert split_node_id("role:444444444444:deploy") == ("role", "444444444444:deploy")
    assert split_node_id("anyone") == ("anyone", "")
    assert describe_node("policy:arn:aws:iam::aws:policy/ReadOnlyAccess") == {
        "id": "policy:arn:aws:iam::aws:policy/ReadOnlyAccess",
        "kind": "policy",
        "kind_label": "policy",
        "label": "ReadOnlyAccess",
        "account": "",
    }
    with pytest.raises(GraphError):
        split_node_id("Not An Id")
