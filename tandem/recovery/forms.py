"""Recovery forms: validation and clear messages; services do the writing."""

from __future__ import annotations

import io
import secrets
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Member
from tandem.core.when import when
from tandem.recovery import vocab
from tandem.recovery.models import Client, PlannedContact, Resource

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

MAX_PHOTO_BYTES = 2 * 1024 * 1024
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
CHECKS = forms.CheckboxSelectMultiple


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(24)


class IdempotentForm(forms.Form):
    """A hidden key so that a double submit creates one record, not two."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("idempotency_key", new_idempotency_key())


def _model_field(form: forms.Form, name: str) -> forms.ModelChoiceField[Any]:
    return cast("forms.ModelChoiceField[Any]", form.fields[name])


def _people(agency: Agency, role: str) -> Any:
    return (
        User.objects.filter(
            agency=agency,
            is_active=True,
            role_assignments__role=role,
            role_assignments__agency=agency,
        )
        .distinct()
        .order_by("last_name", "first_name")
    )


class PersonChoice(forms.ModelChoiceField):  # type: ignore[type-arg]  # generic in the stubs only
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_full_name() or obj.username)


class ClientForm(IdempotentForm):
    first_name = forms.CharField(max_length=80)
    last_name = forms.CharField(max_length=80)
    aliases = forms.CharField(
        max_length=300,
        required=False,
        help_text="Other names the client goes by, separated by commas.",
    )
    date_of_birth = forms.DateField(required=False, widget=DATE)
    phone = forms.CharField(max_length=32, required=False)
    address = forms.CharField(max_length=300, required=False, help_text="Stored encrypted.")
    photo = forms.FileField(required=False, help_text="PNG or JPEG, at most 2 MB.")
    gender = forms.ChoiceField(choices=vocab.Gender.choices, initial=vocab.Gender.NOT_STATED)
    race = forms.ChoiceField(choices=vocab.Race.choices, initial=vocab.Race.NOT_STATED)
    ethnicity = forms.ChoiceField(
        choices=vocab.Ethnicity.choices, initial=vocab.Ethnicity.NOT_STATED
    )
    veteran = forms.NullBooleanField(required=False)
    substances = forms.MultipleChoiceField(
        choices=vocab.Substance.choices, required=False, widget=CHECKS
    )
    status = forms.ChoiceField(
        choices=vocab.ClientStatus.choices, initial=vocab.ClientStatus.ACTIVE
    )
    aro = PersonChoice(queryset=User.objects.none(), required=False, label="Assigned ARO")
    prs = PersonChoice(queryset=User.objects.none(), required=False, label="Assigned PRS")
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Recovery notes. No criminal justice information here.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_field(self, "aro").queryset = _people(agency, "aro")
        _model_field(self, "prs").queryset = _people(agency, "prs")
        self.photo_bytes: bytes | None = None
        self.photo_type = ""

    def clean_date_of_birth(self) -> Any:
        value = self.cleaned_data.get("date_of_birth")
        if value and value > timezone.localdate():
            raise ValidationError("The date of birth cannot be in the future.")
        return value

    def clean_photo(self) -> Any:
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        data = upload.read(MAX_PHOTO_BYTES + 1)
        if len(data) > MAX_PHOTO_BYTES:
            raise ValidationError("The photo is larger than 2 MB.")
        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as image:
                kind = (image.format or "").lower()
                image.verify()
        except Exception:  # noqa: BLE001 - any decoder error means "not a photo"
            raise ValidationError("The photo must be a PNG or JPEG image.") from None
        if kind not in ("png", "jpeg"):
            raise ValidationError("The photo must be a PNG or JPEG image.")
        self.photo_bytes, self.photo_type = data, f"image/{kind}"
        return None

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        for key in ("photo", "version", "idempotency_key"):
            data.pop(key, None)
        data["aliases"] = ", ".join(a.strip() for a in data["aliases"].split(",") if a.strip())
        return data

    @classmethod
    def initial_for(cls, client: Client) -> dict[str, Any]:
        return {
            "first_name": client.first_name,
            "last_name": client.last_name,
            "aliases": client.aliases,
            "date_of_birth": client.date_of_birth,
            "phone": client.phone,
            "address": client.address,
            "gender": client.gender,
            "race": client.race,
            "ethnicity": client.ethnicity,
            "veteran": client.veteran,
            "substances": client.substances or [],
            "status": client.status,
            "aro": client.aro_id,
            "prs": client.prs_id,
            "notes": client.notes,
            "version": client.version,
        }


class ClientSearchForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        help_text="Name, alias, phone number or date of birth (YYYY-MM-DD).",
    )
    status = forms.ChoiceField(
        choices=[("", "Any status"), *vocab.ClientStatus.choices], required=False
    )


class SafetyFlagsForm(forms.Form):
    flags = forms.MultipleChoiceField(
        choices=vocab.SafetyFlag.choices,
        required=False,
        widget=CHECKS,
        label="Safety flags shared with the PRS",
    )


class PlannedChoice(forms.ModelChoiceField):  # type: ignore[type-arg]  # generic in the stubs only
    def label_from_instance(self, obj: Any) -> str:
        start = timezone.localtime(obj.starts_at)
        return f"{when(start, 'datetime')} · {obj.get_kind_display()} · {obj.get_status_display()}"


class ContactForm(IdempotentForm):
    kind = forms.ChoiceField(choices=vocab.ContactKind.choices)
    occurred_at = forms.DateTimeField(widget=DATETIME, label="When")
    duration_minutes = forms.IntegerField(min_value=0, max_value=1440, label="Minutes")
    aro_present = forms.BooleanField(required=False, label="ARO present")
    prs_present = forms.BooleanField(required=False, label="PRS present")
    planned = PlannedChoice(
        queryset=PlannedContact.objects.none(),
        required=False,
        label="Planned visit",
        help_text="Required for a field contact with the PRS.",
    )
    location_type = forms.ChoiceField(choices=vocab.LocationType.choices)
    services = forms.MultipleChoiceField(
        choices=vocab.ContactService.choices, required=False, widget=CHECKS
    )
    outcome = forms.ChoiceField(choices=vocab.ContactOutcome.choices)
    arrest_diverted = forms.BooleanField(
        required=False, label="Arrest diverted to a non-arrest pathway"
    )
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Free text is allowed here; criminal justice information is not.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_field(self, "planned").queryset = (
            PlannedContact.objects.filter(client=client)
            .exclude(status=vocab.PlanStatus.CANCELLED)
            .order_by("-starts_at")
        )

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("version", None)
        data.pop("idempotency_key", None)
        return data


class PlannedForm(IdempotentForm):
    client = forms.ModelChoiceField(queryset=Client.objects.none())
    kind = forms.ChoiceField(choices=vocab.ContactKind.choices, initial=vocab.ContactKind.FIELD)
    starts_at = forms.DateTimeField(widget=DATETIME, label="Starts")
    ends_at = forms.DateTimeField(widget=DATETIME, label="Ends")
    aro = PersonChoice(queryset=User.objects.none(), required=False, label="ARO")
    prs = PersonChoice(queryset=User.objects.none(), required=False, label="PRS")
    with_prs = forms.BooleanField(required=False, initial=True, label="The PRS comes along")

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_field(self, "client").queryset = Client.objects.filter(
            agency=agency, merged_into__isnull=True
        ).exclude(status=vocab.ClientStatus.DECEASED)
        _model_field(self, "aro").queryset = _people(agency, "aro")
        _model_field(self, "prs").queryset = _people(agency, "prs")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The visit must end after it starts.")
        return data


class SafetyAssessmentForm(forms.Form):
    confirmed = forms.MultipleChoiceField(
        choices=[], required=False, widget=CHECKS, label="Safety checklist"
    )

    def __init__(self, *args: Any, checklist: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["confirmed"]).choices = [
            (item, item) for item in checklist
        ]


class StageForm(forms.Form):
    stage = forms.ChoiceField(choices=vocab.Stage.choices, label="Stage of change")


class GoalForm(forms.Form):
    text = forms.CharField(max_length=500, label="Goal")
    target_on = forms.DateField(required=False, widget=DATE, label="Target date")


class GoalStatusForm(forms.Form):
    status = forms.ChoiceField(choices=vocab.GoalStatus.choices)


class ResourceForm(IdempotentForm):
    name = forms.CharField(max_length=200)
    category = forms.ChoiceField(choices=vocab.ResourceCategory.choices)
    contact_name = forms.CharField(max_length=120, required=False, label="Contact person")
    phone = forms.CharField(max_length=32, required=False)
    email = forms.EmailField(required=False)
    address = forms.CharField(max_length=300, required=False)
    eligibility = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    active = forms.BooleanField(required=False, initial=True, label="In use")


class ResourceChoice(forms.ModelChoiceField):  # type: ignore[type-arg]  # generic in the stubs only
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} ({obj.get_category_display()})"


class ReferralForm(IdempotentForm):
    resource = ResourceChoice(
        queryset=Resource.objects.none(),
        label="Organisation",
        error_messages={"invalid_choice": "Choose an organisation from your agency's directory."},
    )
    follow_up_on = forms.DateField(required=False, widget=DATE, label="Follow up on")
    sent = forms.BooleanField(required=False, label="Already sent to the organisation")

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_field(self, "resource").queryset = Resource.objects.filter(
            agency=agency, active=True
        )


class ReferralStepForm(forms.Form):
    status = forms.ChoiceField(choices=vocab.ReferralStatus.choices, label="Next step")
    on = forms.DateField(widget=DATE, label="Date")
    reason = forms.CharField(
        max_length=500, required=False, help_text="Needed when declined or not engaged."
    )
    follow_up_on = forms.DateField(required=False, widget=DATE, label="Next follow-up")


class ConsentForm(IdempotentForm):
    discloser = forms.CharField(
        max_length=200,
        label="Who may disclose",
        help_text="The program or person permitted to disclose.",
    )
    recipient = ResourceChoice(
        queryset=Resource.objects.none(),
        label="To whom",
        error_messages={"invalid_choice": "Choose an organisation from your agency's directory."},
    )
    purpose = forms.ChoiceField(choices=vocab.ConsentPurpose.choices)
    information = forms.MultipleChoiceField(
        choices=vocab.ConsentInformation.choices, widget=CHECKS, label="What information"
    )
    starts_on = forms.DateField(widget=DATE, label="In force from")
    expires_on = forms.DateField(required=False, widget=DATE, label="Expires on")
    expiry_event = forms.CharField(
        max_length=200,
        required=False,
        label="Or expires when",
        help_text="An event, e.g. “completion of Drug Court”.",
    )
    revocation_method = forms.CharField(
        max_length=300,
        label="Right to revoke and how",
        initial="The client may revoke this consent at any time, in writing or in person, "
        "except to the extent action has already been taken in reliance on it.",
    )
    signed_by = forms.ChoiceField(choices=vocab.Signer.choices)
    signer_name = forms.CharField(max_length=200, label="Name of the person who signed")
    signed_on = forms.DateField(widget=DATE, label="Date signed")
    signature_confirmed = forms.BooleanField(
        label="I have the signed consent form",
        error_messages={
            "required": "A consent needs the client's signature: confirm you have the signed form."
        },
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_field(self, "recipient").queryset = Resource.objects.filter(agency=agency)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (
            data.get("expires_on")
            and data.get("starts_on")
            and (data["expires_on"] < data["starts_on"])
        ):
            self.add_error("expires_on", "The consent cannot expire before it starts.")
        if not data.get("expires_on") and not data.get("expiry_event", "").strip():
            self.add_error(
                "expiry_event", "Give an expiry date or the event on which consent ends."
            )
        return data


class DisclosureForm(IdempotentForm):
    recipient = ResourceChoice(queryset=Resource.objects.none(), label="Recipient")
    purpose = forms.ChoiceField(choices=vocab.ConsentPurpose.choices)
    information = forms.MultipleChoiceField(
        choices=vocab.ConsentInformation.choices, widget=CHECKS, label="Information disclosed"
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="Description of what was disclosed"
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _model_field(self, "recipient").queryset = Resource.objects.filter(agency=agency)


class CJIReadForm(forms.Form):
    purpose = forms.CharField(
        max_length=200,
        min_length=5,
        label="Purpose of this look-up",
        help_text="Recorded in the audit trail with your name.",
    )


class CJIEntryForm(forms.Form):
    source = forms.ChoiceField(choices=vocab.CJISource.choices)
    queried_on = forms.DateField(widget=DATE, label="Query date")
    purpose = forms.CharField(max_length=200)
    summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class SwornNoteForm(forms.Form):
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), label="Sworn-only note")


class OverdoseForm(IdempotentForm):
    occurred_at = forms.DateTimeField(widget=DATETIME, label="Date and time")
    location = forms.CharField(max_length=300, label="Location (address or landmark)")
    latitude = forms.DecimalField(
        max_digits=9, decimal_places=6, required=False, min_value=-90, max_value=90
    )
    longitude = forms.DecimalField(
        max_digits=9, decimal_places=6, required=False, min_value=-180, max_value=180
    )
    fatal = forms.BooleanField(required=False)
    naloxone_given = forms.BooleanField(required=False, label="Naloxone given")
    naloxone_doses = forms.IntegerField(
        min_value=0, max_value=20, required=False, label="Naloxone doses"
    )
    suspected_drug = forms.ChoiceField(
        choices=vocab.SuspectedDrug.choices, initial=vocab.SuspectedDrug.UNKNOWN
    )
    case_number = forms.CharField(max_length=40, required=False, label="Case number")


class NaloxoneKitForm(IdempotentForm):
    given_on = forms.DateField(widget=DATE, label="Date")
    quantity = forms.IntegerField(min_value=1, max_value=500, initial=1)
    recipient_type = forms.ChoiceField(choices=vocab.KitRecipient.choices, label="Given to")


class OutreachForm(IdempotentForm):
    held_on = forms.DateField(widget=DATE, label="Date")
    title = forms.CharField(max_length=200, label="Event")
    audience = forms.ChoiceField(choices=vocab.OutreachAudience.choices)
    attendance = forms.IntegerField(min_value=0, max_value=100000)
    topics = forms.MultipleChoiceField(choices=vocab.OutreachTopic.choices, widget=CHECKS)


class StatementForm(IdempotentForm):
    venue = forms.CharField(max_length=200, label="Where (outlet, event or audience)")
    planned_on = forms.DateField(widget=DATE, label="Date")
    summary = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), label="What you intend to say"
    )


class StatementDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("refuse", "Refuse")])
    note = forms.CharField(max_length=300, required=False, label="Note to the requester")


class PatrolCallForm(IdempotentForm):
    """An unscheduled contact on a patrol call with the officer's on-scene safety check."""

    call_type = forms.ChoiceField(choices=vocab.PatrolCallType.choices, label="Type of call")
    officer = forms.ModelChoiceField(
        queryset=Member.objects.none(),
        label="Officer on the call",
        help_text="The sworn officer who checked the scene.",
    )
    confirmed = forms.MultipleChoiceField(
        choices=(), widget=CHECKS, required=False, label="The officer's on-scene safety check (now)"
    )
    duration_minutes = forms.IntegerField(min_value=0, max_value=1440, label="Minutes", initial=20)
    services = forms.MultipleChoiceField(
        choices=vocab.ContactService.choices, required=False, widget=CHECKS
    )
    outcome = forms.ChoiceField(choices=vocab.ContactOutcome.choices)
    notes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        help_text="Free text is allowed here; criminal justice information is not.",
    )

    def __init__(self, *args: Any, client: Client, **kwargs: Any) -> None:
        from tandem.agencies.models import MemberCategory

        super().__init__(*args, **kwargs)
        checklist = client.agency.policy_model().recovery.safety_checklist
        cast(forms.MultipleChoiceField, self.fields["confirmed"]).choices = [
            (item, item) for item in checklist
        ]
        _model_field(self, "officer").queryset = Member.objects.filter(
            agency_id=client.agency_id, active=True, category=MemberCategory.SWORN
        ).order_by("last_name", "first_name")
