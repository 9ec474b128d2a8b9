"""A "Who can…?" question the engine has not answered for the run is answered in a thread when
the estate is large: the page says it is working and asks again until the answer is there, the
same answer the request would have computed."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from identities.queries import who_can
from identities.queries.who_can import answered_summary, summarise
from identities.views import escalations

PASS_ROLE = {"action": "iam:PassRole", "resource": "*"}
HTMX = {"HX-Request": "true", "HX-Target": "who-can"}
WORKING = "Working out who may"
POLL = 'hx-trigger="load delay:1s"'


@pytest.fixture(autouse=True)
def _answers_finished(db: None) -> Iterator[None]:
    """Each test ends, before its database is emptied, once the threads it started have
    (their database connections closed)."""
    yield
    for thread in threading.enumerate():
        if thread.name.startswith("who-can "):
            thread.join(timeout=60)


@pytest.fixture
def large_estate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sample organisation counts as an estate answered in the background."""
    monkeypatch.setattr(who_can, "BACKGROUND_FROM", 0)


def _poll(client: Client, params: dict[str, str], seconds: float = 60) -> str:
    """The page's region asked again, as its htmx poll does, until it holds no notice that it
    is working; its HTML."""
    deadline = time.monotonic() + seconds
    while True:
        body = client.get("/access/who-can/", params, headers=HTMX).content.decode()
        if WORKING not in body or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


@pytest.mark.django_db(transaction=True)
def test_a_question_not_answered_is_answered_in_the_background(
    imported_sample, large_estate, logged_in_client
):
    first = logged_in_client.get("/access/who-can/", PASS_ROLE)
    answered = _poll(logged_in_client, PASS_ROLE)

    body = first.content.decode()
    assert first.context["pending"] and first.context["summary"] is None
    assert POLL in body and WORKING in body
    assert 'hx-get="/access/who-can/?action=iam%3APassRole&amp;resource=%2A"' in body
    expected = summarise(who_can.who_can("iam:PassRole", "*", now=timezone.now()))
    assert answered_summary("iam:PassRole", "*") == expected
    assert "10 principals may <code>iam:PassRole</code>" in answered
    assert POLL not in answered


@pytest.mark.django_db(transaction=True)
def test_a_question_is_answered_once_however_often_it_is_asked(
    imported_sample, large_estate, logged_in_client, monkeypatch
):
    calls: list[str] = []
    summarise_who_can = who_can.summarise_who_can

    def counted(action: str, resource: str, *, now: Any) -> Any:
        calls.append(action)
        time.sleep(0.5)  # still answering while the page asks again
        return summarise_who_can(action, resource, now=now)

    monkeypatch.setattr(who_can, "summarise_who_can", counted)
    for _ in range(3):
        logged_in_client.get("/access/who-can/", PASS_ROLE)
    answered = _poll(logged_in_client, PASS_ROLE)

    assert "10 principals may <code>iam:PassRole</code>" in answered
    assert calls == ["iam:PassRole"]


@pytest.mark.django_db(transaction=True)
def test_a_failed_answer_is_told_not_asked_again(
    imported_sample, large_estate, logged_in_client, monkeypatch
):
    def fail(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("engine broke")

    monkeypatch.setattr(who_can, "summarise_who_can", fail)
    logged_in_client.get("/access/who-can/", PASS_ROLE)
    answered = _poll(logged_in_client, PASS_ROLE)

    assert "This question could not be answered" in answered
    assert POLL not in answered
    assert answered_summary("iam:PassRole", "*") is None


def test_a_small_estate_or_a_stored_question_is_answered_in_the_request(
    imported_sample, logged_in_client, monkeypatch
):
    role = "arn:aws:iam::333333333333:role/lambda-exec"
    small = logged_in_client.get("/access/who-can/", PASS_ROLE)
    monkeypatch.setattr(who_can, "BACKGROUND_FROM", 0)
    stored = logged_in_client.get(
        "/access/who-can/", {"action": "sts:AssumeRole", "resource": role}
    )
    warmed = logged_in_client.get("/access/who-can/", PASS_ROLE)

    assert not small.context["pending"] and small.context["summary"].total == 10
    assert not stored.context["pending"] and stored.context["summary"] is not None
    assert not warmed.context["pending"] and warmed.context["summary"].total == 10
    assert escalations.WHO_CAN_PAGE_SIZE  # the page module serves this URL
