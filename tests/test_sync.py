"""identities.sync against moto in-process: accounts, the organisation, failures, locks, the
reaper, the schedule, and the `sync` command. Tasks are called directly (eagerly)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from moto import mock_aws

from identities import sync, tasks
from identities.aws import build_config, management_session
from identities.models import (
    Account,
    AccountSyncConfig,
    Change,
    IamRole,
    IamUser,
    OrgNode,
    SyncRun,
    SyncSettings,
)
from tests.awsfake import (
    CLEARED_VARIABLES,
    MANAGEMENT_ID,
    REGION,
    TRUST_EC2,
    AuthorizationDetailsPager,
    FakeOrg,
    build_org,
    fake_credentials,
    member_iam,
)

MEMBERS = {"dev": {"users": 2, "roles": 3}, "prod": {"users": 1, "roles": 1}}


@pytest.fixture(autouse=True)
def _embedded(settings: Any) -> None:
    """No Redis: the embedded default (the Redis lock is tested with a real worker)."""
    settings.REDIS_URL = ""


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    for name in CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_credentials(tmp_path).items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


@pytest.fixture
def session(aws: None) -> boto3.Session:
    return management_session(region_name=REGION)


@pytest.fixture
def org(session: boto3.Session, db: None) -> FakeOrg:
    return build_org(session, MEMBERS)


def run_organization(session: boto3.Session, **kwargs: Any) -> tuple[SyncRun, list[Any]]:
    """What the chord does, in this process: plan, every account, finish."""
    plan = sync.start_organization_sync(session=session, **kwargs)
    assert plan is not None
    outcomes = [
        sync.run_account_sync(run_id=child, session=session) for child in plan.child_run_ids
    ]
    return sync.finish_organization_sync(run_id=plan.run_id), outcomes


def users_of(account_id: str) -> list[str]:
    return list(
        IamUser.objects.filter(account__account_id=account_id)
        .order_by("name")
        .values_list("name", flat=True)
    )


def roles_of(account_id: str) -> list[str]:
    return list(
        IamRole.objects.filter(account__account_id=account_id)
        .order_by("name")
        .values_list("name", flat=True)
    )


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


# --- the organisation ------------------------------------------------------------------------


def test_sync_organization_discovers_and_imports_every_account(
    org: FakeOrg, session: boto3.Session
) -> None:
    run, outcomes = run_organization(session)

    dev, prod = org.accounts["dev"], org.accounts["prod"]
    assert (run.status, run.error, run.warnings) == ("succeeded", "", [])
    assert sorted((o.account_id, o.status) for o in outcomes) == sorted(
        [(MANAGEMENT_ID, "succeeded"), (dev, "succeeded"), (prod, "succeeded")]
    )
    assert sorted(AccountSyncConfig.objects.values_list("account_id", "name", "discovered")) == (
        sorted([(MANAGEMENT_ID, "master", True), (dev, "dev", True), (prod, "prod", True)])
    )
    assert users_of(dev) == ["user-0", "user-1"]
    # moto, like AWS, creates OrganizationAccountAccessRole in each account it creates.
    assert roles_of(dev) == ["OrganizationAccountAccessRole", "role-0", "role-1", "role-2"]
    assert users_of(MANAGEMENT_ID) == ["admin-0"]
    assert run.counts == {
        "users": 4,
        "groups": 0,
        "roles": 6,
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
    org: FakeOrg, session: boto3.Session
) -> None:
    prod = org.accounts["prod"]
    run, created = sync.request_account_sync(prod)

    outcome = sync.run_account_sync(run_id=run.pk, session=session)

    run.refresh_from_db()
    assert (created, outcome.status, outcome.error) == (True, "succeeded", "")
    # caller identity + AssumeRole, then 7 calls in the account
    assert (run.status, run.aws_calls, run.aws_retries) == ("succeeded", 9, 0)
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
    org: FakeOrg, session: boto3.Session
) -> None:
    dev, prod = org.accounts["dev"], org.accounts["prod"]
    run_organization(session)
    member_iam(session, dev).create_user(UserName="new-in-dev")
    member_iam(session, prod).create_user(UserName="new-in-prod")
    refuse_assume_role(session, dev)

    run, outcomes = run_organization(session)

    dev_run = account_run(dev)
    error = "AccessDenied (AssumeRole): not authorized to perform sts:AssumeRole"
    assert (dev_run.status, dev_run.error) == ("failed", error)
    assert sorted((o.account_id, o.status) for o in outcomes) == sorted(
        [(MANAGEMENT_ID, "succeeded"), (dev, "failed"), (prod, "succeeded")]
    )
    assert users_of(dev) == ["user-0", "user-1"]
    assert users_of(prod) == ["new-in-prod", "user-0"]
    assert Account.objects.get(account_id=dev).last_sync_run.status == "succeeded"
    assert (run.status, run.error) == ("failed", f"1 of 3 accounts failed\n{dev}: {error}")


def test_failure_while_applying_an_account_leaves_nothing_partial(
    org: FakeOrg, session: boto3.Session
) -> None:
    dev = org.accounts["dev"]
    first, _ = sync.request_account_sync(dev)
    sync.run_account_sync(run_id=first.pk, session=session)
    iam = member_iam(session, dev)
    iam.create_user(UserName="carol")
    iam.delete_role(RoleName="role-2")
    before = (users_of(dev), roles_of(dev))
    run, _ = sync.request_account_sync(dev)

    outcome = sync.run_account_sync(run_id=run.pk, session=session, fail_after="principals")

    run.refresh_from_db()
    assert (outcome.status, run.status) == ("failed", "failed")
    assert run.error == "import failed: RuntimeError: injected failure after principals"
    assert (users_of(dev), roles_of(dev)) == before
    assert Change.objects.filter(sync_run=run).count() == 0
    assert Account.objects.get(account_id=dev).last_sync_run_id == first.pk


def test_throttled_call_is_retried_and_counted(session: boto3.Session, db: None) -> None:
    throttled: list[str] = []

    def throttle_once(request: Any, **kwargs: Any) -> AWSResponse | None:
        if throttled:
            return None
        throttled.append(request.url)
        return throttling(request)

    session.events.register_first("before-send.iam.ListAccountAliases", throttle_once)
    run, _ = sync.request_account_sync(MANAGEMENT_ID)

    outcome = sync.run_account_sync(run_id=run.pk, session=session)

    run.refresh_from_db()
    assert (outcome.status, len(throttled)) == ("succeeded", 1)
    assert (run.status, run.aws_calls, run.aws_retries) == ("succeeded", 8, 1)


def test_throttling_past_the_retries_fails_the_account(session: boto3.Session, db: None) -> None:
    session.events.register_first("before-send.iam.GetAccountAuthorizationDetails", throttling)
    run, _ = sync.request_account_sync(MANAGEMENT_ID)

    outcome = sync.run_account_sync(
        run_id=run.pk, session=session, config=build_config(max_attempts=1)
    )

    run.refresh_from_db()
    assert (outcome.status, run.status) == ("failed", "failed")
    assert run.error == "Throttling (GetAccountAuthorizationDetails): Rate exceeded"
    # max_attempts=1 is botocore's count of retries: 2 attempts of the throttled call
    assert (run.aws_calls, run.aws_retries) == (3, 1)
    assert Account.objects.count() == 0


def test_malformed_response_fails_the_account_with_the_json_path(
    session: boto3.Session, db: None
) -> None:
    session.client("iam").create_role(
        RoleName="app", AssumeRolePolicyDocument=json.dumps(TRUST_EC2)
    )

    def drop_role_id(parsed: dict[str, Any], **kwargs: Any) -> None:
        parsed["RoleDetailList"][0].pop("RoleId")

    session.events.register("after-call.iam.GetAccountAuthorizationDetails", drop_role_id)
    run, _ = sync.request_account_sync(MANAGEMENT_ID)

    sync.run_account_sync(run_id=run.pk, session=session)

    run.refresh_from_db()
    assert run.error == (
        f"malformed response: AWS account {MANAGEMENT_ID}: "
        "$.accounts[0].authorization_details.RoleDetailList[0].RoleId: missing"
    )
    assert IamRole.objects.count() == 0


def test_expired_credentials_are_recorded_on_the_run(session: boto3.Session, db: None) -> None:
    def expired(**kwargs: Any) -> None:
        raise client_error("ExpiredToken", "The security token included has expired", "X")

    session.events.register("before-parameter-build.sts.GetCallerIdentity", expired)
    run, _ = sync.request_account_sync(MANAGEMENT_ID)

    outcome = sync.run_account_sync(run_id=run.pk, session=session)

    assert outcome.error == "ExpiredToken (X): The security token included has expired"
    assert SyncRun.objects.get(pk=run.pk).status == "failed"


@pytest.mark.parametrize(("roles", "calls"), [(100, 8), (250, 10)])
def test_aws_calls_grow_with_pages_not_roles(
    session: boto3.Session, db: None, roles: int, calls: int
) -> None:
    iam = session.client("iam")
    for number in range(roles):
        iam.create_role(RoleName=f"role-{number}", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))
    AuthorizationDetailsPager(boto3.Session(region_name=REGION).client("iam")).attach(session)
    run, _ = sync.request_account_sync(MANAGEMENT_ID)

    sync.run_account_sync(run_id=run.pk, session=session)

    run.refresh_from_db()
    # 2 caller identities + 5 IAM calls + one per page of 100 authorization details
    assert (run.status, run.aws_calls, run.counts["roles"]) == ("succeeded", calls, roles)


# --- idempotence and concurrency ------------------------------------------------------------


def test_a_finished_run_is_skipped_when_its_task_runs_again(
    org: FakeOrg, session: boto3.Session
) -> None:
    run, _ = sync.request_account_sync(org.accounts["prod"])
    sync.run_account_sync(run_id=run.pk, session=session)

    again = sync.run_account_sync(run_id=run.pk, session=session)

    assert (again.status, again.error) == ("skipped", "already succeeded")
    assert SyncRun.objects.filter(source="aws").count() == 1


def test_two_requests_for_one_account_make_one_run(db: None) -> None:
    first, first_created = sync.request_account_sync("111111111111")

    second, second_created = sync.request_account_sync("111111111111")

    assert (first_created, second_created, second.pk) == (True, False, first.pk)
    assert SyncRun.objects.count() == 1


@pytest.mark.skipif(
    connection.vendor == "sqlite",
    reason="SQLite serialises writers and may time out under load; run with PostgreSQL "
    "(DATABASE_URL) to test concurrent requests",
)
def test_simultaneous_requests_make_one_run(transactional_db: None) -> None:
    barrier = threading.Barrier(4)
    results: list[tuple[int, bool]] = []

    def click() -> None:
        try:
            barrier.wait()
            run, created = sync.request_account_sync("111111111111", reap=False)
            results.append((run.pk, created))
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    run_ids = {run_id for run_id, _ in results}
    assert (len(results), len(run_ids), sum(created for _, created in results)) == (4, 1, 1)
    assert SyncRun.objects.count() == 1


def test_second_organization_sync_does_not_start_while_one_runs(db: None) -> None:
    running, _ = sync.request_organization_sync()

    plan = sync.start_organization_sync(discover=False)

    assert plan is None
    assert list(SyncRun.objects.values_list("pk", flat=True)) == [running.pk]


# --- the reaper ------------------------------------------------------------------------------


def test_reaper_fails_running_runs_without_heartbeat(db: None) -> None:
    now = timezone.now()
    dead, _ = sync.request_account_sync("111111111111")
    alive, _ = sync.request_account_sync("222222222222")
    SyncRun.objects.filter(pk=dead.pk).update(
        status="running",
        started_at=now - timedelta(minutes=30),
        heartbeat_at=now - timedelta(minutes=11),
        phase="importing",
    )
    SyncRun.objects.filter(pk=alive.pk).update(
        status="running", started_at=now - timedelta(minutes=30), heartbeat_at=now
    )

    reaped = sync.reap_stale_runs(now=now, stale=timedelta(minutes=10))

    dead.refresh_from_db()
    seen = timezone.localtime(now - timedelta(minutes=11)).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert reaped == [dead.pk]
    assert (dead.status, dead.finished_at) == ("failed", now)
    assert dead.error == (
        f"no heartbeat from its worker since {seen} (over 10 min) while importing: the worker "
        "stopped or was killed. Marked failed by the reaper; the previous data is unchanged."
    )
    assert SyncRun.objects.get(pk=alive.pk).status == "running"


def test_reaper_fails_old_pending_runs_only_when_nothing_progresses(db: None) -> None:
    now = timezone.now()
    queued, _ = sync.request_account_sync("111111111111")
    busy, _ = sync.request_account_sync("222222222222")
    SyncRun.objects.filter(pk=queued.pk).update(heartbeat_at=now - timedelta(minutes=20))
    SyncRun.objects.filter(pk=busy.pk).update(status="running", heartbeat_at=now)

    while_busy = sync.reap_stale_runs(now=now, stale=timedelta(minutes=10))
    SyncRun.objects.filter(pk=busy.pk).update(status="succeeded")
    when_idle = sync.reap_stale_runs(now=now, stale=timedelta(minutes=10))

    queued.refresh_from_db()
    assert (while_busy, when_idle) == ([], [queued.pk])
    assert queued.status == "failed"
    assert queued.error.endswith(
        "not started by a worker within 10 min while no other sync made progress: "
        "is a Celery worker running?"
    )


def test_reaper_task_fails_a_run_whose_worker_died(db: None) -> None:
    run, _ = sync.request_account_sync("111111111111")
    SyncRun.objects.filter(pk=run.pk).update(
        status="running", heartbeat_at="2020-01-01T00:00:00Z", phase="importing"
    )

    reaped = tasks.reap_stale_syncs.apply().get()

    run.refresh_from_db()
    assert (reaped, run.status) == ([run.pk], "failed")
    assert "Marked failed by the reaper" in run.error


def test_a_reaped_account_can_be_requested_again(db: None) -> None:
    now = timezone.now()
    old, _ = sync.request_account_sync("111111111111")
    SyncRun.objects.filter(pk=old.pk).update(
        status="running", heartbeat_at=now - timedelta(hours=1)
    )

    new, created = sync.request_account_sync("111111111111")

    assert (created, new.pk != old.pk) == (True, True)
    assert SyncRun.objects.get(pk=old.pk).status == "failed"


# --- configuration ---------------------------------------------------------------------------


def test_resolve_target_prefers_the_account_role_and_fills_the_account_id(db: None) -> None:
    SyncSettings.objects.create(role_name="iamviz-readonly", external_id="org-wide")
    AccountSyncConfig.objects.create(
        account_id="111111111111",
        name="dev",
        role_name_or_arn="arn:aws:iam::{account_id}:role/audit/iamviz",
    )
    AccountSyncConfig.objects.create(account_id="222222222222", external_id="prod-only")

    dev = sync.resolve_target("111111111111")
    prod = sync.resolve_target("222222222222")

    assert dev == sync.AccountTarget(
        "111111111111", "dev", "arn:aws:iam::111111111111:role/audit/iamviz", "org-wide"
    )
    assert prod == sync.AccountTarget("222222222222", "", "iamviz-readonly", "prod-only")


def test_discovery_disables_accounts_that_left_and_keeps_hand_listed_ones(db: None) -> None:
    AccountSyncConfig.objects.create(account_id="111111111111", discovered=True)
    AccountSyncConfig.objects.create(account_id="222222222222", name="by hand")
    organization = {
        "accounts": [
            {"Id": "333333333333", "Name": "new", "Status": "ACTIVE"},
            {"Id": "444444444444", "Name": "closing", "Status": "SUSPENDED"},
        ]
    }

    active = sync.update_discovered_accounts(organization)

    assert active == ["333333333333"]
    assert list(
        AccountSyncConfig.objects.values_list("account_id", "name", "enabled", "discovered")
    ) == [
        ("111111111111", "", False, True),
        ("222222222222", "by hand", True, False),
        ("333333333333", "new", True, True),
    ]


def test_organization_sync_without_accounts_fails_with_a_reason(db: None) -> None:
    SyncSettings.objects.create(discover_accounts=False)

    plan = sync.start_organization_sync()
    run = sync.finish_organization_sync(run_id=plan.run_id)

    assert (plan.child_run_ids, run.status) == ([], "failed")
    assert run.error == "no accounts to sync: configure accounts or enable discovery"


# --- schedule --------------------------------------------------------------------------------


def test_periodic_tasks_are_installed_once(db: None) -> None:
    sync.ensure_periodic_tasks()
    sync.ensure_periodic_tasks()

    schedule = sync.get_nightly_schedule()

    assert sorted(PeriodicTask.objects.values_list("name", "task")) == [
        (sync.REAPER_TASK_NAME, "identities.reap_stale_syncs"),
        (sync.NIGHTLY_TASK_NAME, "identities.sync_organization"),
    ]
    assert (schedule.cron, schedule.timezone, schedule.enabled) == ("0 2 * * *", "UTC", True)
    assert (schedule.next_run_at.hour, schedule.next_run_at.minute) == (2, 0)


def test_staff_schedule_change_and_pause_are_kept(db: None) -> None:
    sync.update_nightly_schedule(cron="30 3 * * 1-5", timezone_name="Europe/Paris", enabled=False)
    sync.ensure_periodic_tasks()

    schedule = sync.get_nightly_schedule()

    task = PeriodicTask.objects.get(name=sync.NIGHTLY_TASK_NAME)
    assert (schedule.cron, schedule.timezone, schedule.enabled) == (
        "30 3 * * 1-5",
        "Europe/Paris",
        False,
    )
    assert (schedule.next_run_at, task.enabled, str(task.crontab.timezone)) == (
        None,
        False,
        "Europe/Paris",
    )


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 2 * *", "UTC", "A cron expression has five fields"),
        ("61 2 * * *", "UTC", "61"),
        ("0 2 * * *", "Mars/Olympus", "Unknown time zone 'Mars/Olympus'."),
    ],
)
def test_bad_schedules_are_refused(db: None, cron: str, zone: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("*", r"\*")):
        sync.update_nightly_schedule(cron=cron, timezone_name=zone, enabled=True)

    assert sync.get_nightly_schedule().cron == "0 2 * * *"


# --- tasks (eager) and the command ----------------------------------------------------------


def test_sync_organization_task_runs_the_chord_in_process(org: FakeOrg) -> None:
    result = tasks.sync_organization.delay()

    run = SyncRun.objects.get(pk=result.get()["run_id"])
    assert (run.status, run.target_account_id, run.children.count()) == ("succeeded", "", 3)
    assert sorted(run.children.values_list("status", flat=True)) == ["succeeded"] * 3
    assert users_of(org.accounts["dev"]) == ["user-0", "user-1"]


def test_queue_account_sync_runs_one_account(org: FakeOrg) -> None:
    run, _ = sync.request_account_sync(org.accounts["prod"])

    tasks.queue_account_sync(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.parent_id, users_of(org.accounts["prod"])) == (
        "succeeded",
        None,
        ["user-0"],
    )


def test_sync_command_discovers_and_syncs_the_organization(org: FakeOrg) -> None:
    out = StringIO()

    call_command(
        "sync", "--organization", "--role-name", "iamviz-audit", "--no-progress", stdout=out
    )

    lines = out.getvalue().splitlines()
    assert lines[0] == "Saved in the sync settings: role_name"
    assert lines[-1] == "3 accounts synced."
    assert sum(line.startswith("ok    ") for line in lines) == 3
    assert SyncSettings.objects.get().role_name == "iamviz-audit"
    assert users_of(org.accounts["prod"]) == ["user-0"]


def test_sync_command_exits_non_zero_when_an_account_fails(org: FakeOrg) -> None:
    AccountSyncConfig.objects.create(account_id=org.accounts["dev"], external_id="x")
    out = StringIO()

    with pytest.raises(CommandError, match=f"1 of 1 accounts failed: {org.accounts['dev']}"):
        call_command("sync", "--account", org.accounts["dev"], "--no-progress", stdout=out)

    assert "ParamValidationError" in out.getvalue()
    assert users_of(org.accounts["dev"]) == []


def test_sync_command_without_accounts_explains_how_to_discover(db: None) -> None:
    SyncSettings.objects.create(discover_accounts=False)

    with pytest.raises(CommandError, match="--organization --role-name NAME"):
        call_command("sync", "--no-progress")


def test_sync_json_bundle_is_archived_with_the_run(org: FakeOrg, session: boto3.Session) -> None:
    import gzip

    run, _ = sync.request_account_sync(org.accounts["prod"])
    sync.run_account_sync(run_id=run.pk, session=session)

    bundle = json.loads(gzip.decompress(SyncRun.objects.get(pk=run.pk).bundle_gzip))

    assert [entry["id"] for entry in bundle["accounts"]] == [org.accounts["prod"]]
    assert bundle["format"] == "iamviz-bundle/1"


# --- the IAM policies shipped for customers ----------------------------------------------------


def _policy_actions(name: str) -> set[str]:
    document = json.loads((Path(__file__).parents[1] / "docs" / "aws" / name).read_text())
    actions: set[str] = set()
    for statement in document["Statement"]:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_shipped_policies_list_exactly_the_calls_the_collector_makes(
    org: FakeOrg, session: boto3.Session
) -> None:
    from identities.aws import CallCounter
    from identities.collect import collect_member_account, collect_organization

    management = CallCounter().attach(session)
    collect_organization(session)
    collect_member_account(
        session, account_id=MANAGEMENT_ID, role_name_or_arn="x", external_id=None, region=REGION
    )
    member = CallCounter()
    collect_member_account(
        session,
        account_id=org.accounts["dev"],
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


def test_import_organization_alone_is_idempotent(db: None) -> None:
    from identities.bundle import validate_organization
    from identities.ingest import import_organization

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
    first_run, _ = sync.request_organization_sync()
    second_run = SyncRun.objects.create(source="import")

    first = import_organization(organization, sync_run=first_run)
    second = import_organization(organization, sync_run=second_run)

    assert (first.total(), second.total()) == (5, 0)
    assert list(Account.objects.values_list("account_id", "name", "ou_path", "is_management")) == [
        ("222222222222", "dev", "Root/Workloads", False),
        ("111111111111", "management", "Root", True),
    ]
