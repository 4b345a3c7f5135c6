"""Agency policy: the validated shape (``Policy``), the shipped presets and TOML round-trips.

Each preset in ``preset_files/`` encodes one of the department policies Tandem was built
from; every setting cites the clause it comes from (TOML comments and ``citations``).
An agency starts from a preset and may adjust its copy on the policy screen. Unknown or
missing keys are errors, reported with the path of the bad key so an administrator can
fix the file: ``escalation.steps.2.timeout_minutes: must be greater than 0``.
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

PRESET_PACKAGE = "tandem.agencies.preset_files"

# ---------------------------------------------------------------------------------------
# Closed lists. Policies choose from these; features switch on these exact values.
# ---------------------------------------------------------------------------------------

#: What a PSP usage form may record [003 D.2, 004 .70]. Nothing else can ever be collected.
UsageField = Literal[
    "incident_type",
    "intervention_type",
    "member_category",
    "gender",
    "duration_bucket",
    "services",
    "referral_types",
    "activation_channel",
    "follow_up",
    # The request's topic and urgency: kept on the usage record only when listed.
    "topic",
    "urgency",
]
USAGE_FIELDS: tuple[str, ...] = get_args(UsageField)

#: How a peer-support request can reach the program [002 B.1, 003 B, 004 .12].
ActivationChannel = Literal[
    "self_request",
    "supervisor_via_coordinator",
    "proactive_referral",
    "critical_incident",
    "dispatch",
    "other_agency",
]
ACTIVATION_CHANNELS: tuple[str, ...] = get_args(ActivationChannel)

#: Who is tried, in order, until someone acknowledges a request [002 B.1.b].
EscalationTarget = Literal[
    "chosen_supporter",
    "primary_on_call",
    "backup_on_call",
    "coordinator",
    "psychologist",
]
ESCALATION_TARGETS: tuple[str, ...] = get_args(EscalationTarget)

#: Steps a candidate passes before serving as a peer (supporter, ARO, PRS).
SelectionStep = Literal[
    "letter_of_request",
    "vacancy_announcement",
    "psychologist_interview",
    "background_vetting",
    "cjis_background_check",
    "initial_training",
    "confidentiality_agreement",
    "nondisclosure_agreement",
    "certification",
    "chief_approval",
    "official_designation",
]
SELECTION_STEPS: tuple[str, ...] = get_args(SelectionStep)

RoleKey = Literal[
    "coordinator",
    "supporter",
    "psychologist",
    "chief",
    "dispatcher",
    "supervisor",
    "member",
    "aro",
    "prs",
    "crt_supervisor",
    "auditor",
    "administrator",
]
ROLE_KEYS: tuple[str, ...] = get_args(RoleKey)


Text = Annotated[str, Field(min_length=1, max_length=200)]
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,47}$")]


class PolicyError(ValueError):
    """A policy that cannot be used. ``errors`` lists one message per bad key."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unique(values: list[Any], what: str) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"{what} {value!r} is listed twice")
        seen.add(value)
    return values


class Document(_Strict):
    """The written policy this configuration comes from."""

    title: Text
    reference: Text
    review_months: int = Field(ge=1, le=60, description="How often the policy is reviewed.")


class Titles(_Strict):
    """What each role is called in this agency (shown on every screen)."""

    coordinator: Text
    supporter: Text
    psychologist: Text
    chief: Text
    dispatcher: Text
    supervisor: Text
    member: Text
    aro: Text
    prs: Text
    crt_supervisor: Text
    auditor: Text
    administrator: Text


class Eligibility(_Strict):
    """Who may ask the peer-support program for help, and through which channels."""

    members: bool
    families: bool
    retirees: bool
    other_agencies: bool
    channels: list[ActivationChannel] = Field(min_length=1)

    @field_validator("channels")
    @classmethod
    def _channels_unique(cls, value: list[str]) -> list[str]:
        return _unique(value, "channel")


