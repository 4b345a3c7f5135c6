"""``tandem operator create USERNAME`` / ``tandem operator list``: deployment operators.

An operator belongs to no agency. They sign in like everyone (password and authenticator)
and see one screen, Agencies, where they list agencies and create one with its first
administrator. They see nothing inside any agency."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.accounts.models import User
from tandem.accounts.services import account_invite
from tandem.accounts.setup import setup_link


class Command(BaseCommand):
    help = "Create or list deployment operators (who create agencies on a screen)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = actions.add_parser("create", help="Invite an operator; prints a set-up link.")
        create.add_argument("username")
        create.add_argument("--email", default="")
        actions.add_parser("list", help="List the operators.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            for user in User.objects.filter(is_staff=True, agency__isnull=True):
                state = "active" if user.is_active else "disabled"
                self.stdout.write(f"{user.username}\t{state}")
            return
        try:
            user = account_invite(
                acting_user=None,
                agency_id=None,
                operator=True,
                username=options["username"],
                email=options["email"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(self.style.SUCCESS(f"Operator {user.username} invited."))
        self.stdout.write(
            f"One-time set-up link (works once, expires in a few days):\n  {setup_link(user)}"
        )
