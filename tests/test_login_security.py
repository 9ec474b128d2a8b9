"""Login throttling with django-axes and the optional OIDC single sign-on (issue 14, item 13)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery"


@pytest.fixture
def account(django_user_model):
    return django_user_model.objects.create_user(username="analyst", password=PASSWORD)


def _login(client, password: str):
    return client.post("/login/", {"username": "analyst", "password": password})


def test_twenty_wrong_passwords_then_the_right_one_is_refused(client, account):
    for _ in range(20):
        assert _login(client, "guess").status_code in {200, 429}

    response = _login(client, PASSWORD)

    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert client.get("/").status_code == 302


def test_fewer_failures_than_the_limit_still_let_the_right_password_in(client, account):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "guess")

    response = _login(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(account.pk)


def test_the_lock_holds_for_one_username_only(client, account, django_user_model):
    django_user_model.objects.create_user(username="other", password=PASSWORD)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        _login(client, "guess")

    response = client.post("/login/", {"username": "other", "password": PASSWORD})

    assert response.status_code == 302


def test_single_sign_on_is_off_by_default(client, db):
    assert settings.OIDC_ENABLED is False
    assert not any("oidc" in backend for backend in settings.AUTHENTICATION_BACKENDS)
    assert "sign-on" not in client.get("/login/").content.decode()
    assert client.get("/oidc/authenticate/").status_code == 404


def test_single_sign_on_turns_on_with_its_environment(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OIDC_")},
        "IAMVIZ_DATA_DIR": str(tmp_path),
        "OIDC_RP_CLIENT_ID": "iamviz",
        "OIDC_RP_CLIENT_SECRET": "s3cret",
        "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example.com/authorize",
        "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example.com/token",
        "OIDC_OP_USER_ENDPOINT": "https://idp.example.com/userinfo",
        "OIDC_OP_JWKS_ENDPOINT": "https://idp.example.com/jwks",
    }
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from django.urls import reverse; "
        "print(settings.OIDC_ENABLED, settings.AUTHENTICATION_BACKENDS[-1], "
        "reverse('oidc_authentication_init'))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "iamviz.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "True",
        "mozilla_django_oidc.auth.OIDCAuthenticationBackend",
        "/oidc/authenticate/",
    ]


def test_single_sign_on_without_its_endpoints_refuses_to_start(tmp_path):
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OIDC_")},
        "IAMVIZ_DATA_DIR": str(tmp_path),
        "OIDC_RP_CLIENT_ID": "iamviz",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode != 0
    assert "OIDC_RP_CLIENT_SECRET" in done.stderr