class UsageForm(_Strict):
    """Fields a supporter fills in after a contact, from the closed list ``USAGE_FIELDS``.
    Supporter and date/time are always recorded; nothing identifying ever is."""

    fields: list[UsageField]

    @field_validator("fields")
    @classmethod
    def _fields_unique(cls, value: list[str]) -> list[str]:
        return _unique(value, "field")


class ConfidentialityException(_Strict):
    code: Code
    label: Text
    supervisor_duty: bool = Field(
        description="True when only supporters who are also supervisors must report this."
    )
    cite: Text


class Confidentiality(_Strict):
    exceptions: list[ConfidentialityException] = Field(min_length=1)
    inform_at_onset: bool = Field(description="Tell the member the exceptions at the start.")
    breach_notify: list[RoleKey] = Field(
        min_length=1, description="Roles told without delay when confidentiality is breached."
    )
    consult_role: RoleKey = Field(
        description="Role asked, without identifying the member, whether a matter is reportable."
    )

    @field_validator("exceptions")
    @classmethod
    def _codes_unique(cls, value: list[ConfidentialityException]) -> list[ConfidentialityException]:
        _unique([item.code for item in value], "exception code")
        return value

    @field_validator("breach_notify")
    @classmethod
    def _notify_unique(cls, value: list[str]) -> list[str]:
        for role in value:
            _program_role(role)
        return _unique(value, "role")

    @field_validator("consult_role")
    @classmethod
    def _consult_program_role(cls, value: str) -> str:
        return _program_role(value)


def _program_role(role: str) -> str:
    """Program content goes only to program roles, which take two people to grant: an
    administrator must not route it to a role they can give themselves alone."""
    from tandem.agencies.models import PROGRAM_ROLES

    if role not in PROGRAM_ROLES:
        raise ValueError(f"{role!r} is not a program role")
    return role


class EscalationStep(_Strict):
    target: EscalationTarget
    timeout_minutes: int = Field(gt=0, le=1440)


class Escalation(_Strict):
    steps: list[EscalationStep] = Field(min_length=1, max_length=len(ESCALATION_TARGETS))

    @field_validator("steps")
    @classmethod
    def _targets_unique(cls, value: list[EscalationStep]) -> list[EscalationStep]:
        _unique([step.target for step in value], "target")
        return value


class Requests(_Strict):
    expiry_hours: int = Field(
        gt=0,
        le=720,
        description="A request nobody acknowledged is closed (and its identity shredded).",
    )


class Training(_Strict):
    initial_topics: list[Text] = Field(min_length=1)
    initial_before_serving: bool
    ongoing_cadence_months: int = Field(ge=1, le=24)
    unexcused_absence_limit: int = Field(ge=0, le=12, description="Per calendar year.")
    cjis_awareness_yearly: bool
    clinical_supervision: bool
    hours_activity_code: Code = Field(
        default="peer_support",
        description="Activity code peer support time is recorded under as Hours Worked.",
    )

    @field_validator("initial_topics")
    @classmethod
    def _topics_unique(cls, value: list[str]) -> list[str]:
        return _unique(value, "topic")


class Selection(_Strict):
    steps: list[SelectionStep] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _steps_unique(cls, value: list[str]) -> list[str]:
        return _unique(value, "step")


class Contacts(_Strict):
    """Numbers printed on the roster posters (Columbus 18.107 B.1.a-b: names and numbers
    posted in all units; calling Police Communications reaches a team member)."""

    communications_phone: str = Field(default="", max_length=40)


class Conduct(_Strict):
    relationship_cooldown_months: int = Field(ge=0, le=120)
    recuse_on_dual_role: bool


class Retention(_Strict):
    """Days each kind of record is kept before the purge job removes it."""

    audit_days: int = Field(ge=365, le=36500)
    open_request_days: int = Field(default=30, ge=1, le=365)
    usage_record_days: int = Field(ge=30, le=36500)
    training_record_days: int = Field(ge=30, le=36500)
    recovery_record_days: int = Field(ge=30, le=36500)


