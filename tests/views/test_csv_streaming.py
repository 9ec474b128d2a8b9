"""CSV downloads are streamed: the header alone first, then rows in chunks, formula-safe; the
rows of "who can assume this role" are read only as the download is sent, those of a list a
thousand at a time in the list's order."""

from __future__ import annotations

import csv
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from identities.models import IamUser
from identities.views.common import csv_chunks
from tests.factories import AccountFactory, IamUserFactory

PROD, DEV = "444444444444", "333333333333"
ALICE = f"arn:aws:iam::{DEV}:user/alice"


def test_csv_chunks_sends_the_header_alone_then_rows_in_chunks():
    rows = [["name", "note"], *([f"user-{n}", "=1+2"] for n in range(5))]

    chunks = list(csv_chunks(iter(rows), chunk_rows=2))

    assert chunks == [
        "name,note\r\n",
        "user-0,'=1+2\r\nuser-1,'=1+2\r\n",
        "user-2,'=1+2\r\nuser-3,'=1+2\r\n",
        "user-4,'=1+2\r\n",
    ]


def test_csv_chunks_reads_no_row_before_it_is_iterated():
    read: list[int] = []

    def rows():
        for number in range(3):
            read.append(number)
            yield [str(number)]

    chunks = csv_chunks(rows(), chunk_rows=10)
    assert read == []
    first = next(chunks)

    assert (first, read) == ("0\r\n", [0])
    assert list(chunks) == ["1\r\n2\r\n"]


@pytest.mark.django_db
def test_role_access_csv_reads_the_edges_only_once_streamed(imported_sample, logged_in_client):
    url = f"/accounts/{PROD}/roles/prod-break-glass/access/?format=csv"

    with CaptureQueriesContext(connection) as asked:
        response = logged_in_client.get(url)
    with CaptureQueriesContext(connection) as streamed:
        chunks = list(response.streaming_content)

    assert not any("identities_accessedge" in q["sql"] for q in asked.captured_queries)
    assert any("identities_accessedge" in q["sql"] for q in streamed.captured_queries)
    assert chunks[0] == b"source,hops,outcome,conditions,condition_values,granted_by_or_chain\r\n"
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode())))
    chain_rows = [row[2] == "chain" for row in rows[1:]]
    assert chain_rows == sorted(chain_rows)  # the direct edges, then the chains
    assert [ALICE, "3", "chain"] in [row[:3] for row in rows]


@pytest.mark.django_db
def test_user_list_csv_reads_its_rows_in_chunks_the_first_small(logged_in_client):
    account = AccountFactory(account_id="111111111111")
    # Names of their own: the factory's sequence goes on from earlier tests.
    IamUser.objects.bulk_create(
        IamUserFactory.build(account=account, name=f"user-{n}") for n in range(1200)
    )

    response = logged_in_client.get("/users/", {"format": "csv"})
    with CaptureQueriesContext(connection) as streamed:
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))

    reads = [
        q["sql"]
        for q in streamed.captured_queries
        if 'FROM "identities_iamuser"' in q["sql"]
        and (
            '"identities_iamuser"."id" IN (' in q["sql"]
            or '"identities_iamuser"."id" = ANY(' in q["sql"]
        )
    ]
    # 500 rows first (the download starts at once), then the other 700 in one read.
    assert len(reads) == 2
    assert rows[0][:2] == ["account_id", "name"]
    assert [row[1] for row in rows[1:]] == sorted(f"user-{n}" for n in range(1200))
