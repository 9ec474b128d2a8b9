"""Exact choke-point counts (issue 12, item 2): every listed change — a statement, an
attachment or a membership — counts the principals it cuts over the whole graph (routes in
parallel that it takes together included, where the dominators' estimate misses them), as its
what-if removes them; `cut_by` against a plain walk of the changed graph."""

from __future__ import annotations

import random
from io import StringIO

import networkx as nx
import orjson
import pytest
from django.core.management import call_command

from identities.analysis import analyse_estate
from identities.analysis.choke_points import (
    ATTACHMENT,
    IDENTITY,
    MEMBERSHIP,
    ChokeItem,
    Removal,
    build_choke_graph,
    cut_by,
    statement_cuts,
)
from identities.ingest.imports import import_bundle
from identities.queries.choke_points import (
    attachment_cuts,
    choke_points,
    hop_evidence,
    membership_cuts,
    target_arns,
    verified_ranking,
)
from tests.analysis.test_choke_points import (
    HOME,
    OTHER,
    _admin_role,
    _assume,
    _cut_of,
    with_group,
)
from tests.bundles import arn, estate_bundle, iam_user, managed_policy, trusting

ASSUME_AB = arn(HOME, "policy", "assume-ab")
ROLE_A, ROLE_B = arn(HOME, "role", "a"), arn(OTHER, "role", "b")
U8, U9, OPS = arn(HOME, "user", "u8"), arn(HOME, "user", "u9"), arn(HOME, "group", "ops")


def parallel_bundle() -> dict:
    """u8 and u9 in the group ops, which carries assume-ab: statement 0 allows assuming a
    (an administrator of this account, trusting the account), statement 1 b (of another
    account, trusting u9 by ARN). u8 has one route (a); u9 two in parallel (a through its
    access group, b by an edge of its own), each needing another statement of assume-ab:
    no statement cuts u9, detaching assume-ab from ops or taking u9 out of ops does."""
    both = _assume(ROLE_A)
    both["Statement"].append({**both["Statement"][0], "Resource": ROLE_B})
    accounts = {
        HOME: {
            "users": [iam_user(HOME, "u8"), iam_user(HOME, "u9")],
            "roles": [_admin_role(HOME, "a", trusting({"AWS": f"arn:aws:iam::{HOME}:root"}))],
            "policies": [managed_policy(HOME, "assume-ab", both)],
        },
        OTHER: {"users": [], "roles": [_admin_role(OTHER, "b", trusting({"AWS": U9}))]},
    }
    return with_group(estate_bundle(accounts), "ops", [ASSUME_AB], ["u8", "u9"])


def _estimate_and_exact() -> tuple[dict[ChokeItem, list[str]], dict[ChokeItem, list[str]]]:
    """Every item's cut on its own: the dominators' estimate, and the exact counts the
    ranking uses."""
    from identities.queries.access import reach_graph

    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, target_arns("admin"))
    evidence = hop_evidence(choke, graph.graph, graph.needs)
    cuts = statement_cuts(choke, evidence)
    cuts.update(membership_cuts(choke, evidence, graph.graph))
    cuts.update(attachment_cuts(choke, evidence, graph.graph))
    estimate = {item: sorted(cut.principals) for item, cut in cuts.items()}
    verified_ranking(choke, evidence, cuts, graph)
    return estimate, {item: sorted(cut.principals) for item, cut in cuts.items()}


@pytest.mark.django_db
def test_an_attachment_and_a_membership_cutting_routes_in_parallel_count_every_principal():
    import_bundle(parallel_bundle(), label="parallel.json")
    analyse_estate()
    detach = ChokeItem(ATTACHMENT, policy=ASSUME_AB, principal=OPS)
    leave_u9 = ChokeItem(MEMBERSHIP, user=U9, group=OPS)
    leave_u8 = ChokeItem(MEMBERSHIP, user=U8, group=OPS)
    first = ChokeItem("statement", ASSUME_AB, "", 0, IDENTITY)

    estimate, exact = _estimate_and_exact()
    ranked = choke_points("admin").points

    # The dominators see u8 only (its one hop to a); u9's two routes go together.
    assert estimate[detach] == [U8]
    assert leave_u9 not in estimate
    assert exact[detach] == [U8, U9] == _cut_of(detach)
    assert exact[leave_u9] == [U9] == _cut_of(leave_u9)
    assert exact[leave_u8] == [U8] == _cut_of(leave_u8)
    assert exact[first] == [U8] == _cut_of(first)
    assert [(p.item, p.weight, p.principals) for p in ranked] == [(detach, 2.0, [U8, U9])]


@pytest.mark.django_db
def test_the_command_and_the_page_show_the_exact_count(client_as):
    from identities.roles import VIEWER

    import_bundle(parallel_bundle(), label="parallel.json")
    analyse_estate()
    out = StringIO()

    call_command("choke_points", "--format", "json", "--limit", "1", stdout=out, stderr=StringIO())
    page = client_as(VIEWER).get("/access/choke-points/").content.decode()

    assert orjson.loads(out.getvalue()) == [
        {
            "rank": 1,
            "item": {"kind": ATTACHMENT, "policy": ASSUME_AB, "principal": OPS},
            "label": f"attachment of {ASSUME_AB} to {OPS}",
            "paths_cut": 2.0,
            "principals": 2,
            "conditional": False,
            "what_if": ["--detach", ASSUME_AB, OPS],
        }
    ]
    assert f'Detach <code class="arn">{ASSUME_AB}</code> from' in page
    assert '<td class="num">2.0</td>' in page
    assert "2 principals" in page


