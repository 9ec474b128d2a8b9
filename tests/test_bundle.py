from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from identities.bundle import (
    BundleError,
    decode_policy_document,
    make_bundle,
    parse_bundle,
    read_bundle,
    read_bundles,
)
from tests.bundles import TRUST_EC2
from tests.conftest import TEST_DATA

ACCOUNT = "123456789012"


def minimal_bundle() -> dict[str, Any]:
    return {
        "format": "iamviz-bundle/1",
        "accounts": [
            {
                "id": ACCOUNT,
                "authorization_details": {
                    "UserDetailList": [
                        {
                            "UserName": "alice",
                            "UserId": "AIDAALICE",
                            "Arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
                            "GroupList": ["devs"],
                        }
                    ],
                    "GroupDetailList": [
                        {
                            "GroupName": "devs",
                            "GroupId": "AGPADEVS",
                            "Arn": f"arn:aws:iam::{ACCOUNT}:group/devs",
                        }
                    ],
                    "RoleDetailList": [
                        {
                            "RoleName": "web",
                            "RoleId": "AROAWEB",
                            "Arn": f"arn:aws:iam::{ACCOUNT}:role/web",
                            "AssumeRolePolicyDocument": TRUST_EC2,
                        }
                    ],
                    "Policies": [],
                },
            }
        ],
    }


def encode(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()


def test_parse_bundle_minimal_is_accepted() -> None:
    bundle = parse_bundle(encode(minimal_bundle()), source="b.json")

    assert [account["id"] for account in bundle["accounts"]] == [ACCOUNT]


def test_decode_policy_document_url_encoded_string_equals_object() -> None:
    encoded = quote(json.dumps(TRUST_EC2))

    assert decode_policy_document(encoded, source="s", path="$") == TRUST_EC2
    assert decode_policy_document(json.dumps(TRUST_EC2), source="s", path="$") == TRUST_EC2
    assert decode_policy_document(TRUST_EC2, source="s", path="$") == TRUST_EC2


def test_read_bundle_plain_authorization_details_takes_account_from_arns() -> None:
    bundle = read_bundle(TEST_DATA / "aws" / "authz-page-2.json")

    assert [account["id"] for account in bundle["accounts"]] == [ACCOUNT]
    role = bundle["accounts"][0]["authorization_details"]["RoleDetailList"][0]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "AWS": f"arn:aws:iam::{ACCOUNT}:user/alice"
    }


def test_read_bundles_merges_pages_of_one_call() -> None:
    bundle = read_bundles(
        [TEST_DATA / "aws" / "authz-page-1.json", TEST_DATA / "aws" / "authz-page-2.json"]
    )

    details = bundle["accounts"][0]["authorization_details"]
    assert [user["UserName"] for user in details["UserDetailList"]] == ["alice", "bob", "deployer"]
    assert [role["RoleName"] for role in details["RoleDetailList"]] == ["ops", "web"]
    assert details["IsTruncated"] is False


def test_read_bundles_same_account_twice_without_pagination_is_an_error() -> None:
    path = TEST_DATA / "aws" / "authz-page-2.json"

    with pytest.raises(BundleError) as error:
        read_bundles([path, path])

    assert error.value.path == "$.accounts[0].id"
    assert "is also in" in error.value.problem


def test_read_bundle_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(BundleError) as error:
        read_bundle(tmp_path / "nope.json")

    assert str(error.value).startswith(str(tmp_path / "nope.json"))
    assert "cannot read the file" in error.value.problem


