"""The organisation id on member accounts (issue 9, item 6): set for accounts of the
organisation, cleared for an account that leaves it (AWS Organizations: an account that leaves
is no longer in the request context's aws:PrincipalOrgID / aws:ResourceOrgID).
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalorgid
"""

from __future__ import annotations

from typing import Any

import pytest

from identities.ingest.imports import import_bundle
from identities.models import Account

pytestmark = pytest.mark.django_db


def organization(org_id: str, members: list[str]) -> dict[str, Any]:
    return {
        "id": org_id,
        "management_account_id": members[0],
        "roots": [{"Id": "r-ab12", "Name": "Root"}],
        "organizational_units": [],
        "accounts": [
            {"Id": member, "Name": f"acct-{member[:3]}", "ParentId": "r-ab12"} for member in members
        ],
        "policies": [],
    }


def org_ids() -> dict[str, tuple[bool, str]]:
    return {
        account_id: (in_org, org_id)
        for account_id, in_org, org_id in Account.objects.values_list(
            "account_id", "in_organization", "organization_id"
        )
    }


def test_members_get_the_organisation_id_and_an_account_that_leaves_loses_it(sample_bundle):
    import_bundle(
        {**sample_bundle, "organization": organization("o-first1234", ["111111111111", "222222222222"])},
        label="first.json",
    )  # fmt: skip
    assert org_ids()["222222222222"] == (True, "o-first1234")
    assert org_ids()["333333333333"] == (False, "")

    import_bundle(
        {**sample_bundle, "organization": organization("o-first1234", ["111111111111"])},
        label="second.json",
    )

    assert org_ids()["111111111111"] == (True, "o-first1234")
    assert org_ids()["222222222222"] == (False, "")


def test_a_second_organisation_is_refused_and_the_first_keeps_its_accounts(sample_bundle):
    from identities.bundle import BundleError

    first = organization("o-first1234", ["111111111111", "222222222222"])
    import_bundle({**sample_bundle, "organization": first}, label="first.json")
    other = {"accounts": [], "organization": organization("o-other5678", ["999999999999"])}

    with pytest.raises(BundleError, match="already holds organisation o-first1234") as refused:
        import_bundle({**sample_bundle, **other}, label="other.json")

    assert "drop their SCPs" in str(refused.value)
    assert org_ids()["111111111111"] == (True, "o-first1234")
    assert org_ids()["222222222222"] == (True, "o-first1234")
    assert "999999999999" not in org_ids()
