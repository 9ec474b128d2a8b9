"""`user_role` and `can` in every template: the header shows the role, pages hide the buttons a
role may not use (the views refuse them anyway)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from identities.roles import ADMIN, OPERATOR, REVIEWER, has_role, role_of


def roles(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)

    def abilities() -> dict[str, bool]:
        return {
            "review": has_role(user, REVIEWER),
            "operate": has_role(user, OPERATOR),
            "administer": has_role(user, ADMIN),
        }

    return {
        "user_role": SimpleLazyObject(lambda: role_of(user)),
        "can": SimpleLazyObject(abilities),
    }