@pytest.mark.django_db
def test_every_change_of_the_sample_cuts_what_its_what_if_removes(imported_sample):
    # Each change on its own removes exactly the paths it is counted with before any pick
    # (statements, attachments, the membership alike); listed, it counts those the changes
    # above it left.
    _, exact = _estimate_and_exact()
    ranked = choke_points("admin").points

    found = {item: (counted, _cut_of(item)) for item, counted in exact.items()}
    covered: set[str] = set()
    for point in ranked:
        assert point.principals == sorted(set(exact[point.item]) - covered)
        covered.update(exact[point.item])

    assert {item.label: counted for item, (counted, _) in found.items()} == {
        item.label: removed for item, (_, removed) in found.items()
    }
    assert {item.kind for item in found} == {"statement", ATTACHMENT, MEMBERSHIP}
    # frank escalates by passing terraform-build to CodeBuild: the role's trust of the
    # service is what his path cannot do without.
    assert [(p.item.label, p.principals) for p in ranked][1] == (
        "trust statement [0] of arn:aws:iam::333333333333:role/terraform-build",
        ["arn:aws:iam::333333333333:user/frank", "service:codebuild.amazonaws.com"],
    )
    assert covered == set().union(*exact.values())


@pytest.mark.django_db
def test_every_change_of_a_generated_estate_cuts_what_its_what_if_removes():
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=40, roles=80, seed=3), label="gen.json")
    analyse_estate()
    _, exact = _estimate_and_exact()

    found = {item.label: (counted, _cut_of(item)) for item, counted in exact.items()}

    assert {label: counted for label, (counted, _) in found.items()} == {
        label: removed for label, (_, removed) in found.items()
    }
    kinds = {item.kind for item in exact}
    assert kinds == {"statement", ATTACHMENT, MEMBERSHIP}
    assert len(exact) > 90


# -- cut_by against a plain walk ------------------------------------------------------------------


def _plain_cut(graph: nx.DiGraph, targets: set[str], removal: Removal) -> set[str]:
    """The principals of ``graph`` that reach a target and reach none once ``removal`` is
    made, by a walk of a copy of the graph changed accordingly: hops removed; a principal's
    hop node it loses hops of replaced by a copy of its own with the hops it keeps."""
    changed = graph.copy()
    changed.remove_edges_from(removal.hops)
    for principal, hops in removal.held.items():
        for hop_node in [n for n in graph.successors(principal) if n.startswith("group:")]:
            lost = {end for start, end in hops if start == hop_node}
            if lost:
                own = f"group:{principal}-own-{hop_node}"
                changed.remove_edge(principal, hop_node)
                changed.add_edges_from(
                    (own, end) for end in changed.successors(hop_node) if end not in lost
                )
                changed.add_edge(principal, own)
    remaining = targets - set(removal.targets)

    def reaches(g: nx.DiGraph, ends: set[str]) -> set[str]:
        found: set[str] = set()
        for end in ends:
            found |= nx.ancestors(g, end)
        return {node for node in found if not node.startswith("group:")}

    before = reaches(graph, targets) - targets
    return before - reaches(changed, remaining) - set(targets)


def _random_graph(seed: int) -> tuple[nx.DiGraph, set[str]]:
    """Principals p0.. each in one access group (``group:gN``, a few members each) and some
    with hops of their own (``group:own-pN``); every hop node leads to a few principals."""
    rng = random.Random(seed)
    principals = [f"p{n}" for n in range(30)]
    graph = nx.DiGraph()
    for n, principal in enumerate(principals):
        graph.add_edge(principal, f"group:g{n % 8}")
        if rng.random() < 0.3:
            graph.add_edge(principal, f"group:own-{principal}")
    for hop_node in [n for n in list(graph) if n.startswith("group:")]:
        for end in rng.sample(principals, rng.randint(1, 3)):
            graph.add_edge(hop_node, end)
    return graph, {"p0", "p1", "p2"}


@pytest.mark.parametrize("seed", range(12))
def test_cut_by_equals_a_walk_of_the_changed_graph(seed):
    graph, targets = _random_graph(seed)
    choke = build_choke_graph(graph, targets)
    rng = random.Random(seed)
    hops = [(start, end) for start, end in graph.edges if start.startswith("group:")]
    members = sorted(choke.principals)

    for _ in range(25):
        held: dict[str, list[tuple[str, str]]] = {}
        for principal in rng.sample(members, min(len(members), rng.randint(0, 3))):
            hop_node = f"group:g{int(principal[1:]) % 8}"
            ends = sorted(graph.successors(hop_node))
            held[principal] = [
                (hop_node, end) for end in rng.sample(ends, rng.randint(1, len(ends)))
            ]
        removal = Removal(
            hops=rng.sample(hops, rng.randint(0, 4)),
            held=held,
            targets=rng.sample(sorted(targets), rng.randint(0, 1)),
        )

        assert cut_by(choke, removal) == _plain_cut(graph, targets, removal), removal
