"""The access analysis on the sample organisation (identities/sample/README.md) and on small
hand-made estates: edges, transitive reach, administrators, findings, storage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.models import (
    AccessEdge,
    AccessGroup,
    AnalysisRun,
    Finding,
    IamRole,
    IamUser,
    OrgNode,
    OrgPolicy,
)
from identities.queries.access import (
    DirectAccess,
    access_edges_into,
    access_into,
    access_out_of,
    reach_from,
    reach_to,
)
from identities.queries.findings import admin_paths, administrators, findings

MGMT, SEC, DEV, PROD = "111111111111", "222222222222", "333333333333", "444444444444"
SAMPLE_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def arn(account: str, kind: str, name: str) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}"


def trust_ref(account: str, role: str, sid: str | None = None) -> str:
    label = f"'{sid}' " if sid else ""
    return f"statement {label}(Statement[0]) of trust policy {role} ({arn(account, 'role', role)})"


ADMIN_ACCESS = (
    "statement (Statement[0]) of AWS-managed policy AdministratorAccess "
    "(arn:aws:iam::aws:policy/AdministratorAccess)"
)
POWER_USER = (
    "statement (Statement[0]) of AWS-managed policy PowerUserAccess "
    "(arn:aws:iam::aws:policy/PowerUserAccess)"
)
ALICE, DEV_OPS = arn(DEV, "user", "alice"), arn(DEV, "role", "dev-ops")
PUBLIC_READER, PARTNER_GATEWAY = (
    arn(DEV, "role", "public-reader"),
    arn(PROD, "role", "partner-gateway"),
)
ORG_INVENTORY = arn(SEC, "role", "org-inventory")
PROD_OPS, BREAK_GLASS = arn(PROD, "role", "prod-ops"), arn(PROD, "role", "prod-break-glass")


def edges_into(role_arn: str) -> list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    return [
        (access.source, access.outcome, access.condition_keys, access.granted_by)
        for access in access_into(role_arn)
    ]


# -- the sample organisation ---------------------------------------------------------------------


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
    }


def test_role_chain_reach_to_break_glass_lists_every_principal(imported_sample):
    reached = [(item.node, item.path) for item in reach_to(BREAK_GLASS)]

    assert reached == [
        (PROD_OPS, (PROD_OPS, BREAK_GLASS)),
        (DEV_OPS, (DEV_OPS, PROD_OPS, BREAK_GLASS)),
        (ALICE, (ALICE, DEV_OPS, PROD_OPS, BREAK_GLASS)),
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
        ]


def test_audit_edge_comes_from_an_access_group_of_the_security_account(imported_sample):
    rows = [
        (edge.source_kind, edge.source_group.label if edge.source_group else edge.source)
        for edge in access_edges_into(IamRole.objects.get(arn=arn(DEV, "role", "audit")))
    ]

    assert rows == [
        ("group", "roles of acme-security with AdministratorAccess"),
        ("group", "users of acme-security with assume-audit-roles (group auditors)"),
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


def test_principal_without_identity_allow_assumes_only_public_roles(imported_sample):
    erin = IamUser.objects.get(arn=arn(DEV, "user", "erin"))

    assert [(access.target, access.outcome) for access in access_out_of(erin)] == [
        (ORG_INVENTORY, "conditional"),
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


def test_administrators_with_their_basis(imported_sample):
    rows = [(admin.arn, admin.basis, admin.condition_keys) for admin in administrators()]

    assert rows == [
        (arn(MGMT, "role", "okta-admin"), "full", []),
        (arn(MGMT, "user", "carol"), "full", []),
        (arn(MGMT, "user", "dave"), "full", []),
        (arn(SEC, "role", "OrganizationAccountAccessRole"), "full", []),
        (arn(DEV, "role", "OrganizationAccountAccessRole"), "escalation", []),
        (arn(PROD, "role", "OrganizationAccountAccessRole"), "escalation", []),
        (BREAK_GLASS, "escalation", []),
    ]


def test_scp_denying_iam_user_creation_makes_workload_admins_escalation_only(imported_sample):
    admin = administrators().get(arn=arn(PROD, "role", "OrganizationAccountAccessRole"))

    assert admin.statements == [ADMIN_ACCESS]
    assert admin.reason == (
        f"can grant itself full access: iam:PutRolePolicy on itself is allowed by {ADMIN_ACCESS}"
        " (not every action is allowed: iam:CreateUser: Deny by statement 'NoIamUsersOrKeys' "
        "(Statement[0]) of SCP DenyIAMUserCreation (p-diu7c4x9); iam:CreateAccessKey: Deny by "
        "statement 'NoIamUsersOrKeys' (Statement[0]) of SCP DenyIAMUserCreation (p-diu7c4x9))"
    )


def test_principals_that_can_reach_an_administrator(imported_sample):
    rows = [
        (path.source, path.administrator.arn, path.hops, path.condition_keys)
        for path in admin_paths()
    ]

    assert rows == [
        (PROD_OPS, BREAK_GLASS, 1, []),
        (
            f"federated:arn:aws:iam::{MGMT}:saml-provider/Okta",
            arn(MGMT, "role", "okta-admin"),
            1,
            ["saml:aud"],
        ),
        (DEV_OPS, BREAK_GLASS, 2, []),
        (ALICE, BREAK_GLASS, 3, ["aws:MultiFactorAuthPresent"]),
    ]


def test_findings_of_the_sample(imported_sample):
    analyse_estate(now=SAMPLE_NOW)

    rows = [(f.kind, f.severity, f.principal_arn) for f in findings()]

    # No "without ExternalId" finding: every cross-account trust of the sample stays inside
    # the organisation, where an external ID does not apply.
    assert rows == [
        ("admin_without_mfa", "high", arn(MGMT, "user", "dave")),
        ("public_role", "medium", ORG_INVENTORY),
        ("public_role", "high", PUBLIC_READER),
        ("public_role", "medium", PARTNER_GATEWAY),
        ("stale_password", "medium", arn(DEV, "user", "erin")),
    ]
    erin = findings(kind="stale_password").get()
    assert erin.title == "Console password of erin in acme-dev not used since 2023-02-11"


def test_stale_key_is_found_relative_to_the_reference_time(imported_sample):
    analyse_estate(now=datetime(2027, 6, 1, tzinfo=UTC))

    rows = [(f.principal_arn, f.severity, f.title) for f in findings(kind="stale_access_key")]

    assert rows == [
        (
            arn(MGMT, "user", "dave"),
            "high",
            "Access key 1 of dave in acme-management is active and not used since 2026-11-24",
        ),
        (
            arn(SEC, "user", "service/svc-key-rotator"),
            "medium",
            "Access key 1 of svc-key-rotator in acme-security is active and not used since "
            "2026-11-27",
        ),
        (
            arn(DEV, "user", "ci-deploy"),
            "medium",
            "Access key 1 of ci-deploy in acme-dev is active and not used since 2026-11-28",
        ),
    ]


def test_scp_denying_assume_role_refuses_the_named_principal(imported_sample):
    OrgPolicy.objects.create(
        policy_id="p-denyassume",
        name="DenyAssumeRole",
        type=OrgPolicy.Type.SCP,
        document={
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "NoRoles", "Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}
            ],
        },
        targets=["ou-ac3e-dev00001"],
    )

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
    OrgPolicy.objects.create(
        policy_id="p-denyall",
        name="DenyAssumeEverywhere",
        type=OrgPolicy.Type.SCP,
        document={
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Deny", "Action": "sts:AssumeRole", "Resource": "*"}],
        },
        targets=[root],
    )

    analyse_estate()

    assert [a.source for a in access_into(arn(PROD, "role", "OrganizationAccountAccessRole"))] == [
        arn(MGMT, "role", "okta-admin"),
        arn(MGMT, "user", "carol"),
        arn(MGMT, "user", "dave"),
    ]
    assert access_into(arn(MGMT, "role", "audit")) == []


def test_analysis_replaces_the_previous_results(imported_sample):
    first = AnalysisRun.objects.get(status="succeeded")
    edges = AccessEdge.objects.count()

    summary = analyse_estate()

    assert AccessEdge.objects.count() == edges == summary["access_edges"] == 60
    assert AnalysisRun.objects.filter(status="succeeded").count() == 2
    assert AnalysisRun.objects.get(pk=first.pk).graph is None
    assert AccessGroup.objects.count() == summary["access_groups"] == 17


def test_failed_analysis_leaves_the_previous_results(imported_sample):
    before = sorted(AccessEdge.objects.values_list("source", "target__arn", "outcome"))

    with pytest.raises(TypeError):
        analyse_estate(now="not a time")  # type: ignore[arg-type]

    failed = AnalysisRun.objects.get(status="failed")
    assert failed.error.startswith("TypeError: ")
    assert sorted(AccessEdge.objects.values_list("source", "target__arn", "outcome")) == before
    assert Finding.objects.count() == 5


# -- a small hand-made estate --------------------------------------------------------------------

SOLO = "555555555555"


def _user(
    name: str, *, inline: list[dict] | None = None, attached: list[str] | None = None
) -> dict:
    return {
        "Path": "/",
        "UserName": name,
        "UserId": "AIDA" + name.upper().replace("-", "")[:10].ljust(17, "X"),
        "Arn": arn(SOLO, "user", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "UserPolicyList": [
            {"PolicyName": f"policy-{i}", "PolicyDocument": doc}
            for i, doc in enumerate(inline or [])
        ],
        "GroupList": [],
        "AttachedManagedPolicies": [
            {"PolicyName": a.rsplit("/", 1)[-1], "PolicyArn": a} for a in attached or []
        ],
        "Tags": [],
    }


def _role(name: str, principal: dict) -> dict:
    return {
        "Path": "/",
        "RoleName": name,
        "RoleId": "AROA" + name.upper().replace("-", "")[:10].ljust(17, "X"),
        "Arn": arn(SOLO, "role", name),
        "CreateDate": "2024-01-01T00:00:00+00:00",
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        },
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": [],
        "Tags": [],
        "RoleLastUsed": {},
    }


ASSUME_ANYTHING = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


@pytest.fixture
def solo_estate(db):
    bundle = {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": SOLO,
                "name": "solo",
                "authorization_details": {
                    "UserDetailList": [
                        _user("assumer", inline=[ASSUME_ANYTHING]),
                        _user("bystander"),
                        _user("named"),
                        _user("mystery", attached=[f"arn:aws:iam::{SOLO}:policy/not-exported"]),
                    ],
                    "GroupDetailList": [],
                    "RoleDetailList": [
                        _role("root-trusted", {"AWS": f"arn:aws:iam::{SOLO}:root"}),
                        _role("named-trusted", {"AWS": arn(SOLO, "user", "named")}),
                        _role("vendor", {"AWS": "arn:aws:iam::999999999999:root"}),
                    ],
                    "Policies": [],
                },
            }
        ],
    }
    import_bundle(bundle, label="solo.json")
    return analyse_estate()


def test_account_root_trust_needs_the_principals_own_allow(solo_estate):
    assert [(a.source, a.outcome) for a in access_into(arn(SOLO, "role", "root-trusted"))] == [
        (arn(SOLO, "user", "assumer"), "allow"),
        (arn(SOLO, "user", "mystery"), "conditional"),
    ]


def test_trust_naming_a_principal_in_the_same_account_grants_by_itself(solo_estate):
    assert edges_into(arn(SOLO, "role", "named-trusted")) == [
        (arn(SOLO, "user", "named"), "allow", (), (trust_ref(SOLO, "named-trusted"),))
    ]


def test_unknown_policy_document_makes_the_edge_conditional_with_a_reason(solo_estate):
    [mystery] = [
        a for a in access_into(arn(SOLO, "role", "root-trusted")) if a.source.endswith("/mystery")
    ]

    assert mystery.condition_keys == ("iamviz:PolicyDocumentUnknown",)
    assert mystery.notes == (
        "depends on policy documents the bundle does not hold: customer-managed policy "
        f"not-exported (arn:aws:iam::{SOLO}:policy/not-exported)",
    )
    assert mystery.granted_by == (
        trust_ref(SOLO, "root-trusted"),
        "statement 'UnknownAllow' (Statement[0]) of customer-managed policy not-exported "
        f"(arn:aws:iam::{SOLO}:policy/not-exported)",
    )


def test_account_outside_the_synced_set_is_an_external_node(solo_estate):
    assert edges_into(arn(SOLO, "role", "vendor")) == [
        ("arn:aws:iam::999999999999:root", "allow", (), (trust_ref(SOLO, "vendor"),))
    ]
    assert [(f.kind, f.severity) for f in findings(kind="root_trust_without_external_id")] == [
        ("root_trust_without_external_id", "high")
    ]


def test_rebound_statement_keeps_every_field_but_its_source():
    from dataclasses import fields

    from identities.analysis.estate import _rebind
    from identities.policy import Layer, PolicySource, parse_policy

    first = PolicySource(Layer.TRUST, "first", arn(SOLO, "role", "first"))
    second = PolicySource(Layer.TRUST, "second", arn(SOLO, "role", "second"))
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S",
                "Effect": "Allow",
                "NotPrincipal": {"AWS": arn(SOLO, "user", "x")},
                "NotAction": "iam:*",
                "NotResource": "arn:aws:s3:::b",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    [original] = parse_policy(document, first).statements

    rebound = _rebind(original, second)

    assert rebound.source == second
    assert rebound.ref == f"statement 'S' (Statement[0]) of trust policy second ({second.arn})"
    assert {f.name: getattr(rebound, f.name) for f in fields(rebound) if f.name != "source"} == {
        f.name: getattr(original, f.name) for f in fields(original) if f.name != "source"
    }
