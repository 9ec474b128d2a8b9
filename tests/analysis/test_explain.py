"""Why (not)? on the sample organisation (issue 9, items 8 and 9)."""

from __future__ import annotations

from identities.analysis.explain import explain_access
from identities.policy import Outcome

DEV, PROD = "333333333333", "444444444444"
ALICE = f"arn:aws:iam::{DEV}:user/alice"
BREAK_GLASS = f"arn:aws:iam::{PROD}:role/prod-break-glass"
PUBLIC_READER = f"arn:aws:iam::{DEV}:role/public-reader"


def test_refused_pair_with_a_chain_says_not_directly_and_lists_each_hop(imported_sample):
    # Role chaining: a role assuming a role, each session at most one hour.
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
    explanation = explain_access(ALICE, BREAK_GLASS)

    lines = explanation.text.splitlines()
    assert (explanation.outcome, explanation.reachable, explanation.chain) == (
        Outcome.IMPLICIT_DENY,
        True,
        (
            ALICE,
            f"arn:aws:iam::{DEV}:role/dev-ops",
            f"arn:aws:iam::{PROD}:role/prod-ops",
            BREAK_GLASS,
        ),
    )
    assert lines[:6] == [
        f"{ALICE} cannot assume {BREAK_GLASS} directly, but can through dev-ops → prod-ops, "
        "only if conditions on aws:MultiFactorAuthPresent (hop 1) are met "
        "(3 hops; each chained session lasts at most one hour).",
        "",
        "The chain, hop by hop (from the last analysis; each hop evaluated live):",
        f"  1. alice → dev-ops: {ALICE} CAN assume arn:aws:iam::{DEV}:role/dev-ops, only if "
        "conditions on aws:MultiFactorAuthPresent are met.",
        f"  2. dev-ops → prod-ops: arn:aws:iam::{DEV}:role/dev-ops CAN assume "
        f"arn:aws:iam::{PROD}:role/prod-ops.",
        f"  3. prod-ops → prod-break-glass: arn:aws:iam::{PROD}:role/prod-ops CAN assume "
        f"{BREAK_GLASS}.",
    ]


def test_wildcard_source_states_the_principal_rule_not_the_root_user(imported_sample):
    # Principal element page, "All principals".
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-anonymous
    text = explain_access("*", PUBLIC_READER).text

    assert "root user" not in text
    assert "granted by the trust policy alone" not in text
    assert (
        '4. Identity-based policies: those of whoever calls. A trust policy naming "*" lets IAM '
        "users and roles of the role's own account assume it with no other permission (within "
        "their permissions boundary); principals of any other account also need an "
        "identity-based Allow for sts:AssumeRole on the role. Each principal of the synced "
        "accounts for which that holds has its own edge."
    ) in text.splitlines()
