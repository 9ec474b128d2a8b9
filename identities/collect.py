"""AWS -> bundle: the only reader of IAM and Organizations APIs.

Everything here returns plain dicts in AWS's own shapes (all pages merged, `ResponseMetadata`,
`IsTruncated`/`Marker`/`NextToken` dropped, timestamps as ISO 8601 strings like the AWS CLI
prints them) so that the bundle is JSON. The format is docs/bundle-format.md. No Django here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from identities.aws import CallCounter, assume_account_session, build_client
from identities.bundle_checks import AUTHZ_LISTS, ORG_POLICY_TYPES

logger = logging.getLogger(__name__)

AUTHORIZATION_DETAILS_FILTER = ["User", "Role", "Group", "LocalManagedPolicy", "AWSManagedPolicy"]
# While AWS builds the report, GetCredentialReport answers with one of these codes.
_REPORT_NOT_READY = {"ReportInProgress", "ReportNotPresent"}
_REPORT_EXPIRED = "ReportExpired"


class CollectError(Exception):
    """A response that cannot be used (wrong account, malformed data)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- one account -----------------------------------------------------------------------------


def collect_account(
    session: boto3.Session,
    *,
    account_id: str,
    name: str | None = None,
    config: Config | None = None,
    report_timeout: float = 120.0,
    report_first_delay: float = 1.0,
) -> dict[str, Any]:
    """One `accounts[]` entry of a bundle, read with `session` (which must be in `account_id`).

    Raises `CollectError("AccountMismatch")` if the session's caller identity is another account,
    and botocore's errors for calls that fail. A credential report that cannot be had is left out
    and explained in the entry's `warnings`. The IAM calls are those the AWS CLI makes:
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccountAuthorizationDetails.html
    """
    caller_account = build_client(session, "sts", config=config).get_caller_identity()["Account"]
    if caller_account != account_id:
        raise CollectError(
            "AccountMismatch",
            f"the session is in account {caller_account}, not {account_id}",
        )
    iam = build_client(session, "iam", config=config)
    warnings: list[str] = []

    authorization_details = get_authorization_details(iam)
    aliases = list(_paginate(iam, "list_account_aliases", "AccountAliases"))
    saml_providers = list(_paginate(iam, "list_saml_providers", "SAMLProviderList"))
    oidc_providers = list(
        _paginate(iam, "list_open_id_connect_providers", "OpenIDConnectProviderList")
    )
    credential_report, report_warning = get_credential_report(
        iam, timeout=report_timeout, first_delay=report_first_delay
    )
    if report_warning:
        warnings.append(report_warning)
        logger.warning("Account %s: %s", account_id, report_warning)

    entry: dict[str, Any] = {
        "id": account_id,
        "name": name or account_id,
        "alias": aliases[0] if aliases else None,
        "authorization_details": authorization_details,
        "saml_providers": saml_providers,
        "oidc_providers": oidc_providers,
        "warnings": warnings,
    }
    if credential_report is not None:
        entry["credential_report"] = credential_report
    jsonable: dict[str, Any] = _jsonable(entry)
    return jsonable


def get_authorization_details(iam: Any) -> dict[str, list[dict[str, Any]]]:
    """`GetAccountAuthorizationDetails` with every page merged into its four lists.

    Moto omits `PolicyName`/`PolicyId` from `Policies`; real AWS always sends them. A missing
    name is filled from the ARN (`arn:aws:iam::<acct>:policy/<path><name>`); a missing id stays
    missing because nothing else carries it.
    """
    merged: dict[str, list[dict[str, Any]]] = {key: [] for key in AUTHZ_LISTS}
    paginator = iam.get_paginator("get_account_authorization_details")
    for page in paginator.paginate(Filter=AUTHORIZATION_DETAILS_FILTER):
        for key in AUTHZ_LISTS:
            merged[key].extend(page.get(key, []))
    for policy in merged["Policies"]:
        if not policy.get("PolicyName"):
            arn = policy.get("Arn")
            if not isinstance(arn, str) or ":policy/" not in arn:
                raise CollectError("MalformedResponse", f"managed policy without a name: {arn!r}")
            policy["PolicyName"] = arn.rsplit("/", 1)[-1]
    return merged


def get_credential_report(
    iam: Any, *, timeout: float = 120.0, first_delay: float = 1.0, max_delay: float = 16.0
) -> tuple[str | None, str | None]:
    """The credential report as CSV text, or (None, why) when it cannot be had in `timeout` s.

    Generation is asynchronous: GenerateCredentialReport starts it, GetCredentialReport answers
    ReportInProgress / ReportNotPresent until it is ready, so we poll with exponential backoff.
    A report older than four hours is ReportExpired; we ask for a new one once.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_getting-report.html
    """
    try:
        iam.generate_credential_report()
    except ClientError as error:
        return None, f"credential report not generated: {_error_code(error)}: {_message(error)}"

    deadline = time.monotonic() + timeout
    delay = first_delay
    regenerated = False
    while True:
        try:
            response = iam.get_credential_report()
        except ClientError as error:
            code = _error_code(error)
            if code == _REPORT_EXPIRED and not regenerated:
                regenerated = True
                try:
                    iam.generate_credential_report()
                except ClientError as again:
                    return None, (
                        f"credential report expired and not regenerated: "
                        f"{_error_code(again)}: {_message(again)}"
                    )
                continue
            if code not in _REPORT_NOT_READY:
                return None, f"credential report not available: {code}: {_message(error)}"
            if time.monotonic() + delay > deadline:
                return None, f"credential report not ready after {timeout:g} s ({code})"
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
            continue
        content = response.get("Content")
        # botocore already base64-decodes blob fields to bytes.
        if isinstance(content, bytes | bytearray):
            return content.decode("utf-8"), None
        if isinstance(content, str):
            return content, None
        return None, "credential report had no content"


