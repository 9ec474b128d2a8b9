"""The Choke points page reads the ranking stored when the analysis finished (every process
shares it), and names each kind of change."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.utils.http import urlencode

from identities.analysis import analyse_estate
from identities.ingest.imports import import_bundle
from identities.models import Administrator
from identities.queries import access
from identities.roles import VIEWER
from tests.analysis.test_choke_points import (
    ADMIN,
    ASSUME_AB,
    OPS,
    small_estate,
    two_route_bundle,
)
from tests.bundles import estate_bundle

CHOKE = "/access/choke-points/"
pytestmark = pytest.mark.django_db


def test_the_analysis_task_stores_the_ranking_the_page_then_reads(
    client_as: Callable[[str], Client], django_capture_on_commit_callbacks
):
    from identities.tasks import analyse_estate_task

    import_bundle(estate_bundle(small_estate()), label="small.json")
    with django_capture_on_commit_callbacks(execute=True):
        outcome = analyse_estate_task.delay().get()
    # Computing it again now would find no administrator; and no process has it in memory.
    Administrator.objects.all().delete()
    access._cache.update(run=None, values={})

    page = client_as(VIEWER).get(CHOKE).content.decode()

    assert outcome["status"] == "succeeded"
    assert '<code>FromA</code> of <code class="arn">' + ADMIN in page
    assert "4 principals" in page


def test_a_detach_row_names_the_policy_and_the_principal_it_comes_off(
    client_as: Callable[[str], Client],
):
    import_bundle(two_route_bundle(), label="ab.json")
    analyse_estate()

    page = client_as(VIEWER).get(CHOKE + "?target=all").content.decode()

    assert f'Detach <code class="arn">{ASSUME_AB}</code> from' in page
    what_if = urlencode({"change": f"--detach {ASSUME_AB} {OPS}", "run": "1"})
    assert f'href="/what-if/?{what_if.replace("&", "&amp;")}"' in page
