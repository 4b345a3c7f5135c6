"""``tandem accounts disable-inactive`` (the scheduled job) and ``tandem accounts unlock``
(for an operator when the only administrator is locked out)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.accounts.models import User
from tandem.accounts.services import disable_inactive_accounts, inactive_accounts, user_unlock


class Command(BaseCommand):
    help = "Account maintenance: disable inactive accounts, release a locked account."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        inactive = actions.add_parser(
            "disable-inactive",
            help="Deactivate accounts with no sign-in for TANDEM_INACTIVE_ACCOUNT_DAYS days.",
        )
        inactive.add_argument(
            "--dry-run", action="store_true", help="Only list the accounts that would be disabled."
        )
        unlock = actions.add_parser("unlock", help="Release a locked account.")
        unlock.add_argument("username")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "unlock":
            self._unlock(options["username"])
        elif options["dry_run"]:
            names = list(inactive_accounts().values_list("username", flat=True))
            for name in names:
                self.stdout.write(name)
            self.stdout.write(f"{len(names)} account(s) would be disabled.")
        else:
            count = disable_inactive_accounts()
            self.stdout.write(self.style.SUCCESS(f"{count} inactive account(s) disabled."))

    def _unlock(self, username: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account with username {username!r}.")
        user_unlock(acting_user=None, user=user)
        self.stdout.write(self.style.SUCCESS(f"{username} is released."))
