"""The one rule for reading an access group's stored edges for one of its members.

The analysis stores an edge per access group, and an edge of its own for a member it singles
out (for instance one denied by ARN in a trust policy). A member's own edge for a role, whatever
its outcome, replaces its group's edge for that role. The read side (`identities.queries.access`)
and the history of analyses (`identities.analysis.history`) both apply it through this function.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable


def group_edge_holds(own: Collection[tuple[str, Hashable]], member: str, target: Hashable) -> bool:
    """Whether the group's edge to `target` holds for `member`, given the (member, target)
    pairs that have an edge of their own."""
    return (member, target) not in own
