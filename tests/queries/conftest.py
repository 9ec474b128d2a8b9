"""Fixtures of the read side: the small estates of the graph tests."""

from __future__ import annotations

from tests.graph.conftest import denied_member_estate

__all__ = ["denied_member_estate"]
