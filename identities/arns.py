"""ARNs and the principals they name: the only place that parses them.

Pure Python (no Django), so every stage can use it. Three kinds of text come through here:

- ARNs (``arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE``) in any partition
  (``aws``, ``aws-cn``, ``aws-us-gov``, ``aws-iso``, ``aws-iso-b``, …);
- the values of a trust policy's ``Principal`` element (``*``, an account id, an IAM ARN, a
  service name, a SAML/OIDC provider);
- the ``source`` of a stored access edge: an IAM ARN, ``*``, ``service:NAME``,
  ``federated:PROVIDER`` or ``group:KEY`` (an access group of the analysis).

The policy engine (``identities/policy``) keeps its own matching: it imports nothing of the
app, and matching a Principal is a rule of the evaluation, not of the ARN syntax.
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

# Every partition AWS has: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f, …
PARTITION_PATTERN = r"aws(?:-[a-z]+)*"
_PARTITION = re.compile(PARTITION_PATTERN)
_ACCOUNT_ID = re.compile(r"[0-9]{12}")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
_REGION = re.compile(r"[a-z0-9-]*")
# The unique ids of users (AIDA…) and roles (AROA…), which a trust policy shows in place of
# the ARN of a principal that was deleted.
_UNIQUE_ID = re.compile(r"A(?:IDA|ROA)[A-Z0-9]{8,}")
# The account field of the ARN of an AWS managed policy.
AWS_MANAGED_ACCOUNT = "aws"

ANYONE = "*"
SERVICE_PREFIX = "service:"
FEDERATED_PREFIX = "federated:"
GROUP_PREFIX = "group:"


@dataclass(frozen=True)
class Arn:
    """The six parts of an ARN; ``resource`` keeps its own ``:`` and ``/``."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    @property
    def resource_type(self) -> str:
        """``user``, ``role``, ``group``, ``policy``, ``assumed-role``, ``root``, … (IAM, STS)."""
        return self.resource.split("/", 1)[0]

    @property
    def name(self) -> str:
        """The last segment of the resource: a user, role, group or policy name."""
        return self.resource.rsplit("/", 1)[-1]

    @property
    def is_iam(self) -> bool:
        """An ARN of IAM or STS, the services whose ARNs name principals."""
        return self.service in ("iam", "sts")

    def __str__(self) -> str:
        return ":".join(
            ("arn", self.partition, self.service, self.region, self.account, self.resource)
        )


@lru_cache(maxsize=65536)
def parse_arn(text: str) -> Arn | None:
    """The parts of ``text``, or None when it is not an ARN.

    The account is empty (S3), 12 digits, or ``aws`` (AWS managed policies).
    """
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        return None
    _, partition, service, region, account, resource = parts
    if not (
        _PARTITION.fullmatch(partition)
        and _SERVICE.fullmatch(service)
        and _REGION.fullmatch(region)
    ):
        return None
    if account and account != AWS_MANAGED_ACCOUNT and not _ACCOUNT_ID.fullmatch(account):
        return None
    if not resource:
        return None
    return Arn(partition, service, region, account, resource)


def is_account_id(text: str) -> bool:
    """True for a 12-digit AWS account id."""
    return _ACCOUNT_ID.fullmatch(text) is not None


def is_unique_id(text: str) -> bool:
    """True for the unique id of an IAM user (AIDA…) or role (AROA…)."""
    return _UNIQUE_ID.fullmatch(text) is not None


def account_of(arn: str) -> str:
    """The 12-digit account of an IAM or STS ARN (a principal, a provider), else ``""``."""
    parsed = parse_arn(arn)
    if parsed is None or not parsed.is_iam or not is_account_id(parsed.account):
        return ""
    return parsed.account


def is_account_root(arn: str) -> bool:
    """True for ``arn:PARTITION:iam::ACCOUNT:root``, the ARN that names a whole account."""
    parsed = parse_arn(arn)
    return (
        parsed is not None
        and parsed.service == "iam"
        and parsed.resource == "root"
        and is_account_id(parsed.account)
    )


def root_arn(account_id: str, partition: str = "aws") -> str:
    """The ARN that names the whole account ``account_id``."""
    return f"arn:{partition}:iam::{account_id}:root"


def is_aws_managed_policy(arn: str) -> bool:
    """True for the ARN of a policy AWS manages (``arn:aws:iam::aws:policy/…``)."""
    parsed = parse_arn(arn)
    return parsed is not None and parsed.account == AWS_MANAGED_ACCOUNT


