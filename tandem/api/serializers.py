"""What the API shows. Fields are those the corresponding screen shows the role the scope
maps to; nothing here decides access (that is ``access`` and the services)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from tandem.agencies.models import Member, MemberCategory, Unit, UnitKind
from tandem.agencies.roster import MEMBER_FIELDS
from tandem.recovery import vocab as recovery_vocab
from tandem.recovery.models import Client, Contact, PlannedContact, Referral, Resource
from tandem.recovery.services.common import CONTACT_FACTS
from tandem.recovery.services.referrals import RESOURCE_FIELDS
from tandem.reports.models import ReportRun
from tandem.support import vocab as support_vocab


class UnitSerializer(serializers.ModelSerializer[Unit]):
    parent_code = serializers.CharField(
        source="parent.code", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Unit
        fields = ["id", "code", "name", "kind", "parent_code"]


class UnitWriteSerializer(serializers.Serializer[Any]):
    code = serializers.CharField(max_length=32)
    name = serializers.CharField(max_length=200)
    kind = serializers.ChoiceField(choices=UnitKind.choices, required=False)
    parent_code = serializers.CharField(max_length=32, required=False, allow_blank=True)


class MemberSerializer(serializers.ModelSerializer[Member]):
    unit_code = serializers.CharField(
        source="unit.code", default=None, read_only=True, allow_null=True
    )
    supervisor_number = serializers.CharField(
        source="supervisor.employee_number", default=None, read_only=True, allow_null=True
    )

    class Meta:
        model = Member
        fields = [
            "id",
            *MEMBER_FIELDS,
            "supervisor_number",
            "phone",
            "email",
            "active",
            "updated_at",
        ]


class MemberWriteSerializer(serializers.Serializer[Any]):
    """HR sync: units and supervisors by their codes, as the HR system knows them."""

    employee_number = serializers.CharField(max_length=32)
    first_name = serializers.CharField(max_length=100)
    last_name = serializers.CharField(max_length=100)
    rank_title = serializers.CharField(max_length=100, required=False, allow_blank=True)
    category = serializers.ChoiceField(choices=MemberCategory.choices)
    unit_code = serializers.CharField(max_length=32, required=False, allow_blank=True)
    supervisor_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    active = serializers.BooleanField(required=False)


class RosterEntrySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    phone = serializers.CharField(source="reach_phone")
    affiliation = serializers.CharField()
    unit = serializers.CharField(source="unit.name", default=None, allow_null=True)
    specialties = serializers.ListField(child=serializers.CharField())
    languages = serializers.ListField(child=serializers.CharField())


class OnCallLineSerializer(serializers.Serializer[Any]):
    label = serializers.CharField()
    people = serializers.SerializerMethodField()
    until = serializers.DateTimeField(allow_null=True)
    note = serializers.CharField(allow_blank=True)

    def get_people(self, line: Any) -> list[dict[str, str]]:
        return [{"name": name, "phone": phone} for name, phone in line.people]


class OnCallSerializer(serializers.Serializer[Any]):
    at = serializers.DateTimeField()
    lines = OnCallLineSerializer(many=True)


class DispatchRequestSerializer(serializers.Serializer[Any]):
    """A request from dispatch. The answer carries one thing to follow it by: the receipt,
    a secret the request keeps only as a one-way digest (as the screen's on-behalf form)."""

    idempotency_key = serializers.CharField(max_length=64)
    name = serializers.CharField(max_length=120)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    email = serializers.EmailField(required=False, allow_blank=True)
    employee_number = serializers.CharField(max_length=32, required=False, allow_blank=True)
    urgency = serializers.ChoiceField(choices=support_vocab.Urgency.choices)
    contact_method = serializers.ChoiceField(choices=support_vocab.ContactMethod.choices)
    best_time = serializers.ChoiceField(choices=support_vocab.BestTime.choices, required=False)


class AcceptedSerializer(serializers.Serializer[Any]):
    status = serializers.CharField()
    receipt = serializers.CharField(
        min_length=32,
        max_length=64,
        help_text="Shown once: the only way to ask what became of the request. Keep it "
        "with the call; the same idempotency key gives the same receipt again.",
    )


class ReceiptQuerySerializer(serializers.Serializer[Any]):
    """A receipt, sent in the body so that it stays out of URLs and access logs."""

    receipt = serializers.RegexField(r"^[A-Za-z0-9_-]{32,64}$", max_length=64)


class ReceiptStateSerializer(serializers.Serializer[Any]):
    """Where a request sent from dispatch stands: never who took it, never the step."""

    state = serializers.ChoiceField(choices=["routing", "accepted", "closed"])
    status = serializers.CharField()


class ReadinessSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    level = serializers.CharField()
    ready_for_peer_support = serializers.BooleanField()


class ClientSerializer(serializers.ModelSerializer[Client]):
    """A client as the PRS sees it: safety flags the officer chose, never CJI."""

    class Meta:
        model = Client
        fields = [
            "id",
            "first_name",
            "last_name",
            "aliases",
            "date_of_birth",
            "phone",
            "status",
            "safety_flags",
            "created_at",
            "updated_at",
        ]


class ContactSerializer(serializers.ModelSerializer[Contact]):
    class Meta:
        model = Contact
        fields = ["id", "client", *CONTACT_FACTS]


class VisitSerializer(serializers.ModelSerializer[PlannedContact]):
    class Meta:
        model = PlannedContact
        fields = ["id", "client", "kind", "starts_at", "ends_at", "with_prs", "status"]


class ResourceSerializer(serializers.ModelSerializer[Resource]):
    class Meta:
        model = Resource
        fields = ["id", *RESOURCE_FIELDS]


class ReferralSerializer(serializers.ModelSerializer[Referral]):
    class Meta:
        model = Referral
        fields = [
            "id",
            "client",
            "resource",
            "status",
            "proposed_on",
            "sent_on",
            "accepted_on",
            "declined_on",
            "engaged_on",
            "completed_on",
            "not_engaged_on",
            "follow_up_on",
        ]


class ReferralCreateSerializer(serializers.Serializer[Any]):
    idempotency_key = serializers.CharField(max_length=64)
    resource = serializers.IntegerField(min_value=1)
    follow_up_on = serializers.DateField(required=False, allow_null=True)
    sent = serializers.BooleanField(default=False)


class DisclosureCreateSerializer(serializers.Serializer[Any]):
    idempotency_key = serializers.CharField(max_length=64)
    recipient = serializers.IntegerField(min_value=1)
    purpose = serializers.ChoiceField(choices=recovery_vocab.ConsentPurpose.choices)
    information = serializers.ListField(
        child=serializers.ChoiceField(choices=recovery_vocab.ConsentInformation.choices),
        allow_empty=False,
        max_length=10,
    )
    description = serializers.CharField(max_length=2000)


class DisclosureSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    client = serializers.IntegerField(source="client_id")
    recipient = serializers.IntegerField(source="recipient_id")
    consent = serializers.IntegerField(source="consent_id")
    purpose = serializers.CharField()
    information = serializers.ListField(child=serializers.CharField())
    disclosed_at = serializers.DateTimeField()


class ReportRunSerializer(serializers.ModelSerializer[ReportRun]):
    class Meta:
        model = ReportRun
        fields = ["id", "report", "kind", "period_start", "period_end", "created_at"]


class ReportRunDetailSerializer(serializers.ModelSerializer[ReportRun]):
    tables = serializers.JSONField(source="content")

    class Meta:
        model = ReportRun
        fields = ["id", "report", "kind", "period_start", "period_end", "created_at", "tables"]
