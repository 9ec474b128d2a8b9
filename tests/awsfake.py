"""A fake AWS for the sync tests and benchmarks: moto (in-process or moto_server on 127.0.0.1),
fake credentials, a small organisation, AWS-like paging that moto lacks, and the Celery worker
process that syncs from moto_server. The pytest fixtures over these are in tests/conftest.py."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse
from botocore.handlers import json_decode_policies

from identities.aws import assume_account_session
from tests.bundles import TRUST_EC2

REPO_ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
MANAGEMENT_ID = "123456789012"  # moto's account for the fake credentials
SETUP_ROLE = "OrganizationAccountAccessRole"
# The organisation of the sync tests: the management account (one user) and two members.
FAKE_ORG_MEMBERS: dict[str, dict[str, int]] = {
    "dev": {"users": 2, "roles": 2},
    "prod": {"users": 1, "roles": 1},
}
# What the worker and moto_server must (not) see from this machine's own AWS set-up.
CLEARED_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_IAM",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_ORGANIZATIONS",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def fake_credentials(tmp_dir: Path) -> dict[str, str]:
    """Environment for boto3 with fake credentials and no config file from the machine."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_dir / "aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_dir / "aws-credentials"),
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server(*, timeout: float = 20.0) -> Iterator[str]:
    """moto_server on a free 127.0.0.1 port; yields its URL and stops it afterwards."""
    binary = Path(sys.executable).parent / "moto_server"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={key: value for key, value in os.environ.items() if key not in CLEARED_VARIABLES},
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        stop_process(process, timeout=10)


def start_celery_worker(
    options: list[str], *, env: dict[str, str], log: Path, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """`celery -A iamviz worker` with `options` in the repository, its output in `log`; returns
    once it is ready, or raises RuntimeError with the log."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "iamviz", "worker", *options]
        + ["--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while "ready." not in log.read_text():
        if process.poll() is not None:
            raise RuntimeError(f"celery worker exited early:\n{log.read_text()}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"celery worker did not become ready:\n{log.read_text()}")
        time.sleep(0.2)
    return process


def stop_process(process: subprocess.Popen[bytes], *, timeout: float) -> None:
    """SIGTERM, then SIGKILL after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


@dataclass
class FakeOrg:
    """The organisation built in moto: account ids by name, the root and OU ids."""

    accounts: dict[str, str] = field(default_factory=dict)
    root_id: str = ""
    ou_id: str = ""

    @property
    def member_ids(self) -> list[str]:
        return [account_id for name, account_id in self.accounts.items() if name != "management"]


def build_org(
    session: boto3.Session,
    members: dict[str, dict[str, int]],
    *,
    management_users: int = 1,
) -> FakeOrg:
    """An organisation with the management account and `members` ({name: {"users": n,
    "roles": n}}), members in an OU "Workloads", IAM entities made through the setup role."""
    org = session.client("organizations")
    org.create_organization(FeatureSet="ALL")
    fake = FakeOrg(root_id=org.list_roots()["Roots"][0]["Id"])
    fake.accounts["management"] = MANAGEMENT_ID
    fake.ou_id = org.create_organizational_unit(ParentId=fake.root_id, Name="Workloads")[
        "OrganizationalUnit"
    ]["Id"]
    iam = session.client("iam")
    for number in range(management_users):
        iam.create_user(UserName=f"admin-{number}")
    for name, spec in members.items():
        account_id = org.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        org.move_account(
            AccountId=account_id, SourceParentId=fake.root_id, DestinationParentId=fake.ou_id
        )
        fake.accounts[name] = account_id
        populate_account(
            session, account_id, users=spec.get("users", 0), roles=spec.get("roles", 0)
        )
    return fake


def member_iam(session: boto3.Session, account_id: str) -> Any:
    """An IAM client in a member account through the role Organizations created there."""
    if account_id == MANAGEMENT_ID:
        return session.client("iam")
    member = assume_account_session(
        session, account_id=account_id, role_name_or_arn=SETUP_ROLE, region=REGION
    )
    return member.client("iam")


def populate_account(session: boto3.Session, account_id: str, *, users: int, roles: int) -> None:
    iam = member_iam(session, account_id)
    for number in range(users):
        iam.create_user(UserName=f"user-{number}")
    for number in range(roles):
        iam.create_role(RoleName=f"role-{number}", AssumeRolePolicyDocument=json.dumps(TRUST_EC2))


class AuthorizationDetailsPager:
    """Answer GetAccountAuthorizationDetails in pages of `page_size` items, as AWS does (moto
    answers everything in one page whatever MaxItems says).

    Registered on a session's `before-call` event it answers in the Stubber's place: the first
    call fetches moto's complete answer through `source` (an IAM client of another session, so
    that it is not counted), then each call returns one page with `IsTruncated`/`Marker`. The
    CallCounter of the session still counts every page.
    """

    LISTS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")

    def __init__(self, source: Any, page_size: int = 100) -> None:
        # The pages are answered before botocore's own decoding of the policy documents, so
        # they must stay URL-encoded strings as AWS sends them.
        source.meta.events.unregister("after-call.iam", json_decode_policies)
        self.source = source
        self.page_size = page_size
        self.pages: list[dict[str, Any]] = []

    def attach(self, session: boto3.Session) -> AuthorizationDetailsPager:
        # Last on the generic name: handlers of more specific names, or registered before,
        # would not see a call we answer; the CallCounter must.
        session.events.register_last("before-call.*.*", self._answer)
        session.events.register(
            "before-parameter-build.iam.GetAccountAuthorizationDetails", self._remember
        )
        return self

    @staticmethod
    def _remember(params: dict[str, Any], context: dict[str, Any], **kwargs: Any) -> None:
        # before-call sees the serialised request; the API parameters are seen here.
        context["iamviz_pager_params"] = dict(params)

    def _answer(self, model: Any, context: dict[str, Any], **kwargs: Any) -> Any:
        if model.name != "GetAccountAuthorizationDetails":
            return None
        params = context.get("iamviz_pager_params", {})
        marker = params.get("Marker")
        if marker is None:
            self.pages = self._split(params.get("Filter", []))
        index = int(marker or 0)
        page: dict[str, Any] = dict(self.pages[index])
        if index + 1 < len(self.pages):
            page.update(IsTruncated=True, Marker=str(index + 1))
        else:
            page["IsTruncated"] = False
        return AWSResponse("https://iam.amazonaws.com/", 200, {}, None), page

    def _split(self, filters: list[str]) -> list[dict[str, Any]]:
        full = self.source.get_account_authorization_details(Filter=filters)
        items = [(key, item) for key in self.LISTS for item in full.get(key, [])]
        count = max(1, math.ceil(len(items) / self.page_size))
        pages: list[dict[str, Any]] = []
        for number in range(count):
            page: dict[str, Any] = {key: [] for key in self.LISTS}
            for key, item in items[number * self.page_size : (number + 1) * self.page_size]:
                page[key].append(item)
            pages.append(page)
        return pages
