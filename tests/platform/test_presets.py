"""Policy presets: the seeds they encode, the clauses they cite, the errors a bad policy
gets; and the `tandem agency` command that makes an agency from one."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from tandem.agencies.models import Agency
from tandem.agencies.presets import (
    USAGE_FIELDS,
    PolicyError,
    available_presets,
    load_preset,
    parse_policy_toml,
    policy_to_toml,
    validate_policy,
)
from tandem.audit.models import AuditEvent
from tests.helpers import agency_create

pytestmark = pytest.mark.django_db


def good_policy() -> dict[str, Any]:
    return load_preset("colorado-springs").model_dump(mode="json")


def policy_errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        validate_policy(data)
    return caught.value.errors


# --- Presets --------------------------------------------------------------------------------


def test_the_five_seed_presets_ship() -> None:
    assert available_presets() == [
        "colorado-springs",
        "columbus",
        "joplin",
        "west-virginia",
        "winchester",
    ]


@pytest.mark.parametrize(
    "name", ["colorado-springs", "columbus", "joplin", "west-virginia", "winchester"]
)
def test_every_preset_loads_cites_its_clauses_and_survives_the_editor(name: str) -> None:
    policy = load_preset(name)
    assert policy.citations, "a preset must cite the clauses it encodes"
    assert all(e.cite for e in policy.confidentiality.exceptions)
    assert set(policy.usage_form.fields) <= set(USAGE_FIELDS)
    assert policy.retention.audit_days >= 365
    assert parse_policy_toml(policy_to_toml(policy)) == policy


def test_presets_encode_what_their_seeds_say() -> None:
    cos, columbus, joplin = (load_preset(n) for n in ("colorado-springs", "columbus", "joplin"))
    winchester, wv = load_preset("winchester"), load_preset("west-virginia")
    # GO 702 .52/.54: quarterly training, at most one unexcused absence a year.
    assert cos.training.ongoing_cadence_months == 3
    assert cos.training.unexcused_absence_limit == 1
    assert {e.code for e in cos.confidentiality.exceptions if e.supervisor_duty} == {
        "harassment",
        "discrimination",
        "work_injury",
    }
    # 18.107: families are eligible; the psychologist is the last resort of PCS.
    assert columbus.eligibility.families
    assert columbus.escalation.steps[-1].target == "psychologist"
    # SOG 2-13 D.2: the usage form records only the type of incident/intervention.
    assert joplin.usage_form.fields == ["incident_type", "intervention_type"]
    assert joplin.eligibility.other_agencies
    # OO 2-78: ARO / PRS titles, CJIS and NDA; PNP: certification and overdose reversal.
    assert winchester.titles.prs == "Peer Recovery Specialist"
    assert winchester.recovery.prs_nda_required
    assert winchester.training.cjis_awareness_yearly
    assert "nondisclosure_agreement" in winchester.selection.steps
    assert wv.recovery.certification is not None
    assert wv.recovery.certification.experience_hours == 500
    assert "Overdose reversal" in wv.training.initial_topics
    # 18.107 E.10: the psychologist alone hears of a breach; E.11's post-shooting training
    # is a specialty of some members, not a topic every team member must cover.
    assert columbus.confidentiality.breach_notify == ["psychologist"]
    assert not any("shooting" in t.casefold() for t in columbus.training.initial_topics)


#: How each preset cites its seed: a clause of the document, or "not in the seed".
SEED_CITATION = {
    "colorado-springs": r"GO 702|General Order 702",
    "columbus": r"18\.107",
    "joplin": r"SOG 2-13",
    "west-virginia": r"PNP|Police and Peers",
    "winchester": r"OO 2-78|Operation Order 2-78",
}


def _uncited_settings(text: str, cites: str) -> list[str]:
    """Each setting of a preset file whose comments neither cite the seed nor say "not in
    the seed". A setting's comments are those on its own lines (a list's items included),
    the comment lines just above it, and the comment on or just above its table header. In
    a list of tables (``[[...]]``) an entry's ``cite`` value speaks for the entry's words,
    but never for a number (a timeout must say where it comes from itself)."""
    cited = re.compile(rf"{cites}|not in the seed")
    lines = text.splitlines()
    missing: list[str] = []
    header_comments, entry_cite, table = "", "", ""

    def comments_above(index: int) -> str:
        above = []
        while index > 0 and lines[index - 1].startswith("#"):
            index -= 1
            above.append(lines[index])
        return " ".join(above)

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("["):
            table = line.split("#")[0].strip()
            header_comments = comments_above(index) + " " + line.partition("#")[2]
            entry = []
            for later in lines[index + 1 :]:
                if later.startswith("["):
                    break
                entry.append(later)
            entry_cite = " ".join(e for e in entry if e.startswith("cite ="))
        key = re.match(r"^([a-z_]+)\s*=\s*(.*)$", line)
        if key and table != "[[citations]]":
            end = index
            if key.group(2).split("#")[0].strip() == "[":
                while not lines[end].startswith("]"):
                    end += 1
            said = " ".join(
                [
                    *(part.partition("#")[2] for part in lines[index : end + 1]),
                    comments_above(index),
                    header_comments,
                ]
            )
            if table.startswith("[[") and not re.match(r"^-?\d", key.group(2)):
                said += " " + entry_cite
            if key.group(1) in ("title", "reference", "cite") and table in (
                "[document]",
                "[[confidentiality.exceptions]]",
            ):
                said += " " + key.group(2)  # the seed's own name, or the clause itself
            if not cited.search(said):
                missing.append(f"{index + 1}: {line.strip()}")
            index = end
        index += 1
    return missing


@pytest.mark.parametrize("name", sorted(SEED_CITATION))
def test_every_preset_setting_cites_its_seed_or_says_it_is_not_in_it(name: str) -> None:
    """Presets add no rule the seed does not state without saying so (issue 12, item 9)."""
    text = (
        Path(__file__).resolve().parents[2]
        / "tandem"
        / "agencies"
        / "preset_files"
        / f"{name}.toml"
    ).read_text()
    assert _uncited_settings(text, SEED_CITATION[name]) == []
    # The check itself: an uncommented setting, and a number in a cited entry, are caught.
    assert _uncited_settings("[requests]\nexpiry_hours = 72\n", "X") == ["2: expiry_hours = 72"]
    entry = '[[confidentiality.exceptions]]\ncode = "a"\ncite = "X 1"\n'
    assert _uncited_settings(entry, "X") == []
    steps = '[[escalation.steps]]\ntarget = "coordinator"  # X 2\ntimeout_minutes = 5\n'
    assert _uncited_settings(steps, "X") == ["3: timeout_minutes = 5"]


def test_policy_missing_a_key_is_refused_naming_it() -> None:
    data = good_policy()
    del data["training"]["initial_topics"]
    assert policy_errors(data) == ["training.initial_topics: missing required key"]


def test_policy_with_an_unknown_key_is_refused_naming_it() -> None:
    data = good_policy()
    data["training"]["foo"] = 1
    data["bar"] = True
    errors = policy_errors(data)
    assert "unknown key 'foo' in training" in errors
    assert "unknown key 'bar'" in errors


def test_policy_with_bad_values_names_each_bad_key() -> None:
    data = good_policy()
    data["escalation"]["steps"][2]["timeout_minutes"] = 0
    data["retention"]["audit_days"] = 30
    data["usage_form"]["fields"] = ["gender", "home_address"]
    data["small_cell_threshold"] = 1
    errors = policy_errors(data)
    assert "escalation.steps.2.timeout_minutes: must be greater than 0" in errors
    assert "retention.audit_days: must be greater than or equal to 365" in errors
    assert any(e.startswith("usage_form.fields.1: must be 'incident_type'") for e in errors)
    assert "small_cell_threshold: must be greater than or equal to 2" in errors


def test_policy_listing_the_same_value_twice_is_refused() -> None:
    data = good_policy()
    data["selection"]["steps"] = ["letter_of_request", "letter_of_request"]
    assert policy_errors(data) == ["selection.steps: step 'letter_of_request' is listed twice"]


def test_unknown_preset_names_the_available_ones() -> None:
    with pytest.raises(PolicyError, match="available: colorado-springs, columbus"):
        load_preset("gotham")


def test_malformed_toml_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy_toml("[training\nfoo = ")


# --- tandem agency ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_agency_create_command_makes_an_agency_from_a_preset() -> None:
    agency_create("joplin", "joplin-pd", "Joplin Police Department")
    agency = Agency.objects.get(slug="joplin-pd")
    assert agency.preset == "joplin"
    assert agency.policy_model() == load_preset("joplin")
    assert len(agency.intake_token) >= 32
    assert agency.title_for("supporter") == "Peer Support Advisor"
    assert AuditEvent.objects.filter(action="agency.create", agency_id=agency.pk).exists()
    listing = StringIO()
    call_command("agency", "list", stdout=listing)
    assert "joplin-pd" in listing.getvalue()


@pytest.mark.django_db
def test_agency_create_with_unknown_preset_lists_the_available_ones() -> None:
    with pytest.raises(CommandError, match="Available presets: colorado-springs, columbus"):
        agency_create("gotham", "g", "G")
    assert not Agency.objects.exists()


@pytest.mark.django_db
def test_agency_create_refuses_a_taken_slug(agency: Agency) -> None:
    with pytest.raises(CommandError, match="already exists"):
        agency_create("joplin", "alpha", "A")


def test_agency_presets_command_lists_presets() -> None:
    out = StringIO()
    call_command("agency", "presets", stdout=out)
    assert "colorado-springs\tGO 702" in out.getvalue()
    assert "winchester\tOperation Order 2-78" in out.getvalue()
