"""Choke points (issue 12, item 2): the greedy covering set over a small hand-computed graph,
checked against the what-if of its top change; the pure parts on a graph built by hand; counts
that equal what the what-if of each change removes (conditional grants beside the cited one, a
trust naming the principal, routes in parallel, the top changes of a generated estate)."""

from __future__ import annotations

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
    STATEMENT,
    TRUST,
    ChokeItem,
    HopEvidence,
    build_choke_graph,
    necessary_items,
    parse_statement_ref,
    rank_choke_points,
    statement_cuts,
)
from identities.analysis.what_if import WhatIfError, proposal_from, what_if
from identities.ingest.imports import import_bundle
from identities.queries.choke_points import choke_points, target_arns
from tests.bundles import arn, estate_bundle, iam_role, iam_user, managed_policy, trusting

HOME = "111111111111"
ADMIN = arn(HOME, "role", "admin")
ROLE_A, ROLE_B = arn(HOME, "role", "a"), arn(HOME, "role", "b")
U1, U2, U3, U4 = (arn(HOME, "user", f"u{n}") for n in range(1, 5))
ASSUME_A, ASSUME_B = arn(HOME, "policy", "assume-a"), arn(HOME, "policy", "assume-b")
EVERYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _assume(role: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}],
    }


def small_estate() -> dict:
    """u1, u2, u3 (one access group: policy assume-a) -> a -> admin; u4 -> b (MFA) -> admin.
    The admin role trusts a and b by one statement each."""
    admin = iam_role(
        HOME,
        "admin",
        [
            {**trusting({"AWS": ROLE_A})[0], "Sid": "FromA"},
            {**trusting({"AWS": ROLE_B})[0], "Sid": "FromB"},
        ],
    )
    admin["RolePolicyList"] = [{"PolicyName": "everything", "PolicyDocument": EVERYTHING}]
    root = {"AWS": f"arn:aws:iam::{HOME}:root"}
    mfa = {"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
    return {
        HOME: {
            "users": [
                *(iam_user(HOME, f"u{n}", attached=[ASSUME_A]) for n in (1, 2, 3)),
                iam_user(HOME, "u4", attached=[ASSUME_B]),
            ],
            "roles": [
                admin,
                iam_role(HOME, "a", trusting(root)),
                iam_role(HOME, "b", trusting(root, **mfa)),
            ],
            "policies": [
                managed_policy(HOME, "assume-a", _assume(ROLE_A)),
                managed_policy(HOME, "assume-b", _assume(ROLE_B)),
            ],
        }
    }


@pytest.fixture
def small(db: None) -> None:
    import_bundle(estate_bundle(small_estate()), label="small.json")
    analyse_estate()


def statement(policy: str, index: int, layer: str, sid: str = "") -> ChokeItem:
    return ChokeItem(STATEMENT, policy, sid, index, layer)


@pytest.mark.django_db
def test_choke_points_of_the_small_estate_are_the_hand_computed_covering_set(small):
    report = choke_points("admin")

    assert [(p.rank, p.item, p.weight, p.principals) for p in report.points] == [
        (1, statement(ADMIN, 0, TRUST, "FromA"), 4.0, sorted([ROLE_A, U1, U2, U3])),
        (2, statement(ADMIN, 1, TRUST, "FromB"), 2.0, sorted([ROLE_B, U4])),
    ]
    assert (report.targets, report.principals) == (1, 6)


@pytest.mark.django_db
def test_each_statement_cuts_the_principals_whose_every_path_it_carries(small):
    from identities.queries.access import reach_graph
    from identities.queries.choke_points import hop_evidence

    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, [ADMIN])

    cuts = statement_cuts(choke, hop_evidence(choke, graph.graph))

    assert {item.label: cut.principals for item, cut in cuts.items()} == {
        "trust statement 'FromA' of " + ADMIN: dict.fromkeys([ROLE_A, U1, U2, U3], False),
        "trust statement 'FromB' of " + ADMIN: dict.fromkeys([ROLE_B, U4], False),
        f"trust statement [0] of {ROLE_A}": dict.fromkeys([U1, U2, U3], False),
        f"identity statement [0] of {ASSUME_A}": dict.fromkeys([U1, U2, U3], False),
        # u4's hop to b holds only with MFA: it counts half.
        f"trust statement [0] of {ROLE_B}": {U4: True},
        f"identity statement [0] of {ASSUME_B}": {U4: True},
    }


