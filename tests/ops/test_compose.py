"""docker/compose.yaml and the Dockerfile, read statically (no Docker engine runs in CI): every
service runs a mode of docker/entrypoint.sh that exists, web and the workers have healthchecks
calling the entrypoint, migrations run in a one-shot service the others wait for, and every
file and command the Docker files name exists. tests/ops/test_entrypoint.py runs those modes."""

from __future__ import annotations

import importlib
import json
import re
import shlex
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

from tests.conftest import REPO_ROOT

COMPOSE: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker" / "compose.yaml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
DOCKERFILE = (REPO_ROOT / "docker" / "Dockerfile").read_text()
ENTRYPOINT_SCRIPT = (REPO_ROOT / "docker" / "entrypoint.sh").read_text()
IMAGE_ENTRYPOINT = "/app/docker/entrypoint.sh"
WORKERS = {"worker", "worker-analysis", "worker-housekeeping"}
APP_SERVICES = {"migrate", "web", "beat"} | WORKERS


def dockerfile_instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(f"{name} ")]


def entrypoint_modes() -> set[str]:
    """The modes of the entrypoint's `case`, read from the script."""
    return set(re.findall(r"^  ([a-z]+)\)$", ENTRYPOINT_SCRIPT, flags=re.MULTILINE))


def entrypoint_command(mode: str) -> list[str]:
    """What the entrypoint runs for `mode` (its `exec` line), split into words."""
    body = ENTRYPOINT_SCRIPT.split(f"\n  {mode})\n", 1)[1].split(";;", 1)[0]
    exec_line = " ".join(
        line.strip().rstrip("\\") for line in body.splitlines() if line.strip()
    ).split("exec ", 1)[1]
    return exec_line.split()


def test_compose_has_every_part() -> None:
    assert set(SERVICES) == APP_SERVICES | {"postgres", "redis"}


@pytest.mark.parametrize("service", sorted(APP_SERVICES))
def test_app_services_run_an_entrypoint_mode(service: str) -> None:
    mode, *_ = SERVICES[service]["command"]

    assert mode in entrypoint_modes()
    assert mode == ("worker" if service in WORKERS else service)


def test_entrypoint_modes_run_what_exists() -> None:
    assert entrypoint_modes() >= {"migrate", "web", "worker", "beat", "healthcheck", "ping"}
    python, manage, command, *_ = entrypoint_command("migrate")
    assert (python, manage) == ("python", "manage.py")
    assert command in get_commands()
    gunicorn, application, *_ = entrypoint_command("web")
    module_name, attribute = application.split(":")
    assert gunicorn == "gunicorn"
    assert callable(getattr(importlib.import_module(module_name), attribute))
    for mode in ("worker", "beat"):
        celery, app_flag, app_name, subcommand, *_ = entrypoint_command(mode)
        assert (celery, app_flag, subcommand) == ("celery", "-A", mode)
        assert importlib.import_module(app_name).celery_app.main == "iamviz"


def test_web_and_workers_have_healthchecks_calling_the_entrypoint() -> None:
    assert SERVICES["web"]["healthcheck"]["test"] == ["CMD", IMAGE_ENTRYPOINT, "healthcheck"]
    for name in WORKERS:
        command = SERVICES[name]["command"]
        node = command[command.index("-n") + 1]
        check = SERVICES[name]["healthcheck"]
        assert check["test"] == ["CMD", IMAGE_ENTRYPOINT, "ping", node.removesuffix("@%h")]
        assert {"interval", "timeout", "retries"} <= set(check)


def test_the_healthcheck_url_is_the_health_view() -> None:
    from django.urls import resolve

    from iamviz.health import health

    assert "/healthz/" in ENTRYPOINT_SCRIPT
    assert resolve("/healthz/").func is health


def test_migrations_run_once_in_a_one_shot_service_before_the_others() -> None:
    migrate = SERVICES["migrate"]
    assert migrate["command"] == ["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES - {"migrate"}:
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        ), name


def test_compose_workers_consume_every_queue_the_settings_route_to() -> None:
    """Issue 15 item 3: the reaper waited behind analyses on the only queue."""
    from django.conf import settings

    queues = [
        SERVICES[name]["command"][SERVICES[name]["command"].index("-Q") + 1]
        for name in sorted(WORKERS)
    ]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert sorted(queues) == ["analysis", "housekeeping", "sync"]
    assert routed == set(settings.CELERY_TASK_QUEUES) == set(queues)


def test_dockerfile_runs_the_entrypoint_it_copies() -> None:
    [entrypoint] = dockerfile_instructions("ENTRYPOINT")
    [cmd] = dockerfile_instructions("CMD")

    assert json.loads(entrypoint) == [IMAGE_ENTRYPOINT]
    assert json.loads(cmd)[0] in entrypoint_modes()
    assert any(
        shlex.split(copy) == ["docker/entrypoint.sh", "./docker/entrypoint.sh"]
        for copy in dockerfile_instructions("COPY")
    )
    assert (REPO_ROOT / "docker" / "entrypoint.sh").stat().st_mode & 0o111


def test_dockerfile_copies_only_files_that_exist() -> None:
    for copy in dockerfile_instructions("COPY"):
        *sources, _target = shlex.split(copy)
        for source in sources:
            assert (REPO_ROOT / source).exists(), f"COPY names missing {source}"


def test_dockerfile_run_uses_project_commands() -> None:
    [run] = dockerfile_instructions("RUN")
    for manage_command in re.findall(r"manage\.py (\w+)", run):
        assert manage_command in get_commands()


def test_compose_build_points_at_the_dockerfile() -> None:
    build = COMPOSE["x-app"]["build"]

    assert (REPO_ROOT / "docker" / build["context"] / build["dockerfile"]).exists()
