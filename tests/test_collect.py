"""identities.collect and identities.aws against moto (in-process and moto_server) and botocore's
Stubber for what moto cannot show (several pages, a report still being generated)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from iamviz.log_redaction import REDACTED, RedactSecrets, logging_config
from identities.aws import (
    CallCounter,
    assume_account_session,
    build_client,
    build_config,
    management_session,
    role_arn_for,
)
from identities.bundle import make_bundle
from identities.collect import (
    AUTHORIZATION_DETAILS_FILTER,
    CollectError,
    collect_account,
    collect_member_account,
    collect_organization,
    get_authorization_details,
    get_credential_report,
)
from identities.sample.vocabulary import CREDENTIAL_REPORT_HEADER
from tests.awsfake import MANAGEMENT_ID, REGION, SETUP_ROLE, TRUST_EC2
from tests.awsfake import moto_server as run_moto_server

SCP_DOCUMENT = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "organizations:LeaveOrganization", "Resource": "*"}],
}
ALLOW_S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


@dataclass(frozen=True)
class Estate:
    dev_id: str
    prod_id: str
    root_id: str
    ou_id: str
    scp_id: str


@pytest.fixture
def estate(fake_aws: None) -> Estate:
    return build_estate(management_session(region_name=REGION))


def build_estate(session: boto3.Session) -> Estate:
    """Management account + dev (in OU Workloads) + prod (under the root), with an SCP on the
    OU and on prod, and IAM entities created in each account through an assumed role."""
    org = session.client("organizations")
    org.create_organization(FeatureSet="ALL")
    root_id = org.list_roots()["Roots"][0]["Id"]
    dev_id = org.create_account(AccountName="dev", Email="dev@example.com")["CreateAccountStatus"][
        "AccountId"
    ]
    prod_id = org.create_account(AccountName="prod", Email="prod@example.com")[
        "CreateAccountStatus"
    ]["AccountId"]
    ou_id = org.create_organizational_unit(ParentId=root_id, Name="Workloads")[
        "OrganizationalUnit"
    ]["Id"]
    org.move_account(AccountId=dev_id, SourceParentId=root_id, DestinationParentId=ou_id)
    scp_id = org.create_policy(
        Content=json.dumps(SCP_DOCUMENT),
        Description="no leaving",
        Name="DenyLeaveOrg",
        Type="SERVICE_CONTROL_POLICY",
    )["Policy"]["PolicySummary"]["Id"]
    org.attach_policy(PolicyId=scp_id, TargetId=ou_id)
    org.attach_policy(PolicyId=scp_id, TargetId=prod_id)

    session.client("iam").create_user(UserName="admin")

    dev_iam = _member_iam(session, dev_id)
    for user in ["alice", "bob"]:
        dev_iam.create_user(UserName=user)
    dev_iam.create_group(GroupName="developers")
    dev_iam.add_user_to_group(GroupName="developers", UserName="alice")
    for role in ["deployer", "reader", "ci/builder"]:
        path, _, name = role.rpartition("/")
        dev_iam.create_role(
            RoleName=name,
            Path=f"/{path}/" if path else "/",
            AssumeRolePolicyDocument=json.dumps(TRUST_EC2),
        )
    policy_arn = dev_iam.create_policy(PolicyName="Deploy", PolicyDocument=json.dumps(ALLOW_S3))[
        "Policy"
    ]["Arn"]
    dev_iam.attach_role_policy(RoleName="deployer", PolicyArn=policy_arn)

    prod_iam = _member_iam(session, prod_id)
    prod_iam.create_user(UserName="ci")
    prod_iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    return Estate(dev_id=dev_id, prod_id=prod_id, root_id=root_id, ou_id=ou_id, scp_id=scp_id)


def _member_iam(session: boto3.Session, account_id: str) -> Any:
    member = assume_account_session(
        session, account_id=account_id, role_name_or_arn=SETUP_ROLE, region=REGION
    )
    return member.client("iam")


def _counts(entry: dict[str, Any]) -> dict[str, int]:
    details = entry["authorization_details"]
    return {key: len(details[key]) for key in details}


def _counts_by_account(bundle: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {entry["id"]: _counts(entry) for entry in bundle["accounts"]}


def _client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def _expected_counts(estate: Estate) -> dict[str, dict[str, int]]:
    # moto, like AWS, creates OrganizationAccountAccessRole in every account it creates.
    return {
        MANAGEMENT_ID: {
            "UserDetailList": 1,
            "GroupDetailList": 0,
            "RoleDetailList": 0,
            "Policies": 0,
        },
        estate.prod_id: {
            "UserDetailList": 1,
            "GroupDetailList": 0,
            "RoleDetailList": 2,
            "Policies": 0,
        },
        estate.dev_id: {
            "UserDetailList": 2,
            "GroupDetailList": 1,
            "RoleDetailList": 4,
            "Policies": 1,
        },
    }


class _Raw:
    """The `raw` of an AWSResponse: botocore reads the body through `stream()`."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


