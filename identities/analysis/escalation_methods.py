"""The catalogue of privilege-escalation methods, as data: how a principal becomes another one,
or grants itself anything, with permissions it already holds.

Ids are the path names of BishopFox's iam-vulnerable (its README lists 31 paths) where one
exists, Rhino Security Labs' method names otherwise, and ids of the same style for the rest
(PMapper's edge kinds: PassRole to ECS tasks, Glue jobs and Auto Scaling). Rhino's CodeStar
methods (CreateProject, CreateProjectFromTemplate, AssociateTeamMember) are left out: AWS
discontinued CodeStar in July 2024, so no estate can be escalated through it any more.

Each method lists every permission it needs (all of them) and what each acts on:

- ``target``: the ARN of the method's target (a user, role, group or policy; for a method on
  the principal itself, its own ARN);
- ``any``: a resource the principal creates or picks (a new function, stack, instance, an
  existing instance), so the question is whether its permissions allow the action on *some*
  resource;
- ``trust``: sts:AssumeRole on the target through the trust policy the method rewrites to name
  the principal (the engine's same-account rule: the boundary and SCPs must still allow it).

*proven* methods hold from IAM data alone; *potential* ones also need a resource IAM data
cannot show (a running instance, an existing function, stack, dev endpoint, notebook, cluster
or event source), so they are reported for a reviewer to confirm.
https://github.com/BishopFox/iam-vulnerable#supported-privilege-escalation-paths
https://github.com/RhinoSecurityLabs/AWS-IAM-Privilege-Escalation
https://github.com/nccgroup/PMapper/tree/master/principalmapper/graphing
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class Targets(StrEnum):
    """What a method acts on, and so which principals or resources are its targets."""

    SELF = "self"  # the principal itself: it grants itself anything
    OWN_GROUP = "own-group"  # a group the user belongs to: it grants itself anything
    OWN_POLICY = "own-policy"  # a customer-managed policy attached to it or to its groups
    GROUP = "group"  # a group of its account the user is not in: it gets the group's permissions
    USER = "user"  # another user of its account: it becomes that user
    ROLE = "role"  # another role of its account: it becomes that role
    PASSED_ROLE = "passed-role"  # a role trusting ``service``, passed to a new resource
    SERVICE_ROLE = "service-role"  # a role trusting ``service``, used by an existing resource
    ASSUMED_ROLE = "assumed-role"  # a role it may assume: the access edges, not evaluated here


class Status(StrEnum):
    PROVEN = "proven"
    POTENTIAL = "potential"


@dataclass(frozen=True)
class Permission:
    action: str
    on: str = "target"  # target | any | trust (see the module docstring)


@dataclass(frozen=True)
class Method:
    id: str
    title: str
    category: str
    targets: Targets
    permissions: tuple[Permission, ...]
    kinds: tuple[str, ...]  # the principal kinds it applies to (user, role)
    status: Status
    description: str
    remediation: str
    references: tuple[str, ...]
    service: str | None = None  # the service a passed or used role must trust
    needs_instance_profile: bool = False  # the role must be in an instance profile (EC2)

    @cached_property
    def actions(self) -> tuple[str, ...]:
        return tuple(p.action for p in self.permissions)

    @property
    def self_grant(self) -> bool:
        return self.targets in (Targets.SELF, Targets.OWN_GROUP, Targets.OWN_POLICY)

    @property
    def yields(self) -> str:
        if self.self_grant:
            return "grants itself any permission"
        if self.targets is Targets.GROUP:
            return "gets the permissions of the group"
        if self.targets is Targets.USER:
            return "becomes the user"
        return "becomes the role"


BOTH = ("user", "role")
_RHINO = "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation/"
_RHINO2 = "https://rhinosecuritylabs.com/aws/aws-privilege-escalation-methods-mitigation-part-2/"
_BISHOP = "https://labs.bishopfox.com/tech-blog/privilege-escalation-in-aws"
_MEDIUM = "https://pswalia2u.medium.com/aws-iam-privilege-escalation-paths-cba36be1aa9e"
_PMAPPER = "https://github.com/nccgroup/PMapper/tree/master/principalmapper/graphing"
_PASSROLE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html"
_PASS_FIX = (
    "Limit iam:PassRole to the roles this principal must hand to {service} (exact ARNs) and "
    "add an iam:PassedToService condition; keep privileged roles out of that list."
)


def _t(action: str) -> Permission:
    return Permission(action, "target")


def _any(action: str) -> Permission:
    return Permission(action, "any")


def _pass(
    id: str,
    title: str,
    service: str,
    actions: tuple[str, ...],
    references: tuple[str, ...],
    *,
    status: Status = Status.PROVEN,
    note: str = "",
    needs_instance_profile: bool = False,
) -> Method:
    short = service.removesuffix(".amazonaws.com")
    return Method(
        id=id,
        title=title,
        category="PassRole to a service",
        targets=Targets.PASSED_ROLE,
        permissions=(_t("iam:PassRole"), *(_any(a) for a in actions)),
        kinds=BOTH,
        status=status,
        description=(
            f"Passes an existing role that trusts {service} to a new {short} resource "
            f"({', '.join(actions)}) whose code runs with the role's permissions. {note}"
        ).strip(),
        remediation=_PASS_FIX.format(service=short)
        + f" Or remove {', '.join(actions)} where they are not needed.",
        references=(*references, _PASSROLE),
        service=service,
        needs_instance_profile=needs_instance_profile,
    )


def _existing(
    id: str,
    title: str,
    service: str,
    actions: tuple[str, ...],
    what: str,
    references: tuple[str, ...],
    *,
    needs_instance_profile: bool = False,
) -> Method:
    return Method(
        id=id,
        title=title,
        category="Existing resources of a service",
        targets=Targets.SERVICE_ROLE,
        permissions=tuple(_any(a) for a in actions),
        kinds=BOTH,
        status=Status.POTENTIAL,
        description=(
            f"Takes over {what} that runs with a role trusting {service}, through "
            f"{', '.join(actions)}. Potential: IAM data does not show which resources exist "
            "and which role each uses; every role trusting the service is a candidate."
        ),
        remediation=(
            f"Limit {', '.join(actions)} to the resources this principal owns (exact ARNs, or "
            "a resource tag condition), or remove it."
        ),
        references=references,
        service=service,
        needs_instance_profile=needs_instance_profile,
    )


def _iam(
    id: str,
    title: str,
    targets: Targets,
    action: str,
    kinds: tuple[str, ...],
    description: str,
    remediation: str,
    references: tuple[str, ...] = (_RHINO, _BISHOP),
    *,
    status: Status = Status.PROVEN,
    extra: tuple[Permission, ...] = (),
) -> Method:
    category = {
        Targets.USER: "IAM permissions on other users",
        Targets.ROLE: "Updating an AssumeRole policy",
    }.get(targets, "Permissions on policies")
    return Method(
        id=id,
        title=title,
        category=category,
        targets=targets,
        permissions=(_t(action), *extra),
        kinds=kinds,
        status=status,
        description=description,
        remediation=remediation,
        references=references,
    )


METHODS: tuple[Method, ...] = (
    # -- IAM permissions on other users --------------------------------------------------------
    _iam(
        "IAM-CreateAccessKey",
        "Create an access key for another user",
        Targets.USER,
        "iam:CreateAccessKey",
        BOTH,
        "Creates an access key for another user of the account and signs in as that user. "
        "Fails only for a user that already has two keys.",
        "Limit iam:CreateAccessKey to the principal's own user "
        '("arn:aws:iam::ACCOUNT:user/${aws:username}"), or to the users it manages.',
    ),
    _iam(
        "IAM-CreateLoginProfile",
        "Create a console password for another user",
        Targets.USER,
        "iam:CreateLoginProfile",
        BOTH,
        "Gives another user without a console password one it chooses and signs in to the "
        "console as that user (not when the user has an MFA device).",
        "Limit iam:CreateLoginProfile to the principal's own user, or remove it.",
    ),
    _iam(
        "IAM-UpdateLoginProfile",
        "Change another user's console password",
        Targets.USER,
        "iam:UpdateLoginProfile",
        BOTH,
        "Changes the console password of another user that has one and signs in as that user "
        "(not when the user has an MFA device).",
        "Limit iam:UpdateLoginProfile to the principal's own user, or remove it.",
    ),
    # -- Permissions on policies ---------------------------------------------------------------
    _iam(
        "IAM-AddUserToGroup",
        "Add itself to a group",
        Targets.GROUP,
        "iam:AddUserToGroup",
        ("user",),
        "Adds itself to another group of the account and gets that group's permissions.",
        "Limit iam:AddUserToGroup to the groups this principal manages (exact ARNs), keeping "
        "privileged groups out.",
    ),
    _iam(
        "IAM-AttachGroupPolicy",
        "Attach a policy to its own group",
        Targets.OWN_GROUP,
        "iam:AttachGroupPolicy",
        ("user",),
        "Attaches AdministratorAccess (or any managed policy) to a group it belongs to.",
        "Remove iam:AttachGroupPolicy on groups the principal belongs to, or add an "
        "iam:PolicyARN condition listing the policies it may attach.",
    ),
    _iam(
        "IAM-AttachRolePolicy",
        "Attach a policy to itself (role)",
        Targets.SELF,
        "iam:AttachRolePolicy",
        ("role",),
        "Attaches AdministratorAccess (or any managed policy) to its own role.",
        "Remove iam:AttachRolePolicy on the role itself, or add an iam:PolicyARN condition.",
    ),
    _iam(
        "IAM-AttachUserPolicy",
        "Attach a policy to itself (user)",
        Targets.SELF,
        "iam:AttachUserPolicy",
        ("user",),
        "Attaches AdministratorAccess (or any managed policy) to its own user.",
        "Remove iam:AttachUserPolicy on the user itself, or add an iam:PolicyARN condition.",
    ),
    _iam(
        "IAM-CreateNewPolicyVersion",
        "Write a new default version of a policy it carries",
        Targets.OWN_POLICY,
        "iam:CreatePolicyVersion",
        BOTH,
        "Creates a new version of a customer-managed policy attached to it (or to one of its "
        "groups) with --set-as-default, which needs no iam:SetDefaultPolicyVersion.",
        "Remove iam:CreatePolicyVersion on policies attached to the principal itself.",
    ),
    _iam(
        "IAM-PutGroupPolicy",
        "Write an inline policy on its own group",
        Targets.OWN_GROUP,
        "iam:PutGroupPolicy",
        ("user",),
        "Writes an inline policy allowing everything on a group it belongs to.",
        "Remove iam:PutGroupPolicy on groups the principal belongs to.",
    ),
    _iam(
        "IAM-PutRolePolicy",
        "Write an inline policy on itself (role)",
        Targets.SELF,
        "iam:PutRolePolicy",
        ("role",),
        "Writes an inline policy allowing everything on its own role.",
        "Remove iam:PutRolePolicy on the role itself.",
    ),
    _iam(
        "IAM-PutUserPolicy",
        "Write an inline policy on itself (user)",
        Targets.SELF,
        "iam:PutUserPolicy",
        ("user",),
        "Writes an inline policy allowing everything on its own user.",
        "Remove iam:PutUserPolicy on the user itself.",
    ),
    _iam(
        "IAM-SetExistingDefaultPolicyVersion",
        "Switch a policy it carries to another version",
        Targets.OWN_POLICY,
        "iam:SetDefaultPolicyVersion",
        BOTH,
        "Makes an older or newer non-default version of a customer-managed policy attached to "
        "it the default. Potential: what it gains depends on what those versions allow.",
        "Remove iam:SetDefaultPolicyVersion on policies attached to the principal, and delete "
        "policy versions that are not in use.",
        status=Status.POTENTIAL,
    ),
    # -- Updating an AssumeRole policy ---------------------------------------------------------
    _iam(
        "IAM-UpdatingAssumeRolePolicy",
        "Rewrite a role's trust policy to trust itself",
        Targets.ROLE,
        "iam:UpdateAssumeRolePolicy",
        BOTH,
        "Rewrites the trust policy of another role of the account to name itself, then "
        "assumes the role (a trust policy naming the caller's ARN needs no identity-based "
        "sts:AssumeRole in the same account; a boundary or SCP must still allow it).",
        "Limit iam:UpdateAssumeRolePolicy to the roles this principal administers, keeping "
        "privileged roles out.",
        extra=(Permission("sts:AssumeRole", "trust"),),
    ),
    # -- PassRole to a service -----------------------------------------------------------------
    _pass(
        "CloudFormation-PassExistingRoleToCloudFormation",
        "Pass a role to a new CloudFormation stack",
        "cloudformation.amazonaws.com",
        ("cloudformation:CreateStack",),
        (_RHINO, _BISHOP),
    ),
    _pass(
        "CodeBuild-CreateProjectPassRole",
        "Pass a role to a new CodeBuild project",
        "codebuild.amazonaws.com",
        ("codebuild:CreateProject", "codebuild:StartBuild"),
        (_PMAPPER,),
    ),
    _pass(
        "DataPipeline-PassExistingRoleToNewDataPipeline",
        "Pass a role to a new Data Pipeline",
        "datapipeline.amazonaws.com",
        (
            "datapipeline:CreatePipeline",
            "datapipeline:PutPipelineDefinition",
            "datapipeline:ActivatePipeline",
        ),
        (_RHINO, _BISHOP),
    ),
    _pass(
        "EC2-CreateInstanceWithExistingProfile",
        "Pass a role to a new EC2 instance",
        "ec2.amazonaws.com",
        ("ec2:RunInstances",),
        (_RHINO, _BISHOP),
        note="The role must be in an instance profile; the instance's metadata service then "
        "hands out its credentials.",
        needs_instance_profile=True,
    ),
    _pass(
        "Glue-PassExistingRoleToNewGlueDevEndpoint",
        "Pass a role to a new Glue development endpoint",
        "glue.amazonaws.com",
        ("glue:CreateDevEndpoint",),
        (_RHINO, _BISHOP),
    ),
    _pass(
        "Glue-PassExistingRoleToNewGlueJob",
        "Pass a role to a new Glue job",
        "glue.amazonaws.com",
        ("glue:CreateJob", "glue:StartJobRun"),
        (_PMAPPER,),
    ),
    _pass(
        "Lambda-PassExistingRoleToNewLambdaThenInvoke",
        "Pass a role to a new Lambda function, then invoke it",
        "lambda.amazonaws.com",
        ("lambda:CreateFunction", "lambda:InvokeFunction"),
        (_RHINO, _BISHOP),
    ),
    _pass(
        "Lambda-PassRoleToNewLambdaThenInvokeCrossAccount",
        "Pass a role to a new Lambda function, then invoke it from another account",
        "lambda.amazonaws.com",
        ("lambda:CreateFunction", "lambda:AddPermission"),
        ("https://github.com/RhinoSecurityLabs/AWS-IAM-Privilege-Escalation",),
    ),
    _pass(
        "Lambda-PassRoleToNewLambdaThenTrigger",
        "Pass a role to a new Lambda function, then trigger it from an event source",
        "lambda.amazonaws.com",
        ("lambda:CreateFunction", "lambda:CreateEventSourceMapping"),
        (_RHINO, _BISHOP),
        status=Status.POTENTIAL,
        note="Potential: it needs an event source (a DynamoDB or Kinesis stream, an SQS "
        "queue) that receives records.",
    ),
    _pass(
        "SageMaker-CreateNotebookPassRole",
        "Pass a role to a new SageMaker notebook",
        "sagemaker.amazonaws.com",
        ("sagemaker:CreateNotebookInstance", "sagemaker:CreatePresignedNotebookInstanceUrl"),
        (_RHINO2,),
    ),
    _pass(
        "SageMaker-CreateTrainingJobPassRole",
        "Pass a role to a new SageMaker training job",
        "sagemaker.amazonaws.com",
        ("sagemaker:CreateTrainingJob",),
        (_PMAPPER,),
    ),
    _pass(
        "SageMaker-CreateProcessingJobPassRole",
        "Pass a role to a new SageMaker processing job",
        "sagemaker.amazonaws.com",
        ("sagemaker:CreateProcessingJob",),
        (_PMAPPER,),
    ),
    _pass(
        "ECS-PassExistingRoleToNewTask",
        "Pass a role to a new ECS task",
        "ecs-tasks.amazonaws.com",
        ("ecs:RegisterTaskDefinition", "ecs:RunTask"),
        (_PMAPPER,),
        status=Status.POTENTIAL,
        note="Potential: it needs a cluster to run the task on.",
    ),
    _pass(
        "AutoScaling-PassExistingRoleToNewLaunchConfiguration",
        "Pass a role to instances of a new Auto Scaling group",
        "ec2.amazonaws.com",
        ("autoscaling:CreateLaunchConfiguration", "autoscaling:CreateAutoScalingGroup"),
        (_PMAPPER,),
        needs_instance_profile=True,
    ),
    # -- Existing resources of a service -------------------------------------------------------
    _existing(
        "CloudFormation-UpdateStack",
        "Update an existing stack that has a service role",
        "cloudformation.amazonaws.com",
        ("cloudformation:UpdateStack",),
        "a stack",
        (_MEDIUM,),
    ),
    _existing(
        "EC2InstanceConnect-SendSSHPublicKey",
        "Log in to a running instance with EC2 Instance Connect",
        "ec2.amazonaws.com",
        ("ec2-instance-connect:SendSSHPublicKey",),
        "an instance",
        (_MEDIUM,),
        needs_instance_profile=True,
    ),
    _existing(
        "Glue-UpdateExistingGlueDevEndpoint",
        "Add an SSH key to an existing Glue development endpoint",
        "glue.amazonaws.com",
        ("glue:UpdateDevEndpoint",),
        "a development endpoint",
        (_RHINO, _BISHOP),
    ),
    _existing(
        "Lambda-EditExistingLambdaFunctionWithRole",
        "Replace the code of an existing Lambda function",
        "lambda.amazonaws.com",
        ("lambda:UpdateFunctionCode",),
        "a function",
        (_RHINO, _BISHOP),
    ),
    _existing(
        "Lambda-UpdateFunctionConfigurationLayer",
        "Add a layer to an existing Lambda function",
        "lambda.amazonaws.com",
        ("lambda:UpdateFunctionConfiguration",),
        "a function",
        (_RHINO2,),
    ),
    _existing(
        "SageMakerCreatePresignedNotebookURL",
        "Open an existing SageMaker notebook",
        "sagemaker.amazonaws.com",
        ("sagemaker:CreatePresignedNotebookInstanceUrl",),
        "a notebook instance",
        (_RHINO2,),
    ),
    _existing(
        "SSM-SendCommand",
        "Run a command on a managed instance",
        "ec2.amazonaws.com",
        ("ssm:SendCommand",),
        "an instance",
        (_MEDIUM,),
        needs_instance_profile=True,
    ),
    _existing(
        "SSM-StartSession",
        "Open a shell on a managed instance",
        "ec2.amazonaws.com",
        ("ssm:StartSession",),
        "an instance",
        (_MEDIUM,),
        needs_instance_profile=True,
    ),
    # -- Assuming roles: the access edges ------------------------------------------------------
    Method(
        id="STS-AssumeRole",
        title="Assume a more privileged role",
        category="Assuming roles",
        targets=Targets.ASSUMED_ROLE,
        permissions=(Permission("sts:AssumeRole", "trust"),),
        kinds=BOTH,
        status=Status.PROVEN,
        description=(
            "Assumes a role whose trust policy lets it in (directly or through a chain of "
            "roles). These are the access edges: they are computed and stored as such, and "
            "the reach graph chains them with the escalations."
        ),
        remediation="Name exact principals in the role's trust policy instead of an account "
        "root, and keep sts:AssumeRole in identity policies to the roles each principal needs.",
        references=(_MEDIUM,),
    ),
)

METHODS_BY_ID: dict[str, Method] = {method.id: method for method in METHODS}
# Evaluated by the escalation analysis (STS-AssumeRole is the access edges).
EVALUATED: tuple[Method, ...] = tuple(m for m in METHODS if m.targets is not Targets.ASSUMED_ROLE)
ESCALATION_ACTIONS: tuple[str, ...] = tuple(
    dict.fromkeys(action for method in EVALUATED for action in method.actions)
)
