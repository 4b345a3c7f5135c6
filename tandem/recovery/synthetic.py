"""Synthetic peer-recovery data at scale for ``tandem seed`` (X-13): clients spread over
addiction response officers, and their contacts. Nothing here is real."""

from __future__ import annotations

import random

from tandem.agencies.models import Agency
from tandem.core.synthetic import FIRST_NAMES, LAST_NAMES


def create_clients(agency: Agency, count: int, *, caseworkers: int = 16, seed: int = 702) -> int:
    """Add ``count`` recovery clients, spread over ``caseworkers`` addiction response officer
    accounts (``aro-1``…), about three in five active, in bulk."""
    from tandem.accounts.models import RoleAssignment, User
    from tandem.agencies.models import Role
    from tandem.readiness.services import person_recompute
    from tandem.recovery import vocab as rv
    from tandem.recovery.models import Client
    from tandem.recovery.services import digits_of, normalise_name

    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    officers = []
    for n in range(1, caseworkers + 1):
        user, _ = User.objects.get_or_create(
            username=f"aro-{n}",
            defaults={"agency": agency, "first_name": "Officer", "last_name": f"Response {n}"},
        )
        RoleAssignment.objects.get_or_create(user=user, agency=agency, role=Role.ARO)
        officers.append(user)
    for officer in officers:  # their gates and standing, as the daily recompute leaves them
        person_recompute(user=officer, cause="seed")
    statuses = (
        [rv.ClientStatus.ACTIVE] * 6
        + [rv.ClientStatus.INACTIVE] * 2
        + [rv.ClientStatus.LOST_CONTACT, rv.ClientStatus.GRADUATED]
    )
    have = Client.objects.filter(agency=agency).count()
    batch = []
    for i in range(have, have + count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        phone = f"(555) 02{i % 100:02d}-{i % 10000:04d}"
        batch.append(
            Client(
                agency=agency,
                first_name=first,
                last_name=last,
                phone=phone,
                name_key=normalise_name(f"{first} {last} | "),
                phone_digits=digits_of(phone),
                status=rng.choice(statuses),
                aro=officers[i % len(officers)],
            )
        )
    Client.objects.bulk_create(batch, batch_size=2000)
    return count


def create_contacts(agency: Agency, count: int, *, years: int = 10, seed: int = 702) -> int:
    """Add ``count`` contacts over the last ``years`` years to the agency's clients, in bulk."""
    from datetime import timedelta

    from django.utils import timezone

    from tandem.recovery import vocab as rv
    from tandem.recovery.models import Client, Contact

    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    clients = list(Client.objects.filter(agency=agency).values_list("pk", flat=True))
    if not clients:
        return 0
    now = timezone.now()
    span = years * 365 * 86400
    batch = []
    for _ in range(count):
        batch.append(
            Contact(
                agency=agency,
                client_id=rng.choice(clients),
                kind=rng.choice(rv.ContactKind.values),
                occurred_at=now - timedelta(seconds=rng.random() * span),
                duration_minutes=rng.randint(5, 120),
                aro_present=True,
                prs_present=rng.random() < 0.6,
                location_type=rng.choice(rv.LocationType.values),
                services=[],
                outcome=rng.choice(rv.ContactOutcome.values),
                arrest_diverted=rng.random() < 0.1,
            )
        )
        if len(batch) == 5000:
            Contact.objects.bulk_create(batch)
            batch = []
    Contact.objects.bulk_create(batch)
    return count
