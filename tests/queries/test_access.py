"""The one reader of stored edges and reach: the current run, its cache, and the rule that a
member's own edge replaces its access group's."""

from __future__ import annotations

from datetime import timedelta

from identities.analysis import analyse_estate
from identities.graph.paths import find_paths
from identities.models import AnalysisRun, IamRole, IamUser
from identities.queries.access import (
    access_edges_into,
    access_into,
    access_out_of,
    chains_with_steps,
    current_run,
    edges_between,
    hop_details,
    iter_direct_edges,
    reach_from,
    reach_graph,
    reach_to,
)
from tests.acme import (
    ALICE,
    BREAK_GLASS,
    DEV,
    DEV_OPS,
    MGMT,
    ORG_INVENTORY,
    PARTNER_GATEWAY,
    PROD,
    PROD_OPS,
    PUBLIC_READER,
    SEC,
)
from tests.bundles import arn

SOLO = "555555555555"
SOLO_ALICE, SOLO_BOB = f"arn:aws:iam::{SOLO}:user/alice", f"arn:aws:iam::{SOLO}:user/bob"
SOLO_DEPLOY, SOLO_AUDIT = f"arn:aws:iam::{SOLO}:role/deploy", f"arn:aws:iam::{SOLO}:role/audit"


def test_current_run_is_the_one_that_finished_last_when_two_overlap(imported_sample):
    first = current_run()
    second = AnalysisRun.objects.get(pk=analyse_estate()["run"])
    # The first run started after the second but committed before it: the stored rows and the
    # only stored graph are the second run's.
    AnalysisRun.objects.filter(pk=first.pk).update(
        started_at=second.started_at + timedelta(minutes=1),
        finished_at=second.finished_at - timedelta(seconds=1),
    )

    assert current_run().pk == second.pk
    assert reach_graph() is not None
    chain = [reached.path for reached in reach_from(ALICE) if reached.node == BREAK_GLASS]
    paths = find_paths(source=f"user:{DEV}:alice", target=f"role:{PROD}:prod-break-glass")
    assert chain == [
        (ALICE, f"arn:aws:iam::{DEV}:role/dev-ops", f"arn:aws:iam::{PROD}:role/prod-ops",
         BREAK_GLASS)
    ]  # fmt: skip
    assert [hop["target_arn"] for hop in paths["paths"][0]["hops"]] == list(chain[0][1:])


def test_reach_graph_is_loaded_once_per_run(imported_sample):
    loaded = reach_graph()

    assert reach_graph() is loaded
    analyse_estate()
    assert reach_graph() is not loaded


def test_access_out_of_a_denied_member_leaves_out_the_group_edge(denied_member_estate):
    alice = IamUser.objects.get(arn=SOLO_ALICE)

    assert [(a.target, a.outcome) for a in access_out_of(alice)] == [(SOLO_AUDIT, "allow")]
    assert [(a.target, a.outcome) for a in access_out_of(alice, include_refused=True)] == [
        (SOLO_AUDIT, "allow"),
        (SOLO_DEPLOY, "denied"),
    ]


def test_access_into_expands_groups_except_a_replaced_member(denied_member_estate):
    deploy = IamRole.objects.get(arn=SOLO_DEPLOY)

    assert [a.source for a in access_into(deploy)] == [SOLO_BOB]
    assert [a.source_kind for a in access_into(deploy, expand_groups=False)] == [
        "group",
        "group",
    ]


def test_edges_between_and_exports_follow_the_same_rule(denied_member_estate):
    found = edges_between([(SOLO_ALICE, SOLO_DEPLOY), (SOLO_BOB, SOLO_DEPLOY)])

    assert sorted(found) == [(SOLO_BOB, SOLO_DEPLOY)]
    assert sorted((a.source, a.target) for a in iter_direct_edges()) == [
        (SOLO_ALICE, SOLO_AUDIT),
        (SOLO_BOB, SOLO_AUDIT),
        (SOLO_BOB, SOLO_DEPLOY),
    ]
    assert [hop.group_label != "" for hop in hop_details([SOLO_BOB, SOLO_DEPLOY])] == [True]


# -- the sample organisation --------------------------------------------------


