"""Helpers shared by the tests of the five departments' programs."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django.urls import reverse


def text(response: Any) -> str:
    return str(response.content.decode())


def sign_in_from_the_demo_listing(username: str) -> Client:
    """Read the account's password and current code off the demo sign-in page, as a
    newcomer does, and sign in through banner, password and code."""
    import re

    client = Client()
    client.post(reverse("accounts:banner"))
    page = text(client.get(reverse("accounts:login")))
    row = re.search(
        rf"<code>{re.escape(username)}</code></td><td><code>([^<]+)</code></td>"
        r"<td><code>(\d{6})</code>",
        page,
    )
    assert row, f"{username} is not listed on the demo sign-in page"
    password, code = row.groups()
    step = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert step["Location"] == reverse("accounts:mfa")
    done = client.post(reverse("accounts:mfa"), {"code": code})
    assert done.status_code == 302
    assert client.get(reverse("core:home")).status_code == 200
    return client
