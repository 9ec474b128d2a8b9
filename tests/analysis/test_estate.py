"""Loading the estate for the engine."""

from __future__ import annotations

from dataclasses import fields

from identities.analysis.estate import _rebind
from identities.policy import Layer, PolicySource, parse_policy
from tests.bundles import arn

SOLO = "555555555555"


def test_rebound_statement_keeps_every_field_but_its_source():
    first = PolicySource(Layer.TRUST, "first", arn(SOLO, "role", "first"))
    second = PolicySource(Layer.TRUST, "second", arn(SOLO, "role", "second"))
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "S",
                "Effect": "Allow",
                "NotPrincipal": {"AWS": arn(SOLO, "user", "x")},
                "NotAction": "iam:*",
                "NotResource": "arn:aws:s3:::b",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }
    [original] = parse_policy(document, first).statements

    rebound = _rebind(original, second)

    assert rebound.source == second
    assert rebound.ref == f"statement 'S' (Statement[0]) of trust policy second ({second.arn})"
    assert {f.name: getattr(rebound, f.name) for f in fields(rebound) if f.name != "source"} == {
        f.name: getattr(original, f.name) for f in fields(original) if f.name != "source"
    }
