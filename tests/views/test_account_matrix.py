"""The estate from above (issue 11, item 1): an account-to-account matrix of the principals
that can assume roles, counted from the stored edges, each cell opening the roles it counts."""

from __future__ import annotations

from collections import defaultdict

import pytest
from django.urls import reverse

from identities.arns import account_of
from identities.queries import access

pytestmark = pytest.mark.django_db


@pytest.fixture
def generated_estate(db: None) -> None:
    from identities.analysis import analyse_estate
    from identities.ingest.imports import import_bundle
    from identities.sample.generate import generate_bundle

    import_bundle(generate_bundle(accounts=3, users=20, roles=40, seed=2), label="generated")
    analyse_estate()


def _expected() -> tuple[dict[tuple[str, str], set[str]], dict[tuple[str, str], dict[str, set]]]:
    """Every direct edge with groups expanded, by (source row, target account)."""
    principals: dict[tuple[str, str], set[str]] = defaultdict(set)
    roles: dict[tuple[str, str], dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for edge in access.iter_direct_edges():
        cell = (access.matrix_source(edge.source, edge.source_kind), account_of(edge.target))
        principals[cell].add(edge.source)
        roles[cell][edge.target].add(edge.source)
    return principals, roles


@pytest.mark.parametrize("fixture", ["generated_estate", "imported_sample"])
def test_account_matrix_counts_equal_the_expanded_edges(request, fixture):
    request.getfixturevalue(fixture)
    principals, roles = _expected()

    matrix = access._count_account_matrix()

    assert matrix.cells == {cell: len(found) for cell, found in principals.items()}
    assert matrix.roles == {
        cell: {arn: len(found) for arn, found in by_role.items()} for cell, by_role in roles.items()
    }


def test_account_matrix_page_links_every_non_empty_cell(generated_estate, logged_in_client):
    response = logged_in_client.get(reverse("identities:account-matrix"))

    matrix = response.context["matrix"]
    body = response.content.decode()
    assert body.count("data-cell=") == len(matrix.cells) > 0
    assert len(response.context["rows"]) == len(matrix.sources)


def test_account_matrix_cell_lists_the_roles_it_counts(generated_estate, logged_in_client):
    matrix = access.account_matrix()
    cell = max(matrix.cells, key=lambda key: (key[0] != key[1], matrix.cells[key]))

    response = logged_in_client.get(
        reverse("identities:account-matrix"),
        {"from": cell[0], "to": cell[1]},
        headers={"HX-Request": "true", "HX-Target": "matrix-cell"},
    )

    body = response.content.decode()
    assert body.lstrip().startswith('<section id="matrix-cell"')
    assert response.context["cell"] == matrix.cells[cell]
    listed = dict(response.context["page"].object_list)
    assert response.context["page"].paginator.count == len(matrix.roles[cell])
    assert all(matrix.roles[cell][arn] == count for arn, count in listed.items())


def test_account_trust_boundary_lists_who_from_outside_gets_in(generated_estate, logged_in_client):
    matrix = access.account_matrix()
    target = matrix.targets[0]

    response = logged_in_client.get(
        reverse("identities:account-matrix"),
        {"to": target},
        headers={"HX-Request": "true", "HX-Target": "matrix-cell"},
    )

    boundary = response.context["boundary"]
    expected = {s: n for (s, t), n in matrix.cells.items() if t == target and s != target}
    assert {source: count for source, count, _ in boundary} == expected
    assert all(sum(n for _, n in roles) >= count for _, count, roles in boundary)
    assert "Trust boundary of" in response.content.decode()
