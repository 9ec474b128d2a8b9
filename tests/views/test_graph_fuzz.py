"""Junk parameters on the graph endpoints answer 4xx or a page, never a 5xx (issue 14, item 8).

A few hundred requests in the normal suite; IAMVIZ_FUZZ_EXAMPLES=10000 for a longer run."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("IAMVIZ_FUZZ_EXAMPLES", "300"))
DEV, PROD = "333333333333", "444444444444"
REAL_IDS = [
    f"user:{DEV}:alice",
    f"role:{DEV}:dev-ops",
    f"role:{PROD}:prod-ops",
    "policy:arn:aws:iam::aws:policy/AdministratorAccess",
    "service:ec2.amazonaws.com",
    f"account:{PROD}",
    "anyone",
]
KINDS = [
    "user", "group", "role", "policy", "inline", "access-group", "service", "federated",
    "account", "external", "anyone", "x",
]  # fmt: skip
PAGES = [
    "/graph/identity/",
    "/graph/access/",
    "/graph/paths/",
    "/graph/data.json",
    "/graph/export.graphml",
    "/graph/export.svg",
    "/graph/suggest/",
    "/graph/edge/",
]
PARAMS = [
    "view", "focus", "expand", "node", "depth", "account", "accounts", "kinds", "cond", "denied",
    "hide_aws", "source", "target", "length", "mode", "q", "field", "kind", "from", "page",
]  # fmt: skip

junk_text = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40
) | st.sampled_from(["", " ", "x", "a b", ":", "-", "*", "%", "\n", "\x00", "..", "/", "?&="])
node_like = st.one_of(
    st.sampled_from(REAL_IDS),
    st.builds(lambda real, tail: real + tail, st.sampled_from(REAL_IDS), junk_text),
    st.builds(lambda kind, key: f"{kind}:{key}", st.sampled_from(KINDS), junk_text),
    st.builds(lambda real, cut: real[:cut], st.sampled_from(REAL_IDS), st.integers(0, 30)),
)
value = st.one_of(node_like, junk_text, st.sampled_from(["identity", "access", "paths", "9"]))
query = st.dictionaries(
    st.sampled_from(PARAMS), st.lists(value, min_size=1, max_size=3), max_size=6
)
node_url = st.builds(
    lambda kind, key: f"/graph/node/{quote(kind, safe='')}/{quote(key, safe='/')}",
    st.sampled_from(KINDS) | junk_text.filter(lambda t: "/" not in t and t.strip()),
    node_like | junk_text,
).filter(lambda url: not url.endswith("/"))
request = st.tuples(st.sampled_from(PAGES) | node_url, query)


@pytest.fixture
def fuzz_client(logged_in_client: Any, imported_sample: Any) -> Any:
    return logged_in_client


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 1000,
    suppress_health_check=list(HealthCheck),
)
@given(request)
def test_graph_endpoints_never_answer_5xx(fuzz_client, request):
    url, params = request
    response = fuzz_client.get(url, params, headers={"HX-Request": "true"} if len(url) % 2 else {})

    assert response.status_code < 500, (url, params)
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)


@pytest.mark.parametrize("view", ["identity", "access", "paths"])
@pytest.mark.parametrize(
    "params",
    [
        {"node": "a b"},
        {"node": "user: x"},
        {"node": "*"},
        {"expand": "x"},
        {"expand": ["a b", f"user:{DEV}:alice"]},
        {"focus": f"user:{DEV}:alice", "expand": "anyone:x"},
        {"node": f"user:{DEV}:\x00"},
    ],
)
def test_junk_node_and_expand_do_not_break_the_page(fuzz_client, view, params):
    response = fuzz_client.get(f"/graph/{view}/", params)

    assert response.status_code == 200
    assert response.context["panel"] is None or params.get("node") is None


def test_a_focus_that_seeds_another_node_is_not_found(fuzz_client):
    response = fuzz_client.get("/graph/access/", {"focus": "anyone:x"})

    assert response.status_code == 404
