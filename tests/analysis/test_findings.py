"""Findings (issue 9, item 11): "no ExternalId" only for trust of accounts outside the
organisation. AWS documents the external ID for access by a third party's account.
https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
"""

from __future__ import annotations

from identities.analysis import analyse_estate
from identities.models import Account
from identities.queries.findings import findings


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
