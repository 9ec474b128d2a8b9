"""Issue 14 item 16: the image's entrypoint (docker/entrypoint.sh), run as the containers run it
but outside Docker, against the real PostgreSQL and Redis: migrations apply once even when two
containers start together, web answers compose's healthcheck under gunicorn, a worker answers
Celery's ping, beat starts and sends the housekeeping tasks.

No Docker engine runs in CI (images cannot be pulled), so these processes stand in for the
containers; tests/ops/test_compose.py checks that compose.yaml starts them this way."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.awsfake import free_port, stop_process
from tests.conftest import REPO_ROOT, require_service

ENTRYPOINT = REPO_ROOT / "docker" / "entrypoint.sh"
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database next to the one DATABASE_URL names, dropped afterwards."""
    import psycopg

    # The advisory lock that runs migrations once needs PostgreSQL.
    url = require_service("PostgreSQL", os.environ.get("DATABASE_URL", ""), scheme="postgres")
    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/') or 'iamviz'}_entrypoint"
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    yield parsed._replace(path=f"/{name}").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def container_env(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment compose.yaml gives a container (its python, gunicorn and celery on
    PATH), with this machine's database and Redis."""
    redis_url = require_service("Redis", os.environ.get("REDIS_URL", ""))
    data = tmp_path_factory.mktemp("container")
    return {
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(data),
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "IAMVIZ_REQUIRE_SECRET_KEY": "true",
        "ALLOWED_HOSTS": "iamviz.example.com,localhost",
        "IAMVIZ_DATA_DIR": str(data),
        "STATIC_ROOT": str(data / "static"),
        "LOG_LEVEL": "INFO",
    }


def entrypoint(*args: str) -> list[str]:
    return ["sh", str(ENTRYPOINT), *args]


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        entrypoint(*args), env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def wait_until(
    check: Callable[[], bool], process: subprocess.Popen[bytes], log: Path, timeout: float
) -> None:
    """Poll `check` until true; fail with the process's log if it exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not check():
        if process.poll() is not None:
            pytest.fail(f"exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"not ready after {timeout:.0f}s:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)


def start(env: dict[str, str], log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        entrypoint(*args), env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )


def applied_migrations(database_url: str) -> list[tuple[str, str]]:
    import psycopg

    with psycopg.connect(database_url) as conn:
        return [
            (app, name) for app, name in conn.execute("SELECT app, name FROM django_migrations")
        ]


@pytest.fixture(scope="module")
def migrated(container_env: dict[str, str], database_url: str) -> dict[str, str]:
    """Two `migrate` containers started together on the empty database; both succeed."""
    first, second = (
        subprocess.Popen(
            entrypoint("migrate"),
            env=container_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    )
    outputs = [process.communicate(timeout=300)[0] for process in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), "\n----\n".join(outputs)
    return {"first": outputs[0], "second": outputs[1]}


def test_concurrent_migrate_starts_apply_each_migration_once(
    migrated: dict[str, str], database_url: str
) -> None:
    applied = applied_migrations(database_url)

    assert len(applied) == len(set(applied))
    assert ("identities", "0001_initial") in applied
    # One of them applied everything, the other waited for the lock and found nothing to do.
    outputs = sorted(migrated.values(), key=lambda output: "Applying" in output)
    assert "Applying identities.0001_initial... OK" in outputs[1]
    assert "Applying" not in outputs[0]
    assert "No migrations to apply." in outputs[0]


def test_a_second_start_does_not_migrate_again(
    migrated: dict[str, str], container_env: dict[str, str], database_url: str
) -> None:
    before = applied_migrations(database_url)

    again = run(container_env, "migrate")

    assert again.returncode == 0, again.stdout + again.stderr
    assert "No migrations to apply." in again.stdout
    assert "Another process is migrating" not in again.stdout
    assert applied_migrations(database_url) == before


def test_web_answers_the_compose_healthcheck_under_gunicorn(
    migrated: dict[str, str], container_env: dict[str, str], tmp_path: Path
) -> None:
    port = str(free_port())
    env = {**container_env, "PORT": port, "BIND": "127.0.0.1", "WEB_CONCURRENCY": "2"}
    log = tmp_path / "web.log"
    down = run(env, "healthcheck", timeout=30)
    web = start(env, log, "web")
    try:
        wait_until(lambda: run(env, "healthcheck", timeout=30).returncode == 0, web, log, 90)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/healthz/", headers={"Host": "iamviz.example.com"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            body = json.loads(response.read())
        with urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": "localhost"}),
            timeout=10,
        ) as home:
            landed_on = home.url
    finally:
        stop_process(web, timeout=20)
    output = log.read_text()

    assert down.returncode == 1 and "healthcheck:" in down.stderr
    assert body == {"status": "ok", "database": "ok"}
    assert "/login/?next=/" in landed_on  # the application itself answers, not only /healthz/
    assert "Starting gunicorn" in output
    assert output.count("Booting worker with pid") >= 2
    # The workers fork from a master that loaded the URL map, templates and reach graph once.
    assert output.index("URL map, templates and reach graph loaded") < output.index(
        "Booting worker"
    )
    assert "reach graph not preloaded" not in output


def test_worker_answers_celery_ping(
    migrated: dict[str, str], container_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"
    name = f"ops-entrypoint-{os.getpid()}"
    worker = start(
        container_env,
        log,
        "worker",
        *("-Q", "housekeeping", "--concurrency", "1", "--pool", "solo", "-n", f"{name}@%h"),
    )
    try:
        wait_until(lambda: "ready." in log.read_text(), worker, log, 90)
        ping = run({**container_env, "PING_TIMEOUT": "10"}, "ping", name, timeout=60)
    finally:
        stop_process(worker, timeout=20)

    assert ping.returncode == 0, ping.stdout + ping.stderr
    assert "pong" in ping.stdout


def test_beat_starts_on_the_database_schedule(
    migrated: dict[str, str], container_env: dict[str, str], tmp_path: Path
) -> None:
    log = tmp_path / "beat.log"
    beat = start(container_env, log, "beat")
    try:
        wait_until(lambda: "beat: Starting..." in log.read_text(), beat, log, 60)
        time.sleep(5)
        alive = beat.poll() is None
    finally:
        stop_process(beat, timeout=20)
        _purge_queues(container_env["REDIS_URL"])
    output = log.read_text()

    assert alive, output
    assert "django_celery_beat.schedulers.DatabaseScheduler" in output
    assert "Traceback" not in output


def _purge_queues(redis_url: str) -> None:
    """Drop what beat sent (its housekeeping tasks), so no later worker runs them."""
    from django.conf import settings
    from kombu import Connection

    with Connection(redis_url) as connection:
        channel = connection.default_channel
        for queue in settings.CELERY_TASK_QUEUES:
            channel.queue_purge(queue)


def test_unknown_mode_runs_the_command_as_given(container_env: dict[str, str]) -> None:
    echoed = run(container_env, "python", "-c", "import os; print(os.getcwd())", timeout=30)

    assert echoed.returncode == 0
    assert echoed.stdout.strip() == str(REPO_ROOT)
