"""Findings (issue 9, item 11): "no ExternalId" only for trust of accounts outside the
organisation. AWS documents the external ID for access by a third party's account.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
"""

from __future__ import annotations

from datetime import UTC, datetime

from identities.analysis import analyse_estate
from identities.models import Account
from identities.queries.findings import findings
from tests.acme import DEV, MGMT, ORG_INVENTORY, PARTNER_GATEWAY, PUBLIC_READER, SEC
from tests.bundles import arn

SAMPLE_NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_trust_inside_the_organisation_raises_no_external_id_finding(imported_sample):
    assert list(findings(kind="root_trust_without_external_id")) == []


def test_trust_of_a_synced_account_outside_the_organisation_names_it(imported_sample):
    Account.objects.filter(account_id="222222222222").update(in_organization=False)

    analyse_estate()

    rows = [
        (f.principal_arn, f.severity, f.title)
        for f in findings(kind="root_trust_without_external_id")
    ]
    audit = "audit in {} trusts the whole account acme-security (222222222222), outside the organisation, without an ExternalId"
    assert rows == [
        ("arn:aws:iam::111111111111:role/audit", "medium", audit.format("acme-management")),
        (
            "arn:aws:iam::222222222222:role/OrganizationAccountAccessRole",
            "medium",
            "OrganizationAccountAccessRole in acme-security trusts the whole account "
            "acme-management (111111111111), outside the organisation, without an ExternalId",
        ),
        ("arn:aws:iam::333333333333:role/audit", "medium", audit.format("acme-dev")),
        ("arn:aws:iam::444444444444:role/audit", "medium", audit.format("acme-prod")),
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