# --- the organisation ------------------------------------------------------------------------


def collect_organization(session: boto3.Session, *, config: Config | None = None) -> dict[str, Any]:
    """The bundle's `organization` section, read from the management (or delegated) account.

    Roots, then OUs breadth first with their `ParentId`, the accounts of every parent, and SCPs
    and RCPs with their `Content` and the ids of their targets. A policy type that cannot be
    listed (not enabled, not supported) leaves a line in `warnings` instead of failing.
    https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html
    """
    org = build_client(session, "organizations", config=config)
    organization = org.describe_organization()["Organization"]
    roots = list(_paginate(org, "list_roots", "Roots"))

    units: list[dict[str, Any]] = []
    accounts: list[dict[str, Any]] = []
    parents = [root["Id"] for root in roots]
    while parents:
        parent_id = parents.pop(0)
        for account in _paginate(org, "list_accounts_for_parent", "Accounts", ParentId=parent_id):
            accounts.append({**account, "ParentId": parent_id})
        for unit in _paginate(
            org, "list_organizational_units_for_parent", "OrganizationalUnits", ParentId=parent_id
        ):
            units.append({**unit, "ParentId": parent_id})
            parents.append(unit["Id"])

    policies: list[dict[str, Any]] = []
    warnings: list[str] = []
    for policy_type in ORG_POLICY_TYPES:
        try:
            summaries = list(_paginate(org, "list_policies", "Policies", Filter=policy_type))
        except ClientError as error:
            warning = f"{policy_type} not listed: {_error_code(error)}: {_message(error)}"
            warnings.append(warning)
            logger.warning("Organization %s: %s", organization["Id"], warning)
            continue
        for summary in summaries:
            detail = org.describe_policy(PolicyId=summary["Id"])["Policy"]
            targets = _paginate(org, "list_targets_for_policy", "Targets", PolicyId=summary["Id"])
            policies.append(
                {
                    **detail["PolicySummary"],
                    "Content": detail["Content"],
                    "Targets": [target["TargetId"] for target in targets],
                }
            )

    jsonable: dict[str, Any] = _jsonable(
        {
            "id": organization["Id"],
            "management_account_id": organization["MasterAccountId"],
            "feature_set": organization.get("FeatureSet"),
            "roots": roots,
            "organizational_units": units,
            "accounts": accounts,
            "policies": policies,
            "warnings": warnings,
        }
    )
    return jsonable


# --- the estate ------------------------------------------------------------------------------


def collect_member_account(
    base_session: boto3.Session,
    *,
    account_id: str,
    role_name_or_arn: str,
    external_id: str | None,
    region: str,
    name: str | None = None,
    config: Config | None = None,
    counter: CallCounter | None = None,
) -> dict[str, Any]:
    """One account's bundle entry, assuming `role_name_or_arn` in it (the Celery entry point).

    The account `base_session` itself is in is read with `base_session`: a role cannot usually
    be assumed into the caller's own account without trusting it, and need not be.
    """
    if counter is not None:
        counter.attach(base_session)
    try:
        caller_sts = build_client(base_session, "sts", region_name=region, config=config)
        if caller_sts.get_caller_identity()["Account"] == account_id:
            session = base_session
        else:
            session = assume_account_session(
                base_session,
                account_id=account_id,
                role_name_or_arn=role_name_or_arn,
                external_id=external_id,
                region=region,
                config=config,
                counter=counter,
            )
        return collect_account(session, account_id=account_id, name=name, config=config)
    finally:
        if counter is not None:
            # The base session outlives this account: later accounts must not count here.
            counter.detach(base_session)


# --- helpers ---------------------------------------------------------------------------------


def _paginate(client: Any, operation: str, result_key: str, **params: Any) -> Iterable[Any]:
    """Every item of `result_key` over all pages (one call if the operation has no pages)."""
    if client.can_paginate(operation):
        for page in client.get_paginator(operation).paginate(**params):
            yield from page.get(result_key, [])
    else:
        yield from getattr(client, operation)(**params).get(result_key, [])


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code") or "ClientError")
    if isinstance(error, CollectError):
        return error.code
    return type(error).__name__


def _message(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message") or error)
    return str(error)


def _jsonable(value: Any) -> Any:
    """Timestamps to ISO 8601 strings (as the AWS CLI prints them), recursively."""
    if isinstance(value, dict):
        return {key: _jsonable(item) for key, item in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
