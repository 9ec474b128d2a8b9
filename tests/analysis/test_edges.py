"""Access edges: on small hand-made estates (issue 9, items 1, 2, 4, 5), each citing the AWS page
it follows, and the stories of the sample organisation."""

from __future__ import annotations

from typing import Any

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.models import AccessEdge, AnalysisRun, OrgNode, OrgPolicy
from identities.queries.access import DirectAccess, access_into, reach_to
from identities.queries.findings import findings
from tests.acme import (
    ADMIN_ACCESS,
    ALICE,
    BREAK_GLASS,
    DEV,
    DEV_OPS,
    MGMT,
    POWER_USER,
    PROD,
    PROD_OPS,
    PUBLIC_READER,
    SEC,
    SECOPS_ADMIN,
    trust_ref,
)
from tests.bundles import (
    ASSUME_ANY,
    arn,
    estate_bundle,
    iam_role,
    iam_user,
    managed_policy,
    trusting,
)

HOME, OTHER = "555555555555", "666666666666"
S3_ONLY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}


def analyse(accounts: dict[str, dict[str, list[dict]]]) -> None:
    import_bundle(estate_bundle(accounts), label="estate.json")
    analyse_estate()


def sources_into(role_arn: str) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(a.source, a.outcome, a.condition_keys) for a in access_into(role_arn)]


def neighbour_trust(condition: dict[str, Any]) -> dict[str, Any]:
    """A trust statement letting the user neighbour assume the role under ``condition``."""
    [statement] = trusting({"AWS": arn(HOME, "user", "neighbour")}, Condition=condition)
    return statement


def neighbour_sources(trusts: dict[str, dict[str, Any]]) -> list[list[tuple[str, str, tuple]]]:
    """Analyse HOME with the user neighbour and one role per trust statement (keyed by the
    role's name); the sources into each role, in that order."""
    roles = [iam_role(HOME, name, [statement]) for name, statement in trusts.items()]
    analyse({HOME: {"users": [iam_user(HOME, "neighbour")], "roles": roles}})
    return [sources_into(arn(HOME, "role", name)) for name in trusts]


WILDCARD = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}


@pytest.mark.django_db
def test_wildcard_trust_gives_every_estate_principal_its_edge():
    # Principal element page, "All principals": within the role's account no other permission
    # is required; principals of other accounts need an identity-based Allow.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
    analyse(
        {
            HOME: {
                "users": [iam_user(HOME, "neighbour")],
                "roles": [iam_role(HOME, "open", [WILDCARD])],
            },
            OTHER: {
                "users": [
                    iam_user(OTHER, "allowed", inline={"inline": ASSUME_ANY}),
                    iam_user(OTHER, "plain"),
                ],
            },
        }
    )

    assert sources_into(arn(HOME, "role", "open")) == [
        ("*", "allow", ()),
        (arn(HOME, "role", "open"), "allow", ()),
        (arn(HOME, "user", "neighbour"), "allow", ()),
        (arn(OTHER, "user", "allowed"), "allow", ()),
    ]


@pytest.mark.django_db
def test_wildcard_trust_conditions_stay_on_estate_edges():
    conditional = WILDCARD | {"Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}
    assert neighbour_sources({"mfa": conditional}) == [
        [
            ("*", "conditional", ("aws:MultiFactorAuthPresent",)),
            (arn(HOME, "role", "mfa"), "conditional", ("aws:MultiFactorAuthPresent",)),
            (arn(HOME, "user", "neighbour"), "conditional", ("aws:MultiFactorAuthPresent",)),
        ]
    ]


@pytest.mark.django_db
def test_user_named_in_trust_needs_its_boundary_to_allow_assume_role():
    # "Update a role trust policy": "If a permissions boundary is set for the user, then it
    # must allow the sts:AssumeRole action."
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_update-role-trust-policy.html
    boundary = f"arn:aws:iam::{HOME}:policy/s3-only"
    names = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": arn(HOME, "user", name)},
            "Action": "sts:AssumeRole",
        }
        for name in ("bounded", "free")
    ]
    analyse(
        {
            HOME: {
                "users": [iam_user(HOME, "bounded", boundary=boundary), iam_user(HOME, "free")],
                "roles": [iam_role(HOME, "named", names)],
                "policies": [managed_policy(HOME, "s3-only", S3_ONLY)],
            }
        }
    )

    assert sources_into(arn(HOME, "role", "named")) == [(arn(HOME, "user", "free"), "allow", ())]


