"""Password checks (CJIS Security Policy 5.6.2.1.1): refuse passwords that attackers try first.

Two lists ship with the application, so no password ever leaves the server:

* Django's own ``common-passwords.txt.gz`` (about 20,000 passwords taken from breach
  corpora), and
* ``data/breached-extra.txt``: police- and agency-themed passwords and keyboard walks.

A password is refused when it, or the same password without trailing digits and symbols
or with common letter-for-symbol swaps undone ("P@ssw0rd2024!" → "password"), is listed.
"""

from __future__ import annotations

import gzip
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import django.contrib.auth
from django.core.exceptions import ValidationError

if TYPE_CHECKING:
    from tandem.accounts.models import User

BREACHED_MESSAGE = (
    "This password appears in lists of passwords exposed in data breaches, or is a small "
    "variation of one, so attackers try it first. Choose a different password: a few "
    "unrelated words together work well."
)
_LEET = str.maketrans(
    {
        "@": "a",
        "4": "a",
        "3": "e",
        "1": "i",
        "!": "i",
        "0": "o",
        "$": "s",
        "5": "s",
        "7": "t",
        "+": "t",
    }
)
_TRAILING = re.compile(r"[\d\W_]+$")


@lru_cache(maxsize=1)
def breached_passwords() -> frozenset[str]:
    """Both lists, lower-cased. Loaded once per process."""
    django_list = Path(django.contrib.auth.__file__).parent / "common-passwords.txt.gz"
    with gzip.open(django_list, "rt", encoding="utf-8") as handle:
        words = {line.strip().lower() for line in handle}
    extra = resources.files("tandem.accounts").joinpath("data/breached-extra.txt")
    for line in extra.read_text(encoding="utf-8").splitlines():
        line = line.strip().lower()
        if line and not line.startswith("#"):
            words.add(line)
    words.discard("")
    return frozenset(words)


def candidates(password: str) -> set[str]:
    """The password and the variations that guessing tools derive from listed words."""
    base = password.strip().lower()
    forms = {base, _TRAILING.sub("", base)}
    forms |= {form.translate(_LEET) for form in list(forms)}
    forms |= {_TRAILING.sub("", form) for form in list(forms)}
    return {form for form in forms if len(form) >= 4}


def is_breached(password: str) -> bool:
    listed = breached_passwords()
    return any(form in listed for form in candidates(password))


class BreachedPasswordValidator:
    """``AUTH_PASSWORD_VALIDATORS`` entry: offline check against the shipped lists."""

    def validate(self, password: str, user: User | None = None) -> None:
        if is_breached(password):
            raise ValidationError(BREACHED_MESSAGE, code="password_breached")

    def get_help_text(self) -> str:
        return (
            "Your password cannot be one that appears in lists of passwords exposed in data "
            "breaches, or a small variation of one."
        )
