"""Closed vocabularies of the peer recovery program (PR-1 … PR-12).

Reports label recovery figures with these choices; forms offer them as the only answers.
"""

from __future__ import annotations

from django.db import models


class ClientStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    LOST_CONTACT = "lost_contact", "Lost contact"
    GRADUATED = "graduated", "Graduated"
    DECEASED = "deceased", "Deceased"


class MatchTrigger(models.TextChoices):
    NIGHTLY = "nightly", "Nightly scan"
    ON_DEMAND = "on_demand", "Asked for on the Deconflict page"


class MatchRunStatus(models.TextChoices):
    QUEUED = "queued", "Waiting"
    DONE = "done", "Finished"
    FAILED = "failed", "Failed"


class CandidateStatus(models.TextChoices):
    OPEN = "open", "To review"
    NOT_SAME = "not_same", "Not the same person"
    MERGED = "merged", "Merged"


class ImportKind(models.TextChoices):
    CLIENTS = "clients", "Client list"
    CONTACTS = "contacts", "Contact log"


class Gender(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    NON_BINARY = "non_binary", "Non-binary"
    OTHER = "other", "Another gender"
    NOT_STATED = "not_stated", "Not stated"


class Race(models.TextChoices):
    AMERICAN_INDIAN = "american_indian", "American Indian or Alaska Native"
    ASIAN = "asian", "Asian"
    BLACK = "black", "Black or African American"
    PACIFIC = "pacific", "Native Hawaiian or Other Pacific Islander"
    WHITE = "white", "White"
    MULTIPLE = "multiple", "More than one race"
    NOT_STATED = "not_stated", "Not stated"


class Ethnicity(models.TextChoices):
    HISPANIC = "hispanic", "Hispanic or Latino"
    NOT_HISPANIC = "not_hispanic", "Not Hispanic or Latino"
    NOT_STATED = "not_stated", "Not stated"


class Substance(models.TextChoices):
    OPIOIDS = "opioids", "Opioids (heroin, fentanyl, pills)"
    STIMULANTS = "stimulants", "Stimulants (methamphetamine, cocaine)"
    ALCOHOL = "alcohol", "Alcohol"
    CANNABIS = "cannabis", "Cannabis"
    BENZODIAZEPINES = "benzodiazepines", "Benzodiazepines"
    OTHER = "other", "Other"


class ContactKind(models.TextChoices):
    FIELD = "field", "Field contact"
    CO_RESPONSE = "co_response", "Co-response"
    PATROL_ASSIST = "patrol_assist", "Patrol assist"
    PHONE = "phone", "Phone"
    OFFICE = "office", "Office visit"
    FOLLOW_UP = "follow_up", "Follow-up"
    OUTREACH = "outreach", "Outreach"


class LocationType(models.TextChoices):
    HOME = "home", "Home"
    STREET = "street", "Street or public place"
    SHELTER = "shelter", "Shelter"
    HOSPITAL = "hospital", "Hospital or emergency department"
    JAIL = "jail", "Jail or court"
    TREATMENT = "treatment", "Treatment facility"
    OFFICE = "office", "Program office"
    PHONE = "phone", "By phone"
    OTHER = "other", "Other"


class ContactService(models.TextChoices):
    NALOXONE_KIT = "naloxone_kit", "Naloxone kit"
    TRANSPORT_TREATMENT = "transport_treatment", "Transport to treatment"
    REFERRAL = "referral", "Referral"
    HARM_REDUCTION = "harm_reduction", "Harm-reduction supplies"
    PEER_MENTORING = "peer_mentoring", "Peer mentoring"
    BASIC_NEEDS = "basic_needs", "Food, clothing or hygiene"
    HOUSING_HELP = "housing_help", "Housing help"
    BENEFITS_HELP = "benefits_help", "Benefits or ID help"
    FAMILY_SUPPORT = "family_support", "Family support"


class ContactOutcome(models.TextChoices):
    ENGAGED = "engaged", "Engaged"
    DECLINED = "declined", "Declined"
    NOT_FOUND = "not_found", "Not found"


class Stage(models.TextChoices):
    PRECONTEMPLATION = "precontemplation", "Precontemplation"
    CONTEMPLATION = "contemplation", "Contemplation"
    PREPARATION = "preparation", "Preparation"
    ACTION = "action", "Action"
    MAINTENANCE = "maintenance", "Maintenance"
    RELAPSE = "relapse", "Relapse"


class GoalStatus(models.TextChoices):
    OPEN = "open", "Not started"
    IN_PROGRESS = "in_progress", "In progress"
    ACHIEVED = "achieved", "Achieved"
    DROPPED = "dropped", "Set aside"


class ResourceCategory(models.TextChoices):
    TREATMENT_DETOX = "treatment_detox", "Treatment — withdrawal management (detox)"
    TREATMENT_RESIDENTIAL = "treatment_residential", "Treatment — residential"
    TREATMENT_OUTPATIENT = "treatment_outpatient", "Treatment — outpatient"
    TREATMENT_MOUD = "treatment_moud", "Treatment — medication for opioid use disorder"
    RECOVERY_HOUSING = "recovery_housing", "Recovery housing"
    DRUG_COURT = "drug_court", "Drug Court"
    MENTAL_HEALTH_COURT = "mental_health_court", "Mental Health Court"
    SOCIAL_SERVICES = "social_services", "Department of Social Services"
    COMMUNITY_PARAMEDIC = "community_paramedic", "Community paramedic"
    RECOVERY_TEAM = "recovery_team", "Sobriety Treatment and Recovery Team"
    QUICK_RESPONSE_TEAM = "quick_response_team", "Quick Response Team"
    FAMILY_ASSISTANCE = "family_assistance", "Family assistance"
    HOUSING_ASSISTANCE = "housing_assistance", "Housing assistance"
    CHILD_PROTECTIVE = "child_protective", "Child Protective Services"
    VETERANS = "veterans", "Veterans services"
    OTHER = "other", "Other"


#: Categories that count as a referral "to treatment" in outcome figures.
TREATMENT_CATEGORIES = frozenset(
    {
        ResourceCategory.TREATMENT_DETOX,
        ResourceCategory.TREATMENT_RESIDENTIAL,
        ResourceCategory.TREATMENT_OUTPATIENT,
        ResourceCategory.TREATMENT_MOUD,
    }
)


class ReferralStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    ENGAGED = "engaged", "Engaged"
    COMPLETED = "completed", "Completed"
    NOT_ENGAGED = "not_engaged", "Not engaged"


#: The closed loop of a referral: which step may follow which.
REFERRAL_NEXT: dict[str, tuple[str, ...]] = {
    ReferralStatus.PROPOSED: (ReferralStatus.SENT,),
    ReferralStatus.SENT: (ReferralStatus.ACCEPTED, ReferralStatus.DECLINED),
    ReferralStatus.ACCEPTED: (ReferralStatus.ENGAGED, ReferralStatus.NOT_ENGAGED),
    ReferralStatus.ENGAGED: (ReferralStatus.COMPLETED, ReferralStatus.NOT_ENGAGED),
    ReferralStatus.DECLINED: (),
    ReferralStatus.COMPLETED: (),
    ReferralStatus.NOT_ENGAGED: (),
}
#: Steps that close the loop without success need a reason.
REFERRAL_NEEDS_REASON = frozenset({ReferralStatus.DECLINED, ReferralStatus.NOT_ENGAGED})


class SafetyFlag(models.TextChoices):
    """The only officer-safety information a PRS ever sees (PR-7): a closed list, no text."""

    OFFICER_SAFETY = "officer_safety", "Officer safety caution"
    DO_NOT_VISIT_ALONE = "do_not_visit_alone", "Do not visit alone"
    DOG_ON_PREMISES = "dog_on_premises", "Dog on the premises"
    WEAPONS_IN_HOME = "weapons_in_home", "Weapons may be in the home"
    MEET_IN_PUBLIC = "meet_in_public", "Meet in a public place"


class CJISource(models.TextChoices):
    CHRI = "chri", "Criminal history record information (CHRI)"
    NCIC = "ncic", "NCIC"
    STATE = "state", "State network"
    OTHER = "other", "Other criminal justice source"


#: Contacts that never take the PRS into the field: by phone or at the program office. Every
#: other kind, and any contact at a location other than these, is field work (PR-6, 000 C).
DESK_KINDS = frozenset({ContactKind.PHONE, ContactKind.OFFICE, ContactKind.FOLLOW_UP})
DESK_LOCATIONS = frozenset({LocationType.PHONE, LocationType.OFFICE})


def needs_safety_gate(*, kind: str, location_type: str, prs_present: bool) -> bool:
    """Whether a contact needs the ARO's safety assessment: the PRS is present and the
    contact happens in the field (a field kind, or any location but phone or office)."""
    if not prs_present:
        return False
    return kind not in DESK_KINDS or location_type not in DESK_LOCATIONS


class PlanStatus(models.TextChoices):
    PLANNED = "planned", "Planned"
    STARTED = "started", "Under way"
    DONE = "done", "Done"
    CANCELLED = "cancelled", "Cancelled"


class ConsentPurpose(models.TextChoices):
    TREATMENT = "treatment", "Treatment and care coordination"
    COURT = "court", "Court supervision or diversion"
    HOUSING = "housing", "Housing placement"
    BENEFITS = "benefits", "Benefits and social services"
    FAMILY = "family", "Family support"


class ConsentInformation(models.TextChoices):
    IDENTITY = "identity", "Name and date of birth"
    CONTACT = "contact", "How to reach the client"
    SUBSTANCE_USE = "substance_use", "Substance-use information (diagnosis, history)"
    PROGRAM_ATTENDANCE = "attendance", "Program participation and attendance"
    TREATMENT_PROGRESS = "progress", "Treatment progress and recovery plan"
    REFERRALS = "referrals", "Referrals and their outcome"


class Signer(models.TextChoices):
    CLIENT = "client", "The client"
    GUARDIAN = "guardian", "Legal guardian or representative"


class SuspectedDrug(models.TextChoices):
    OPIOID = "opioid", "Opioid (unspecified)"
    HEROIN = "heroin", "Heroin"
    FENTANYL = "fentanyl", "Fentanyl"
    STIMULANT = "stimulant", "Stimulant"
    MULTIPLE = "multiple", "More than one"
    UNKNOWN = "unknown", "Unknown"


class KitRecipient(models.TextChoices):
    CLIENT = "client", "Client"
    FAMILY = "family", "Family or friend"
    COMMUNITY = "community", "Community member"
    BUSINESS = "business", "Business or organisation"


class OutreachAudience(models.TextChoices):
    SCHOOL = "school", "School"
    FAITH = "faith", "Faith community"
    CIVIC = "civic", "Civic or neighbourhood group"
    BUSINESS = "business", "Businesses"
    HEALTH = "health", "Health or social services partners"
    FAMILIES = "families", "Families"
    GENERAL = "general", "General public"


class OutreachTopic(models.TextChoices):
    SUBSTANCE_USE = "substance_use", "Substance use and addiction"
    NALOXONE = "naloxone", "Naloxone and overdose response"
    RESOURCES = "resources", "Treatment and recovery resources"
    STIGMA = "stigma", "Stigma and recovery"
    PROGRAM = "program", "The peer recovery program"
    YOUTH = "youth", "Prevention for young people"


class StatementStatus(models.TextChoices):
    PENDING = "pending", "Waiting for the Chief"
    APPROVED = "approved", "Approved"
    REFUSED = "refused", "Refused"


class PatrolCallType(models.TextChoices):
    """Calls an embedded peer (PRSS) rides to with patrol (West Virginia Police and Peers:
    peers assist on domestic and behavioural-health calls so officers focus on enforcement).
    """

    DOMESTIC = "domestic", "Domestic"
    BEHAVIORAL_HEALTH = "behavioral_health", "Behavioural-health crisis"
    OVERDOSE = "overdose", "Overdose"
    WELFARE_CHECK = "welfare_check", "Welfare check"
    DISTURBANCE = "disturbance", "Disturbance"
    OTHER = "other", "Other call"


class ConflictTopic(models.TextChoices):
    """What two people of the program recorded differently about one client (PR-2)."""

    STAGE = "stage", "Stage of change"
    PHONE = "phone", "Phone"
    ADDRESS = "address", "Address"
    STATUS = "status", "Status"
    CONTACTS = "contacts", "Contacts logged the same day"
    VISITS = "visits", "Visits planned the same day"


#: Client fields whose every value is remembered with who recorded it (``ClientFact``).
FACT_FIELDS = ("phone", "address", "status")


class ImportJob(models.TextChoices):
    """What the worker is doing with a large spreadsheet ("" when nothing)."""

    CHECKING = "checking", "Dry run in progress"
    IMPORTING = "importing", "Import in progress"
    FAILED = "failed", "Import refused"