def _break(mutate: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    bundle = minimal_bundle()
    mutate(bundle)
    return bundle


def _details(bundle: dict[str, Any]) -> dict[str, Any]:
    details: dict[str, Any] = bundle["accounts"][0]["authorization_details"]
    return details


def _account_updated(**fields: Any) -> bytes:
    """The encoded sample bundle with fields of its account changed."""
    return encode(_break(lambda b: b["accounts"][0].update(fields)))


def _first_updated(list_name: str, **fields: Any) -> bytes:
    """The encoded sample bundle with fields of the first entry of one details list changed."""
    return encode(_break(lambda b: _details(b)[list_name][0].update(fields)))


def _appended(list_name: str, entry: Callable[[dict[str, Any]], dict[str, Any]]) -> bytes:
    """The encoded sample bundle with ``entry(bundle)`` appended to one details list."""
    return encode(_break(lambda b: _details(b)[list_name].append(entry(b))))


def _first_field(list_name: str, problem: str, case_id: str, **fields: Any) -> Any:
    """A case changing one field of the first entry of a details list; the error names it."""
    [field] = fields
    path = f"{DETAILS}.{list_name}[0].{field}"
    return pytest.param(_first_updated(list_name, **fields), path, problem, id=case_id)


def _organization(**fields: Any) -> bytes:
    """The encoded sample bundle with an organisation of one root and these fields."""
    organization = {"roots": [{"Id": "r-1"}], "accounts": [], **fields}
    return encode(_break(lambda b: b.update(organization=organization)))


DETAILS = "$.accounts[0].authorization_details"
# fmt: off
MALFORMED = [
    pytest.param(
        b"{not json",
        "$",
        "not valid JSON: unexpected character, expected a string key at line 1 column 2",
        id="not-json",
    ),
    pytest.param(b"\xff\xfe", "$", "not UTF-8", id="not-utf8"),
    pytest.param(b"[1, 2]", "$", "expected a JSON object, found a list", id="top-level-list"),
    pytest.param(b"{}", "$", "neither an iamviz bundle", id="neither-format"),
    pytest.param(
        encode({"format": "iamviz-bundle/9", "accounts": []}),
        "$.format",
        "unsupported format",
        id="unknown-version",
    ),
    pytest.param(
        encode({"format": "iamviz-bundle/1", "accounts": []}),
        "$.accounts",
        "lists no accounts",
        id="no-accounts",
    ),
    pytest.param(
        encode({"format": "iamviz-bundle/1", "accounts": {}}),
        "$.accounts",
        "must be a list, found an object",
        id="accounts-not-list",
    ),
    pytest.param(
        _account_updated(id=123456789012),
        "$.accounts[0].id",
        "12 digits as a string",
        id="account-id-number",
    ),
    pytest.param(
        _account_updated(id="1234"), "$.accounts[0].id", "12 digits", id="account-id-short"
    ),
    pytest.param(
        encode(_break(lambda b: b["accounts"].append(copy.deepcopy(b["accounts"][0])))),
        "$.accounts[1].id",
        "listed twice",
        id="duplicate-account",
    ),
    pytest.param(
        encode(_break(lambda b: b["accounts"][0].pop("authorization_details"))),
        "$.accounts[0].authorization_details",
        "missing",
        id="no-details",
    ),
    pytest.param(
        encode(_break(lambda b: _details(b).update(UserDetailList="alice"))),
        f"{DETAILS}.UserDetailList",
        "must be a list, found a string",
        id="users-not-list",
    ),
    pytest.param(
        encode(_break(lambda b: _details(b)["UserDetailList"][0].pop("UserId"))),
        f"{DETAILS}.UserDetailList[0].UserId",
        "missing",
        id="user-without-id",
    ),
    _first_field("UserDetailList", "user of account 999999999999 listed under account 123456789012", "arn-other-account", Arn="arn:aws:iam::999999999999:user/alice"),
    _first_field("RoleDetailList", "not an IAM role ARN", "bad-arn", Arn="not-an-arn"),
    _first_field("RoleDetailList", "not valid JSON (after URL-decoding)", "bad-url-encoded-document", AssumeRolePolicyDocument="%7B%22Version"),
    _first_field("RoleDetailList", "has no Statement", "document-without-statement", AssumeRolePolicyDocument={"Version": "2012-10-17"}),
    pytest.param(
        _first_updated("UserDetailList", GroupList=["ghosts"]),
        f"{DETAILS}.UserDetailList[0].GroupList[0]",
        "which GroupDetailList does not list",
        id="unknown-group",
    ),
    pytest.param(
        _appended("UserDetailList", lambda b: dict(_details(b)["UserDetailList"][0], UserId="AIDAOTHER")),
        f"{DETAILS}.UserDetailList[1].UserName",
        "duplicate user name 'alice'",
        id="duplicate-user-name",
    ),
    pytest.param(
        _appended("Policies", lambda b: {"Arn": f"arn:aws:iam::{ACCOUNT}:policy/p", "DefaultVersionId": "v2", "PolicyVersionList": [{"VersionId": "v1", "Document": TRUST_EC2}]}),
        f"{DETAILS}.Policies[0].PolicyVersionList",
        "no version is the default",
        id="no-default-version",
    ),
    pytest.param(
        _account_updated(credential_report="name,arn\nx,y\n"),
        "$.accounts[0].credential_report",
        "lacks the column(s) user, mfa_active, password_enabled",
        id="bad-credential-report",
    ),
    pytest.param(
        _organization(accounts=[{"Id": ACCOUNT, "ParentId": "ou-missing"}]),
        "$.organization.accounts[0].ParentId",
        "unknown parent 'ou-missing'",
        id="org-unknown-parent",
    ),
    pytest.param(
        _organization(
            policies=[{"Id": "p-1", "Name": "x", "Type": "TAG_POLICY", "Content": TRUST_EC2}]
        ),
        "$.organization.policies[0].Type",
        "must be one of SERVICE_CONTROL_POLICY, RESOURCE_CONTROL_POLICY",
        id="org-policy-type",
    ),
    pytest.param(
        _organization(
            policies=[
                {
                    "Id": "p-1",
                    "Name": "x",
                    "Type": "SERVICE_CONTROL_POLICY",
                    "Content": TRUST_EC2,
                    "Targets": ["ou-nowhere"],
                }
            ]
        ),
        "$.organization.policies[0].Targets[0]",
        "unknown root, OU or account 'ou-nowhere'",
        id="org-policy-target",
    ),
]
# fmt: on


@pytest.mark.parametrize(("raw", "path", "problem"), MALFORMED)
def test_parse_bundle_malformed_input_names_path_and_problem(
    raw: str, path: str, problem: str
) -> None:
    with pytest.raises(BundleError) as error:
        parse_bundle(raw, source="input.json")

    assert error.value.source == "input.json"
    assert error.value.path == path
    assert problem in error.value.problem


@given(st.text())
def test_url_decode_inverts_quote(text: str) -> None:
    from urllib.parse import quote

    from identities.bundle_checks import _url_decode

    assert _url_decode(quote(text)) == text


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_url_decode_agrees_with_unquote_on_any_ascii(text: str) -> None:
    from urllib.parse import unquote

    from identities.bundle_checks import _url_decode

    assert _url_decode(text) == unquote(text)


def test_make_bundle_envelope_keys_in_documented_order() -> None:
    entry = {"id": ACCOUNT, "authorization_details": {}}

    bundle = make_bundle(
        [entry],
        organization={"roots": []},
        warnings=["w"],
        generated_at=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
    )

    assert list(bundle.items()) == [
        ("format", "iamviz-bundle/1"),
        ("generated_at", "2024-05-06T07:08:09Z"),
        ("accounts", [entry]),
        ("warnings", ["w"]),
        ("organization", {"roots": []}),
    ]


def test_make_bundle_leaves_out_what_is_not_given() -> None:
    assert make_bundle([]) == {"format": "iamviz-bundle/1", "accounts": []}


def test_parse_bundle_null_list_is_read_as_empty() -> None:
    bundle = minimal_bundle()
    _details(bundle)["GroupDetailList"] = None
    _details(bundle)["UserDetailList"][0]["GroupList"] = []

    parsed = parse_bundle(encode(bundle), source="b.json")

    assert _details(parsed)["GroupDetailList"] == []
