"""Every page renders for a logged-in reviewer on the sample organisation and the shared
real-shaped export, and sends a logged-out visitor to the login page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.views.conftest import page_body

SAMPLE_PAGES = [
    "/",
    "/accounts/333333333333/",
    "/users/",
    "/groups/",
    "/roles/",
    "/policies/",
    "/accounts/333333333333/users/alice/",
    "/accounts/333333333333/groups/developers/",
    "/accounts/444444444444/roles/deploy/",
    "/accounts/333333333333/policies/arn:aws:iam::333333333333:policy/ci-deploy-assume/",
    "/runs/",
    "/search/?q=audit",
    "/users/?format=csv",
    "/groups/?format=csv",
    "/roles/?format=csv",
    "/policies/?format=csv",
]

SHARED_PAGES = [
    "/",
    "/accounts/200611803367/",
    "/users/?q=privesc",
    "/groups/",
    "/roles/?sort=-last_used",
    "/policies/?scope=aws",
    "/accounts/200611803367/users/privesc-sre-user/",
    "/accounts/200611803367/groups/privesc-sre-group/",
    "/accounts/200611803367/roles/privesc-high-priv-service-role/",
    "/accounts/012345678901/roles/OverprivilegedEC2/",
    "/accounts/200611803367/policies/arn:aws:iam::aws:policy/AdministratorAccess/",
    "/search/?q=sre",
]


# One import per dataset, every page checked against it (an import costs most of a second).
def test_every_page_renders_on_sample_org(logged_in_client, imported_sample):
    statuses = {url: logged_in_client.get(url).status_code for url in SAMPLE_PAGES}

    assert statuses == dict.fromkeys(SAMPLE_PAGES, 200)


def test_every_page_renders_on_shared_export(logged_in_client, imported_shared):
    statuses = {url: logged_in_client.get(url).status_code for url in SHARED_PAGES}

    assert statuses == dict.fromkeys(SHARED_PAGES, 200)


def test_syncrun_pages_render_on_sample_org(logged_in_client, imported_sample):
    response = logged_in_client.get(reverse("identities:syncrun-detail", args=[imported_sample.pk]))

    assert response.status_code == 200
    assert f"Sync run #{imported_sample.pk}" in response.content.decode()


@pytest.mark.parametrize("url", [*SAMPLE_PAGES, "/runs/1/", "/runs/1/bundle.json.gz", "/arn/x"])
def test_page_logged_out_redirects_to_login(client, db, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_login_page_renders_form(client, db):
    response = client.get("/login/")

    body = page_body(response)
    assert 'name="username"' in body
    assert 'name="password"' in body


def test_login_form_logs_in_and_lands_on_dashboard(client, staff_user):
    response = client.post(
        "/login/", {"username": "reviewer", "password": "correct-horse-battery"}, follow=True
    )

    assert response.redirect_chain == [("/", 302)]
    assert "Log out reviewer" in response.content.decode()


def test_logout_is_a_post_form_in_the_nav(logged_in_client):
    page = logged_in_client.get("/").content.decode()

    response = logged_in_client.post("/logout/")

    assert '<form class="logout" method="post" action="/logout/">' in page
    assert response.status_code == 302
    assert logged_in_client.get("/").status_code == 302


def test_pages_post_is_refused(logged_in_client):
    response = logged_in_client.post("/users/")

    assert response.status_code == 405


# Pages that answer htmx with a fragment of themselves.
FRAGMENT_PAGES = [
    "/users/",
    "/groups/",
    "/roles/",
    "/policies/",
    "/accounts/333333333333/policies/arn:aws:iam::333333333333:policy/ci-deploy-assume/?version=v1",
    "/runs/",
    "/search/?q=audit",
    "/accounts/444444444444/roles/deploy/access/",
    "/accounts/333333333333/users/alice/reach/",
    "/access/administrators/",
    "/access/findings/",
    "/access/explain/",
    "/graph/identity/",
    "/graph/access/",
    "/graph/paths/",
    "/sync/",
    "/sync/runs/",
]


def test_every_fragment_page_answers_a_history_restore_with_the_full_page(
    logged_in_client, imported_sample
):
    """One rule for every view: htmx restoring history after a cache miss gets the page."""
    headers = {"HX-Request": "true", "HX-History-Restore-Request": "true", "HX-Target": "results"}
    full = {
        url: "<html" in (response := logged_in_client.get(url, headers=headers)).content.decode()
        and "HX-History-Restore-Request" in response["Vary"]
        for url in FRAGMENT_PAGES
    }

    assert full == dict.fromkeys(FRAGMENT_PAGES, True)
