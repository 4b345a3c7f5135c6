"""``tandem sso set|link``: configure an agency's OpenID Connect provider and tie accounts to
their subject there. The client secret is read from ``TANDEM_SSO_CLIENT_SECRET`` so it
never appears on a command line."""

from __future__ import annotations

import os
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.accounts.models import User
from tandem.accounts.oidc import external_identity_link, identity_provider_set


class Command(BaseCommand):
    help = "Configure single sign-on (OIDC) for an agency, acting as one of its administrators."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        config = sub.add_parser("set", help="Set the agency's identity provider.")
        config.add_argument("--admin", required=True, help="Username of an administrator.")
        config.add_argument("--issuer", required=True)
        config.add_argument("--client-id", required=True)
        config.add_argument("--mfa-amr", default="", help="Comma-separated amr values.")
        config.add_argument("--mfa-acr", default="", help="Comma-separated acr values.")
        config.add_argument("--jit", action="store_true", help="Create unknown accounts.")
        link = sub.add_parser("link", help="Tie an account to its subject at the provider.")
        link.add_argument("--admin", required=True)
        link.add_argument("--user", required=True)
        link.add_argument("--subject", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        admin = User.objects.filter(username=options["admin"], is_active=True).first()
        if admin is None or admin.agency_id is None:
            raise CommandError("No active account of an agency with that username.")
        try:
            if options["action"] == "set":
                provider = identity_provider_set(
                    acting_user=admin,
                    issuer=options["issuer"],
                    client_id=options["client_id"],
                    client_secret=os.environ.get("TANDEM_SSO_CLIENT_SECRET") or None,
                    mfa_amr=[v for v in options["mfa_amr"].split(",") if v] or None,
                    mfa_acr=[v for v in options["mfa_acr"].split(",") if v],
                    jit_create=options["jit"],
                )
                self.stdout.write(f"Single sign-on for {provider.agency} via {provider.issuer}.")
            else:
                user = User.objects.filter(
                    username=options["user"], agency_id=admin.agency_id
                ).first()
                if user is None:
                    raise CommandError("No account with that username in the agency.")
                external_identity_link(acting_user=admin, user=user, subject=options["subject"])
                self.stdout.write(f"{user.username} signs in as {options['subject']}.")
        except PermissionDenied:
            raise CommandError("That account is not an administrator of its agency.") from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
