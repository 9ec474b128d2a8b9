"""Every edge and finding kind says what it means, how to remove it and where AWS documents
it (issue 11, item 5), and the pages that show one show it."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from identities.graph.build import ACCESS_EDGE_KINDS, EDGE_KIND_LABELS, IDENTITY_EDGE_KINDS
from identities.help import EDGE_HELP, FINDING_HELP, edge_help
from identities.models import Finding

DEV, PROD = "333333333333", "444444444444"
EDGE_KINDS = sorted(
    (set(EDGE_KIND_LABELS) | set(ACCESS_EDGE_KINDS) | set(IDENTITY_EDGE_KINDS)) - {"folded"}
)


@pytest.mark.parametrize("kind", EDGE_KINDS)
def test_every_edge_kind_has_help_with_an_aws_page(kind):
    help = EDGE_HELP[kind]

    assert help.meaning.endswith(".") and help.remedy.endswith(".")
    assert help.doc.startswith("https://docs.aws.amazon.com/")


@pytest.mark.parametrize("kind", [value for value, _ in Finding.Kind.choices])
def test_every_finding_kind_has_help_with_an_aws_page(kind):
    help = FINDING_HELP[kind]

    assert help.meaning.endswith(".") and help.remedy.endswith(".")
    assert help.doc.startswith("https://docs.aws.amazon.com/")


def test_edge_panel_shows_its_kinds_help(logged_in_client, imported_sample):
    response = logged_in_client.get(
        reverse("identities:graph-edge"),
        {"source": f"user:{DEV}:ci-deploy", "target": f"role:{PROD}:deploy", "kind": "assume"},
        headers={"HX-Request": "true", "HX-Target": "node-panel"},
    )

    body = response.content.decode()
    assert escape(edge_help("assume").remedy) in body
    assert f'href="{edge_help("assume").doc}"' in body


def test_findings_page_and_role_page_show_help(logged_in_client, imported_sample):
    findings = logged_in_client.get(reverse("identities:findings"), {"kind": "public_role"})
    role = logged_in_client.get(reverse("identities:role-access", args=[PROD, "deploy"]))

    assert escape(FINDING_HELP["public_role"].remedy) in findings.content.decode()
    assert f'href="{edge_help("assume").doc}"' in role.content.decode()
