"""What each kind of edge and finding means, how to remove it, and the AWS page that says so:
one sentence each, shown by edge panels, finding pages and role pages (BloodHound's
abuse/remediation help is the model)."""

from __future__ import annotations

from dataclasses import dataclass

_IAM = "https://docs.aws.amazon.com/IAM/latest/UserGuide/"


@dataclass(frozen=True)
class Help:
    meaning: str
    remedy: str
    doc: str


EDGE_HELP: dict[str, Help] = {
    "member": Help(
        "The user is in this IAM group, so it holds every policy attached to the group.",
        "Remove the user from the group.",
        f"{_IAM}id_groups_manage_add-remove-users.html",
    ),
    "attached": Help(
        "The managed policy is attached to this principal and grants its permissions.",
        "Detach the policy from the user, group or role.",
        f"{_IAM}access_policies_manage-attach-detach.html",
    ),
    "inline": Help(
        "The inline policy is embedded in this principal and grants its permissions.",
        "Delete the inline policy or narrow its statements.",
        f"{_IAM}access_policies_managed-vs-inline.html",
    ),
    "boundary": Help(
        "The permissions boundary caps what the principal's identity policies can grant.",
        "Replace or remove the boundary with iam:PutUserPermissionsBoundary or "
        "iam:PutRolePermissionsBoundary (a removed boundary caps nothing).",
        f"{_IAM}access_policies_boundaries.html",
    ),
    "assume": Help(
        "The role's trust policy names the principal and its own policies allow "
        "sts:AssumeRole, so it can get the role's credentials.",
        "Remove the principal from the trust policy's Principal, or the sts:AssumeRole "
        "permission from its identity policies; a Deny in either also removes it.",
        f"{_IAM}id_roles_update-role-trust-policy.html",
    ),
    "outside": Help(
        "The trust policy names an account or principal outside the synced estate; that "
        "account decides which of its principals may assume the role.",
        "Remove the outside account from the trust policy, or require sts:ExternalId for a "
        "third party.",
        f"{_IAM}confused-deputy.html",
    ),
    "service": Help(
        "An AWS service may assume the role when a principal passes it to a resource "
        "(iam:PassRole), so whoever can pass the role acts with its permissions.",
        "Remove the service from the trust policy, or iam:PassRole on this role from the "
        "principals that should not use it.",
        f"{_IAM}id_roles_use_passrole.html",
    ),
    "pass-role": Help(
        "The principal may pass the role to an AWS service, which then acts with the role's "
        "permissions on its behalf.",
        "Narrow iam:PassRole to the roles the principal needs, with iam:PassedToService.",
        f"{_IAM}id_roles_use_passrole.html",
    ),
    "federated": Help(
        "Users signed in through this SAML or OIDC provider can assume the role with "
        "sts:AssumeRoleWithSAML or sts:AssumeRoleWithWebIdentity.",
        "Remove the provider from the trust policy, or restrict its conditions (audience, "
        "subject) to the identities that need the role.",
        f"{_IAM}id_roles_providers.html",
    ),
    "anyone": Help(
        'The trust policy names "*": any AWS principal, in any account, whose own '
        "policies allow it can assume the role, unless a condition narrows it.",
        'Replace "*" with named principals, or add a condition such as aws:PrincipalOrgID.',
        f"{_IAM}reference_policies_elements_principal.html#principal-anonymous",
    ),
    "escalate": Help(
        "The principal can become the target without assuming it, with permissions it "
        "already holds (an access key for a user, a rewritten trust policy, a role passed to "
        "new compute, …).",
        "Remove the permissions the method needs (listed in its panel) from the principal, "
        "or deny them with a boundary or an SCP.",
        f"{_IAM}best-practices.html#grant-least-privilege",
    ),
    "in-group": Help(
        "The principal shares its access with the others of this access group: the same "
        "identity statements about sts:AssumeRole, boundary and SCPs.",
        "Change the principal's policies, boundary or SCPs; the group follows the policies.",
        f"{_IAM}reference_policies_evaluation-logic.html",
    ),
}

FINDING_HELP: dict[str, Help] = {
    "public_role": Help(
        'The role\'s trust policy allows "*", so principals of any AWS account may assume '
        "it wherever their own policies allow.",
        "Name the accounts or roles that need it in the trust policy, or add an "
        "aws:PrincipalOrgID condition.",
        f"{_IAM}reference_policies_elements_principal.html#principal-anonymous",
    ),
    "root_trust_without_external_id": Help(
        "The role trusts a whole outside account without requiring sts:ExternalId, so a "
        "third party acting for several customers can be tricked into using it.",
        "Add a Condition requiring sts:ExternalId, or trust only the role that needs it.",
        f"{_IAM}id_roles_create_for-user_externalid.html",
    ),
    "admin_without_mfa": Help(
        "An administrator user has no MFA device, so a stolen password or key gives full "
        "control of the account.",
        "Enable an MFA device for the user and require aws:MultiFactorAuthPresent.",
        f"{_IAM}id_credentials_mfa_enable_virtual.html",
    ),
    "stale_access_key": Help(
        "An active access key has not been used for over 90 days: a credential nobody "
        "needs that still works if leaked.",
        "Deactivate the key, then delete it once nothing breaks.",
        f"{_IAM}id_credentials_access-keys.html",
    ),
    "stale_password": Help(
        "A console password has not been used for over 90 days.",
        "Remove the user's console password (delete its login profile).",
        f"{_IAM}id_credentials_passwords_admin-change-user.html",
    ),
}


def edge_help(kind: str) -> Help | None:
    """The help of an edge kind (graph kinds such as ``assume``, ``member``, ``escalate``)."""
    return EDGE_HELP.get(kind)


def finding_help(kind: str) -> Help | None:
    """The help of a finding kind (`Finding.Kind`)."""
    return FINDING_HELP.get(kind)
