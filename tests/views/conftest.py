"""Fixtures for the browse pages: the real-shaped shared export imported, and page helpers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.test import Client

    # The test client's response type (only in django-stubs).
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

    from identities.models import SyncRun

FULL_PAGE_MARKER = "<html"
NAV_MARKER = 'class="site-header"'


@pytest.fixture
def imported_shared(db: None, shared_aws_file: Callable[[str], Path]) -> SyncRun:
    """cloudsplaining's example export (two accounts by ARN) imported as one sync run."""
    from identities.bundle import read_bundle
    from identities.ingest.imports import import_bundle

    path = shared_aws_file("cloudsplaining-example-authz-details.json")
    return import_bundle(read_bundle(path), label=path.name).sync_run


def htmx_get(client: Client, url: str, target: str = "results", **params: Any) -> TestResponse:
    return client.get(url, params, headers={"HX-Request": "true", "HX-Target": target})


def assert_fragment(response: TestResponse) -> str:
    """The response is an htmx fragment: 200, no page chrome, varies on HX-Request."""
    body = response.content.decode()
    assert response.status_code == 200
    assert FULL_PAGE_MARKER not in body
    assert NAV_MARKER not in body
    assert "HX-Request" in response["Vary"]
    return body


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    """`staff_user` hashes a password; the default PBKDF2 costs most of a second per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def page_body(response: TestResponse) -> str:
    """The body of a response that succeeded (200)."""
    assert response.status_code == 200
    return response.content.decode()


def csv_lines(response: Any) -> list[str]:
    """The lines of a streamed CSV download."""
    return b"".join(response.streaming_content).decode().splitlines()


def page_names(response: TestResponse) -> list[str]:
    """The names of the objects on a list page, in order."""
    return [item.name for item in response.context["page"].object_list]


def fragment_names(client: Client, url: str, **params: Any) -> list[str]:
    """The names on a list page's htmx fragment, once it is checked to be a fragment."""
    response = htmx_get(client, url, **params)
    assert_fragment(response)
    return page_names(response)


def list_names(client: Client, url: str, params: dict[str, Any]) -> list[str]:
    """The names on a list page with these filters: the same on the page and on its htmx
    fragment."""
    names = page_names(client.get(url, params))
    assert fragment_names(client, url, **params) == names
    return names


def csv_export(client: Client, url: str, **params: Any) -> list[str]:
    """The lines of a list page's CSV download with these filters."""
    return csv_lines(client.get(url, {"format": "csv", **params}))
