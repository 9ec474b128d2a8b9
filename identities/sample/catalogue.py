"""The policy catalogue: AWS managed policies as the generated accounts attach them, and the
helpers that write policy documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from identities.sample.vocabulary import POLICY_VERSION


def make_document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


@dataclass(frozen=True)
class AwsPolicy:
    path: str
    policy_id: str
    version_id: str
    created: str
    updated: str
    document: dict[str, Any]


# IAMReadOnlyAccess; SecurityAudit holds these actions too.
_IAM_READ_ONLY = [
    "iam:GenerateCredentialReport",
    "iam:GenerateServiceLastAccessedDetails",
    "iam:Get*",
    "iam:List*",
    "iam:SimulateCustomPolicy",
    "iam:SimulatePrincipalPolicy",
]

# Real names, paths, ids and version ids; documents are the real ones or a faithful abridgement
# (ReadOnlyAccess and the service-linked policies run to tens of kilobytes).
AWS_MANAGED_POLICIES: dict[str, AwsPolicy] = {
    "AdministratorAccess": AwsPolicy(
        "/",
        "ANPAIWMBCKSKIEE64ZLYK",
        "v1",
        "2015-02-06T18:39:46+00:00",
        "2015-02-06T18:39:46+00:00",
        make_document(allow("*")),
    ),
    "PowerUserAccess": AwsPolicy(
        "/",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "v4",
        "2015-02-06T18:39:47+00:00",
        "2019-03-20T22:19:03+00:00",
        make_document(
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            allow(
                [
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                    "account:ListRegions",
                ]
            ),
        ),
    ),
    "ReadOnlyAccess": AwsPolicy(
        "/",
        "ANPAILL3HVNFSB6DCOWYQ",
        "v98",
        "2015-02-06T18:39:48+00:00",
        "2023-03-13T18:25:39+00:00",
        make_document(
            allow(
                [
                    "acm:Describe*",
                    "acm:Get*",
                    "acm:List*",
                    "cloudformation:Describe*",
                    "cloudformation:Get*",
                    "cloudformation:List*",
                    "cloudtrail:Describe*",
                    "cloudtrail:Get*",
                    "cloudtrail:List*",
                    "cloudwatch:Describe*",
                    "cloudwatch:Get*",
                    "cloudwatch:List*",
                    "dynamodb:BatchGet*",
                    "dynamodb:Describe*",
                    "dynamodb:Get*",
                    "dynamodb:List*",
                    "dynamodb:Query",
                    "dynamodb:Scan",
                    "ec2:Describe*",
                    "ec2:Get*",
                    "ecr:BatchGetImage",
                    "ecr:Describe*",
                    "ecr:Get*",
                    "ecr:List*",
                    "ecs:Describe*",
                    "ecs:List*",
                    "iam:Generate*",
                    "iam:Get*",
                    "iam:List*",
                    "iam:Simulate*",
                    "kms:Describe*",
                    "kms:Get*",
                    "kms:List*",
                    "lambda:Get*",
                    "lambda:List*",
                    "logs:Describe*",
                    "logs:Get*",
                    "logs:FilterLogEvents",
                    "logs:StartQuery",
                    "organizations:Describe*",
                    "organizations:List*",
                    "rds:Describe*",
                    "rds:List*",
                    "s3:Get*",
                    "s3:List*",
                    "sns:Get*",
                    "sns:List*",
                    "sqs:Get*",
                    "sqs:List*",
                    "sqs:Receive*",
                    "ssm:Describe*",
                    "ssm:Get*",
                    "ssm:List*",
                    "sts:GetCallerIdentity",
                    "tag:Get*",
                ]
            )
        ),
    ),
    "ViewOnlyAccess": AwsPolicy(
        "/job-function/",
        "ANPAID22R6XPJATWOFDK6",
        "v17",
        "2016-11-10T17:20:15+00:00",
        "2023-03-06T15:59:28+00:00",
        make_document(
            allow(
                [
                    "cloudformation:DescribeStacks",
                    "cloudformation:ListStacks",
                    "cloudtrail:DescribeTrails",
                    "cloudwatch:ListMetrics",
                    "dynamodb:ListTables",
                    "ec2:DescribeInstances",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeVpcs",
                    "iam:ListGroups",
                    "iam:ListRoles",
                    "iam:ListUsers",
                    "lambda:ListFunctions",
                    "rds:DescribeDBInstances",
                    "s3:ListAllMyBuckets",
                    "sns:ListTopics",
                    "sqs:ListQueues",
                ]
            )
        ),
    ),
    "SecurityAudit": AwsPolicy(
        "/",
        "ANPAIX2T3QCXHR2OGGCTO",
        "v32",
        "2015-02-06T18:41:01+00:00",
        "2020-02-25T16:08:50+00:00",
        make_document(
            allow(
                [
                    "access-analyzer:GetAnalyzer",
                    "access-analyzer:List*",
                    "acm:Describe*",
                    "acm:List*",
                    "cloudtrail:DescribeTrails",
                    "cloudtrail:GetEventSelectors",
                    "cloudtrail:GetTrailStatus",
                    "cloudtrail:ListTags",
                    "cloudtrail:LookupEvents",
                    "config:Deliver*",
                    "config:Describe*",
                    "config:Get*",
                    "config:List*",
                    "ec2:Describe*",
                    "ec2:GetEbsEncryptionByDefault",
                    "guardduty:Get*",
                    "guardduty:List*",
                    *_IAM_READ_ONLY,
                    "kms:Describe*",
                    "kms:Get*",
                    "kms:List*",
                    "lambda:GetFunctionConfiguration",
                    "lambda:GetPolicy",
                    "lambda:ListFunctions",
                    "organizations:Describe*",
                    "organizations:List*",
                    "s3:GetAccountPublicAccessBlock",
                    "s3:GetBucket*",
                    "s3:GetEncryptionConfiguration",
                    "s3:GetLifecycleConfiguration",
                    "s3:ListAllMyBuckets",
                    "s3:ListBucket",
                    "securityhub:Describe*",
                    "securityhub:Get*",
                    "securityhub:List*",
                    "sns:GetTopicAttributes",
                    "sns:ListTopics",
                    "sqs:GetQueueAttributes",
                    "sqs:ListQueues",
                    "sts:GetCallerIdentity",
                ]
            )
        ),
    ),
    "IAMFullAccess": AwsPolicy(
        "/",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "v2",
        "2015-02-06T18:40:38+00:00",
        "2019-06-21T19:40:00+00:00",
        make_document(
            allow(
                [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ]
            )
        ),
    ),
    "IAMReadOnlyAccess": AwsPolicy(
        "/",
        "ANPAJKSO7NDY4T57MWDSQ",
        "v4",
        "2015-02-06T18:40:39+00:00",
        "2018-01-25T19:11:27+00:00",
        make_document(allow(_IAM_READ_ONLY)),
    ),
    "AmazonS3ReadOnlyAccess": AwsPolicy(
        "/",
        "ANPAIZTJ4DXE7G6AGAE6M",
        "v1",
        "2015-02-06T18:40:59+00:00",
        "2015-02-06T18:40:59+00:00",
        make_document(allow(["s3:Get*", "s3:List*"])),
    ),
    "AmazonS3FullAccess": AwsPolicy(
        "/",
        "ANPAIFIR6V6BVTRAHWINE",
        "v1",
        "2015-02-06T18:40:58+00:00",
        "2015-02-06T18:40:58+00:00",
        make_document(allow("s3:*")),
    ),
    "AmazonEC2FullAccess": AwsPolicy(
        "/",
        "ANPAI3VAJF5ZCRZ7MCQE6",
        "v5",
        "2015-02-06T18:40:15+00:00",
        "2018-11-27T02:16:56+00:00",
        make_document(
            allow("ec2:*"),
            allow("elasticloadbalancing:*"),
            allow("cloudwatch:*"),
            allow("autoscaling:*"),
            allow(
                "iam:CreateServiceLinkedRole",
                Condition={
                    "StringEquals": {
                        "iam:AWSServiceName": [
                            "autoscaling.amazonaws.com",
                            "ec2scheduled.amazonaws.com",
                            "elasticloadbalancing.amazonaws.com",
                            "spot.amazonaws.com",
                            "spotfleet.amazonaws.com",
                            "transitgateway.amazonaws.com",
                        ]
                    }
                },
            ),
        ),
    ),
    "AmazonVPCFullAccess": AwsPolicy(
        "/",
        "ANPAJBWPGNOVKZD3JI2P2",
        "v7",
        "2015-02-06T18:41:16+00:00",
        "2018-03-15T18:30:25+00:00",
        make_document(
            allow(
                [
                    "ec2:AcceptVpcPeeringConnection",
                    "ec2:AssociateRouteTable",
                    "ec2:AttachInternetGateway",
                    "ec2:AuthorizeSecurityGroupIngress",
                    "ec2:CreateRoute",
                    "ec2:CreateSecurityGroup",
                    "ec2:CreateSubnet",
                    "ec2:CreateVpc",
                    "ec2:DeleteVpc",
                    "ec2:Describe*",
                    "ec2:ModifyVpcAttribute",
                    "ec2:RevokeSecurityGroupIngress",
                ]
            )
        ),
    ),
    "CloudWatchFullAccess": AwsPolicy(
        "/",
        "ANPAIKEABORKUXN6DEAZU",
        "v3",
        "2015-02-06T18:40:00+00:00",
        "2018-08-09T19:10:43+00:00",
        make_document(
            allow(
                [
                    "autoscaling:Describe*",
                    "cloudwatch:*",
                    "logs:*",
                    "sns:*",
                    "iam:GetPolicy",
                    "iam:GetPolicyVersion",
                    "iam:GetRole",
                ]
            )
        ),
    ),
    "AmazonSQSFullAccess": AwsPolicy(
        "/",
        "ANPAI65L554VRJ33ECQS6",
        "v1",
        "2015-02-06T18:41:07+00:00",
        "2015-02-06T18:41:07+00:00",
        make_document(allow("sqs:*")),
    ),
    "AmazonSSMManagedInstanceCore": AwsPolicy(
        "/",
        "ANPAIXSHM2BNB2D3AXXRU",
        "v2",
        "2019-03-15T17:22:12+00:00",
        "2019-05-23T16:54:21+00:00",
        make_document(
            allow(
                [
                    "ssm:DescribeAssociation",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:GetManifest",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutInventory",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                ]
            ),
            allow(
                [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ]
            ),
            allow(
                [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ]
            ),
        ),
    ),
    "AWSLambdaBasicExecutionRole": AwsPolicy(
        "/service-role/",
        "ANPAJNCQGXC42545SKXIK",
        "v1",
        "2015-04-09T15:03:43+00:00",
        "2015-04-09T15:03:43+00:00",
        make_document(allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"])),
    ),
    "AmazonECSTaskExecutionRolePolicy": AwsPolicy(
        "/service-role/",
        "ANPAJG4T4G4PV56DE72PY",
        "v1",
        "2017-11-16T18:48:22+00:00",
        "2017-11-16T18:48:22+00:00",
        make_document(
            allow(
                [
                    "ecr:GetAuthorizationToken",
                    "ecr:BatchCheckLayerAvailability",
                    "ecr:GetDownloadUrlForLayer",
                    "ecr:BatchGetImage",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                ]
            )
        ),
    ),
    "AWSSupportServiceRolePolicy": AwsPolicy(
        "/aws-service-role/",
        "ANPAJ7W6266ELXF5MISDS",
        "v28",
        "2018-04-19T18:04:44+00:00",
        "2023-03-16T20:29:42+00:00",
        make_document(
            allow(
                [
                    "apigateway:GET",
                    "autoscaling:Describe*",
                    "cloudformation:Describe*",
                    "cloudtrail:DescribeTrails",
                    "ec2:Describe*",
                    "iam:GetAccountSummary",
                    "iam:ListRoles",
                    "lambda:List*",
                    "rds:Describe*",
                    "s3:GetBucketPolicy",
                    "s3:ListAllMyBuckets",
                ]
            )
        ),
    ),
}


def aws_managed_arn(name: str) -> str:
    """The ARN of an AWS-managed policy (its path is part of the ARN)."""
    return f"arn:aws:iam::aws:policy{AWS_MANAGED_POLICIES[name].path}{name}"
