"""The escalations page's total is the same whichever view shows it: by method (the counts by
method added up) as by principal and in the list of every escalation."""

from __future__ import annotations

import pytest


@pytest.fixture
def generated_estate(db: None) -> None:
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=20, roles=40, seed=2), label="generated")
    analyse_estate()


@pytest.mark.parametrize("filters", [{}, {"status": "proven"}, {"q": "role/"}])
def test_the_total_is_the_same_in_every_view(
    generated_estate, logged_in_client, filters: dict[str, str]
):
    totals = {
        view: logged_in_client.get("/access/escalations/", {**filters, "view": view}).context[
            "total"
        ]
        for view in ("method", "principal", "all")
    }

    assert totals["method"] > 0
    assert totals["method"] == totals["principal"] == totals["all"]
