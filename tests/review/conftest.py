"""The sample organisation imported and analysed twice: the second time with a changed trust
policy, a new group membership and a removed policy."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from identities.models import AnalysisRun

VENDOR_ROOT = "arn:aws:iam::999999999999:root"
PROD_OPS = "arn:aws:iam::444444444444:role/prod-ops"
CI_DEPLOY = "arn:aws:iam::333333333333:user/ci-deploy"
AUDITOR = "arn:aws:iam::222222222222:user/auditor"


def _details(bundle: dict[str, Any], account_id: str) -> dict[str, Any]:
    account = next(a for a in bundle["accounts"] if a["id"] == account_id)
    return account["authorization_details"]


def _named(items: list[dict[str, Any]], key: str, name: str) -> dict[str, Any]:
    return next(item for item in items if item[key] == name)


def change_sample(bundle: dict[str, Any]) -> dict[str, Any]:
    """prod-ops also trusts a vendor account (no ExternalId); ci-deploy joins developers; the
    auditors group loses its policy allowing the audit roles."""
    changed = copy.deepcopy(bundle)
    prod_ops = _named(_details(changed, "444444444444")["RoleDetailList"], "RoleName", "prod-ops")
    prod_ops["AssumeRolePolicyDocument"]["Statement"].append(
        {
            "Sid": "VendorSupport",
            "Effect": "Allow",
            "Principal": {"AWS": VENDOR_ROOT},
            "Action": "sts:AssumeRole",
        }
    )
    dev = _details(changed, "333333333333")
    _named(dev["UserDetailList"], "UserName", "ci-deploy")["GroupList"] = ["developers"]
    auditors = _named(_details(changed, "222222222222")["GroupDetailList"], "GroupName", "auditors")
    auditors["GroupPolicyList"] = []
    return changed


def analyse() -> AnalysisRun:
    from identities.analysis import analyse_estate

    summary = analyse_estate()
    return AnalysisRun.objects.get(pk=summary["run"])


@pytest.fixture
def reimport() -> Any:
    """Import a bundle (as the next sync) and analyse; returns the analysis run."""
    from identities.ingest.imports import import_bundle

    def run(bundle: dict[str, Any], label: str = "next.json") -> AnalysisRun:
        import_bundle(copy.deepcopy(bundle), label=label)
        return analyse()

    return run


@pytest.fixture
def two_analyses(
    imported_sample: Any, sample_bundle: dict[str, Any], reimport: Any
) -> tuple[int, int]:
    """(first, second) analysis run ids: the sample, then the changed sample."""
    first = AnalysisRun.objects.filter(status="succeeded").order_by("-id").first()
    assert first is not None
    second = reimport(change_sample(sample_bundle), label="changed.json")
    return first.pk, second.pk
