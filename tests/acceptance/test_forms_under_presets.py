"""Every form a role can reach can be filled in under each of the five presets (issue 14):
no required list or choice without options, so no form is a dead end like the dispatcher's
"How this request came in" was."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.test import Client

from tandem.agencies.models import Role
from tandem.agencies.presets import available_presets
from tests.conftest import make_agency, make_user, sign_in
from tests.helpers import url_pattern

pytestmark = pytest.mark.django_db

FILES = (".pdf", ".csv", ".xlsx", ".ics", ".json", ".svg", ".png")


class Forms(HTMLParser):
    """The POST forms of a page: their required selects and choice groups, and the links."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.problems: list[str] = []
        self._form: dict[str, Any] | None = None
        self._select: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "form" and (a.get("method") or "").lower() == "post":
            self._form = {"radios": {}, "required_radios": set()}
        elif self._form is not None and tag == "select":
            self._select = {"name": a.get("name"), "required": "required" in a, "options": 0}
        elif self._select is not None and tag == "option" and a.get("value"):
            self._select["options"] += 1
        elif self._form is not None and tag == "input" and a.get("type") in ("radio",):
            name = str(a.get("name"))
            self._form["radios"][name] = self._form["radios"].get(name, 0) + 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            if self._select["required"] and not self._select["options"]:
                self.problems.append(f"required list {self._select['name']!r} has no choice")
            self._select = None
        elif tag == "form":
            self._form = None


def _crawl(client: Client) -> dict[str, list[str]]:
    """URL pattern → the problems of the forms on it, for every page reachable by GET."""
    seen: dict[str, list[str]] = {}
    queue = ["/"]
    while queue:
        path = queue.pop(0)
        name = url_pattern(urlsplit(path).path)
        if name is None or name in seen:
            continue
        response = client.get(path)
        if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
            seen[name] = []
            continue
        page = Forms()
        page.feed(response.content.decode())
        seen[name] = page.problems
        for href in page.links:
            parts = urlsplit(href)
            if not parts.netloc and parts.path.startswith("/") and not parts.path.endswith(FILES):
                queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
    return seen


@pytest.mark.parametrize("preset", available_presets())
def test_every_form_each_role_reaches_has_a_choice_for_every_required_list(
    preset: str,
) -> None:
    agency = make_agency(preset, f"{preset.title()} Police Department", preset=preset)
    problems: list[str] = []
    pages = 0
    for role in Role:
        user = make_user(
            agency,
            role.value.replace("_", ""),
            role.value,
            sworn=role not in (Role.PRS, Role.DISPATCHER),
        )
        found = _crawl(sign_in(Client(), user))
        pages += len(found)
        problems += [f"{role.value} {name}: {p}" for name, ps in found.items() for p in ps]
    assert pages > 5 * len(Role)
    assert not problems, "\n".join(problems)
