"""A fixture estate built from BishopFox iam-vulnerable's public path table: one user and one
role per privilege-escalation path (each with the path's policy), the privileged service role
the PassRole paths hand over, the role chain of STS-AssumeRole, the SRE group, and the
tool-testing principals that must (fn*) and must not (fp*) be flagged.
https://github.com/BishopFox/iam-vulnerable#supported-privilege-escalation-paths

`bundle()` is the estate; `EXPECTED` maps each principal's name to the methods it must be
flagged with (every other principal: none).
"""

from __future__ import annotations

import zlib
from typing import Any

from identities.analysis.escalation_methods import METHODS_BY_ID

ACCOUNT = "123456789012"
STARTER = f"arn:aws:iam::{ACCOUNT}:user/iamvulnerable-starter"
SERVICES = [
    "ec2.amazonaws.com",
    "datapipeline.amazonaws.com",
    "cloudformation.amazonaws.com",
    "lambda.amazonaws.com",
    "glue.amazonaws.com",
    "ecs-tasks.amazonaws.com",
    "codebuild.amazonaws.com",
    "sagemaker.amazonaws.com",
]

# The 31 paths of the README table and the actions of each path's policy (Resource "*").
# fmt: off
PATHS: dict[str, list[str]] = {
    "IAM-CreateAccessKey": ["iam:CreateAccessKey"],
    "IAM-CreateLoginProfile": ["iam:CreateLoginProfile"],
    "IAM-UpdateLoginProfile": ["iam:UpdateLoginProfile"],
    "CloudFormation-PassExistingRoleToCloudFormation": ["iam:PassRole", "cloudformation:CreateStack", "cloudformation:DescribeStacks"],
    "CodeBuild-CreateProjectPassRole": ["codebuild:CreateProject", "codebuild:StartBuild", "codebuild:StartBuildBatch", "iam:PassRole", "iam:ListRoles"],
    "DataPipeline-PassExistingRoleToNewDataPipeline": ["iam:PassRole", "datapipeline:CreatePipeline", "datapipeline:PutPipelineDefinition", "datapipeline:ActivatePipeline"],
    "EC2-CreateInstanceWithExistingProfile": ["iam:PassRole", "ec2:RunInstances", "ec2:DescribeInstances"],
    "Glue-PassExistingRoleToNewGlueDevEndpoint": ["iam:PassRole", "glue:CreateDevEndpoint", "glue:GetDevEndpoint"],
    "Lambda-PassExistingRoleToNewLambdaThenInvoke": ["iam:PassRole", "lambda:CreateFunction", "lambda:InvokeFunction"],
    "Lambda-PassRoleToNewLambdaThenTrigger": ["lambda:CreateFunction", "iam:PassRole", "lambda:CreateEventSourceMapping"],
    "SageMaker-CreateNotebookPassRole": ["sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl", "iam:PassRole"],
    "SageMaker-CreateTrainingJobPassRole": ["sagemaker:CreateTrainingJob", "iam:PassRole"],
    "SageMaker-CreateProcessingJobPassRole": ["sagemaker:CreateProcessingJob", "iam:PassRole"],
    "IAM-AddUserToGroup": ["iam:AddUserToGroup"],
    "IAM-AttachGroupPolicy": ["iam:AttachGroupPolicy"],
    "IAM-AttachRolePolicy": ["iam:AttachRolePolicy"],
    "IAM-AttachUserPolicy": ["iam:AttachUserPolicy"],
    "IAM-CreateNewPolicyVersion": ["iam:CreatePolicyVersion"],
    "IAM-PutGroupPolicy": ["iam:PutGroupPolicy"],
    "IAM-PutRolePolicy": ["iam:PutRolePolicy"],
    "IAM-PutUserPolicy": ["iam:PutUserPolicy"],
    "IAM-SetExistingDefaultPolicyVersion": ["iam:SetDefaultPolicyVersion"],
    "EC2InstanceConnect-SendSSHPublicKey": ["ec2:DescribeInstances", "ec2-instance-connect:SendSSHPublicKey", "ec2-instance-connect:SendSerialConsoleSSHPublicKey"],
    "CloudFormation-UpdateStack": ["cloudformation:UpdateStack", "cloudformation:DescribeStacks"],
    "Glue-UpdateExistingGlueDevEndpoint": ["glue:UpdateDevEndpoint", "glue:GetDevEndpoint"],
    "Lambda-EditExistingLambdaFunctionWithRole": ["lambda:UpdateFunctionCode", "lambda:InvokeFunction"],
    "SageMakerCreatePresignedNotebookURL": ["sagemaker:CreatePresignedNotebookInstanceUrl"],
    "SSM-SendCommand": ["ec2:DescribeInstances", "ssm:listCommands", "ssm:listCommandInvocations", "ssm:sendCommand"],
    "SSM-StartSession": ["ec2:DescribeInstances", "ssm:StartSession"],
    "STS-AssumeRole": [],  # a chain of roles (below), found by the reach analysis
    "IAM-UpdatingAssumeRolePolicy": ["iam:UpdateAssumeRolePolicy", "sts:AssumeRole"],
}
# fmt: on
# What a path's permissions also allow, beyond the path itself.
ALSO = {"SageMaker-CreateNotebookPassRole": {"SageMakerCreatePresignedNotebookURL"}}