class Certification(_Strict):
    name: Text
    experience_hours: int = Field(ge=0, le=10000)
    supervision_hours: int = Field(ge=0, le=1000)
    ethics_hours: int = Field(ge=0, le=1000)
    exam: Text


class Recovery(_Strict):
    """The peer recovery (co-responder) program."""

    safety_checklist: list[Text] = Field(min_length=1)
    prs_nda_required: bool
    cjis_background_check_required: bool
    public_statements_need_chief_approval: bool
    deconfliction_days: int = Field(ge=1, le=90)
    # Record linkage (issue 13): a pair at or above ``match_threshold`` is proposed as one
    # person; between ``review_threshold`` and it, as uncertain (import, typing warning).
    match_threshold: float = Field(default=0.9, ge=0.5, le=0.9999)
    review_threshold: float = Field(default=0.5, ge=0.05, le=0.99)
    evaluation_months: int = Field(ge=1, le=60)
    certification: Certification | None = None


ProgramName = Literal["peer_support", "peer_recovery"]


def _both_programs() -> list[ProgramName]:
    return ["peer_support", "peer_recovery"]


class Citation(_Strict):
    clause: Text
    setting: Annotated[str, Field(pattern=r"^[a-z_]+(\.[a-z0-9_]+)*$")]


class Policy(_Strict):
    document: Document
    titles: Titles
    eligibility: Eligibility
    usage_form: UsageForm
    confidentiality: Confidentiality
    escalation: Escalation
    requests: Requests
    training: Training
    selection: Selection
    conduct: Conduct
    #: The programs the agency runs: menus, home cards and pages of any other program
    #: are not offered (their addresses answer 404), and its roles are not on the
    #: readiness team.
    programs: list[ProgramName] = Field(default_factory=_both_programs, min_length=1)
    small_cell_threshold: int = Field(default=5, ge=2, le=11)
    #: Paper that printable documents are laid out for (US departments print on Letter).
    paper: Literal["letter", "a4", "legal"] = "letter"
    #: How dates and times are written on screens and documents (tandem/core/when.py):
    #: en-US "Mon, Nov 30, 2026", en-GB "Mon 30 Nov 2026"; both on a 24-hour clock.
    locale: Literal["en-US", "en-GB"] = "en-US"
    retention: Retention
    recovery: Recovery
    contacts: Contacts = Field(default_factory=Contacts)
    citations: list[Citation] = Field(min_length=1)

    @field_validator("citations")
    @classmethod
    def _citations_name_real_settings(cls, value: list[Citation]) -> list[Citation]:
        for item in value:
            section = item.setting.split(".", 1)[0]
            if section not in cls.model_fields or section == "citations":
                raise ValueError(f"citation names unknown setting {item.setting!r}")
        return value

    def title(self, role: str) -> str:
        return str(getattr(self.titles, role))

    def exceptions_for(self, *, supervisor: bool) -> list[ConfidentialityException]:
        """Exceptions that apply to a supporter (supervisors carry the extra duties)."""
        return [e for e in self.confidentiality.exceptions if supervisor or not e.supervisor_duty]


# ---------------------------------------------------------------------------------------
# Validation with readable messages
# ---------------------------------------------------------------------------------------


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: Any) -> str:
    loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        where = f" in {_path(loc[:-1])}" if len(loc) > 1 else ""
        return f"unknown key '{loc[-1]}'{where}"
    if kind == "missing":
        return f"{_path(loc)}: missing required key"
    text = str(error["msg"])
    text = text.removeprefix("Value error, ")
    text = text.replace("Input should be", "must be").replace("Input should", "must")
    if text.startswith("List should have at least"):
        text = "must have at least" + text.removeprefix("List should have at least")
    elif text.startswith("List should have at most"):
        text = "must have at most" + text.removeprefix("List should have at most")
    elif text.startswith("String should"):
        text = "must" + text.removeprefix("String should")
    return f"{_path(loc)}: {text}" if loc else text


