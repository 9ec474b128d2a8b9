"""identities.sync.runs against moto in this process: the organisation, one account, AWS
failures, an import failing half-way, idempotence and concurrent requests."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from django.db import connection

from identities.aws import CallCounter, build_config
from identities.bundle import validate_organization
from identities.collect import collect_member_account, collect_organization
from identities.ingest import apply
from identities.ingest.imports import import_organization
from identities.models import (
    Account,
    AccountSyncConfig,
    Change,
    IamRole,
    OrgNode,
    SyncRun,
    SyncSettings,
)
from identities.sync.finish import finish_organization_sync
from identities.sync.runs import (
    request_account_sync,
    request_organization_sync,
    run_account_sync,
    start_organization_sync,
)
from tests.awsfake import (
    MANAGEMENT_ID,
    REGION,
    TRUST_EC2,
    AuthorizationDetailsPager,
    FakeOrg,
    member_iam,
)
from tests.conftest import at_once, roles_of, users_of

pytestmark = pytest.mark.usefixtures("embedded")


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def refuse_assume_role(session: boto3.Session, account_id: str) -> None:
    def refuse(params: dict[str, Any], **kwargs: Any) -> None:
        if f"::{account_id}:" in params["RoleArn"]:
            raise client_error(
                "AccessDenied", "not authorized to perform sts:AssumeRole", "AssumeRole"
            )

    session.events.register("before-parameter-build.sts.AssumeRole", refuse)


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs: Any) -> Any:
        yield self._body


def throttling(request: Any, **kwargs: Any) -> AWSResponse:
    body = (
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code>"
        b"<Message>Rate exceeded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
    )
    return AWSResponse(request.url, 400, {"Content-Type": "text/xml"}, _Raw(body))


def account_run(account_id: str) -> SyncRun:
    return SyncRun.objects.filter(target_account_id=account_id).latest("pk")


def fail_after_principals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ingest raise inside its transaction once the users, groups and roles are written
    (the memberships come next)."""
    write_rows = apply._sync_rows

    def failing(model: Any, **kwargs: Any) -> Any:
        if kwargs["kind"] == "membership":
            raise RuntimeError("injected failure after principals")
        return write_rows(model, **kwargs)

    monkeypatch.setattr(apply, "_sync_rows", failing)


def run_organization(session: boto3.Session, **kwargs: Any) -> tuple[SyncRun, list[Any]]:
    """What the chord does, in this process: plan, every account, finish."""
    plan = start_organization_sync(session=session, **kwargs)
    assert plan is not None
    outcomes = [run_account_sync(run_id=child, session=session) for child in plan.child_run_ids]
    return finish_organization_sync(run_id=plan.run_id), outcomes