def arn(kind: str, name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:{kind}/{name}"


def slug(path: str) -> str:
    return path.lower()


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(actions: list[str] | str, resource: str = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resource, **extra}


def policy(
    name: str,
    doc: dict[str, Any],
    *,
    other_version: dict[str, Any] | None = None,
    account: str = ACCOUNT,
) -> dict:
    versions = [{"Document": doc, "VersionId": "v2", "IsDefaultVersion": True}]
    if other_version is not None:
        versions.append({"Document": other_version, "VersionId": "v1", "IsDefaultVersion": False})
    return {
        "PolicyName": name,
        "PolicyId": "ANPA" + str(zlib.crc32(name.encode())).ljust(17, "0"),
        "Arn": arn("policy", name, account),
        "Path": "/",
        "DefaultVersionId": "v2",
        "AttachmentCount": 2,
        "IsAttachable": True,
        "PolicyVersionList": versions,
    }


def _attached(names: list[str], account: str) -> list[dict[str, str]]:
    return [{"PolicyName": n, "PolicyArn": arn("policy", n, account)} for n in names]


def _entry(kind: str, name: str, id_prefix: str, account: str) -> dict[str, Any]:
    """What every user, group and role entry holds: path, name, unique id, ARN, creation."""
    return {
        "Path": "/",
        f"{kind}Name": name,
        f"{kind}Id": id_prefix + str(zlib.crc32(name.encode())).ljust(17, "0"),
        "Arn": arn(kind.lower(), name, account),
        "CreateDate": "2024-01-01T00:00:00+00:00",
    }


def user(
    name: str, policies: list[str], groups: list[str] | None = None, account: str = ACCOUNT
) -> dict[str, Any]:
    return {
        **_entry("User", name, "AIDA", account),
        "UserPolicyList": [],
        "GroupList": groups or [],
        "AttachedManagedPolicies": _attached(policies, account),
        "Tags": [],
    }


def role(
    name: str,
    policies: list[str],
    trust: dict[str, Any],
    *,
    profile: bool = False,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    detail: dict[str, Any] = {
        **_entry("Role", name, "AROA", account),
        "AssumeRolePolicyDocument": document(trust),
        "InstanceProfileList": [],
        "RolePolicyList": [],
        "AttachedManagedPolicies": _attached(policies, account),
        "Tags": [],
        "RoleLastUsed": {},
    }
    if profile:
        detail["InstanceProfileList"] = [
            {
                "Path": "/",
                "InstanceProfileName": name,
                "InstanceProfileId": "AIPA" + str(zlib.crc32(name.encode())).ljust(17, "0"),
                "Arn": arn("instance-profile", name, account),
                "CreateDate": "2024-01-01T00:00:00+00:00",
                "Roles": [],
            }
        ]
    return detail


def trusting(principal: str) -> dict[str, Any]:
    return {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}


def group(name: str, policies: list[str], account: str = ACCOUNT) -> dict[str, Any]:
    return {
        **_entry("Group", name, "AGPA", account),
        "GroupPolicyList": [],
        "AttachedManagedPolicies": _attached(policies, account),
    }


# tool-testing: name -> (policies, must it be flagged with)
TOKEN_ISSUED = {"aws:TokenIssueTime": "2020-01-01T00:00:01Z"}
TOOL_TESTING: dict[str, list[dict[str, Any]]] = {
    "fn1-privesc3-partial": [
        document(allow(["ec2:DescribeInstances", "ec2:RunInstances"])),
        document(allow("iam:PassRole")),
    ],
    "fn2-exploitableResourceConstraint": [
        document(allow("iam:CreatePolicyVersion", "arn:aws:iam::*:policy/fn2-*"))
    ],
    "fn3-exploitableConditionConstraint": [
        document(allow("iam:CreatePolicyVersion", Condition={"DateGreaterThan": TOKEN_ISSUED}))
    ],
    "fn4-exploitableNotAction": [
        document(
            {
                "Effect": "Allow",
                "NotAction": ["iam:Update*", "iam:Create*", "iam:Attach*"],
                "Resource": "*",
            }
        )
    ],
    "fp1-allow-and-deny": [
        document(allow("iam:*"), {"Effect": "Deny", "Action": "iam:*", "Resource": "*"})
    ],
    "fp2-allow-and-deny-multiple-policies": [
        document(allow("*")),
        document({"Effect": "Deny", "Action": "*", "Resource": "*"}),
    ],
    "fp3-deny-iam": [document({"Effect": "Deny", "Action": "iam:*", "Resource": "*"})],
    "fp4-nonExploitableResourceConstraint": [
        document(allow("iam:CreatePolicyVersion", "arn:aws:iam::aws:policy/fp4-*"))
    ],
    "fp5-nonExploitableConditionConstraint": [
        document(allow("iam:CreatePolicyVersion", Condition={"DateLessThan": TOKEN_ISSUED}))
    ],
}


def _expected() -> dict[str, set[str]]:
    expected: dict[str, set[str]] = {}
    for path in PATHS:
        if path == "STS-AssumeRole":
            continue
        method = METHODS_BY_ID[path]
        for kind in ("user", "role"):
            if kind in method.kinds:
                expected[f"privesc-{slug(path)}-{kind}"] = {path, *ALSO.get(path, set())}
    for kind in ("user", "role"):
        expected[f"fn1-privesc3-partial-{kind}"] = {"EC2-CreateInstanceWithExistingProfile"}
        expected[f"fn2-exploitableResourceConstraint-{kind}"] = {"IAM-CreateNewPolicyVersion"}
        expected[f"fn3-exploitableConditionConstraint-{kind}"] = {"IAM-CreateNewPolicyVersion"}
    # fn4 and the SRE principals can grant themselves anything (administrators): they are
    # shown how, not every principal they could become.
    expected["fn4-exploitableNotAction-user"] = {"IAM-PutUserPolicy"}
    expected["fn4-exploitableNotAction-role"] = {"IAM-PutRolePolicy"}
    expected["privesc-sre-user"] = {
        "IAM-AttachUserPolicy",
        "IAM-PutUserPolicy",
        "IAM-AttachGroupPolicy",
        "IAM-PutGroupPolicy",
        "IAM-CreateNewPolicyVersion",
    }
    expected["privesc-sre-role"] = {
        "IAM-AttachRolePolicy",
        "IAM-PutRolePolicy",
        "IAM-CreateNewPolicyVersion",
    }
    return expected


EXPECTED = _expected()


def bundle() -> dict[str, Any]:
    """The estate as a bundle of one account."""
    users = [user("iamvulnerable-starter", [])]
    roles = [
        role(
            "privesc-high-priv-service-role",
            ["privesc-high-priv-service-policy"],
            {"Effect": "Allow", "Principal": {"Service": SERVICES}, "Action": "sts:AssumeRole"},
            profile=True,
        ),
        role("privesc-AssumeRole-starting-role", [], trusting(STARTER)),
        role(
            "privesc-AssumeRole-intermediate-role",
            [],
            trusting(arn("role", "privesc-AssumeRole-starting-role")),
        ),
        role(
            "privesc-AssumeRole-ending-role",
            ["privesc-AssumeRole-high-priv-policy"],
            trusting(arn("role", "privesc-AssumeRole-intermediate-role")),
        ),
        role("privesc-permissive-role-trust", [], trusting(f"arn:aws:iam::{ACCOUNT}:root")),
        role(
            "privesc-sre-role",
            ["privesc-sre-admin-policy"],
            trusting(arn("user", "privesc-sre-user")),
        ),
    ]
    groups = [group("privesc-sre-group", ["privesc-sre-admin-policy"])]
    policies = [
        policy("privesc-high-priv-service-policy", document(allow("*"))),
        policy("privesc-AssumeRole-high-priv-policy", document(allow("*"))),
        policy("privesc-sre-admin-policy", document(allow(["iam:*", "ec2:*", "s3:*"]))),
    ]
    users.append(user("privesc-sre-user", [], ["privesc-sre-group"]))
    for path, actions in PATHS.items():
        if not actions:
            continue
        name = f"privesc-{slug(path)}"
        other = document(allow("*")) if path == "IAM-SetExistingDefaultPolicyVersion" else None
        policies.append(policy(f"{name}-policy", document(allow(actions)), other_version=other))
        own_group = f"{name}-group"
        groups.append(group(own_group, []))
        users.append(user(f"{name}-user", [f"{name}-policy"], [own_group]))
        roles.append(role(f"{name}-role", [f"{name}-policy"], trusting(STARTER)))
    for name, docs in TOOL_TESTING.items():
        names = [name] if len(docs) == 1 else [f"{name}-{i}" for i in range(len(docs))]
        policies.extend(policy(n, d) for n, d in zip(names, docs, strict=True))
        users.append(user(f"{name}-user", names))
        roles.append(role(f"{name}-role", names, trusting(STARTER)))
    return {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": ACCOUNT,
                "name": "iam-vulnerable",
                "authorization_details": {
                    "UserDetailList": users,
                    "GroupDetailList": groups,
                    "RoleDetailList": roles,
                    "Policies": policies,
                },
            }
        ],
    }
