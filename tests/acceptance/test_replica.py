"""Read replicas: with ``TANDEM_REPLICA_DATABASE_URL`` set, list and report reads go to the
``replica`` alias and everything that decides or makes a write stays on the primary. Tested
with the second alias pointed at the same database, as the issue asks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.db import connection

from tests.helpers import ROOT, child_env, postgres_url, python_output

SCRIPT = r"""
import django
django.setup()
from django.conf import settings
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from tandem.agencies.models import Member
from tandem.agencies.services import agency_create
from tandem.core.db_router import reads_from_replica, replica_reads
from tandem.reports.services import report_build
from tandem.reports.statistics import Period
from datetime import date

assert settings.DATABASES["replica"]["NAME"] == settings.DATABASES["default"]["NAME"]
agency = agency_create(slug="replica-test", name="Replica Test", preset="colorado-springs")
Member.objects.create(agency=agency, employee_number="R1", first_name="Rea",
                      last_name="Plica", category="sworn")

def where(action):
    with CaptureQueriesContext(connections["default"]) as primary, \
         CaptureQueriesContext(connections["replica"]) as replica:
        result = action()
    return len(primary), len(replica), result

names = lambda: [m.last_name for m in Member.objects.filter(agency=agency)]

# Outside replica_reads: the primary.
p, r, found = where(names)
assert (p > 0, r, found) == (True, 0, ["Plica"]), (p, r, found)

# A list page's reads: the replica, same rows.
with replica_reads():
    p, r, found = where(names)
assert (p, r > 0, found) == (0, True, ["Plica"]), (p, r, found)

@reads_from_replica
def view():
    return names()
p, r, found = where(view)
assert (p, r > 0) == (0, True), (p, r)

# Inside a primary transaction (a service checking before it writes): the primary.
def in_transaction():
    with transaction.atomic():
        return names()
with replica_reads():
    p, r, found = where(in_transaction)
assert (p > 0, r) == (True, 0), (p, r)

# An object read from the replica is written to the primary.
with replica_reads():
    member = Member.objects.get(agency=agency, employee_number="R1")
    member.first_name = "Ray"
    p, r, _ = where(lambda: member.save(update_fields=["first_name"]))
assert (p > 0, r) == (True, 0), (p, r)
assert Member.objects.get(pk=member.pk).first_name == "Ray"

# A report counts on the replica; its release log and audit row are written to the primary.
p, r, _ = where(lambda: report_build(agency=agency, report="peer-support",
                                     period=Period(date(2025, 1, 1), date(2025, 12, 31))))
assert p > 0 and r > 0, (p, r)
print("ok")
"""


@pytest.mark.django_db(transaction=True)
def test_list_and_report_reads_go_to_the_replica_and_writes_to_the_primary(
    tmp_path: Path,
) -> None:
    env = child_env(
        TANDEM_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="tandem.settings",
        TANDEM_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
        TANDEM_AUDIT_CHECKPOINT_FILE=str(tmp_path / "checkpoints.jsonl"),
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    if connection.vendor == "postgresql":
        url = postgres_url()
    else:
        url = f"sqlite:///{tmp_path / 'replica.sqlite3'}"
    env["DATABASE_URL"] = env["TANDEM_REPLICA_DATABASE_URL"] = url
    if connection.vendor == "sqlite":
        python_output(env, "-m", "tandem.cli", "migrate", "-v0", timeout=600)
    assert python_output(env, "-c", SCRIPT).endswith("ok")
