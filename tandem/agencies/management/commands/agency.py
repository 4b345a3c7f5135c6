"""``tandem agency create|list|presets``: set up agencies from the shipped policy presets.

``create`` also invites the agency's first administrator and prints their one-time set-up
link: they choose a password, enrol their authenticator at their first sign-in, and manage
everything else on screens."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.accounts.setup import setup_link
from tandem.agencies.models import Agency
from tandem.agencies.presets import available_presets, load_preset
from tandem.agencies.services import agency_create_with_administrator


class Command(BaseCommand):
    help = "Create and list agencies; list the policy presets they can start from."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        create = sub.add_parser("create", help="Create an agency from a policy preset.")
        create.add_argument("--preset", required=True, help="Preset name (see 'presets').")
        create.add_argument("--slug", required=True, help="Short lowercase identifier.")
        create.add_argument("--name", required=True, help="Full name of the agency.")
        create.add_argument("--short-name", default="", help="Name shown in the header.")
        create.add_argument("--time-zone", default="America/New_York")
        create.add_argument(
            "--admin-username",
            default="",
            help="The first administrator's username (default: SLUG-admin).",
        )
        create.add_argument("--admin-email", default="", help="The first administrator's e-mail.")
        sub.add_parser("list", help="List agencies.")
        sub.add_parser("presets", help="List the shipped policy presets.")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"_{options['action']}")(options)

    def _create(self, options: dict[str, Any]) -> None:
        preset = options["preset"]
        if preset not in available_presets():
            raise CommandError(
                f"Unknown preset '{preset}'. Available presets: {', '.join(available_presets())}."
            )
        slug = options["slug"].strip().lower()
        try:
            agency, admin = agency_create_with_administrator(
                acting_user=None,
                slug=slug,
                name=options["name"],
                preset=preset,
                short_name=options["short_name"],
                time_zone=options["time_zone"],
                admin_username=options["admin_username"] or f"{slug}-admin",
                admin_email=options["admin_email"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        message = f"Created agency '{agency.slug}' ({agency.name}) from preset {preset}."
        self.stdout.write(self.style.SUCCESS(message))
        self.stdout.write(
            f"First administrator: {admin.username}. Give them this one-time set-up link "
            f"(it works once and expires in a few days):\n  {setup_link(admin)}"
        )

    def _list(self, options: dict[str, Any]) -> None:
        agencies = Agency.objects.order_by("slug")
        if not agencies:
            self.stdout.write(
                "No agencies yet. Create one with: "
                "tandem agency create --preset NAME --slug SLUG --name NAME"
            )
        for agency in agencies:
            self.stdout.write(f"{agency.slug}\t{agency.name}\tpreset={agency.preset}")

    def _presets(self, options: dict[str, Any]) -> None:
        for name in available_presets():
            document = load_preset(name).document
            self.stdout.write(f"{name}\t{document.reference}\t{document.title}")
