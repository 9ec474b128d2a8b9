"""Secure defaults (issue 14, item 14): no published SECRET_KEY in production, HTTPS settings and
a Content-Security-Policy from the environment, `check --deploy` clean with production values,
and anonymous HEAD/POST on GET views sent to the login page."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from iamviz.security import PUBLIC_SECRET_KEYS, content_security_policy, secret_key

REPO = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "q7-3vJ2mZ0xw9yT1rB4nK8pL6sD5fG2hJ0kL3zX7cV9bN1mQ4wE8rT6yU2iO5pA3sD",
    "IAMVIZ_REQUIRE_SECRET_KEY": "true",
    "ALLOWED_HOSTS": "iamviz.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://iamviz.example.com",
    "IAMVIZ_HTTPS": "true",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "IAMVIZ_BEHIND_TLS_PROXY": "true",
}


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The test run's own variables (conftest allows async-unsafe ORM calls) are no deployment's.
    dropped = {*PRODUCTION, "DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    cleared = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env={**cleared, "IAMVIZ_DATA_DIR": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_production_values(tmp_path):
    done = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION, tmp_path=tmp_path
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_check_deploy_names_what_the_embedded_default_lacks(tmp_path):
    env = {"SECRET_KEY": PRODUCTION["SECRET_KEY"]}
    done = _manage("check", "--deploy", env=env, tmp_path=tmp_path)

    for code in ("W004", "W008", "W012", "W016"):
        assert code in done.stdout + done.stderr


@pytest.mark.parametrize("key", sorted(PUBLIC_SECRET_KEYS))
def test_a_published_secret_key_refuses_to_start_without_debug(tmp_path, key):
    done = _manage("check", env={"DEBUG": "false", "SECRET_KEY": key}, tmp_path=tmp_path)

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "published" in done.stderr


def test_a_published_secret_key_is_accepted_with_debug(tmp_path):
    assert secret_key("change-me", debug=True, require=False, data_dir=tmp_path) == "change-me"


def test_a_required_secret_key_must_be_set(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="not set"):
        secret_key("", debug=False, require=True, data_dir=tmp_path)


def test_without_a_secret_key_the_installation_makes_and_keeps_its_own(tmp_path):
    first = secret_key("", debug=False, require=False, data_dir=tmp_path / "data")
    again = secret_key("", debug=False, require=False, data_dir=tmp_path / "data")
    other = secret_key("", debug=False, require=False, data_dir=tmp_path / "other")

    assert first == again != other
    assert len(first) >= 50 and first not in PUBLIC_SECRET_KEYS
    mode = stat.S_IMODE((tmp_path / "data" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_content_security_policy_modes():
    assert content_security_policy("off") == {}
    enforced = content_security_policy("enforce", "/csp-report/")
    directives = enforced["CONTENT_SECURITY_POLICY"]["DIRECTIVES"]
    assert directives["object-src"] == ["'none'"]
    assert directives["report-uri"] == ["/csp-report/"]
    assert "CONTENT_SECURITY_POLICY_REPORT_ONLY" in content_security_policy("report-only")
    with pytest.raises(ImproperlyConfigured):
        content_security_policy("maybe")


def test_pages_carry_the_content_security_policy(logged_in_client):
    response = logged_in_client.get("/")

    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert "unsafe" not in directives["script-src"]
    assert "unsafe" not in directives["style-src"]


@pytest.mark.parametrize("method", ["head", "post", "put", "delete"])
@pytest.mark.parametrize("url", ["/", "/users/", "/graph/access/", "/graph/data.json"])
def test_anonymous_requests_of_any_method_go_to_the_login_page(client, db, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_login_page_needs_no_login(client, db):
    assert client.get("/login/").status_code == 200
