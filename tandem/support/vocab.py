"""Closed vocabularies of the peer-support program (PS-3, PS-6, PS-9).

Usage records, requests and incidents store only these codes: nothing a supporter could
type freely ever reaches the database. Reports label the codes with these choices.
"""

from __future__ import annotations

from django.db import models


class IncidentType(models.TextChoices):
    """Type of incident behind a contact [003 D.2, 003 definitions]."""

    DEADLY_FORCE = "deadly_force", "Use of deadly force"
    ASSAULT_ON_MEMBER = "assault_on_member", "Assault on a member"
    INJURY_ILLNESS_DEATH = "injury_illness_death", "Injury, illness or death (member or family)"
    DEATH_NOTIFICATION = "death_notification", "Assisting a family with a member's death"
    CHILD_CASE = "child_case", "Crimes against children or a child death"
    TRAUMATIC_CALL = "traumatic_call", "Other traumatic call"
    SUBSTANCE_USE = "substance_use", "Substance use"
    PERSONAL = "personal", "Marital, relationship, health, financial or other personal"
    WORK_STRESS = "work_stress", "Work stress"
    OTHER = "other", "Other"


class InterventionType(models.TextChoices):
    ONE_ON_ONE = "one_on_one", "One-on-one"
    PHONE = "phone", "By phone"
    GROUP = "group", "Group (line-up or wellness debrief)"
    CRITICAL_INCIDENT = "critical_incident", "Critical incident response"
    REFERRAL_ONLY = "referral_only", "Information and referral only"


class DurationBucket(models.TextChoices):
    UNDER_15 = "under_15", "Under 15 minutes"
    UNDER_60 = "15_60", "15 to 60 minutes"
    UNDER_120 = "60_120", "1 to 2 hours"
    OVER_120 = "over_120", "More than 2 hours"


class Service(models.TextChoices):
    LISTENING = "listening", "Listening and support"
    INFORMATION = "information", "Information"
    STRESS_MANAGEMENT = "stress_management", "Stress management"
    CRISIS = "crisis", "Crisis intervention"
    FAMILY = "family", "Family support"
    REFERRAL = "referral", "Referral"


class ReferralType(models.TextChoices):
    PSYCHOLOGIST = "psychologist", "Police psychologist"
    EAP = "eap", "Employee assistance program"
    COUNSELOR = "counselor", "Licensed counselor"
    SUBSTANCE_TREATMENT = "substance_treatment", "Substance use treatment"
    MEDICAL = "medical", "Medical care"
    CHAPLAIN = "chaplain", "Chaplain"
    CRISIS_LINE = "crisis_line", "Crisis line"
    OTHER = "other", "Other resource"


class Topic(models.TextChoices):
    """Optional topic a requester may pick — never free text about the problem."""

    CRITICAL_INCIDENT = "critical_incident", "After a critical incident"
    WORK_STRESS = "work_stress", "Work stress"
    FAMILY = "family", "Family or relationship"
    GRIEF = "grief", "Grief and loss"
    SUBSTANCE_USE = "substance_use", "Alcohol or substance use"
    HEALTH = "health", "Health"
    FINANCES = "finances", "Finances"
    OTHER = "other", "Something else"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NON_BINARY = "non_binary", "Non-binary"
    NOT_SAID = "not_said", "Prefer not to say"


class Urgency(models.TextChoices):
    NOW = "now", "Now"
    TODAY = "today", "Today"
    THIS_WEEK = "this_week", "This week"


class MemberCategory(models.TextChoices):
    """Who received support, for statistics [004 .70]."""

    SWORN = "sworn", "Sworn"
    CIVILIAN = "civilian", "Civilian"
    VOLUNTEER = "volunteer", "Volunteer"
    FAMILY = "family", "Family member"
    RETIREE = "retiree", "Retiree"
    OTHER_AGENCY = "other_agency", "Other agency"


class Channel(models.TextChoices):
    """How a request came in (the policy's ``eligibility.channels`` codes)."""

    SELF_REQUEST = "self_request", "Member asks directly"
    SUPERVISOR = "supervisor_via_coordinator", "Supervisor activation through the coordinator"
    REFERRAL = "proactive_referral", "Confidential referral by a colleague"
    CRITICAL_INCIDENT = "critical_incident", "Critical incident or traumatic event"
    DISPATCH = "dispatch", "Through dispatch / communications"
    OTHER_AGENCY = "other_agency", "Request from another agency"


class ContactMethod(models.TextChoices):
    PHONE = "phone", "Phone call"
    TEXT = "text", "Text message"
    EMAIL = "email", "E-mail"
    IN_PERSON = "in_person", "In person"


class BestTime(models.TextChoices):
    ANY = "any", "Any time"
    MORNING = "morning", "Morning"
    AFTERNOON = "afternoon", "Afternoon"
    EVENING = "evening", "Evening"
    NIGHT = "night", "Night"


class Specialty(models.TextChoices):
    POST_SHOOTING = "post_shooting", "Post-shooting"
    SUBSTANCE_USE = "substance_use", "Substance use"
    FAMILY = "family", "Family"
    GRIEF = "grief", "Grief and loss"
    CRITICAL_INCIDENT = "critical_incident", "Critical incidents"
    DISPATCH = "dispatch", "Dispatch and communications"
    VETERANS = "veterans", "Veterans"