@pytest.mark.django_db
def test_removing_the_top_choke_point_removes_the_paths_it_counts(small):
    top = choke_points("admin", limit=1).points[0]

    answer = what_if(proposal_from([(top.item.what_if[0][2:], top.item.what_if[1:])]))
    removed = sorted(c.source for c in answer.changes if c.category == "reach_removed")

    assert removed == top.principals == sorted([ROLE_A, U1, U2, U3])
    assert [c.category for c in answer.changes if c.category == "reach_added"] == []


@pytest.mark.django_db
def test_choke_points_command_prints_the_contract_and_its_what_if_agrees(small):
    out, err = StringIO(), StringIO()

    call_command("choke_points", "--format", "json", "--limit", "1", stdout=out, stderr=err)
    rows = orjson.loads(out.getvalue())
    wi = StringIO()
    call_command("what_if", "--format", "json", *rows[0]["what_if"], stdout=wi, stderr=StringIO())

    assert rows == [
        {
            "rank": 1,
            "item": {"kind": "trust_statement", "policy": ADMIN, "sid": "FromA", "index": 0},
            "label": f"trust statement 'FromA' of {ADMIN}",
            "paths_cut": 4.0,
            "principals": 4,
            "conditional": False,
            "what_if": ["--remove-statement", ADMIN, "FromA"],
        }
    ]
    assert len(orjson.loads(wi.getvalue())["admin_reach_removed"]) == rows[0]["principals"]
    assert "1 choke points over 6 principals that reach 1 targets (admin)" in err.getvalue()


@pytest.mark.django_db
def test_choke_points_command_csv_and_bad_arguments(small):
    out = StringIO()

    call_command("choke_points", "--format", "csv", stdout=out, stderr=StringIO())
    with pytest.raises(Exception, match="--limit 0: must be at least 1"):
        call_command("choke_points", "--limit", "0", stdout=StringIO(), stderr=StringIO())

    lines = out.getvalue().splitlines()
    assert lines[0] == "rank,item,label,paths_cut,principals,conditional,what_if"
    assert lines[2].startswith("2,")
    assert lines[2].endswith(f',2.0,2,false,"[""--remove-statement"", ""{ADMIN}"", ""FromB""]"')
    assert len(lines) == 3


@pytest.mark.django_db
def test_choke_points_command_without_an_analysis_is_an_error():
    with pytest.raises(Exception, match="no analysis has run yet"):
        call_command("choke_points", stdout=StringIO(), stderr=StringIO())


def test_dominators_split_every_granted_hop_and_skip_routes_in_parallel():
    # p -> via:p -> t (target) and p -> via:p -> r -> via:r -> t: p has two routes, so neither
    # hop out of via:p alone cuts it, but via:p itself is on both; r's hop into t cuts r.
    graph = nx.DiGraph(
        [("p", "via:p"), ("via:p", "t"), ("via:p", "r"), ("r", "via:r"), ("via:r", "t")]
    )

    choke = build_choke_graph(graph, ["t"])

    assert choke.principals == {"p", "r"}
    assert choke.dominated == {("via:r", "t"): {"r"}}
    assert choke.through == {"via:p": {"p"}, "via:r": {"r"}}
    assert sorted(choke.onwards["via:p"]) == [("via:p", "r"), ("via:p", "t")]


def test_one_statement_every_hop_onwards_needs_cuts_the_principals_behind_them():
    graph = nx.DiGraph(
        [("p", "via:p"), ("via:p", "t1"), ("via:p", "t2"), ("q", "via:q"), ("via:q", "t1")]
    )
    choke = build_choke_graph(graph, ["t1", "t2"])
    shared = "statement 'Both' (Statement[0]) of inline policy hop (arn:aws:iam::1:user/p)"

    def trust(role: str) -> str:
        return f"statement (Statement[0]) of trust policy {role} (arn:aws:iam::1:role/{role})"

    evidence = {
        ("via:p", "t1"): HopEvidence(((trust("t1"), shared),)),
        ("via:p", "t2"): HopEvidence(((trust("t2"), shared),), conditional=True),
        ("via:q", "t1"): HopEvidence(((trust("t1"),),)),
    }

    cuts = statement_cuts(choke, evidence)

    assert {item.label: cut.principals for item, cut in cuts.items()} == {
        "identity statement 'Both' of arn:aws:iam::1:user/p#hop": {"p": False},
        "trust statement [0] of arn:aws:iam::1:role/t1": {"q": False},
    }