def federated_protocol(provider: str) -> str:
    """``SAML`` for an IAM SAML provider, ``OIDC`` for any other identity provider."""
    parsed = parse_arn(provider)
    if parsed is not None and parsed.resource_type == "saml-provider":
        return "SAML"
    return "OIDC"


class SourceKind(StrEnum):
    """What a principal value or an access edge source denotes."""

    USER = "user"
    ROLE = "role"
    ASSUMED_ROLE = "assumed-role"  # a role session: arn:aws:sts::ID:assumed-role/ROLE/SESSION
    GROUP = "group"  # an access group of the analysis (edge source ``group:KEY``)
    ACCOUNT = "account"  # a whole account: its root ARN or its bare 12-digit id
    EXTERNAL = "external"  # a user or role ARN of an account outside the synced set
    SERVICE = "service"
    FEDERATED = "federated"  # a SAML or OIDC provider (see federated_protocol)
    ANYONE = "anyone"
    CANONICAL_USER = "canonical-user"
    UNIQUE_ID = "unique-id"  # a deleted principal's unique id left in a trust policy
    OTHER = "other"


def classify_arn(arn: str) -> SourceKind:
    """USER, ROLE, ASSUMED_ROLE or ACCOUNT for an IAM/STS principal ARN, else OTHER."""
    parsed = parse_arn(arn)
    if parsed is None or not is_account_id(parsed.account):
        return SourceKind.OTHER
    if parsed.service == "iam":
        if parsed.resource == "root":
            return SourceKind.ACCOUNT
        if parsed.resource_type == "user" and "/" in parsed.resource:
            return SourceKind.USER
        if parsed.resource_type == "role" and "/" in parsed.resource:
            return SourceKind.ROLE
    if parsed.service == "sts" and parsed.resource_type == "assumed-role":
        return SourceKind.ASSUMED_ROLE
    return SourceKind.OTHER


def classify_principal(element: str, value: str) -> SourceKind:
    """What one value of a ``Principal`` element denotes.

    ``element`` is the key (``AWS``, ``Service``, ``Federated``, ``CanonicalUser``) or ``*``
    for the bare ``"Principal": "*"``. ``{"AWS": "*"}`` is anyone; a bare account id is the
    whole account, like its root ARN.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
    """
    if element == "*" or (element == "AWS" and value == ANYONE):
        return SourceKind.ANYONE
    if element == "Service":
        return SourceKind.SERVICE
    if element == "Federated":
        return SourceKind.FEDERATED
    if element == "CanonicalUser":
        return SourceKind.CANONICAL_USER
    if is_account_id(value):
        return SourceKind.ACCOUNT
    if is_unique_id(value):
        return SourceKind.UNIQUE_ID
    return classify_arn(value)


def classify_source(source: str) -> SourceKind:
    """What an access edge source denotes, from its text alone.

    IAM ARNs give USER, ROLE, ASSUMED_ROLE or ACCOUNT whether or not the estate holds them;
    use :func:`outside_kind` for a source known not to be a principal of the estate.
    """
    if source == ANYONE:
        return SourceKind.ANYONE
    if source.startswith(SERVICE_PREFIX):
        return SourceKind.SERVICE
    if source.startswith(FEDERATED_PREFIX):
        return SourceKind.FEDERATED
    if source.startswith(GROUP_PREFIX):
        return SourceKind.GROUP
    return classify_arn(source)


def outside_kind(source: str) -> SourceKind:
    """The kind of an edge source that is not a principal of the synced estate.

    ANYONE, SERVICE, FEDERATED, GROUP or ACCOUNT (an account root) as the text says; any
    other ARN is EXTERNAL.
    """
    kind = classify_source(source)
    if kind in (
        SourceKind.ANYONE,
        SourceKind.SERVICE,
        SourceKind.FEDERATED,
        SourceKind.GROUP,
        SourceKind.ACCOUNT,
    ):
        return kind
    return SourceKind.EXTERNAL


def source_value(source: str) -> str:
    """The service name, provider or group key of a prefixed edge source; else the source."""
    for prefix in (SERVICE_PREFIX, FEDERATED_PREFIX, GROUP_PREFIX):
        if source.startswith(prefix):
            return source.removeprefix(prefix)
    return source


def service_source(service: str) -> str:
    """The edge source of an AWS service principal such as ``ec2.amazonaws.com``."""
    return f"{SERVICE_PREFIX}{service}"


def federated_source(provider: str) -> str:
    """The edge source of a SAML/OIDC provider (its ARN or name)."""
    return f"{FEDERATED_PREFIX}{provider}"
