"""``tandem demo``: load one demo agency per policy preset and print how to sign in
(demo mode only)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User
from tandem.core import demo
from tandem.core.crypto import ensure_demo_master_key


class Command(BaseCommand):
    help = "Load the demo agencies, one per policy preset (TANDEM_DEMO=1 only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--code",
            metavar="USERNAME",
            help="Print the current six-digit sign-in code of a demo account and exit.",
        )
        parser.add_argument(
            "--agency",
            action="append",
            choices=[spec.slug for spec in demo.DEMO_AGENCIES],
            help="Load only this demo agency (repeatable). Default: all of them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("The demo runs only with TANDEM_DEMO=1 (never on real data).")
        if options["code"]:
            self._print_code(options["code"])
            return
        ensure_demo_master_key()
        loaded = demo.load_demo(options["agency"])
        credentials = {**demo.read_credentials(), **loaded}
        path = demo.write_credentials(credentials)
        site = settings.SITE_URL
        self.stdout.write(self.style.SUCCESS(f"\nDemo agencies ready ({len(loaded)})."))
        self.stdout.write(
            f"Open {site}: in demo mode the sign-in page lists every demo account with its "
            "password and its current code.\n"
        )
        for entry in loaded.values():
            self.stdout.write(f"{entry['name']} (preset {entry['preset']})")
            for role, account in entry["accounts"].items():
                self.stdout.write(f"  {role:16} {account['username']:26} {account['password']}")
        self.stdout.write(
            "\nThe second factor is a six-digit code. Either add the account's secret from "
            f"{path.name} to an authenticator app, or print the current code with:\n"
            "  TANDEM_DEMO=1 .venv/bin/tandem demo --code coordinator\n"
            f"(all credentials are in {path})\n"
        )

    def _print_code(self, name: str) -> None:
        user = User.objects.filter(username__in=[name, demo.username_for(name)]).first()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).first() if user else None
        if device is None:
            raise CommandError(f"No demo account '{name}'. Run `tandem demo` first.")
        self.stdout.write(demo.current_code(device))