def test_a_hop_holds_through_an_item_alone_only_in_every_way_it_holds():
    trust = "statement 'T' (Statement[0]) of trust policy x (arn:aws:iam::1:role/x)"
    other = "statement (Statement[1]) of trust policy x (arn:aws:iam::1:role/x)"
    own = "statement (Statement[0]) of inline policy p (arn:aws:iam::1:user/u)"
    scp = "statement (Statement[0]) of SCP FullAWSAccess (p-FullAWSAccess)"

    assert necessary_items(HopEvidence(((trust, own, scp),))) == {
        ChokeItem(STATEMENT, "arn:aws:iam::1:role/x", "T", 0, TRUST),
        ChokeItem(STATEMENT, "arn:aws:iam::1:user/u#p", "", 0, IDENTITY),
    }
    assert necessary_items(HopEvidence(((trust, other, own),))) == {
        ChokeItem(STATEMENT, "arn:aws:iam::1:user/u#p", "", 0, IDENTITY)
    }
    assert necessary_items(HopEvidence(((trust,), (own,)))) == set()
    assert parse_statement_ref(scp) is None


def test_greedy_takes_what_earlier_picks_left_and_weights_conditional_paths_half():
    from identities.analysis.choke_points import ItemCut

    big = ChokeItem(STATEMENT, "arn:aws:iam::1:role/a", "", 0, TRUST)
    overlap = ChokeItem(STATEMENT, "arn:aws:iam::1:role/b", "", 0, TRUST)
    guarded = ChokeItem(MEMBERSHIP, user="arn:aws:iam::1:user/u", group="arn:aws:iam::1:group/g")
    cuts = {
        big: ItemCut(dict.fromkeys(["p1", "p2", "p3"], False)),
        overlap: ItemCut({"p3": False, "p4": False}),
        guarded: ItemCut({"p5": True, "p6": True, "p7": True}),
    }

    ranked = rank_choke_points(cuts)

    assert [(p.item, p.weight, p.principals, p.conditional) for p in ranked] == [
        (big, 3.0, ["p1", "p2", "p3"], False),
        (guarded, 1.5, ["p5", "p6", "p7"], True),
        (overlap, 1.0, ["p4"], False),
    ]
    assert ranked[1].item.what_if == ["--remove-membership", guarded.user, guarded.group]


def with_group(bundle: dict, name: str, policies: list[str], members: list[str]) -> dict:
    """``bundle`` with an IAM group of its first account carrying these managed policies."""
    details = bundle["accounts"][0]["authorization_details"]
    details["GroupDetailList"].append(
        {
            "Path": "/",
            "GroupName": name,
            "GroupId": "AGPA" + name.upper().ljust(17, "X"),
            "Arn": arn(HOME, "group", name),
            "CreateDate": "2024-01-01T00:00:00+00:00",
            "GroupPolicyList": [],
            "AttachedManagedPolicies": [
                {"PolicyName": policy.rsplit("/", 1)[-1], "PolicyArn": policy}
                for policy in policies
            ],
        }
    )
    for user in details["UserDetailList"]:
        if user["UserName"] in members:
            user["GroupList"].append(name)
    return bundle


@pytest.mark.django_db
def test_a_membership_cuts_a_user_who_gets_the_statement_through_that_group_only():
    from identities.queries.access import reach_graph
    from identities.queries.choke_points import hop_evidence, membership_cuts

    accounts = small_estate()
    accounts[HOME]["users"] += [
        iam_user(HOME, "u5"),
        iam_user(HOME, "u6", attached=[ASSUME_A]),  # holds the policy itself too
    ]
    import_bundle(
        with_group(estate_bundle(accounts), "ops", [ASSUME_A], ["u5", "u6"]), label="g.json"
    )
    analyse_estate()
    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, [ADMIN])
    ops, u5 = arn(HOME, "group", "ops"), arn(HOME, "user", "u5")

    cuts = membership_cuts(choke, hop_evidence(choke, graph.graph), graph.graph)
    answer = what_if(proposal_from([("remove-membership", [u5, ops])]))

    assert {item: cut.principals for item, cut in cuts.items()} == {
        ChokeItem(MEMBERSHIP, user=u5, group=ops): {u5: False}
    }
    assert [c.source for c in answer.changes if c.category == "reach_removed"] == [u5]