def test_sync_organization_discovers_and_imports_every_account(
    fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    run, outcomes = run_organization(aws_session)

    dev, prod = fake_org.accounts["dev"], fake_org.accounts["prod"]
    assert (run.status, run.error, run.warnings) == ("succeeded", "", [])
    assert sorted((o.account_id, o.status) for o in outcomes) == sorted(
        [(MANAGEMENT_ID, "succeeded"), (dev, "succeeded"), (prod, "succeeded")]
    )
    assert sorted(AccountSyncConfig.objects.values_list("account_id", "name", "discovered")) == (
        sorted([(MANAGEMENT_ID, "master", True), (dev, "dev", True), (prod, "prod", True)])
    )
    assert users_of(dev) == ["user-0", "user-1"]
    # moto, like AWS, creates OrganizationAccountAccessRole in each account it creates.
    assert roles_of(dev) == ["OrganizationAccountAccessRole", "role-0", "role-1"]
    assert users_of(MANAGEMENT_ID) == ["admin-0"]
    assert run.counts == {
        "users": 4,
        "groups": 0,
        "roles": 5,
        "policies": 0,
        "inline_policies": 0,
        "memberships": 0,
        "attachments": 0,
        "accounts": 3,
    }
    assert run.aws_calls == sum(child.aws_calls for child in run.children.all()) + 12
    assert Account.objects.get(account_id=dev).ou_path == "Root/Workloads"
    assert list(OrgNode.objects.values_list("path", flat=True)) == ["Root", "Root/Workloads"]
    assert sorted(run.children.values_list("target_account_id", flat=True)) == sorted(
        [MANAGEMENT_ID, dev, prod]
    )


def test_run_account_sync_records_calls_counts_and_the_account(
    fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    prod = fake_org.accounts["prod"]
    run, created = request_account_sync(prod)

    outcome = run_account_sync(run_id=run.pk, session=aws_session)

    run.refresh_from_db()
    assert (created, outcome.status, outcome.error) == (True, "succeeded", "")
    # caller identity + AssumeRole, then 7 calls in the account
    assert (run.status, run.aws_calls, run.aws_retries) == ("succeeded", 9, 0)
    assert run.account is not None
    assert run.started_at and run.heartbeat_at and run.finished_at
    assert (run.account.account_id, run.label, run.phase, run.error) == (
        prod,
        f"account {prod}",
        "",
        "",
    )
    assert (run.counts["users"], run.counts["roles"]) == (1, 2)
    assert run.started_at <= run.heartbeat_at <= run.finished_at
    assert run.bundle_bytes > 0
    assert users_of(prod) == ["user-0"]


def test_refused_assume_role_fails_that_account_only_and_keeps_its_data(
    fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    dev, prod = fake_org.accounts["dev"], fake_org.accounts["prod"]
    run_organization(aws_session)
    member_iam(aws_session, dev).create_user(UserName="new-in-dev")
    member_iam(aws_session, prod).create_user(UserName="new-in-prod")
    refuse_assume_role(aws_session, dev)

    run, outcomes = run_organization(aws_session)

    dev_run = account_run(dev)
    error = "AccessDenied (AssumeRole): not authorized to perform sts:AssumeRole"
    assert (dev_run.status, dev_run.error) == ("failed", error)
    assert sorted((o.account_id, o.status) for o in outcomes) == sorted(
        [(MANAGEMENT_ID, "succeeded"), (dev, "failed"), (prod, "succeeded")]
    )
    assert users_of(dev) == ["user-0", "user-1"]
    assert users_of(prod) == ["new-in-prod", "user-0"]
    last_run = Account.objects.get(account_id=dev).last_sync_run
    assert last_run is not None
    assert last_run.status == "succeeded"
    assert (run.status, run.error) == ("failed", f"1 of 3 accounts failed\n{dev}: {error}")


def test_failure_while_applying_an_account_leaves_nothing_partial(
    fake_org: FakeOrg, aws_session: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = fake_org.accounts["dev"]
    first, _ = request_account_sync(dev)
    run_account_sync(run_id=first.pk, session=aws_session)
    iam = member_iam(aws_session, dev)
    iam.create_user(UserName="carol")
    iam.delete_role(RoleName="role-1")
    before = (users_of(dev), roles_of(dev))
    fail_after_principals(monkeypatch)
    run, _ = request_account_sync(dev)

    outcome = run_account_sync(run_id=run.pk, session=aws_session)

    run.refresh_from_db()
    assert (outcome.status, run.status) == ("failed", "failed")
    assert run.error == "import failed: RuntimeError: injected failure after principals"
    assert (users_of(dev), roles_of(dev)) == before
    assert Change.objects.filter(sync_run=run).count() == 0
    assert Account.objects.get(account_id=dev).last_sync_run_id == first.pk


def test_throttled_call_is_retried_and_counted(aws_session: boto3.Session, db: None) -> None:
    throttled: list[str] = []

    def throttle_once(request: Any, **kwargs: Any) -> AWSResponse | None:
        if throttled:
            return None
        throttled.append(request.url)
        return throttling(request)

    aws_session.events.register_first("before-send.iam.ListAccountAliases", throttle_once)
    run, _ = request_account_sync(MANAGEMENT_ID)

    outcome = run_account_sync(run_id=run.pk, session=aws_session)

    run.refresh_from_db()
    assert (outcome.status, len(throttled)) == ("succeeded", 1)
    assert (run.status, run.aws_calls, run.aws_retries) == ("succeeded", 8, 1)


def test_throttling_past_the_retries_fails_the_account(
    aws_session: boto3.Session, db: None
) -> None:
    aws_session.events.register_first("before-send.iam.GetAccountAuthorizationDetails", throttling)
    run, _ = request_account_sync(MANAGEMENT_ID)

    outcome = run_account_sync(
        run_id=run.pk, session=aws_session, config=build_config(max_attempts=1)
    )

    run.refresh_from_db()
    assert (outcome.status, run.status) == ("failed", "failed")
    assert run.error == "Throttling (GetAccountAuthorizationDetails): Rate exceeded"
    # max_attempts=1 is botocore's count of retries: 2 attempts of the throttled call
    assert (run.aws_calls, run.aws_retries) == (3, 1)
    assert Account.objects.count() == 0


def test_malformed_response_fails_the_account_with_the_json_path(
    aws_session: boto3.Session, db: None
) -> None:
    aws_session.client("iam").create_role(
        RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST_EC2)
    )

    def drop_role_id(parsed: dict[str, Any], **kwargs: Any) -> None:
        parsed["RoleDetailList"][0].pop("RoleId")

    aws_session.events.register("after-call.iam.GetAccountAuthorizationDetails", drop_role_id)
    run, _ = request_account_sync(MANAGEMENT_ID)

    run_account_sync(run_id=run.pk, session=aws_session)

    run.refresh_from_db()
    assert run.error == (
        f"malformed response: AWS account {MANAGEMENT_ID}: "
        "$.accounts[0].authorization_details.RoleDetailList[0].RoleId: missing"
    )
    assert IamRole.objects.count() == 0


def test_expired_credentials_are_recorded_on_the_run(aws_session: boto3.Session, db: None) -> None:
    def expired(**kwargs: Any) -> None:
        raise client_error("ExpiredToken", "The security token included has expired", "X")

    aws_session.events.register("before-parameter-build.sts.GetCallerIdentity", expired)
    run, _ = request_account_sync(MANAGEMENT_ID)

    outcome = run_account_sync(run_id=run.pk, session=aws_session)

    assert outcome.error == "ExpiredToken (X): The security token included has expired"
    assert SyncRun.objects.get(pk=run.pk).status == "failed"


@pytest.mark.parametrize(("roles", "calls"), [(100, 8), (250, 10)])
def test_aws_calls_grow_with_pages_not_roles(
    aws_session: boto3.Session, db: None, roles: int, calls: int
) -> None:
    iam = aws_session.client("iam")
    for number in range(roles):
        iam.create_role(RoleName=f"role-{number}", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    AuthorizationDetailsPager(boto3.Session(region_name=REGION).client("iam")).attach(aws_session)
    run, _ = request_account_sync(MANAGEMENT_ID)

    run_account_sync(run_id=run.pk, session=aws_session)

    run.refresh_from_db()
    # 2 caller identities + 5 IAM calls + one per page of 100 authorization details
    assert (run.status, run.aws_calls, run.counts["roles"]) == ("succeeded", calls, roles)


def test_sync_json_bundle_is_archived_with_the_run(
    fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    run, _ = request_account_sync(fake_org.accounts["prod"])
    run_account_sync(run_id=run.pk, session=aws_session)

    archived = SyncRun.objects.get(pk=run.pk).bundle_gzip

    assert archived is not None
    bundle = json.loads(gzip.decompress(archived))

    assert [entry["id"] for entry in bundle["accounts"]] == [fake_org.accounts["prod"]]
    assert bundle["format"] == "iamviz-bundle/1"


def test_a_finished_run_is_skipped_when_its_task_runs_again(
    fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    run, _ = request_account_sync(fake_org.accounts["prod"])
    run_account_sync(run_id=run.pk, session=aws_session)

    again = run_account_sync(run_id=run.pk, session=aws_session)

    assert (again.status, again.error) == ("skipped", "already succeeded")
    assert SyncRun.objects.filter(source="aws").count() == 1


def test_two_requests_for_one_account_make_one_run(db: None) -> None:
    first, first_created = request_account_sync("111111111111")

    second, second_created = request_account_sync("111111111111")

    assert (first_created, second_created, second.pk) == (True, False, first.pk)
    assert SyncRun.objects.count() == 1


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises writers and may time out under load; run with PostgreSQL "
    "(DATABASE_URL) to test concurrent requests",
)
def test_simultaneous_requests_make_one_run(transactional_db: None) -> None:
    def click(number: int) -> tuple[int, bool]:
        run, created = request_account_sync("111111111111", reap=False)
        return run.pk, created

    results = at_once(4, click)

    run_ids = {run_id for run_id, _ in results}
    assert (len(results), len(run_ids), sum(created for _, created in results)) == (4, 1, 1)
    assert SyncRun.objects.count() == 1


def test_second_organization_sync_does_not_start_while_one_runs(db: None) -> None:
    running, _ = request_organization_sync()

    plan = start_organization_sync(discover=False)

    assert plan is None
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [running.pk]


def test_organization_sync_without_accounts_fails_with_a_reason(db: None) -> None:
    SyncSettings.objects.create(discover_accounts=False)

    plan = start_organization_sync()
    assert plan is not None
    run = finish_organization_sync(run_id=plan.run_id)

    assert (plan.child_run_ids, run.status) == ([], "failed")
    assert run.error == "no accounts to sync: configure accounts or enable discovery"


def test_import_organization_alone_is_idempotent(db: None) -> None:
    organization = {
        "id": "o-abc123",
        "management_account_id": "111111111111",
        "roots": [{"Id": "r-ab12", "Name": "Root"}],
        "organizational_units": [{"Id": "ou-ab12-1", "Name": "Workloads", "ParentId": "r-ab12"}],
        "accounts": [
            {"Id": "111111111111", "Name": "management", "ParentId": "r-ab12"},
            {"Id": "222222222222", "Name": "dev", "ParentId": "ou-ab12-1"},
        ],
        "policies": [
            {
                "Id": "p-1",
                "Name": "DenyLeave",
                "Type": "SERVICE_CONTROL_POLICY",
                "Content": '{"Version": "2012-10-17", "Statement": []}',
                "Targets": ["ou-ab12-1"],
            }
        ],
    }
    validate_organization(organization)
    first_run, _ = request_organization_sync()
    second_run = SyncRun.objects.create(source="import")

    first = import_organization(organization, sync_run=first_run)
    second = import_organization(organization, sync_run=second_run)

    assert (first.total(), second.total()) == (5, 0)
    assert list(Account.objects.values_list("account_id", "name", "ou_path", "is_management")) == [
        ("222222222222", "dev", "Root/Workloads", False),
        ("111111111111", "management", "Root", True),
    ]


def _policy_actions(name: str) -> set[str]:
    document = json.loads((Path(__file__).parents[2] / "docs" / "aws" / name).read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_shipped_policies_list_exactly_the_calls_the_collector_makes(
    fake_org: FakeOrg, aws_session: boto3.Session
) -> None:
    management = CallCounter().attach(aws_session)
    collect_organization(aws_session)
    collect_member_account(
        aws_session, account_id=MANAGEMENT_ID, role_name_or_arn="x", external_id=None, region=REGION
    )
    member = CallCounter()
    collect_member_account(
        aws_session,
        account_id=fake_org.accounts["dev"],
        role_name_or_arn="iamviz-readonly",
        external_id=None,
        region=REGION,
        counter=member,
    )

    def actions(counter: CallCounter, service: str) -> set[str]:
        # GetCallerIdentity needs no permission: https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
        return {
            operation.replace(".", ":")
            for operation in counter.calls_by_operation
            if operation.startswith(service) and operation != "sts.GetCallerIdentity"
        }

    assert actions(member, "iam.") == _policy_actions("iamviz-readonly-policy.json")
    assert actions(management, "organizations.") | actions(management, "iam.") | actions(
        member, "sts."
    ) == _policy_actions("iamviz-management-policy.json")
    assert _policy_actions("iamviz-readonly-trust-policy.json") == {"sts:AssumeRole"}