class Language(models.TextChoices):
    ENGLISH = "en", "English"
    SPANISH = "es", "Spanish"
    FRENCH = "fr", "French"
    VIETNAMESE = "vi", "Vietnamese"
    CHINESE = "zh", "Chinese"
    ARABIC = "ar", "Arabic"
    KOREAN = "ko", "Korean"
    RUSSIAN = "ru", "Russian"
    ASL = "ase", "American Sign Language"


class Affiliation(models.TextChoices):
    SWORN = "sworn", "Sworn"
    CIVILIAN = "civilian", "Civilian"


class Layer(models.TextChoices):
    PRIMARY = "primary", "Primary"
    BACKUP = "backup", "Backup"


class RecusalReason(models.TextChoices):
    DUAL_ROLE = "dual_role", "Dual role (supervisor, family, close friend, witness, investigator)"
    CONFLICT = "conflict_of_interest", "Conflict of interest"
    OTHER = "other", "Other reason"


class RequestStatus(models.TextChoices):
    ROUTING = "routing", "Looking for a supporter"
    ACCEPTED = "accepted", "A supporter accepted"
    IN_CONTACT = "in_contact", "In contact"
    CLOSED = "closed", "Closed"
    EXPIRED = "expired", "Closed by expiry"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_STATUSES = (RequestStatus.ROUTING, RequestStatus.ACCEPTED, RequestStatus.IN_CONTACT)


class Outcome(models.TextChoices):
    CLOSED = "closed", "Closed"
    EXPIRED = "expired", "Closed by expiry"


class CriticalIncidentKind(models.TextChoices):
    SHOOTING = "shooting", "Officer-involved shooting"
    LINE_OF_DUTY_DEATH = "line_of_duty_death", "Line-of-duty death"
    SERIOUS_INJURY = "serious_injury", "Serious injury of a member"
    MEMBER_SUICIDE = "member_suicide", "Suicide of a member"
    CHILD_DEATH = "child_death", "Child death"
    MASS_CASUALTY = "mass_casualty", "Mass-casualty event"
    OTHER_TRAUMATIC = "other_traumatic", "Other traumatic event"


class GroupSessionKind(models.TextChoices):
    LINE_UP = "line_up", "Line-up"
    WELLNESS_DEBRIEF = "wellness_debrief", "Wellness debrief"
    DEFUSING = "defusing", "Defusing"


class MutualAidDirection(models.TextChoices):
    INCOMING = "incoming", "Another agency asks us"
    OUTGOING = "outgoing", "We ask another agency"


class MutualAidStatus(models.TextChoices):
    OPEN = "open", "Open"
    FULFILLED = "fulfilled", "Fulfilled"
    DECLINED = "declined", "Declined"


class DutyStatus(models.TextChoices):
    OPEN = "open", "Waiting for acknowledgement"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class ConsultationAnswer(models.TextChoices):
    REPORTABLE = "reportable", "Reportable: follow the duty-to-report steps"
    NOT_REPORTABLE = "not_reportable", "Not reportable: confidentiality applies"
    ASK_PSYCHOLOGIST = "ask_psychologist", "Consult the psychologist"


class BreachKind(models.TextChoices):
    DISCLOSED_TO_MEMBER = "disclosed_to_member", "Information disclosed to another member"
    DISCLOSED_TO_SUPERVISOR = "disclosed_to_supervisor", "Information disclosed to a supervisor"
    DEVICE_LOST = "device_lost", "Device or paper lost"
    OVERHEARD = "overheard", "Conversation overheard"
    OTHER = "other", "Other breach"


class RequesterKind(models.TextChoices):
    """Who asks (PS-3) [002 A.1, 003 definitions]. Kept only inside a request's sealed
    identity, so it is shredded with the name at close."""

    MEMBER = "member", "Member of the department"
    FAMILY = "family", "Family member of a department member"
    RETIREE = "retiree", "Retiree"
    OTHER_AGENCY = "other_agency", "Member of another agency"


#: Where a request comes from, in the words the supporter reads on the request: the channel,
#: and for a request made on the help page who made it (sealed with the identity).
_SELF_ORIGIN = {
    RequesterKind.MEMBER: "A member of the department asks for themselves",
    RequesterKind.FAMILY: "A family member of a department member asks",
    RequesterKind.RETIREE: "A retiree of the department asks",
}
_CHANNEL_ORIGIN = {
    Channel.SUPERVISOR: "A supervisor asked through the coordinator, for a member",
    Channel.REFERRAL: "A colleague referred a member",
    Channel.CRITICAL_INCIDENT: "The coordinator activated the team after a critical incident",
    Channel.DISPATCH: "Dispatch asked, for a caller",
    Channel.OTHER_AGENCY: "Someone from another agency asks",
}


def request_origin(channel: str, requester_kind: str) -> str:
    """One sentence on where a request comes from. ``requester_kind`` is the closed code
    sealed in the request's identity (blank once shredded: then the channel alone)."""
    if channel == Channel.SELF_REQUEST:
        kind = (
            RequesterKind(requester_kind)
            if requester_kind in RequesterKind.values
            else RequesterKind.MEMBER
        )
        return _SELF_ORIGIN.get(kind, _SELF_ORIGIN[RequesterKind.MEMBER])
    if channel not in Channel.values:
        return ""
    return _CHANNEL_ORIGIN.get(Channel(channel), Channel(channel).label)