def _reach_removed(answer: object) -> list[str]:
    return sorted(c.source for c in answer.changes if c.category == "reach_removed")  # type: ignore[attr-defined]


@pytest.mark.django_db
def test_an_attachment_cuts_the_principals_that_get_the_policy_through_it_alone():
    from identities.queries.access import reach_graph
    from identities.queries.choke_points import attachment_cuts, hop_evidence

    # u5 and u6 get assume-a through the group ops only, u1-u3 each have it attached: one
    # access group of five whose members hold the policy through four attachments, each
    # cutting its members; u4 has assume-b attached: detaching it cuts u4, whose hop holds
    # only with MFA.
    accounts = small_estate()
    accounts[HOME]["users"] += [iam_user(HOME, "u5"), iam_user(HOME, "u6")]
    import_bundle(
        with_group(estate_bundle(accounts), "ops", [ASSUME_A], ["u5", "u6"]), label="g.json"
    )
    analyse_estate()
    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, [ADMIN])
    ops, u5, u6 = arn(HOME, "group", "ops"), arn(HOME, "user", "u5"), arn(HOME, "user", "u6")

    cuts = attachment_cuts(choke, hop_evidence(choke, graph.graph), graph.graph)
    ranked = choke_points("admin").points
    detach_ops = ChokeItem(ATTACHMENT, policy=ASSUME_A, principal=ops)
    answer = what_if(proposal_from([("detach", [ASSUME_A, ops])]))

    assert {item: cut.principals for item, cut in cuts.items()} == {
        detach_ops: {u5: False, u6: False},
        **{ChokeItem(ATTACHMENT, policy=ASSUME_A, principal=u): {u: False} for u in (U1, U2, U3)},
        ChokeItem(ATTACHMENT, policy=ASSUME_B, principal=U4): {U4: True},
    }
    assert _reach_removed(answer) == [u5, u6]
    assert detach_ops.what_if == ["--detach", ASSUME_A, ops]
    assert detach_ops.as_dict() == {"kind": "attachment", "policy": ASSUME_A, "principal": ops}
    # The trust statement into admin from a still covers everyone first.
    assert [(p.item, p.principals) for p in ranked[:2]] == [
        (statement(ADMIN, 0, TRUST, "FromA"), sorted([ROLE_A, U1, U2, U3, u5, u6])),
        (statement(ADMIN, 1, TRUST, "FromB"), sorted([ROLE_B, U4])),
    ]


@pytest.mark.django_db
def test_attachments_rank_when_they_cut_what_no_statement_does():
    from identities.queries.access import reach_graph
    from identities.queries.choke_points import attachment_cuts, hop_evidence

    # u7 holds an inline policy granting a as well as ops' assume-a: no attachment cuts u7.
    # u1 and u2 get assume-a from ops only; u3 has it attached: the covering set detaches it
    # from ops (u1, u2) and from u3 before any statement of assume-a, which a and x need too.
    accounts = small_estate()
    for user in accounts[HOME]["users"][:2]:
        user["AttachedManagedPolicies"] = []
    accounts[HOME]["users"].append(
        iam_user(HOME, "u7", inline={"own": _assume(ROLE_A)}),
    )
    import_bundle(
        with_group(estate_bundle(accounts), "ops", [ASSUME_A], ["u1", "u2", "u7"]), label="h.json"
    )
    analyse_estate()
    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, [ADMIN])
    ops, u7 = arn(HOME, "group", "ops"), arn(HOME, "user", "u7")

    cuts = attachment_cuts(choke, hop_evidence(choke, graph.graph), graph.graph)
    both = what_if(proposal_from([("detach", [ASSUME_A, ops]), ("detach", [ASSUME_A, U3])]))

    assert {item.principal: sorted(cut.principals) for item, cut in cuts.items()} == {
        ops: [U1, U2],
        U3: [U3],
        U4: [U4],
    }
    assert u7 not in _reach_removed(both)
    assert _reach_removed(both) == [U1, U2, U3]


