"""Least privilege for the audit tables on PostgreSQL (``tandem audit setup-roles``).

Run once, by a database superuser (or a member of both roles), after ``tandem migrate``:
an owner role that cannot log in becomes the owner of the audit tables and of their trigger
and purge functions; the application role keeps only SELECT and INSERT on them and EXECUTE
on ``tandem_audit_purge`` (the retention purge, which still deletes only events older than
365 days). The application can then neither UPDATE, DELETE, TRUNCATE nor switch the
triggers off, whatever a bug or an attacker in the application tries. Later migrations of
the audit app must run as a member of the owner role.
"""

from __future__ import annotations

import re

from django.db import connection

_ROLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TABLES = ("audit_auditevent", "audit_auditcheckpoint")
FUNCTIONS = (
    "tandem_audit_purge(bigint, bigint)",
    "tandem_audit_event_guard()",
    "tandem_audit_refuse()",
)


def _role(name: str) -> str:
    if not _ROLE_RE.match(name):
        raise ValueError(f"{name!r} is not a plain role name (lower-case letters, digits, _).")
    return f'"{name}"'


def setup_roles_sql(*, owner: str, app_role: str) -> list[str]:
    owner_q, app_q = _role(owner), _role(app_role)
    tables = ", ".join(TABLES)
    statements = [
        # Names are checked against _ROLE_RE above: nothing else can reach this SQL.
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{owner}') "  # noqa: S608
        f"THEN CREATE ROLE {owner_q} NOLOGIN; END IF; END $$",
        *(f"ALTER TABLE {table} OWNER TO {owner_q}" for table in TABLES),
        *(f"ALTER FUNCTION {function} OWNER TO {owner_q}" for function in FUNCTIONS),
        f"REVOKE ALL ON {tables} FROM PUBLIC, {app_q}",
        f"GRANT SELECT, INSERT ON {tables} TO {app_q}",
        "REVOKE ALL ON FUNCTION tandem_audit_purge(bigint, bigint) FROM PUBLIC",
        f"GRANT EXECUTE ON FUNCTION tandem_audit_purge(bigint, bigint) TO {app_q}",
    ]
    for table in TABLES:
        statements.append(
            f"DO $$ BEGIN EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %s TO %I', "
            f"pg_get_serial_sequence('{table}', 'id'), '{app_role}'); END $$"
        )
    return statements


def setup_roles(*, owner: str, app_role: str) -> list[str]:
    """Apply :func:`setup_roles_sql` on the current connection (PostgreSQL only)."""
    if connection.vendor != "postgresql":
        raise ValueError("Roles and privileges exist on PostgreSQL only.")
    statements = setup_roles_sql(owner=owner, app_role=app_role)
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)
    return statements
