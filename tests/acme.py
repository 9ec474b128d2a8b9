"""ARNs and statement references of the sample organisation (identities/sample/README.md)."""

from __future__ import annotations

from tests.bundles import arn

MGMT, SEC, DEV, PROD = "111111111111", "222222222222", "333333333333", "444444444444"

ALICE, DEV_OPS = arn(DEV, "user", "alice"), arn(DEV, "role", "dev-ops")
PROD_OPS, BREAK_GLASS = arn(PROD, "role", "prod-ops"), arn(PROD, "role", "prod-break-glass")
PUBLIC_READER = arn(DEV, "role", "public-reader")
PARTNER_GATEWAY = arn(PROD, "role", "partner-gateway")
ORG_INVENTORY = arn(SEC, "role", "org-inventory")
FRANK, TERRAFORM_BUILD = arn(DEV, "user", "frank"), arn(DEV, "role", "terraform-build")
KEY_ROTATOR = arn(SEC, "user", "service/svc-key-rotator")
SECOPS_ADMIN = arn(SEC, "user", "secops-admin")

ADMIN_ACCESS = (
    "statement (Statement[0]) of AWS-managed policy AdministratorAccess "
    "(arn:aws:iam::aws:policy/AdministratorAccess)"
)
POWER_USER = (
    "statement (Statement[0]) of AWS-managed policy PowerUserAccess "
    "(arn:aws:iam::aws:policy/PowerUserAccess)"
)


def trust_ref(account: str, role: str, sid: str | None = None) -> str:
    """How an edge cites the first statement of ``role``'s trust policy."""
    label = f"'{sid}' " if sid else ""
    return f"statement {label}(Statement[0]) of trust policy {role} ({arn(account, 'role', role)})"
