"""``tandem keys generate | status | rotate | rotate-epoch``: operate the keys (X-5, P1).

Rotating: put a new entry first in TANDEM_MASTER_KEYS (or the key file), keep the old ones
after it, run ``tandem keys rotate``, check ``tandem keys status`` shows no data key under
the old id, then remove the old entry.

Epoch keys (``core/epochs.py``) rotate by themselves in ``tandem worker``;
``tandem keys rotate-epoch`` forces a rotation now. ``docs/keys.md`` says which key files to
back up and which never to.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tandem.core import crypto


class Command(BaseCommand):
    help = "Generate, inspect and rotate the master keys that wrap per-record data keys."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        generate = actions.add_parser("generate", help="Print a fresh 'id:base64key' entry.")
        generate.add_argument(
            "--id", dest="key_id", help="Key id (default: mk-<date>-<6 random hex digits>)."
        )
        actions.add_parser("status", help="Count data keys per master key, and shredded ones.")
        rotate = actions.add_parser(
            "rotate", help="Re-wrap every live data key under the current (first) master key."
        )
        rotate.add_argument("--batch-size", type=int, default=500)
        actions.add_parser(
            "rotate-epoch",
            help="Start a new epoch now: re-wrap open peer-support keys, destroy old epochs.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "generate":
                self._generate(options.get("key_id"))
            elif action == "status":
                self._status()
            elif action == "rotate-epoch":
                self._rotate_epoch()
            else:
                self._rotate(options["batch_size"])
        except (crypto.CryptoError, ImproperlyConfigured, ValueError) as exc:
            raise CommandError(str(exc)) from None

    def _generate(self, key_id: str | None) -> None:
        self.stdout.write(crypto.generate_master_key_line(key_id))

    def _status(self) -> None:
        status = crypto.keys_status()
        self.stdout.write(f"Current master key: {status.current}")
        self.stdout.write(f"Configured master keys: {', '.join(status.configured)}")
        for key_id in sorted({*status.configured, *status.live_by_master}):
            count = status.live_by_master.get(key_id, 0)
            note = "" if key_id in status.configured else "  NOT CONFIGURED: unreadable"
            self.stdout.write(f"Data keys wrapped by {key_id}: {count}{note}")
        self.stdout.write(f"Shredded data keys: {status.shredded}")
        missing = self._epoch_status()
        if status.unreadable:
            raise CommandError(
                "Some data keys are wrapped by master keys that are not configured: "
                + ", ".join(sorted(status.unreadable))
            )
        if missing:
            raise CommandError(
                f"{missing} peer-support data key(s) are wrapped under epoch keys that are "
                "not in the epoch key directory: their identities can no longer be read."
            )

    def _epoch_status(self) -> int:
        from tandem.core.epochs import epoch_status

        status = epoch_status()
        now = timezone.now()
        self.stdout.write(
            f"Epoch key directory: {status.directory} (new epoch every {status.hours} h)"
        )
        for index, (epoch, count) in enumerate(reversed(status.epochs)):
            age = (now - epoch.created_at).total_seconds() / 3600
            role = "current" if index == 0 else "previous" if index == 1 else "to destroy"
            self.stdout.write(
                f"Epoch {epoch.epoch_id} ({role}, {age:.1f} h old): {count} live data key(s)"
            )
        if not status.epochs:
            self.stdout.write("No epoch key yet (the first peer-support request makes one).")
        if status.not_epoch_wrapped:
            self.stdout.write(
                f"Peer-support data keys not yet under an epoch: {status.not_epoch_wrapped} "
                "(run `tandem keys rotate-epoch`)"
            )
        for epoch_id, count in sorted(status.missing.items()):
            self.stdout.write(f"Data keys under missing epoch {epoch_id}: {count}  UNREADABLE")
        return sum(status.missing.values())

    def _rotate_epoch(self) -> None:
        from tandem.core.epochs import epoch_rotate

        result = epoch_rotate(force=True)
        self.stdout.write(
            self.style.SUCCESS(
                f"New epoch {result.current}: re-wrapped {result.rewrapped} data key(s) and "
                f"{result.stragglers} straggler(s); destroyed {result.destroyed} old epoch "
                f"key(s)" + (f", kept {result.kept} still needed" if result.kept else "") + "."
            )
        )
        if result.unreadable:
            raise CommandError(
                f"{result.unreadable} data key(s) could not be re-wrapped (see "
                "`tandem keys status`); the epochs they need were kept."
            )

    def _rotate(self, batch_size: int) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        result = crypto.keys_rotate(batch_size=batch_size)
        previous = ", ".join(f"{k}: {n}" for k, n in sorted(result.by_previous_master.items()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-wrapped {result.rewrapped} data key(s) under {result.current}"
                + (f" (from {previous})" if previous else "")
                + f" in {result.batches} batch(es)."
            )
        )