def validate_policy(data: Any) -> Policy:
    """A ``Policy`` from plain data, or ``PolicyError`` naming every bad key."""
    if not isinstance(data, dict):
        raise PolicyError(["the policy must be a table of settings"])
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError([_message(e) for e in exc.errors()]) from None


def parse_policy_toml(text: str) -> Policy:
    """Parse and validate a policy written in TOML."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError([f"not valid TOML: {exc}"]) from None
    return validate_policy(data)


def available_presets() -> list[str]:
    folder = resources.files(PRESET_PACKAGE)
    return sorted(
        item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml")
    )


def preset_text(name: str) -> str:
    """The TOML source of a shipped preset, comments and all."""
    if name not in available_presets():
        raise PolicyError([f"unknown preset {name!r}; available: {', '.join(available_presets())}"])
    return resources.files(PRESET_PACKAGE).joinpath(f"{name}.toml").read_text("utf-8")


def load_preset(name: str) -> Policy:
    try:
        return parse_policy_toml(preset_text(name))
    except PolicyError as exc:
        if exc.errors and exc.errors[0].startswith("unknown preset"):
            raise
        raise PolicyError([f"preset {name}: {msg}" for msg in exc.errors]) from None


# ---------------------------------------------------------------------------------------
# Writing a policy back as TOML (for the policy editor)
# ---------------------------------------------------------------------------------------


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _emit_table(lines: list[str], prefix: str, table: dict[str, Any], header: str) -> None:
    plain = {k: v for k, v in table.items() if v is not None and not isinstance(v, dict)}
    plain = {k: v for k, v in plain.items() if not _is_table_list(v)}
    if header:
        lines.extend(["", header])
    for key, value in plain.items():
        lines.append(f"{key} = {_scalar(value)}")
    for key, value in table.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _emit_table(lines, path, value, f"[{path}]")
        elif _is_table_list(value):
            for item in value:
                _emit_table(lines, path, item, f"[[{path}]]")


def policy_to_toml(policy: Policy) -> str:
    """The policy as TOML that ``parse_policy_toml`` reads back to an equal policy."""
    lines: list[str] = []
    _emit_table(lines, "", policy.model_dump(mode="json"), "")
    return "\n".join(lines).strip() + "\n"


#: Readable names for the closed-list values, for screens and reports.
CHOICE_LABELS: dict[str, str] = {
    "incident_type": "Type of incident",
    "intervention_type": "Type of intervention",
    "member_category": "Sworn / civilian / volunteer",
    "gender": "Gender",
    "duration_bucket": "Length of contact",
    "services": "General services provided",
    "referral_types": "Referrals made",
    "activation_channel": "How the request came in",
    "follow_up": "Follow-up planned",
    "topic": "Topic of the request",
    "urgency": "How urgent the request was",
    "self_request": "Member asks directly",
    "supervisor_via_coordinator": "Supervisor activation through the coordinator",
    "proactive_referral": "Confidential referral by a colleague",
    "critical_incident": "Critical incident or traumatic event",
    "dispatch": "Through dispatch / communications",
    "other_agency": "Request from another agency",
    "chosen_supporter": "The supporter the member chose",
    "primary_on_call": "Primary on-call supporter",
    "backup_on_call": "Backup on-call supporter",
    "coordinator": "Coordinator",
    "psychologist": "Psychologist",
    "letter_of_request": "Letter of request",
    "vacancy_announcement": "Vacancy announced agency-wide",
    "psychologist_interview": "Interview by the psychologist",
    "background_vetting": "Background vetting",
    "cjis_background_check": "CJIS fingerprint background check",
    "initial_training": "Initial training completed",
    "confidentiality_agreement": "Confidentiality agreement signed",
    "nondisclosure_agreement": "Non-disclosure agreement signed",
    "certification": "Certification held",
    "chief_approval": "Approval by the chief",
    "official_designation": "Official designation by the chief",
}


def choice_label(value: str) -> str:
    return CHOICE_LABELS.get(value, value.replace("_", " ").capitalize())