@pytest.mark.django_db
def test_unknown_operator_keeps_the_trust_policy_and_names_the_key():
    # The simulator accepts ForAllValues:Null; an operator iamviz does not know makes only its
    # statement conditional.
    odd = neighbour_trust({"StringEqualsSometimes": {"aws:PrincipalTag/team": "x"}})
    null_set = odd | {"Condition": {"ForAllValues:Null": {"aws:TagKeys": "false"}}}
    assert neighbour_sources({"odd": odd, "null-set": null_set}) == [
        [
            (
                arn(HOME, "user", "neighbour"),
                "conditional",
                ("iamviz:UnsupportedCondition/StringEqualsSometimes/aws:PrincipalTag/team",),
            )
        ],
        [(arn(HOME, "user", "neighbour"), "conditional", ("aws:TagKeys",))],
    ]
    assert not any("trust policy unknown" in note for note in AnalysisRun.objects.get().notes)


@pytest.mark.django_db
def test_source_identity_trust_without_set_source_identity_has_no_edge():
    # Source identity page: "sts:SetSourceIdentity" must be allowed in the role trust policy.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_monitor.html
    needs = neighbour_trust({"StringLike": {"sts:SourceIdentity": "*"}})
    allowed = needs | {"Action": ["sts:AssumeRole", "sts:SetSourceIdentity"]}
    assert neighbour_sources({"without": needs, "with": allowed}) == [
        [],
        [(arn(HOME, "user", "neighbour"), "conditional", ("sts:SourceIdentity",))],
    ]


# -- the sample organisation (identities/sample/README.md) ------------------------------