@pytest.mark.django_db
def test_detaching_equals_importing_the_estate_without_the_attachment():
    from identities.models import AnalysisRun

    accounts = small_estate()
    accounts[HOME]["users"] += [iam_user(HOME, "u5"), iam_user(HOME, "u6", attached=[ASSUME_B])]
    import_bundle(
        with_group(estate_bundle(accounts), "ops", [ASSUME_A], ["u5", "u6"]), label="1.json"
    )
    analyse_estate()
    first = AnalysisRun.objects.latest("pk").pk
    ops = arn(HOME, "group", "ops")
    out = StringIO()
    call_command("what_if", "--detach", ASSUME_A, ops, "--detach", ASSUME_B, U4, stdout=out,
                 stderr=StringIO())  # fmt: skip
    proposed = orjson.loads(out.getvalue())

    accounts[HOME]["users"][3]["AttachedManagedPolicies"] = []
    bundle = with_group(estate_bundle(accounts), "ops", [], ["u5", "u6"])
    import_bundle(bundle, label="2.json")
    analyse_estate()
    changes = StringIO()
    call_command("access_changes", "--from", str(first), "--format", "json", stdout=changes,
                 stderr=StringIO())  # fmt: skip
    stored = orjson.loads(changes.getvalue())

    assert proposed["admin_reach_removed"] == [U4, arn(HOME, "user", "u5")]
    for key in proposed:
        if key not in ("from", "to"):
            assert proposed[key] == stored[key], key


@pytest.mark.django_db
def test_detaching_what_is_not_attached_is_refused(small):
    with pytest.raises(WhatIfError, match="is not attached to"):
        proposal_from([("detach", [ASSUME_B, U1])])


ASSUME_AB = arn(HOME, "policy", "assume-ab")
U9, OPS = arn(HOME, "user", "u9"), arn(HOME, "group", "ops")


def two_route_bundle() -> dict:
    """The small estate, and u9 in the group ops, which carries assume-ab: one statement
    allows assuming a, another b, so u9 has two routes to admin and no one statement cuts it;
    detaching assume-ab from ops does."""
    accounts = small_estate()
    accounts[HOME]["users"].append(iam_user(HOME, "u9"))
    both = _assume(ROLE_A)
    both["Statement"].append({**both["Statement"][0], "Resource": ROLE_B})
    accounts[HOME]["policies"].append(managed_policy(HOME, "assume-ab", both))
    return with_group(estate_bundle(accounts), "ops", [ASSUME_AB], ["u9"])


@pytest.mark.django_db
def test_a_detach_ranks_where_each_route_needs_another_statement_of_the_policy():
    import_bundle(two_route_bundle(), label="ab.json")
    analyse_estate()

    ranked = choke_points("admin").points
    detach = ChokeItem(ATTACHMENT, policy=ASSUME_AB, principal=OPS)
    answer = what_if(proposal_from([("detach", list(ranked[2].item.what_if[1:]))]))

    assert [(p.item, p.weight, p.principals) for p in ranked] == [
        (statement(ADMIN, 0, TRUST, "FromA"), 4.0, sorted([ROLE_A, U1, U2, U3])),
        (statement(ADMIN, 1, TRUST, "FromB"), 2.0, sorted([ROLE_B, U4])),
        (detach, 1.0, [U9]),
    ]
    assert ranked[2].as_dict()["what_if"] == ["--detach", ASSUME_AB, OPS]
    assert _reach_removed(answer) == [U9]


# -- counts that equal the what-if ----------------------------------------------------------------

OTHER = "222222222222"
ASSUME_ANY = arn(HOME, "policy", "assume-any")
ASSUME_A_MFA = arn(HOME, "policy", "assume-a-mfa")


def _admin_role(account: str, name: str, trust: list[dict]) -> dict:
    role = iam_role(account, name, trust)
    role["RolePolicyList"] = [{"PolicyName": "everything", "PolicyDocument": EVERYTHING}]
    return role


def _cut_of(item: ChokeItem) -> list[str]:
    """The principals what_if says lose their path to an administrator without ``item``."""
    argv = item.what_if
    return _reach_removed(what_if(proposal_from([(argv[0][2:], argv[1:])])))


