"""Locust users for bench/load.py: viewers who log in, then browse the lists, role pages and
graph JSON of the estate. bench/load.py starts locust on this file; alone:

    LOAD_TARGETS=targets.json LOAD_TIMINGS=timings.json locust -f bench/load_locustfile.py ...

`LOAD_TARGETS` (written by bench/load.py) holds the logins and the roles to visit; every
response's time, status and group are written to `LOAD_TIMINGS` when locust quits.

The browsing is measured on its own: every viewer logs in first (the logins are recorded as
the group "login"), and once all `LOAD_USERS` have, they browse for `LOAD_DURATION` seconds,
each starting after its first pause; then locust quits. A request counts when it started in
that window. Twenty password checks at once (PBKDF2, about 0.2 s of CPU each) would otherwise
hold both workers for the first seconds and every page opened meanwhile would wait on them.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import defaultdict
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import gevent
from gevent.event import Event
from locust import HttpUser, between, events, task
from locust.env import Environment

TARGETS: dict[str, Any] = json.loads(Path(os.environ["LOAD_TARGETS"]).read_text())
TIMINGS: dict[str, list[float]] = defaultdict(list)
STATUSES: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
# Groups left out (LOAD_SKIP, comma-separated names, e.g. "list: escalations").
SKIPPED = {name.strip() for name in os.environ.get("LOAD_SKIP", "").split(",") if name.strip()}
LOGINS = count()
USERS = int(os.environ.get("LOAD_USERS", "1"))
DURATION = float(os.environ.get("LOAD_DURATION", "120"))
LOGGED_IN = count(1)
ALL_LOGGED_IN = Event()
WINDOW: dict[str, float] = {}  # "from" and "to" of the browsing, seconds since the epoch
ENVIRONMENT: list[Environment] = []
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
LISTS = {
    "list: users": "/users/",
    "list: roles": "/roles/",
    "list: findings": "/access/findings/",
    "list: administrators": "/access/administrators/",
    "list: escalations": "/access/escalations/",
    "list: changes": "/review/changes/",
}


@events.init.add_listener
def keep_environment(environment: Environment, **_: Any) -> None:
    ENVIRONMENT.append(environment)


@events.request.add_listener
def record(
    name: str, response_time: float, response: Any, start_time: float = 0.0, **_: Any
) -> None:
    if name != "login" and not _browsing(start_time):
        return
    TIMINGS[name].append(response_time)
    STATUSES[name][getattr(response, "status_code", 0) or 0] += 1


def _browsing(start_time: float) -> bool:
    return "from" in WINDOW and WINDOW["from"] <= start_time < WINDOW["to"]


def _browse_then_quit() -> None:
    WINDOW["from"] = time.time()
    WINDOW["to"] = WINDOW["from"] + DURATION
    ALL_LOGGED_IN.set()
    gevent.sleep(DURATION)
    if ENVIRONMENT and ENVIRONMENT[0].runner is not None:
        ENVIRONMENT[0].runner.quit()


@events.quitting.add_listener
def write_timings(**_: Any) -> None:
    Path(os.environ["LOAD_TIMINGS"]).write_text(
        json.dumps({"timings": TIMINGS, "statuses": STATUSES, "window": WINDOW})
    )


class Viewer(HttpUser):
    """A viewer reading the estate at a human pace (a page every one to three seconds)."""

    wait_time = between(1, 3)

    def on_start(self) -> None:
        login = TARGETS["logins"][next(LOGINS) % len(TARGETS["logins"])]
        page = self.client.get("/login/", name="login")
        token = CSRF.search(page.text)
        self.client.post(
            "/login/",
            data={
                "username": login["username"],
                "password": login["password"],
                "csrfmiddlewaretoken": token.group(1) if token else "",
                "next": "/",
            },
            headers={"Referer": f"{self.host}/login/"},
            name="login",
        )
        if next(LOGGED_IN) == USERS:
            gevent.spawn(_browse_then_quit)
        ALL_LOGGED_IN.wait()
        gevent.sleep(self.wait_time())

    def _get(self, name: str, path: str) -> None:
        if name not in SKIPPED:
            self.client.get(path, name=name)

    def _role(self) -> dict[str, str]:
        return random.choice(TARGETS["roles"])

    @task(6)
    def lists(self) -> None:
        name, path = random.choice(list(LISTS.items()))
        page = random.choice([1, 1, 1, 2, 5])
        self._get(name, f"{path}?page={page}" if page > 1 else path)

    def _role_page(self, name: str, page: str = "") -> None:
        role = self._role()
        self._get(
            name, f"/accounts/{role['account_id']}/roles/{quote(role['name'], safe='')}/{page}"
        )

    def _graph_around_role(self, view: str) -> None:
        role = self._role()
        focus = f"role:{role['account_id']}:{role['name']}"
        self._get(
            f"graph json: {view}", "/graph/data.json?" + urlencode({"view": view, "focus": focus})
        )

    @task(3)
    def role_page(self) -> None:
        self._role_page("role: page")

    @task(1)
    def role_access(self) -> None:
        self._role_page("role: access", "access/")

    @task(2)
    def graph_identity(self) -> None:
        self._graph_around_role("identity")

    @task(2)
    def graph_access(self) -> None:
        self._graph_around_role("access")

    @task(1)
    def graph_account(self) -> None:
        role = self._role()
        self._get(
            "graph json: account",
            "/graph/data.json?" + urlencode({"view": "identity", "account": role["account_id"]}),
        )
