"""Shared fixtures: the sample organisation, the real-shaped AWS files, a logged-in client,
and the rule for service-backed tests (fail in CI, skip with a reason on a laptop)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import pytest

if TYPE_CHECKING:
    import subprocess

    import boto3
    from django.contrib.auth.models import User
    from django.test import Client

    from identities.models import SyncRun
    from tests.awsfake import FakeOrg

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from
# inside one unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

T = TypeVar("T")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_AWS_DATA = REPO_ROOT.parent / "shared" / "data" / "aws"
TEST_DATA = Path(__file__).resolve().parent / "data"


def services_required() -> bool:
    """In CI (or when asked) a missing service is a failure, never a skip."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get(
        "IAMVIZ_REQUIRE_SERVICES", ""
    ).lower() in {"1", "true", "yes"}


def require_service(name: str, url: str | None, scheme: str = "") -> str:
    """Return the service URL if it answers (and starts with ``scheme``, when given); otherwise
    fail (CI) or skip with the reason."""
    if not url:
        reason = f"{name} is not configured (set its URL to run this test)"
    elif scheme and not url.startswith(scheme):
        reason = f"{name} is needed, but the URL names another service: {url.split(':', 1)[0]}"
    else:
        parsed = urlparse(url)
        try:
            with socket.create_connection(
                (parsed.hostname or "127.0.0.1", parsed.port or 0), timeout=2
            ):
                return url
        except OSError as exc:
            reason = f"{name} at {parsed.hostname}:{parsed.port} is unreachable ({exc})"
    if services_required():
        pytest.fail(f"REQUIRED service missing: {reason}")
    pytest.skip(reason)  # on a laptop only: not configured or unreachable (CI fails above)


def users_of(account_id: str) -> list[str]:
    """The user names stored for an account, sorted."""
    from identities.models import IamUser

    users = IamUser.objects.filter(account__account_id=account_id).order_by("name")
    return list(users.values_list("name", flat=True))


def roles_of(account_id: str) -> list[str]:
    """The role names stored for an account, sorted."""
    from identities.models import IamRole

    roles = IamRole.objects.filter(account__account_id=account_id).order_by("name")
    return list(roles.values_list("name", flat=True))