def test_role_chain_reach_from_alice_has_the_exact_path(imported_sample):
    reached = {item.node: (item.hops, item.path) for item in reach_from(ALICE)}

    assert reached == {
        DEV_OPS: (1, (ALICE, DEV_OPS)),
        PROD_OPS: (2, (ALICE, DEV_OPS, PROD_OPS)),
        BREAK_GLASS: (3, (ALICE, DEV_OPS, PROD_OPS, BREAK_GLASS)),
        # Roles trusting "*": alice's own account needs no identity Allow (public-reader);
        # PowerUserAccess allows sts:AssumeRole on the others.
        PUBLIC_READER: (1, (ALICE, PUBLIC_READER)),
        PARTNER_GATEWAY: (1, (ALICE, PARTNER_GATEWAY)),
        ORG_INVENTORY: (1, (ALICE, ORG_INVENTORY)),
        # Escalations (issue 10): developers may pass lambda-* roles to Lambda, and
        # PowerUserAccess opens a shell on instances (SSM) running with app-server.
        f"arn:aws:iam::{DEV}:role/app-server": (1, (ALICE, f"arn:aws:iam::{DEV}:role/app-server")),
        f"arn:aws:iam::{DEV}:role/lambda-exec": (
            1,
            (ALICE, f"arn:aws:iam::{DEV}:role/lambda-exec"),
        ),
    }


def test_role_chain_reach_to_break_glass_lists_every_principal(imported_sample):
    reached = [(item.node, item.path) for item in reach_to(BREAK_GLASS)]

    assert reached == [
        (PROD_OPS, (PROD_OPS, BREAK_GLASS)),
        (DEV_OPS, (DEV_OPS, PROD_OPS, BREAK_GLASS)),
        (ALICE, (ALICE, DEV_OPS, PROD_OPS, BREAK_GLASS)),
    ]


def test_audit_edge_comes_from_an_access_group_of_the_security_account(imported_sample):
    rows = [
        (edge.source_kind, edge.source_group.label if edge.source_group else edge.source)
        for edge in access_edges_into(IamRole.objects.get(arn=arn(DEV, "role", "audit")))
    ]

    assert rows == [
        ("group", "roles of acme-security with AdministratorAccess"),
        ("group", "users of acme-security with AdministratorAccess"),
        ("group", "users of acme-security with assume-audit-roles (group auditors)"),
    ]


def test_principal_without_identity_allow_assumes_only_public_roles(imported_sample):
    erin = IamUser.objects.get(arn=arn(DEV, "user", "erin"))

    # org-inventory requires aws:PrincipalOrgID, which the stored organisation answers for her.
    assert [(access.target, access.outcome) for access in access_out_of(erin)] == [
        (ORG_INVENTORY, "allow"),
        (PUBLIC_READER, "allow"),
        (PARTNER_GATEWAY, "conditional"),
    ]


def test_access_out_of_a_member_includes_its_group_edges(imported_sample):
    carol = IamUser.objects.get(arn=arn(MGMT, "user", "carol"))

    assert [(access.target, access.group is not None) for access in access_out_of(carol)] == [
        (arn(SEC, "role", "OrganizationAccountAccessRole"), True),
        (ORG_INVENTORY, True),
        (arn(DEV, "role", "OrganizationAccountAccessRole"), True),
        (PUBLIC_READER, True),
        (arn(PROD, "role", "OrganizationAccountAccessRole"), True),
        (PARTNER_GATEWAY, True),
    ]


def test_chains_carry_each_hops_conditions_with_values(imported_sample):
    # Issue 9, item 7: alice -> dev-ops needs MFA (dev-ops's trust: Bool
    # aws:MultiFactorAuthPresent true); the chain to prod-break-glass must say so on hop 1.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
    chains = chains_with_steps(r for r in reach_to(BREAK_GLASS) if r.node == ALICE)

    assert len(chains) == 1
    chain = chains[0]
    assert chain.path == (ALICE, DEV_OPS, PROD_OPS, BREAK_GLASS)
    assert [step.condition_keys for step in chain.steps] == [
        ("aws:MultiFactorAuthPresent",),
        (),
        (),
    ]
    assert chain.condition_values == {"aws:MultiFactorAuthPresent": "MFA = true"}
    assert chain.steps[0].requirements == (("aws:MultiFactorAuthPresent", "MFA = true"),)


def test_direct_edges_read_the_condition_values_the_analysis_stored(imported_sample):
    # Issue 9, item 10; display forms after the condition operators page.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
    by_source = {access.source: access for access in access_into(PARTNER_GATEWAY)}
    oidc = f"federated:arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com"
    github = {access.source: access for access in access_into(arn(DEV, "role", "github-deploy"))}

    assert by_source["*"].condition_values == {"aws:SourceIp": "SourceIp in 203.0.113.0/24"}
    assert github[oidc].condition_values == {
        "token.actions.githubusercontent.com:aud": "aud = sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": "sub like repo:acme/webapp:ref:refs/heads/main",
    }
    ci = edges_between([(arn(DEV, "user", "ci-deploy"), arn(PROD, "role", "deploy"))])
    assert [access.requirements for accesses in ci.values() for access in accesses] == [
        (("sts:ExternalId", "ExternalId = acme-ci-7f3a9c"),)
    ]
