"""Template context every page needs: the agency, the navigation for the user's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from tandem.accounts.middleware import is_fully_signed_in
from tandem.core.navigation import menu_groups, navigation_for


def shell(request: HttpRequest) -> dict[str, Any]:
    user: Any = getattr(request, "user", None)
    if user is None or not is_fully_signed_in(request):
        return {"nav_items": [], "agency": None}
    items = navigation_for(user, request.path)
    return {"nav_items": items, "nav_menu": menu_groups(items), "agency": user.agency}