def _full_cuts() -> dict[ChokeItem, list[str]]:
    """Every statement's cut on its own, as the covering set starts from (before any pick)."""
    from identities.queries.access import reach_graph
    from identities.queries.choke_points import hop_evidence, verified_ranking

    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, target_arns("admin"))
    evidence = hop_evidence(choke, graph.graph, graph.needs)
    cuts = statement_cuts(choke, evidence)
    verified_ranking(choke, evidence, cuts, graph)
    return {item: sorted(cut.principals) for item, cut in cuts.items()}


@pytest.mark.django_db
def test_a_statement_beside_a_conditional_one_granting_the_same_hop_cuts_nothing():
    # u1 may assume a by assume-a (no condition) and by assume-a-mfa (with MFA): the edge cites
    # assume-a alone (the engine keeps the winning, unconditional grant), but without it u1
    # keeps a path under MFA.
    from identities.models import AccessEdge

    import_bundle(mfa_estate(), label="mfa.json")
    analyse_estate()
    u1_edge = AccessEdge.objects.get(source=U1, target__arn=ROLE_A)

    cuts = _full_cuts()

    assert u1_edge.granted_by == [
        f"statement (Statement[0]) of trust policy a ({ROLE_A})",
        f"statement (Statement[0]) of customer-managed policy assume-a ({ASSUME_A})",
    ]
    assert cuts[statement(ASSUME_A, 0, IDENTITY)] == sorted([U2, U3])
    assert _cut_of(statement(ASSUME_A, 0, IDENTITY)) == sorted([U2, U3])


@pytest.mark.django_db
def test_an_identity_statement_is_not_needed_where_the_trust_names_the_principal():
    # The admin role trusts u1 by ARN (granting without an identity Allow) and the account
    # (with one): u1's identity statement is cited, but the trust naming u1 holds alone.
    accounts = small_estate()
    accounts[HOME]["roles"].append(
        _admin_role(
            HOME,
            "direct",
            [
                *trusting({"AWS": U1}),
                *trusting({"AWS": f"arn:aws:iam::{HOME}:root"}),
            ],
        )
    )
    direct = arn(HOME, "role", "direct")
    accounts[HOME]["policies"].append(managed_policy(HOME, "assume-any", _assume("*")))
    accounts[HOME]["users"][0]["AttachedManagedPolicies"] = [
        {"PolicyName": "assume-any", "PolicyArn": ASSUME_ANY}
    ]
    import_bundle(estate_bundle(accounts), label="direct.json")
    analyse_estate()

    cuts = _full_cuts()

    assert statement(ASSUME_ANY, 0, IDENTITY) not in cuts
    assert _cut_of(statement(ASSUME_ANY, 0, IDENTITY)) == []
    assert _cut_of(statement(direct, 0, TRUST)) == []


@pytest.mark.django_db
def test_a_statement_cutting_routes_in_parallel_counts_every_principal_it_cuts():
    # u9 may assume every role by assume-any: a (trusting the account: through u9's access
    # group) and b of another account (trusting u9 by ARN: an edge of its own). Both are
    # administrators: no one hop node dominates u9, but assume-any's statement grants both
    # hops, and without it u9 reaches neither.
    u9 = arn(HOME, "user", "u9")
    b_other = arn(OTHER, "role", "b")
    accounts = {
        HOME: {
            "users": [iam_user(HOME, "u9", attached=[ASSUME_ANY])],
            "roles": [_admin_role(HOME, "a", trusting({"AWS": f"arn:aws:iam::{HOME}:root"}))],
            "policies": [managed_policy(HOME, "assume-any", _assume("*"))],
        },
        OTHER: {"users": [], "roles": [_admin_role(OTHER, "b", trusting({"AWS": u9}))]},
    }
    import_bundle(estate_bundle(accounts), label="parallel.json")
    analyse_estate()
    item = statement(ASSUME_ANY, 0, IDENTITY)

    report = choke_points("admin")

    assert [(p.item, p.principals) for p in report.points] == [(item, [u9])]
    assert _cut_of(item) == [u9]
    assert b_other in target_arns("admin")


@pytest.mark.django_db
def test_top_choke_points_of_a_generated_estate_cut_what_the_what_if_removes():
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=4, users=80, roles=120, seed=3), label="gen.json")
    analyse_estate()
    cuts = _full_cuts()
    top = choke_points("admin", limit=6).points

    found = [(p.item.label, cuts[p.item], _cut_of(p.item)) for p in top]

    assert [(label, len(counted)) for label, counted, _ in found][:1] == [
        ("identity statement [0] of arn:aws:iam::aws:policy/PowerUserAccess", 193)
    ]
    assert [(label, counted) for label, counted, _ in found] == [
        (label, removed) for label, _, removed in found
    ]
    assert top[0].principals == cuts[top[0].item]


