"""No Docker engine runs here, so check that everything the Docker files name exists."""

from __future__ import annotations

import importlib
import json
import re
import shlex

import pytest
import yaml
from django.core.management import get_commands

from tests.conftest import REPO_ROOT

COMPOSE = yaml.safe_load((REPO_ROOT / "docker" / "compose.yaml").read_text())
DOCKERFILE = (REPO_ROOT / "docker" / "Dockerfile").read_text()


def dockerfile_instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(f"{name} ")]


def check_command(argv: list[str]) -> None:
    """Fail unless the program and what it is asked to run exist in the project."""
    program, *rest = argv
    if program == "python" and rest[0] == "manage.py":
        assert rest[1] in get_commands(), f"manage.py has no command {rest[1]!r}"
    elif program == "celery":
        assert rest[:2] == ["-A", "iamviz"]
        module = importlib.import_module(rest[1])
        assert module.celery_app.main == "iamviz"
        assert rest[2] in {"worker", "beat"}
    elif program == "gunicorn":
        module_name, attribute = rest[0].split(":")
        assert callable(getattr(importlib.import_module(module_name), attribute))
    else:
        pytest.fail(f"unexpected program {program!r} in {argv}")


SERVICES_WITH_COMMANDS = {
    name: service["command"]
    for name, service in COMPOSE["services"].items()
    if name in {"migrate", "web", "beat"} or name.startswith("worker")
}
WORKERS = {"worker", "worker-analysis", "worker-housekeeping"}


@pytest.mark.parametrize("service", sorted(SERVICES_WITH_COMMANDS))
def test_compose_service_command_exists(service: str) -> None:
    check_command(SERVICES_WITH_COMMANDS[service])


def test_compose_has_every_part() -> None:
    assert set(COMPOSE["services"]) == {"migrate", "web", "beat", "postgres", "redis"} | WORKERS


def test_compose_workers_consume_every_queue_the_settings_route_to() -> None:
    """Issue 15 item 3: the reaper waited behind analyses on the only queue."""
    from django.conf import settings

    queues = [
        COMPOSE["services"][name]["command"][COMPOSE["services"][name]["command"].index("-Q") + 1]
        for name in sorted(WORKERS)
    ]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert sorted(queues) == ["analysis", "housekeeping", "sync"]
    assert routed == set(settings.CELERY_TASK_QUEUES) == set(queues)


def test_dockerfile_cmd_exists() -> None:
    [cmd] = dockerfile_instructions("CMD")

    check_command(json.loads(cmd))


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
