"""factory_boy factories for estate rows. Defaults are plain: no groups, no policies, no
credential report (MFA/password unknown), unless a test asks."""

from __future__ import annotations

import factory

from identities.models import (
    AccessKey,
    Account,
    Change,
    GroupMembership,
    IamGroup,
    IamRole,
    IamUser,
    InlinePolicy,
    ManagedPolicy,
    PolicyAttachment,
    PolicyVersion,
    SyncRun,
)

EMPTY_POLICY = {"Version": "2012-10-17", "Statement": []}


class AccountFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Account
        django_get_or_create = ("account_id",)

    account_id = factory.Sequence(lambda n: f"{100000000000 + n:012d}")
    name = factory.Sequence(lambda n: f"account-{n}")


class IamUserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IamUser

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"user-{n}")
    unique_id = factory.Sequence(lambda n: f"AIDAEXAMPLE{n:08d}")
    arn = factory.LazyAttribute(
        lambda o: f"arn:aws:iam::{o.account.account_id}:user{o.path}{o.name}"
    )
    path = "/"


class IamGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IamGroup

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"group-{n}")
    unique_id = factory.Sequence(lambda n: f"AGPAEXAMPLE{n:08d}")
    arn = factory.LazyAttribute(
        lambda o: f"arn:aws:iam::{o.account.account_id}:group{o.path}{o.name}"
    )
    path = "/"


class IamRoleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IamRole

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"role-{n}")
    unique_id = factory.Sequence(lambda n: f"AROAEXAMPLE{n:08d}")
    arn = factory.LazyAttribute(
        lambda o: f"arn:aws:iam::{o.account.account_id}:role{o.path}{o.name}"
    )
    path = "/"
    trust_policy = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class ManagedPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ManagedPolicy

    account = factory.SubFactory(AccountFactory)
    name = factory.Sequence(lambda n: f"policy-{n}")
    policy_id = factory.Sequence(lambda n: f"ANPAEXAMPLE{n:08d}")
    arn = factory.LazyAttribute(
        lambda o: f"arn:aws:iam::{o.account.account_id}:policy{o.path}{o.name}"
    )
    path = "/"
    default_version_id = "v1"
    document = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class PolicyVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PolicyVersion

    policy = factory.SubFactory(ManagedPolicyFactory)
    version_id = "v1"
    is_default = True
    document = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class GroupMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMembership

    user = factory.SubFactory(IamUserFactory)
    group = factory.SubFactory(IamGroupFactory)


class PolicyAttachmentFactory(factory.django.DjangoModelFactory):
    """Attach to exactly one owner: pass user=, group= or role=."""

    class Meta:
        model = PolicyAttachment

    policy = factory.SubFactory(ManagedPolicyFactory)


class InlinePolicyFactory(factory.django.DjangoModelFactory):
    """Embed in exactly one owner: pass user=, group= or role= (and its account)."""

    class Meta:
        model = InlinePolicy

    name = factory.Sequence(lambda n: f"inline-{n}")
    document = factory.LazyFunction(lambda: dict(EMPTY_POLICY))


class AccessKeyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AccessKey

    user = factory.SubFactory(IamUserFactory)
    slot = 1
    active = True


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    source = SyncRun.Source.IMPORT
    status = SyncRun.Status.SUCCEEDED
    label = factory.Sequence(lambda n: f"bundle-{n}.json")


class ChangeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Change

    sync_run = factory.SubFactory(SyncRunFactory)
    kind = "user"
    action = Change.Action.ADDED
    key = factory.Sequence(lambda n: f"arn:aws:iam::100000000000:user/u{n}")
