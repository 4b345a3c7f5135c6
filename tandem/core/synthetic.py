"""Plausible synthetic people and units for the demo agency and for scale tests (X-13).

Nothing here is real: names are drawn from common first and last names, employee numbers
and phone numbers are made up (phone numbers use the reserved 555-01xx range).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from django.db import transaction

from tandem.agencies.models import Agency, Member, MemberCategory, Unit, UnitKind

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Rebecca Jason Laura Edward Sharon Jeffrey Cynthia Ryan Kathleen "
    "Jacob Amy Gary Angela Nicholas Shirley Eric Brenda Jonathan Emma Stephen Anna Larry "
    "Pamela Justin Nicole Scott Samantha Brandon Katherine Benjamin Christine Samuel Debra "
    "Gregory Rachel Alexander Carolyn Patrick Janet Frank Maria Raymond Olivia Jack Heather "
    "Dennis Helen Jerry Catherine Tyler Diane Aaron Julie Jose Victoria Adam Joyce Nathan "
    "Lauren Henry Kelly Zachary Christina Douglas Ruth Peter Joan Kyle Virginia Noah Judith "
    "Ethan Evelyn Jeremy Hannah Walter Andrea Christian Megan Keith Cheryl Roger Jacqueline "
    "Terry Madison Austin Teresa Sean Abigail Gerald Sophia Carl Martha Harold Sara Dylan "
    "Gloria Arthur Janice Lawrence Kathryn Jordan Ann Jesse Isabella Bryan Judy Billy "
    "Charlotte Bruce Julia Gabriel Grace Joe Amber Logan Alice Alan Jean Juan Denise Albert "
    "Frances Willie Danielle Elijah Marilyn Wayne Natalie Randy Beverly Vincent Diana Mason "
    "Brittany Roy Theresa Ralph Kayla Bobby Alexis Russell Doris Bradley Lori Philip Tiffany "
    "Eugene"
).split()

LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales "
    "Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar "
    "Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington "
    "Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson "
    "Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer "
    "Wagner"
).split()

SWORN_RANKS = ["Officer"] * 12 + ["Senior Officer"] * 3 + ["Detective"] * 2
CIVILIAN_TITLES = [
    "Records Specialist",
    "Dispatcher",
    "Crime Analyst",
    "Evidence Technician",
    "Administrative Assistant",
    "Victim Advocate",
    "Fleet Coordinator",
    "IT Analyst",
]

DEMO_UNITS: list[tuple[str, str, str, str | None]] = [
    # code, name, kind, parent code
    ("PAT", "Patrol Bureau", UnitKind.DISTRICT, None),
    ("PAT-N", "North District", UnitKind.DISTRICT, "PAT"),
    ("PAT-C", "Central District", UnitKind.DISTRICT, "PAT"),
    ("PAT-S", "South District", UnitKind.DISTRICT, "PAT"),
    ("PAT-N-A", "North Patrol, A Shift", UnitKind.UNIT, "PAT-N"),
    ("PAT-N-B", "North Patrol, B Shift", UnitKind.UNIT, "PAT-N"),
    ("PAT-C-A", "Central Patrol, A Shift", UnitKind.UNIT, "PAT-C"),
    ("PAT-C-B", "Central Patrol, B Shift", UnitKind.UNIT, "PAT-C"),
    ("PAT-S-A", "South Patrol, A Shift", UnitKind.UNIT, "PAT-S"),
    ("PAT-S-B", "South Patrol, B Shift", UnitKind.UNIT, "PAT-S"),
    ("SUP", "Support Bureau", UnitKind.SECTION, None),
    ("WEL", "Wellness Unit", UnitKind.UNIT, "SUP"),
    ("COM", "Communications", UnitKind.SECTION, "SUP"),
    ("CRT", "Community Resources Team", UnitKind.UNIT, "SUP"),
    ("REC", "Records", UnitKind.SECTION, "SUP"),
    ("INV", "Investigations", UnitKind.SECTION, None),
    ("INV-MC", "Major Crimes", UnitKind.UNIT, "INV"),
    ("INV-PR", "Property Crimes", UnitKind.UNIT, "INV"),
    ("CHF", "Office of the Chief", UnitKind.SECTION, None),
]


@dataclass
class Generator:
    agency: Agency
    rng: random.Random

    def name(self) -> tuple[str, str]:
        return self.rng.choice(FIRST_NAMES), self.rng.choice(LAST_NAMES)

    def phone(self, n: int) -> str:
        # Ten digits ending in the reserved 555-01xx; the middle three keep numbers apart.
        return f"(555) {n // 100 % 1000:03d}-01{n % 100:02d}"


@transaction.atomic
def create_units(agency: Agency, units: list[tuple[str, str, str, str | None]]) -> dict[str, Unit]:
    made: dict[str, Unit] = {u.code: u for u in Unit.objects.filter(agency=agency)}
    for code, name, kind, parent in units:
        if code in made:
            continue
        made[code] = Unit.objects.create(
            agency=agency,
            code=code,
            name=name,
            kind=kind,
            parent=made[parent] if parent else None,
        )
    return made


@transaction.atomic
def create_members(agency: Agency, count: int, *, seed: int = 702, start: int = 1) -> int:
    """Add ``count`` members spread over the agency's leaf units, each shift with a sergeant
    reporting to the district's lieutenant. Uses bulk inserts: 50,000 members take seconds."""
    gen = Generator(agency, random.Random(seed))  # noqa: S311 - synthetic data, not security
    units = list(Unit.objects.filter(agency=agency, children__isnull=True).order_by("code"))
    if not units:
        units = list(create_units(agency, DEMO_UNITS).values())
        units = [u for u in units if not u.children.exists()]
    per_unit = max(1, count // len(units))
    made = 0
    number = start
    for index, unit in enumerate(units):
        quota = per_unit if index < len(units) - 1 else count - made
        if quota <= 0:
            break
        first, last = gen.name()
        lead = Member.objects.create(
            agency=agency,
            employee_number=f"{number:06d}",
            first_name=first,
            last_name=last,
            rank_title="Sergeant",
            category=MemberCategory.SWORN,
            unit=unit,
            phone=gen.phone(number),
            email=f"{first}.{last}.{number}@demo-pd.test".lower(),
        )
        number += 1
        made += 1
        batch = []
        for _ in range(quota - 1):
            first, last = gen.name()
            civilian = gen.rng.random() < 0.22
            volunteer = not civilian and gen.rng.random() < 0.03
            category = (
                MemberCategory.CIVILIAN
                if civilian
                else MemberCategory.VOLUNTEER
                if volunteer
                else MemberCategory.SWORN
            )
            title = (
                gen.rng.choice(CIVILIAN_TITLES)
                if civilian
                else "Volunteer"
                if volunteer
                else gen.rng.choice(SWORN_RANKS)
            )
            batch.append(
                Member(
                    agency=agency,
                    employee_number=f"{number:06d}",
                    first_name=first,
                    last_name=last,
                    rank_title=title,
                    category=category,
                    unit=unit,
                    supervisor=lead,
                    phone=gen.phone(number),
                    email=f"{first}.{last}.{number}@demo-pd.test".lower(),
                )
            )
            number += 1
            made += 1
        Member.objects.bulk_create(batch, batch_size=2000)
    return made
