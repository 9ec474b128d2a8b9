"""Node ids round-trip whatever a name holds (issue 14, items 6 and 8): through
`split_node_id`, and through the panel URL that the browser follows."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from identities.graph.build import account_and_name, principal_node_id, split_node_id
from identities.graph.urls import node_panel_url

# AWS's pattern for user, group, role and policy names: [\w+=,.@-]+
LEGAL_NAME = st.text(st.sampled_from("abcXYZ0189_+=,.@-"), min_size=1, max_size=64)
KINDS = st.sampled_from(["user", "group", "role"])
# Any text the import stores: it refuses NUL and lone surrogates (bundle_checks.check_storable).
STORABLE_NAME = st.text(st.characters(exclude_characters="\x00"), min_size=1)


@settings(deadline=None)
@given(kind=KINDS, name=STORABLE_NAME)
def test_any_name_round_trips_through_split_node_id(kind, name):
    node_id = principal_node_id(kind, "123456789012", name)

    found_kind, key = split_node_id(node_id)

    assert found_kind == kind
    assert account_and_name(key) == ("123456789012", name)


def test_a_newline_in_a_name_still_makes_a_node_id():
    assert split_node_id("role:123456789012:a\nb") == ("role", "123456789012:a\nb")
    assert split_node_id("role:123456789012:ab\n") == ("role", "123456789012:ab\n")


@settings(deadline=None)
@given(kind=KINDS, name=LEGAL_NAME)
def test_a_legal_name_round_trips_through_the_panel_url(kind, name):
    from django.urls import resolve

    match = resolve(node_panel_url(principal_node_id(kind, "123456789012", name)))

    assert match.url_name == "graph-node"
    assert f"{match.kwargs['kind']}:{match.kwargs['key']}" == f"{kind}:123456789012:{name}"
