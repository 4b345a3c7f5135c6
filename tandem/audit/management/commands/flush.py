"""``flush`` as Django's, except that inside the test environment it may empty the audit tables.

Django's transactional tests (live server, browser tests) reset the database with ``flush``
after each test; the audit triggers would refuse that. Only while Django's test environment
is set up (``django.core.mail.outbox`` exists) does this command lift the protection, inside
one transaction, for the length of the flush. Anywhere else ``flush`` fails on the audit
table like any other DELETE would: the audit trail is not emptied by a maintenance command.
"""

from __future__ import annotations

from typing import Any

from django.core import mail
from django.core.management.commands.flush import Command as DjangoFlushCommand
from django.db import connections, transaction

from tandem.audit.protection import protection_lifted


class Command(DjangoFlushCommand):
    def handle(self, **options: Any) -> None:
        if not hasattr(mail, "outbox"):
            super().handle(**options)
            return
        database = options["database"]
        with transaction.atomic(using=database), protection_lifted(connections[database]):
            super().handle(**options)
