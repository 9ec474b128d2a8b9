"""factory_boy factories for estate rows. Defaults are plain: no groups, no policies, no
credential report (MFA/password unknown), unless a test asks."""

from __future__ import annotations

import factory

from identities import models

EMPTY_POLICY = {"Version": "2012-10-17", "Statement": []}


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Account
        django_get_or_create = ("account_id",)

    account_id = factory.Sequence(lambda n: f"{100000000000 + n:012d}")
    name = factory.Sequence(lambda n: f"account-{n}")


class _AccountRowFactory(factory.django.DjangoModelFactory):
    """A row of one account with an ARN made of its kind, path and name."""

    class Meta:
        abstract = True

    class Params:
        arn_kind = ""

    account = factory.SubFactory(AccountFactory)
    arn = factory.LazyAttribute(
        lambda o: f"arn:aws:iam::{o.account.account_id}:{o.arn_kind}{o.path}{o.name}"
    )
    path = "/"


class IamUserFactory(_AccountRowFactory):
    class Meta:
        model = models.IamUser

    class Params:
        arn_kind = "user"

    name = factory.Sequence(lambda n: f"user-{n}")
    unique_id = factory.Sequence(lambda n: f"AIDAEXAMPLE{n:08d}")


class IamGroupFactory(_AccountRowFactory):
    class Meta:
        model = models.IamGroup

    class Params:
        arn_kind = "group"

    name = factory.Sequence(lambda n: f"group-{n}")
    unique_id = factory.Sequence(lambda n: f"AGPAEXAMPLE{n:08d}")


class IamRoleFactory(_AccountRowFactory):
    class Meta:
        model = models.IamRole

    class Params:
        arn_kind = "role"

    name = factory.Sequence(lambda n: f"role-{n}")
    unique_id = factory.Sequence(lambda n: f"AROAEXAMPLE{n:08d}")
    trust_policy = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class ManagedPolicyFactory(_AccountRowFactory):
    class Meta:
        model = models.ManagedPolicy

    class Params:
        arn_kind = "policy"

    name = factory.Sequence(lambda n: f"policy-{n}")
    policy_id = factory.Sequence(lambda n: f"ANPAEXAMPLE{n:08d}")
    default_version_id = "v1"
    document = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.PolicyVersion

    policy = factory.SubFactory(ManagedPolicyFactory)
    version_id = "v1"
    is_default = True
    document = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class GroupMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.GroupMembership

    user = factory.SubFactory(IamUserFactory)
    group = factory.SubFactory(IamGroupFactory)


class PolicyAttachmentFactory(factory.django.DjangoModelFactory):
    """Attach to exactly one owner: pass user=, group= or role=."""

    class Meta:
        model = models.PolicyAttachment

    policy = factory.SubFactory(ManagedPolicyFactory)


class InlinePolicyFactory(factory.django.DjangoModelFactory):
    """Embed in exactly one owner: pass user=, group= or role= (and its account)."""

    class Meta:
        model = models.InlinePolicy

    name = factory.Sequence(lambda n: f"inline-{n}")
    document = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class AccessKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.AccessKey

    user = factory.SubFactory(IamUserFactory)
    slot = 1
    active = True


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.SyncRun

    source = models.SyncRun.Source.IMPORT
    status = models.SyncRun.Status.SUCCEEDED
    label = factory.Sequence(lambda n: f"bundle-{n}.json")


class ChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = models.Change

    sync_run = factory.SubFactory(SyncRunFactory)
    kind = "user"
    action = models.Change.Action.ADDED
    key = factory.Sequence(lambda n: f"arn:aws:iam::100000000000:user/u{n}")
