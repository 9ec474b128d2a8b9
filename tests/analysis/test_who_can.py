"""`who_can` on the sample organisation: a resource that names an account loads only that
account's principals and answers as the whole estate does."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from identities.analysis.estate import load_estate
from identities.analysis.who_can import account_principals, who_can

pytestmark = pytest.mark.django_db

SEC, DEV = "222222222222", "333333333333"
LAMBDA_EXEC = f"arn:aws:iam::{DEV}:role/lambda-exec"


def test_account_principals_are_its_users_and_roles(imported_sample):
    found = account_principals(SEC)

    assert sorted(found) == [
        f"arn:aws:iam::{SEC}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{SEC}:role/org-inventory",
        f"arn:aws:iam::{SEC}:user/auditor",
        f"arn:aws:iam::{SEC}:user/secops-admin",
        f"arn:aws:iam::{SEC}:user/service/svc-key-rotator",
    ]


def test_who_can_on_an_account_loads_only_its_principals(imported_sample):
    now = timezone.now()
    whole = who_can("iam:PassRole", LAMBDA_EXEC, now=now, estate=load_estate())

    with CaptureQueriesContext(connection) as asked:
        scoped = who_can("iam:PassRole", LAMBDA_EXEC, now=now)

    assert scoped == whole
    assert [(a.principal, a.conditions) for a in scoped] == [
        (f"arn:aws:iam::{DEV}:role/OrganizationAccountAccessRole", ()),
        (f"arn:aws:iam::{DEV}:role/terraform-build", ()),
        (f"arn:aws:iam::{DEV}:user/alice", ("iam:PassedToService",)),
        (f"arn:aws:iam::{DEV}:user/erin", ("iam:PassedToService",)),
        (f"arn:aws:iam::{DEV}:user/frank", ()),
    ]
    loaded = [
        q["sql"] for q in asked.captured_queries if '"identities_iamuser"."mfa_active"' in q["sql"]
    ]
    assert len(loaded) == 1 and '"identities_iamuser"."arn" IN' in loaded[0]