def at_once(times: int, action: Callable[[int], T]) -> list[T]:
    """Call `action(0)` ... `action(times - 1)` in as many threads released together, each
    closing its own database connection; returns what they returned, in finishing order."""
    from django.db import connection

    barrier = threading.Barrier(times)
    results: list[T] = []

    def call(number: int) -> None:
        try:
            barrier.wait()
            results.append(action(number))
        finally:
            connection.close()

    threads = [threading.Thread(target=call, args=(number,)) for number in range(times)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def embedded(settings: Any) -> None:
    """No Redis in this process, as in the embedded default (the Redis lock is tested against a
    real Redis)."""
    settings.REDIS_URL = ""


@pytest.fixture
def shared_aws_file() -> Callable[[str], Path]:
    """Path to a file of ../shared/data/aws, or a skip where that folder is absent."""

    def get(name: str) -> Path:
        path = SHARED_AWS_DATA / name
        if not path.exists():
            if services_required():
                pytest.fail(f"REQUIRED data missing: {path}")
            reason = f"{path} is absent (the shared data folder is not beside this checkout)"
            pytest.skip(reason)  # REQUIRED in CI: fails above
        return path

    return get


@pytest.fixture
def sample_bundle() -> dict[str, Any]:
    from identities.bundle import read_bundle
    from identities.sample import SAMPLE_BUNDLE_PATH

    return read_bundle(SAMPLE_BUNDLE_PATH)


@pytest.fixture
def imported_sample(db: None, sample_bundle: dict[str, Any]) -> SyncRun:
    """The bundled sample organisation imported and analysed."""
    from identities.ingest.imports import import_bundle

    result = import_bundle(sample_bundle, label="sample-org.json")
    from identities.analysis import analyse_estate

    analyse_estate()
    return result.sync_run


@pytest.fixture
def staff_user(db: None, django_user_model: type[User]) -> User:
    """The login most tests use: an admin (superuser), so every page and action is open."""
    return django_user_model.objects.create_user(
        username="reviewer", password="correct-horse-battery", is_staff=True, is_superuser=True
    )


@pytest.fixture
def logged_in_client(client: Client, staff_user: User) -> Client:
    client.force_login(staff_user)
    return client


@pytest.fixture
def user_with_role(db: None, django_user_model: type[User]) -> Callable[[str], User]:
    """`user_with_role("viewer")`: a login holding that role only ("" for none)."""
    from identities.roles import grant_role

    def make(role: str) -> User:
        user = django_user_model.objects.create_user(username=f"as-{role or 'nobody'}")
        if role:
            grant_role(user, role)
        return user

    return make


@pytest.fixture
def client_as(client: Client, user_with_role: Callable[[str], User]) -> Callable[[str], Client]:
    """`client_as("operator")`: the test client logged in with that role."""

    def login(role: str) -> Client:
        client.force_login(user_with_role(role))
        return client

    return login


def _client_of(role: str) -> Any:
    """The fixture `<role>_client`: the test client logged in with that role."""

    @pytest.fixture(name=f"{role}_client")
    def role_client(client_as: Callable[[str], Client]) -> Client:
        return client_as(role)

    return role_client


viewer_client = _client_of("viewer")
reviewer_client = _client_of("reviewer")
operator_client = _client_of("operator")


@pytest.fixture
def admin_role_client(client_as: Callable[[str], Client]) -> Client:
    """An admin by role (the admin group), not a superuser (pytest-django's `admin_client` is)."""
    return client_as("admin")


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Each test starts with an empty cache: no per-run result or throttle count of another."""
    from identities.queries.shared_cache import clear_cache

    clear_cache()


@pytest.fixture(autouse=True)
def _what_if_in_the_request(settings: Any) -> None:
    """The what-if editor answers within the request unless a test asks for its job."""
    settings.IAMVIZ_WHAT_IF_IN_BACKGROUND = False


@pytest.fixture(autouse=True)
def _tasks_run_in_process() -> Iterator[None]:
    """Tasks run eagerly in tests unless a test asks for the real worker."""
    from iamviz.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = True


@pytest.fixture
def celery_worker_process(
    transactional_db: None, tmp_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on the Redis broker, using the test database."""
    from django.db import connection

    from iamviz.celery import app
    from tests.awsfake import start_celery_worker, stop_process

    redis_url = require_service("Redis", os.environ.get("REDIS_URL"))
    db = connection.settings_dict
    if db["ENGINE"].endswith("postgresql"):
        database_url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        database_url = f"sqlite:///{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    app.conf.task_always_eager = False
    app.conf.broker_url = redis_url
    app.conf.result_backend = redis_url
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge("celery")
    log = tmp_path / "worker.log"
    options = ["--pool", "solo", "-n", f"test-{os.getpid()}@%h"]
    try:
        process = start_celery_worker(options, env=env, log=log)
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield process
    stop_process(process, timeout=20)
    app.conf.task_always_eager = True


# --- the fake AWS: one set of fixtures for every test that talks to "AWS" -------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials only: no profile, config file or endpoint from this machine."""
    from tests.awsfake import CLEARED_VARIABLES, fake_credentials

    for name in CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_credentials(tmp_path).items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def fake_aws(aws_env: None) -> Iterator[None]:
    """AWS faked by moto in this process. A module whose tests need a worker process to reach
    the fake overrides this fixture with one that requests `aws_server`."""
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture
def aws_server(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto_server on 127.0.0.1, and `AWS_ENDPOINT_URL` pointing at it in os.environ: request it
    before `celery_worker_process` so that the worker inherits the endpoint and credentials."""
    from tests.awsfake import moto_server

    with moto_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url


@pytest.fixture
def aws_session(fake_aws: None) -> boto3.Session:
    """The management account's session, as the sync makes it, on the fake AWS."""
    from identities.aws import management_session
    from tests.awsfake import REGION

    return management_session(region_name=REGION)


@pytest.fixture
def fake_org(aws_session: boto3.Session, db: None) -> FakeOrg:
    """The fake organisation (`awsfake.FAKE_ORG_MEMBERS`: management, dev, prod) in the fake
    AWS, built through Organizations and the role it creates in each account."""
    from tests.awsfake import FAKE_ORG_MEMBERS, build_org

    return build_org(aws_session, FAKE_ORG_MEMBERS)


@pytest.fixture(autouse=True, scope="session")
def _static_root_exists() -> None:
    """WhiteNoise warns at every request when STATIC_ROOT is missing (no collectstatic in tests)."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
