"""Shared fixtures: the sample organisation, the real-shaped AWS files, a logged-in client,
and the rule for service-backed tests (fail in CI, skip with a reason on a laptop)."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from
# inside one unless told this is deliberate.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_AWS_DATA = REPO_ROOT.parent / "shared" / "data" / "aws"
TEST_DATA = Path(__file__).resolve().parent / "data"


def services_required() -> bool:
    """In CI (or when asked) a missing service is a failure, never a skip."""
    return os.environ.get("CI", "").lower() == "true" or os.environ.get(
        "IAMVIZ_REQUIRE_SERVICES", ""
    ).lower() in {"1", "true", "yes"}


def require_service(name: str, url: str | None) -> str:
    """Return the service URL if it answers; otherwise fail (CI) or skip with the reason."""
    if not url:
        reason = f"{name} is not configured (set its URL to run this test)"
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


@pytest.fixture
def shared_aws_file():
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
def sample_bundle():
    from identities.bundle import read_bundle
    from identities.sample import SAMPLE_BUNDLE_PATH

    return read_bundle(SAMPLE_BUNDLE_PATH)


@pytest.fixture
def imported_sample(db, sample_bundle):
    """The bundled sample organisation imported and analysed."""
    from identities.ingest import import_bundle

    result = import_bundle(sample_bundle, label="sample-org.json")
    from identities.analysis import analyse_estate

    analyse_estate()
    return result.sync_run


@pytest.fixture
def staff_user(db, django_user_model):
    return django_user_model.objects.create_user(
        username="reviewer", password="correct-horse-battery", is_staff=True
    )


@pytest.fixture
def logged_in_client(client, staff_user):
    client.force_login(staff_user)
    return client


@pytest.fixture(autouse=True)
def _tasks_run_in_process():
    """Tasks run eagerly in tests unless a test asks for the real worker."""
    from iamviz.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = True


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real `celery worker` process on the Redis broker, using the test database."""
    import subprocess
    import sys
    import time

    from django.conf import settings
    from django.db import connection

    from iamviz.celery import app

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
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "iamviz",
            "worker",
            "--pool",
            "solo",
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "INFO",
            "-n",
            f"test-{os.getpid()}@%h",
        ],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"celery worker exited early:\n{log.read_text()}")
        if "ready." in log.read_text():
            break
        time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(f"celery worker did not become ready:\n{log.read_text()}")
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    app.conf.task_always_eager = True


@pytest.fixture
def aws_server(monkeypatch, tmp_path):
    """moto_server on 127.0.0.1 with fake credentials, and `AWS_ENDPOINT_URL` pointing at it in
    os.environ: request it before `celery_worker_process` so that the worker inherits both."""
    from tests.awsfake import CLEARED_VARIABLES, fake_credentials, moto_server

    for name in CLEARED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in fake_credentials(tmp_path).items():
        monkeypatch.setenv(name, value)
    with moto_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        yield url


@pytest.fixture(autouse=True, scope="session")
def _static_root_exists():
    """WhiteNoise warns at every request when STATIC_ROOT is missing (no collectstatic in tests)."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)
