"""``tandem demo``: load the demo agency and print how to sign in (demo mode only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User
from tandem.core import demo
from tandem.core.crypto import ensure_demo_master_key


class Command(BaseCommand):
    help = "Load the demo agency with one account per role (TANDEM_DEMO=1 only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--code",
            metavar="ROLE",
            help="Print the current six-digit sign-in code of a demo account and exit.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("The demo runs only with TANDEM_DEMO=1 (never on real data).")
        if options["code"]:
            self._print_code(options["code"])
            return
        ensure_demo_master_key()
        credentials = demo.load_demo()
        path = demo.write_credentials(credentials)
        site = settings.SITE_URL
        self.stdout.write(self.style.SUCCESS(f"\nDemo agency ready: {demo.DEMO_NAME}"))
        self.stdout.write(f"Open {site} and sign in with one of these accounts:\n")
        self.stdout.write(f"  {'role':16} {'username':16} password")
        for role, entry in credentials.items():
            self.stdout.write(f"  {role:16} {entry['username']:16} {entry['password']}")
        self.stdout.write(
            "\nThe second factor is a six-digit code. Either add the account's secret from "
            f"{path.name} to an authenticator app, or print the current code with:\n"
            "  TANDEM_DEMO=1 .venv/bin/tandem demo --code coordinator\n"
            f"(all credentials are in {path})\n"
        )

    def _print_code(self, role: str) -> None:
        username = demo.username_for(role)
        user = User.objects.filter(username=username).first()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() if user else None
        if device is None:
            raise CommandError(f"No demo account for '{role}'. Run `tandem demo` first.")
        self.stdout.write(demo.current_code(device))
