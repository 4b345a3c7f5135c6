"""``tandem roles list|approve|decline``: program roles awaiting a second person.

In the agency the chief or a holder of the role decides, on the "Roles awaiting a decision"
screen. The console is for a deployment operator when nobody in the agency can (a new
agency with no chief and no holder yet); it refuses otherwise. Decisions are audited with
the operator's name and no account as actor.
"""

from __future__ import annotations

import getpass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.accounts.models import RoleRequest, RoleRequestStatus, role_deciders
from tandem.accounts.services import role_grant_approve, role_grant_reject


def _operator_default() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


class Command(BaseCommand):
    help = "List, approve or decline program roles awaiting a second person."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        listing = sub.add_parser("list", help="Pending role requests.")
        listing.add_argument("--agency", default="", help="Agency slug (default: all).")
        for name, text in (
            ("approve", "Approve a request nobody in the agency can decide."),
            ("decline", "Decline a request nobody in the agency can decide."),
        ):
            action = sub.add_parser(name, help=text)
            action.add_argument("request_id", type=int)
            action.add_argument(
                "--operator",
                default=_operator_default(),
                help="Who decides, for the audit trail (default: login name).",
            )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "list":
            self._list(options["agency"])
            return
        role_request = RoleRequest.objects.filter(pk=options["request_id"]).first()
        if role_request is None:
            raise CommandError(f"No role request {options['request_id']}.")
        decide = role_grant_approve if options["action"] == "approve" else role_grant_reject
        try:
            decide(
                acting_user=None,
                role_request=role_request,
                operator=str(options["operator"]).strip(),
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Request {role_request.pk} {role_request.get_status_display().lower()}."
            )
        )

    def _list(self, slug: str) -> None:
        pending = (
            RoleRequest.objects.filter(status=RoleRequestStatus.PENDING)
            .select_related("agency", "user", "proposed_by")
            .order_by("agency__slug", "pk")
        )
        if slug:
            pending = pending.filter(agency__slug=slug)
        for item in pending:
            deciders = role_deciders(item).count()
            who = item.proposed_by.username if item.proposed_by else "-"
            self.stdout.write(
                f"{item.pk}\t{item.agency.slug}\t{item.user.username}\t"
                f"{item.role}\tproposed by {who}\t{deciders} can decide"
            )
        if not pending:
            self.stdout.write("No role requests are waiting.")