def _throttling_response(url: str) -> AWSResponse:
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
    )
    return AWSResponse(url, 400, {"Content-Type": "text/xml"}, _Raw(body))


# --- aws.py ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("IamViz", "arn:aws:iam::222222222222:role/IamViz"),
        ("audit/IamViz", "arn:aws:iam::222222222222:role/audit/IamViz"),
        ("arn:aws:iam::333333333333:role/Other", "arn:aws:iam::333333333333:role/Other"),
    ],
)
def test_role_arn_for_places_names_in_the_account(role: str, expected: str) -> None:
    assert role_arn_for("222222222222", role) == expected


def test_build_config_retries_timeouts_and_user_agent() -> None:
    config = build_config(retry_mode="adaptive", read_timeout=30)

    assert (config.retries, config.connect_timeout, config.read_timeout) == (
        {"mode": "adaptive", "max_attempts": 8},
        10.0,
        30,
    )
    assert config.user_agent_extra == "iamviz"


def test_build_client_honours_service_endpoint_from_environment(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_IAM", "http://127.0.0.1:2")
    session = management_session(region_name=REGION)

    endpoints = [build_client(session, name).meta.endpoint_url for name in ["iam", "sts"]]

    assert endpoints == ["http://127.0.0.1:2", "http://127.0.0.1:1"]


def test_management_session_sts_uses_the_regional_endpoint(aws_env: None) -> None:
    session = management_session(region_name="eu-west-1")

    endpoint = build_client(session, "sts").meta.endpoint_url

    assert endpoint == "https://sts.eu-west-1.amazonaws.com"


# --- authorization details and credential report ---------------------------------------------


def parsed_entry(kind: str, name: str, unique_id: str, **extra: Any) -> dict[str, Any]:
    """A user or role entry of GetAccountAuthorizationDetails as botocore parses it."""
    return {
        f"{kind}Name": name,
        f"{kind}Id": unique_id,
        "Arn": f"arn:aws:iam::111111111111:{kind.lower()}/{name}",
        "Path": "/",
        "CreateDate": datetime(2024, 1, 2, tzinfo=UTC),
        **extra,
    }


def test_get_authorization_details_merges_all_pages(aws_env: None) -> None:
    session = management_session(region_name=REGION)
    counter = CallCounter().attach(session)
    iam = build_client(session, "iam")
    user = parsed_entry("User", "u1", "AIDAEXAMPLEUSER000001")
    role = parsed_entry("Role", "r1", "AROAEXAMPLEROLE000001", AssumeRolePolicyDocument="%7B%7D")
    policy = {
        "PolicyName": "p1",
        "PolicyId": "ANPAEXAMPLEPOLICY0001",
        "Arn": "arn:aws:iam::111111111111:policy/p1",
    }
    nameless = {"Arn": "arn:aws:iam::111111111111:policy/team/p2"}
    pages = [
        ({"UserDetailList": [user], "IsTruncated": True, "Marker": "m1"}, {}),
        (
            {"RoleDetailList": [role], "Policies": [policy], "IsTruncated": True, "Marker": "m2"},
            {"Marker": "m1"},
        ),
        (
            {
                "UserDetailList": [{**user, "UserName": "u2"}],
                "Policies": [nameless],
                "IsTruncated": False,
            },
            {"Marker": "m2"},
        ),
    ]
    with Stubber(iam) as stubber:
        for response, marker in pages:
            expected = {"Filter": AUTHORIZATION_DETAILS_FILTER, **marker}
            stubber.add_response("get_account_authorization_details", response, expected)

        details = get_authorization_details(iam)

        stubber.assert_no_pending_responses()
    assert details == {
        "UserDetailList": [user, {**user, "UserName": "u2"}],
        "GroupDetailList": [],
        "RoleDetailList": [role],
        "Policies": [policy, {**nameless, "PolicyName": "p2"}],
    }
    assert (counter.calls, counter.attempts) == (3, 0)


def test_get_credential_report_polls_until_ready(aws_env: None) -> None:
    session = management_session(region_name=REGION)
    counter = CallCounter().attach(session)
    iam = build_client(session, "iam")
    csv = "user,arn\n<root_account>,arn:aws:iam::111111111111:root\n"
    with Stubber(iam) as stubber:
        stubber.add_response("generate_credential_report", {"State": "STARTED"})
        stubber.add_client_error("get_credential_report", "ReportInProgress", http_status_code=404)
        stubber.add_client_error("get_credential_report", "ReportNotPresent", http_status_code=410)
        stubber.add_response(
            "get_credential_report", {"Content": csv.encode(), "ReportFormat": "text/csv"}
        )

        report = get_credential_report(iam, first_delay=0.01)

        stubber.assert_no_pending_responses()
    assert report == (csv, None)
    assert counter.calls == 4


def test_get_credential_report_gives_up_after_timeout(aws_env: None) -> None:
    iam = build_client(management_session(region_name=REGION), "iam")
    with Stubber(iam) as stubber:
        stubber.add_response("generate_credential_report", {"State": "INPROGRESS"})
        stubber.add_client_error("get_credential_report", "ReportInProgress", http_status_code=404)

        report = get_credential_report(iam, timeout=0, first_delay=0.01)

    assert report == (None, "credential report not ready after 0 s (ReportInProgress)")


def test_collect_account_reads_moto_account(fake_aws: None) -> None:
    session = management_session(region_name=REGION)
    iam = session.client("iam")
    iam.create_user(UserName="alice")
    iam.create_account_alias(AccountAlias="acme-mgmt")
    iam.create_open_id_connect_provider(
        Url="https://token.actions.githubusercontent.com",
        ClientIDList=["sts.amazonaws.com"],
        ThumbprintList=["a" * 40],
    )

    entry = collect_account(session, account_id=MANAGEMENT_ID, name="management")

    report_lines = entry["credential_report"].splitlines()
    assert report_lines[0] == CREDENTIAL_REPORT_HEADER
    assert [line.split(",")[0] for line in report_lines[1:]] == ["alice"]
    assert (entry["id"], entry["name"], entry["alias"], entry["warnings"]) == (
        MANAGEMENT_ID,
        "management",
        "acme-mgmt",
        [],
    )
    assert entry["oidc_providers"] == [
        {"Arn": f"arn:aws:iam::{MANAGEMENT_ID}:oidc-provider/token.actions.githubusercontent.com"}
    ]
    assert entry["saml_providers"] == []
    assert [user["UserName"] for user in entry["authorization_details"]["UserDetailList"]] == [
        "alice"
    ]
    assert json.loads(json.dumps(entry)) == entry


def test_collect_account_without_report_records_warning(fake_aws: None) -> None:
    session = management_session(region_name=REGION)

    def deny(**kwargs: Any) -> None:
        raise _client_error("AccessDenied", "not allowed", "GenerateCredentialReport")

    session.events.register("before-parameter-build.iam.GenerateCredentialReport", deny)

    entry = collect_account(session, account_id=MANAGEMENT_ID)

    assert "credential_report" not in entry
    assert entry["warnings"] == ["credential report not generated: AccessDenied: not allowed"]


def test_collect_account_rejects_session_of_another_account(fake_aws: None) -> None:
    session = management_session(region_name=REGION)

    with pytest.raises(
        CollectError, match="the session is in account 123456789012, not 222222222222"
    ):
        collect_account(session, account_id="222222222222")


# --- organisation and estate ----------------------------------------------------------------


def test_collect_organization_reads_the_tree_and_its_policies(estate: Estate) -> None:
    session = management_session(region_name=REGION)

    organization = collect_organization(session)

    assert (organization["management_account_id"], organization["roots"][0]["Id"]) == (
        MANAGEMENT_ID,
        estate.root_id,
    )
    assert [
        (ou["Id"], ou["Name"], ou["ParentId"]) for ou in organization["organizational_units"]
    ] == [(estate.ou_id, "Workloads", estate.root_id)]
    assert sorted((a["Id"], a["ParentId"]) for a in organization["accounts"]) == sorted(
        [
            (MANAGEMENT_ID, estate.root_id),
            (estate.prod_id, estate.root_id),
            (estate.dev_id, estate.ou_id),
        ]
    )
    scp = next(p for p in organization["policies"] if p["Id"] == estate.scp_id)
    assert (scp["Name"], scp["Type"], json.loads(scp["Content"])) == (
        "DenyLeaveOrg",
        "SERVICE_CONTROL_POLICY",
        SCP_DOCUMENT,
    )
    assert sorted(scp["Targets"]) == sorted([estate.ou_id, estate.prod_id])
    assert sorted((p["Name"], p["Type"]) for p in organization["policies"]) == [
        ("DenyLeaveOrg", "SERVICE_CONTROL_POLICY"),
        ("FullAWSAccess", "SERVICE_CONTROL_POLICY"),
        ("RCPFullAWSAccess", "RESOURCE_CONTROL_POLICY"),
    ]
    assert organization["warnings"] == []
    assert json.loads(json.dumps(organization)) == organization


def test_collect_member_account_refused_assume_role_raises(estate: Estate) -> None:
    session = management_session(region_name=REGION)

    def refuse(params: dict[str, Any], **kwargs: Any) -> None:
        raise _client_error(
            "AccessDenied", "not authorized to perform sts:AssumeRole", "AssumeRole"
        )

    session.events.register("before-parameter-build.sts.AssumeRole", refuse)

    with pytest.raises(ClientError, match="not authorized to perform sts:AssumeRole"):
        collect_member_account(
            session,
            account_id=estate.dev_id,
            role_name_or_arn="IamViz",
            external_id=None,
            region=REGION,
        )


def test_collect_member_account_throttled_past_retries_raises(estate: Estate) -> None:
    session = management_session(region_name=REGION)
    session.events.register_first(
        "before-send.iam.GetAccountAuthorizationDetails",
        lambda request, **kwargs: _throttling_response(request.url),
    )

    with pytest.raises(ClientError, match="Rate exceeded"):
        collect_member_account(
            session,
            account_id=MANAGEMENT_ID,
            role_name_or_arn="IamViz",
            external_id=None,
            region=REGION,
            config=build_config(max_attempts=2),
        )


def test_collect_member_account_reads_its_own_account_without_assuming(estate: Estate) -> None:
    session = management_session(region_name=REGION)
    counter = CallCounter()

    entry = collect_member_account(
        session,
        account_id=MANAGEMENT_ID,
        role_name_or_arn="IamViz",
        external_id=None,
        region=REGION,
        counter=counter,
    )

    assert _counts(entry) == _expected_counts(estate)[MANAGEMENT_ID]
    # caller identity, then 7 calls in the account: no AssumeRole
    assert counter.as_dict() == {"calls": 8, "attempts": 8, "retries": 0}


def test_collect_member_account_assumes_the_role(estate: Estate) -> None:
    session = management_session(region_name=REGION)
    counter = CallCounter()

    entry = collect_member_account(
        session,
        account_id=estate.prod_id,
        role_name_or_arn="IamViz",
        external_id="ext-1",
        region=REGION,
        counter=counter,
    )

    assert _counts(entry) == _expected_counts(estate)[estate.prod_id]
    # caller identity + AssumeRole, then 7 calls in the account
    assert counter.as_dict() == {"calls": 9, "attempts": 9, "retries": 0}


# --- retries and the call counter ------------------------------------------------------------


def test_call_counter_counts_a_throttled_call_once_and_its_retry(fake_aws: None) -> None:
    session = management_session(region_name=REGION)
    counter = CallCounter().attach(session)
    throttled: list[str] = []

    def throttle_once(request: Any, **kwargs: Any) -> AWSResponse | None:
        if throttled:
            return None
        throttled.append(request.url)
        return _throttling_response(request.url)

    session.events.register_first("before-send.iam.ListAccountAliases", throttle_once)

    entry = collect_account(session, account_id=MANAGEMENT_ID)

    assert (entry["alias"], len(throttled)) == (None, 1)
    assert counter.as_dict() == {"calls": 7, "attempts": 8, "retries": 1}


@pytest.mark.parametrize("role_count", [100, 1000])
def test_call_counter_grows_with_pages_not_roles(fake_aws: None, role_count: int) -> None:
    session = management_session(region_name=REGION)
    iam = session.client("iam")
    for number in range(role_count):
        iam.create_role(RoleName=f"role-{number}", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    counter = CallCounter().attach(session)

    entry = collect_account(session, account_id=MANAGEMENT_ID)

    assert len(entry["authorization_details"]["RoleDetailList"]) == role_count
    assert counter.as_dict() == {"calls": 7, "attempts": 7, "retries": 0}
    assert dict(counter.calls_by_operation) == {
        "sts.GetCallerIdentity": 1,
        "iam.GetAccountAuthorizationDetails": 1,
        "iam.ListAccountAliases": 1,
        "iam.ListSAMLProviders": 1,
        "iam.ListOpenIDConnectProviders": 1,
        "iam.GenerateCredentialReport": 1,
        "iam.GetCredentialReport": 1,
    }


# --- moto_server end to end -----------------------------------------------------------------


@pytest.fixture
def moto_server(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    if not (Path(sys.executable).parent / "moto_server").exists():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("REQUIRED: moto_server is not installed (moto[server])")
        pytest.skip("moto_server is not installed")  # not configured: a laptop without dev extras
    with run_moto_server(timeout=15) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url


def test_collect_against_moto_server(moto_server: str) -> None:
    session = management_session(region_name=REGION)
    estate = build_estate(session)
    org_counter = CallCounter().attach(session)
    organization = collect_organization(session)
    org_counter.detach(session)
    counter = CallCounter()

    entries = [
        collect_member_account(
            session,
            account_id=account["Id"],
            role_name_or_arn="IamViz",
            external_id=None,
            region=REGION,
            counter=counter,
        )
        for account in organization["accounts"]
    ]

    assert _counts_by_account(make_bundle(entries)) == _expected_counts(estate)
    assert sorted(policy["Name"] for policy in organization["policies"]) == [
        "DenyLeaveOrg",
        "FullAWSAccess",
        "RCPFullAWSAccess",
    ]
    # 14 Organizations calls (1 describe, 1 roots, 2 per parent, 2 policy lists, 2 per
    # policy); per account 1 caller identity, 1 AssumeRole (not into the caller's own) and 7
    assert org_counter.as_dict() == {"calls": 14, "attempts": 14, "retries": 0}
    assert counter.as_dict() == {"calls": 26, "attempts": 26, "retries": 0}


# --- no secrets in logs (issue 14 item 5) ----------------------------------------------------


@pytest.fixture(params=["capped", "filter alone"])
def debug_log(request: pytest.FixtureRequest) -> Any:
    """The project's LOGGING at LOG_LEVEL=DEBUG for one test, its console handler writing to a
    buffer the test reads; then the configured LOGGING again. "filter alone" lets botocore
    write at DEBUG too, so the redacting filter is tested on its own."""
    from django.conf import settings

    config = logging_config("DEBUG")
    if request.param == "filter alone":
        config["loggers"] = {name: {"level": "NOTSET"} for name in config["loggers"]}
    logging.config.dictConfig(config)
    buffer = io.StringIO()
    consoles = [
        handler
        for handler in logging.getLogger().handlers
        if type(handler) is logging.StreamHandler
    ]
    assert consoles and all(handler.filters for handler in consoles)
    for handler in consoles:
        handler.setStream(buffer)
    yield buffer
    logging.config.dictConfig(settings.LOGGING)


def test_collect_member_account_at_debug_logs_no_secret(
    estate: Estate, debug_log: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    sessions: list[boto3.Session] = []

    def recording(*args: Any, **kwargs: Any) -> boto3.Session:
        session = assume_account_session(*args, **kwargs)
        sessions.append(session)
        return session

    monkeypatch.setattr("identities.collect.assume_account_session", recording)
    logging.getLogger("identities").debug("start of the sync")

    collect_member_account(
        management_session(region_name=REGION),
        account_id=estate.prod_id,
        role_name_or_arn="IamViz",
        external_id="ext-Zq9-secret-external",
        region=REGION,
        counter=CallCounter(),
    )

    output = debug_log.getvalue()
    credentials = sessions[0].get_credentials().get_frozen_credentials()
    assert "start of the sync" in output and "Assumed arn:aws:iam::" in output
    assert credentials.secret_key and credentials.secret_key not in output
    assert credentials.token and credentials.token not in output
    assert "ext-Zq9-secret-external" not in output


@pytest.mark.parametrize(
    ("message", "args"),
    [
        ("Response body:\n%s", (b"<SecretAccessKey>wJalrXUtnFEMI</SecretAccessKey>",)),
        ("params %s", ({"ExternalId": "wJalrXUtnFEMI", "RoleArn": "arn:aws:iam::1:role/x"},)),
        ("body Action=AssumeRole&ExternalId=wJalrXUtnFEMI&RoleSessionName=x", ()),
        ("headers {'X-Amz-Security-Token': b'wJalrXUtnFEMI'}", ()),
        ('json {"SessionToken": "wJalrXUtnFEMI", "Expiration": 1}', ()),
    ],
)
def test_redact_secrets_filter_blanks_every_shape(message: str, args: tuple[Any, ...]) -> None:
    record = logging.LogRecord("botocore", logging.DEBUG, __file__, 1, message, args, None)

    assert RedactSecrets().filter(record) is True

    assert "wJalrXUtnFEMI" not in record.getMessage()
    assert REDACTED in record.getMessage()


def test_logging_config_caps_aws_libraries_even_at_debug() -> None:
    loggers = logging_config("DEBUG")["loggers"]
    assert {name: loggers[name]["level"] for name in ("botocore", "urllib3", "s3transfer")} == {
        "botocore": "WARNING",
        "urllib3": "WARNING",
        "s3transfer": "WARNING",
    }
    assert logging_config("ERROR")["loggers"]["botocore"]["level"] == "ERROR"


def test_celery_workers_keep_the_redacting_logging() -> None:
    from django.conf import settings

    assert settings.CELERY_WORKER_HIJACK_ROOT_LOGGER is False
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact_secrets"]