def edges_into(role_arn: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    return [
        (access.source, access.outcome, access.condition_keys, access.granted_by)
        for access in access_into(role_arn)
    ]


def test_role_chain_hops_are_direct_edges(imported_sample):
    assert edges_into(DEV_OPS) == [
        (
            ALICE,
            "conditional",
            ("aws:MultiFactorAuthPresent",),
            (trust_ref(DEV, "dev-ops", "AliceWithMFA"),),
        )
    ]
    assert edges_into(PROD_OPS) == [
        (
            DEV_OPS,
            "allow",
            (),
            (
                trust_ref(PROD, "prod-ops", "FromDevOps"),
                POWER_USER,
                "statement 'HopToProd' (Statement[0]) of inline policy assume-prod-ops "
                f"({DEV_OPS})",
            ),
        )
    ]
    assert edges_into(BREAK_GLASS) == [
        (PROD_OPS, "allow", (), (trust_ref(PROD, "prod-break-glass", "FromProdOps"),))
    ]


def test_external_id_deploy_role_is_conditional_on_sts_external_id(imported_sample):
    assert access_into(arn(PROD, "role", "deploy")) == [
        DirectAccess(
            source=arn(DEV, "user", "ci-deploy"),
            source_kind="user",
            target=arn(PROD, "role", "deploy"),
            outcome="conditional",
            condition_keys=("sts:ExternalId",),
            granted_by=(
                trust_ref(PROD, "deploy", "CiDeployFromDev"),
                "statement 'AssumeProdDeploy' (Statement[0]) of customer-managed policy "
                f"ci-deploy-assume (arn:aws:iam::{DEV}:policy/ci-deploy-assume)",
            ),
        )
    ]


def test_saml_role_is_assumed_by_the_provider_on_saml_aud(imported_sample):
    [access] = access_into(arn(MGMT, "role", "okta-admin"))

    assert (access.source, access.source_kind, access.action, access.condition_keys) == (
        f"federated:arn:aws:iam::{MGMT}:saml-provider/Okta",
        "federated",
        "sts:AssumeRoleWithSAML",
        ("saml:aud",),
    )
    assert access.granted_by == (trust_ref(MGMT, "okta-admin"),)


def test_oidc_role_lists_both_token_conditions(imported_sample):
    [access] = access_into(arn(DEV, "role", "github-deploy"))

    assert (access.source, access.action, access.condition_keys) == (
        f"federated:arn:aws:iam::{DEV}:oidc-provider/token.actions.githubusercontent.com",
        "sts:AssumeRoleWithWebIdentity",
        (
            "token.actions.githubusercontent.com:aud",
            "token.actions.githubusercontent.com:sub",
        ),
    )


def test_public_role_is_assumed_by_anyone(imported_sample):
    assert edges_into(PUBLIC_READER)[0] == ("*", "allow", (), (trust_ref(DEV, "public-reader"),))


def test_public_role_is_assumed_by_its_account_without_identity_allow(imported_sample):
    # Principal element page, "All principals": "For IAM users and roles within your account,
    # no other permissions are required. For principals in other accounts, they must also have
    # identity-based permissions"; app-server's policies allow no sts:AssumeRole.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
    edges = {
        source: (outcome, granted) for source, outcome, _, granted in edges_into(PUBLIC_READER)
    }

    assert edges[arn(DEV, "role", "app-server")] == ("allow", (trust_ref(DEV, "public-reader"),))
    assert edges[arn(PROD, "role", "deploy")] == (
        "allow",
        (trust_ref(DEV, "public-reader"), POWER_USER),
    )
    assert arn(SEC, "user", "auditor") not in edges


def test_audit_roles_are_assumed_from_the_security_account(imported_sample):
    for account in (MGMT, DEV, PROD):
        audit = arn(account, "role", "audit")
        trust = trust_ref(account, "audit", "SecurityAccountAudit")

        assert edges_into(audit) == [
            (arn(SEC, "role", "OrganizationAccountAccessRole"), "allow", (), (trust, ADMIN_ACCESS)),
            (
                arn(SEC, "user", "auditor"),
                "conditional",
                ("aws:MultiFactorAuthPresent",),
                (
                    trust,
                    "statement 'AssumeAuditRolesWithMFA' (Statement[0]) of inline policy "
                    f"assume-audit-roles (arn:aws:iam::{SEC}:group/auditors)",
                ),
            ),
            (SECOPS_ADMIN, "allow", (), (trust, ADMIN_ACCESS)),
        ]


def test_service_role_is_reached_by_the_service_through_pass_role(imported_sample):
    [access] = access_into(arn(DEV, "role", "app-server"))

    assert (access.source, access.source_kind, access.via_pass_role, access.outcome) == (
        "service:ec2.amazonaws.com",
        "service",
        True,
        "allow",
    )


def test_organization_access_roles_are_assumed_from_the_management_account(imported_sample):
    assert [
        access.source for access in access_into(arn(PROD, "role", "OrganizationAccountAccessRole"))
    ] == [
        arn(MGMT, "role", "okta-admin"),
        arn(MGMT, "user", "carol"),
        arn(MGMT, "user", "dave"),
    ]


def deny_assume_role_scp(policy_id: str, name: str, target: str, **sid: str) -> None:
    """An SCP attached to ``target`` whose one statement denies sts:AssumeRole."""
    statement = {**sid, "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}
    OrgPolicy.objects.create(
        policy_id=policy_id,
        name=name,
        type=OrgPolicy.Type.SCP,
        document={"Version": "2012-10-17", "Statement": [statement]},
        targets=[target],
    )


def test_scp_denying_assume_role_refuses_the_named_principal(imported_sample):
    deny_assume_role_scp("p-denyassume", "DenyAssumeRole", "ou-ac3e-dev00001", Sid="NoRoles")

    analyse_estate()

    edge = AccessEdge.objects.get(source=ALICE, target__arn=DEV_OPS)
    assert (edge.outcome, edge.denied_layer, edge.reasons) == (
        "denied",
        "scp",
        ["Deny by statement 'NoRoles' (Statement[0]) of SCP DenyAssumeRole (p-denyassume)"],
    )
    assert access_into(DEV_OPS) == []
    assert [item.node for item in reach_to(BREAK_GLASS)] == [PROD_OPS]


def test_management_account_is_not_restricted_by_scps(imported_sample):
    root = OrgNode.objects.get(kind=OrgNode.Kind.ROOT).node_id
    deny_assume_role_scp("p-denyall", "DenyAssumeEverywhere", root)

    analyse_estate()

    assert [a.source for a in access_into(arn(PROD, "role", "OrganizationAccountAccessRole"))] == [
        arn(MGMT, "role", "okta-admin"),
        arn(MGMT, "user", "carol"),
        arn(MGMT, "user", "dave"),
    ]
    assert access_into(arn(MGMT, "role", "audit")) == []


# -- one account ----------------------------------------


@pytest.fixture
def solo_estate(db):
    analyse(
        {
            HOME: {
                "users": [
                    iam_user(HOME, "assumer", inline={"policy-0": ASSUME_ANY}),
                    iam_user(HOME, "bystander"),
                    iam_user(HOME, "named"),
                    iam_user(
                        HOME, "mystery", attached=[f"arn:aws:iam::{HOME}:policy/not-exported"]
                    ),
                ],
                "roles": [
                    iam_role(HOME, "root-trusted", trusting({"AWS": f"arn:aws:iam::{HOME}:root"})),
                    iam_role(HOME, "named-trusted", trusting({"AWS": arn(HOME, "user", "named")})),
                    iam_role(HOME, "vendor", trusting({"AWS": "arn:aws:iam::999999999999:root"})),
                ],
            }
        }
    )


def test_account_root_trust_needs_the_principals_own_allow(solo_estate):
    assert [(a.source, a.outcome) for a in access_into(arn(HOME, "role", "root-trusted"))] == [
        (arn(HOME, "user", "assumer"), "allow"),
        (arn(HOME, "user", "mystery"), "conditional"),
    ]


def test_trust_naming_a_principal_in_the_same_account_grants_by_itself(solo_estate):
    assert edges_into(arn(HOME, "role", "named-trusted")) == [
        (arn(HOME, "user", "named"), "allow", (), (trust_ref(HOME, "named-trusted"),))
    ]


def test_unknown_policy_document_makes_the_edge_conditional_with_a_reason(solo_estate):
    [mystery] = [
        a for a in access_into(arn(HOME, "role", "root-trusted")) if a.source.endswith("/mystery")
    ]

    assert mystery.condition_keys == ("iamviz:PolicyDocumentUnknown",)
    assert mystery.notes == (
        "depends on policy documents the bundle does not hold: customer-managed policy "
        f"not-exported (arn:aws:iam::{HOME}:policy/not-exported)",
    )
    assert mystery.granted_by == (
        trust_ref(HOME, "root-trusted"),
        "statement 'UnknownAllow' (Statement[0]) of customer-managed policy not-exported "
        f"(arn:aws:iam::{HOME}:policy/not-exported)",
    )


def test_account_outside_the_synced_set_is_an_external_node(solo_estate):
    assert edges_into(arn(HOME, "role", "vendor")) == [
        ("arn:aws:iam::999999999999:root", "allow", (), (trust_ref(HOME, "vendor"),))
    ]
    assert [(f.kind, f.severity) for f in findings(kind="root_trust_without_external_id")] == [
        ("root_trust_without_external_id", "high")
    ]
