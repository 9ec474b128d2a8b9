"""Principals of accounts outside the synced estate, named by a trust policy: their links lead
to the access graph around them, not to a 404."""

from __future__ import annotations


def test_arn_of_an_outside_account_opens_the_access_graph_around_it(logged_in_client, two_analyses):
    # Known only from the trust policy that names it: its access is what the graph shows.
    response = logged_in_client.get("/arn/arn:aws:iam::999999999999:root")

    assert (response.status_code, response["Location"]) == (
        302,
        "/graph/access/?focus=account%3A999999999999&depth=1",
    )
    graph = logged_in_client.get(response["Location"])
    assert graph.status_code == 200
    assert "prod-ops" in graph.content.decode()
    # An outside principal no trust policy names stays unknown.
    assert logged_in_client.get("/arn/arn:aws:iam::999999999999:role/nope").status_code == 404
