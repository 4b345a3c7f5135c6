"""One-time set-up links for a new account (issue 12, item 1).

A new agency's first administrator — or a deployment operator — is created without a
password and given a link. Following it, they choose a password; then they sign in as
everyone does and enrol their authenticator app at the second-factor step.

The token is Django's password-reset token under Tandem's own salt: it covers the
password hash and the last sign-in, so it stops working the moment the password is set
(one use), and it expires after ``PASSWORD_RESET_TIMEOUT`` seconds. Nothing is stored.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.urls import reverse
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from tandem.accounts.models import User


class SetupTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "tandem.accounts.setup.SetupTokenGenerator"


setup_tokens = SetupTokenGenerator()


def setup_path(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("accounts:setup", args=[uid, setup_tokens.make_token(user)])


def setup_link(user: User) -> str:
    """The full one-time link to hand to the person (shown once; never stored)."""
    return f"{str(settings.SITE_URL).rstrip('/')}{setup_path(user)}"


def user_for_setup(uidb64: str, token: str) -> User | None:
    """The account the link was made for, if the link is still good; else ``None``."""
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError):
        return None
    user = User.objects.filter(pk=pk, is_active=True).first()
    if (
        user is None
        or user.has_usable_password()
        or user.is_service_account
        or not setup_tokens.check_token(user, token)
    ):
        return None
    return user
