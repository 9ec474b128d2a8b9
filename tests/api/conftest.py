"""A login with a role and its API token, and an authorised GET that returns the JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django.test import Client


@pytest.fixture
def token_for(user_with_role: Callable[[str], User]) -> Callable[[str], str]:
    """`token_for("viewer")`: a new login with that role ("" for none) and a token of its."""
    from identities.api.tokens import create_token

    def make(role: str) -> str:
        _, token = create_token(None, user_with_role(role), f"{role or 'nobody'} token")
        return token

    return make


@pytest.fixture
def api_get(client: Client, token_for: Callable[[str], str]) -> Callable[..., Any]:
    """`api_get(path)`: GET as a viewer's token, asserting 200, and the decoded JSON."""
    token = token_for("viewer")

    def get(path: str, **params: str) -> Any:
        response = client.get(path, params, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.content
        return response.json()

    return get