def mfa_estate() -> dict:
    """The small estate, u1 also holding assume-a-mfa: a second, conditional grant of a."""
    accounts = small_estate()
    with_mfa = _assume(ROLE_A)
    with_mfa["Statement"][0]["Condition"] = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
    accounts[HOME]["policies"].append(managed_policy(HOME, "assume-a-mfa", with_mfa))
    accounts[HOME]["users"][0]["AttachedManagedPolicies"].append(
        {"PolicyName": "assume-a-mfa", "PolicyArn": ASSUME_A_MFA}
    )
    return estate_bundle(accounts)


@pytest.mark.django_db
def test_an_analysis_stored_before_needs_were_kept_is_read_as_before_and_reanalysed_alike():
    # A graph stored without the needs (as the code before them wrote it) ranks by the
    # statements alone in their layer (u1 counted for assume-a); analysing the unchanged
    # estate again records no change and stores the needs.
    from identities.analysis.reach import ReachGraph
    from identities.models import AccessChange, AnalysisRun

    import_bundle(mfa_estate(), label="old.json")
    analyse_estate()
    run = AnalysisRun.objects.latest("pk")
    stored = ReachGraph.from_bytes(bytes(run.graph))
    AnalysisRun.objects.filter(pk=run.pk).update(graph=ReachGraph(stored.graph).to_bytes())
    old = _full_cuts()

    analyse_estate()
    new = _full_cuts()

    assert list(stored.needs) == [(U1, ROLE_A)]
    assert old[statement(ASSUME_A, 0, IDENTITY)] == sorted([U1, U2, U3])
    assert new[statement(ASSUME_A, 0, IDENTITY)] == sorted([U2, U3])
    latest = AnalysisRun.objects.latest("pk")
    assert AccessChange.objects.filter(diff__run=latest).count() == 0
    assert latest.diff.previous == run


def test_exact_cut_finds_a_principal_whose_parallel_routes_both_go():
    from identities.analysis.choke_points import exact_cut

    # u reaches t through its group (to r1) and its own node (to r2): neither hop dominates u.
    graph = nx.DiGraph(
        [
            ("u", "group:g"),
            ("group:g", "r1"),
            ("u", "via:u"),
            ("via:u", "r2"),
            ("r1", "via:r1"),
            ("via:r1", "t"),
            ("r2", "via:r2"),
            ("via:r2", "t"),
        ]
    )
    choke = build_choke_graph(graph, ["t"])

    both = exact_cut(choke, [("group:g", "r1"), ("via:u", "r2")])
    one = exact_cut(choke, [("group:g", "r1")])

    assert choke.dominated == {("via:r1", "t"): {"r1"}, ("via:r2", "t"): {"r2"}}
    assert choke.through["u"] == {"u"}
    assert sorted(choke.onwards["u"]) == [("group:g", "r1"), ("via:u", "r2")]
    assert (both, one) == ({"u"}, set())


@pytest.mark.django_db
def test_a_statement_making_administrators_cuts_what_reaches_only_them():
    # Statement 0 of AdministratorAccess alone makes most administrators one: without it the
    # principals that reach only those lose their path (the dominators, over the targets as
    # they are, see almost none of it).
    from identities.analysis.choke_points import ItemCut
    from identities.queries.access import reach_graph
    from identities.queries.choke_points import hop_evidence, verified_ranking
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=40, roles=80, seed=3), label="gen.json")
    analyse_estate()
    graph = reach_graph()
    assert graph is not None
    choke = build_choke_graph(graph.graph, target_arns("admin"))
    evidence = hop_evidence(choke, graph.graph, graph.needs)
    item = statement("arn:aws:iam::aws:policy/AdministratorAccess", 0, IDENTITY)
    estimate = statement_cuts(choke, evidence).get(item, ItemCut())
    cuts = {item: ItemCut(dict(estimate.principals), estimate.hops)}

    verified_ranking(choke, evidence, cuts, graph)

    assert len(estimate.principals) < len(cuts[item].principals) == 81
    assert sorted(cuts[item].principals) == _cut_of(item)
