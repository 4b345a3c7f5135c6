"""Peer-support forms. Requests carry no free text about the problem: only closed choices,
and the contact details needed to reach the person (encrypted by the service)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone

from tandem.agencies.models import Unit
from tandem.agencies.presets import USAGE_FIELDS
from tandem.core.forms import QuickSelect
from tandem.support import vocab
from tandem.support.models import CriticalIncident, MutualAidRequest, SupporterProfile

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

PHONE_HELP = "Digits, spaces, + and - only."
FORM_EXPIRED = "The form expired. Please reload the page and send it again."
MAX_PARTICIPANTS = 8


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


def new_idempotency_key() -> str:
    return secrets.token_urlsafe(24)


def _blank(choices: Any, label: str = "No preference") -> list[tuple[str, str]]:
    return [("", label), *choices]


def clean_phone(value: str) -> str:
    value = (value or "").strip()
    if value and (
        not all(c.isdigit() or c in " +-()." for c in value) or sum(c.isdigit() for c in value) < 7
    ):
        raise ValidationError("Enter a phone number with at least 7 digits.")
    return value


class DirectoryFilterForm(forms.Form):
    affiliation = forms.ChoiceField(
        choices=_blank(vocab.Affiliation.choices, "Anyone"),
        required=False,
        label="Sworn or civilian",
    )
    specialty = forms.ChoiceField(choices=_blank(vocab.Specialty.choices, "Any"), required=False)
    language = forms.ChoiceField(choices=_blank(vocab.Language.choices, "Any"), required=False)
    unit = forms.ModelChoiceField(
        queryset=Unit.objects.none(), required=False, empty_label="All units", widget=QuickSelect
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(agency=agency)  # type: ignore[attr-defined]


class _ReachForm(forms.Form):
    """How to reach the person: a method, and the phone or e-mail it needs."""

    contact_method = forms.ChoiceField(
        choices=vocab.ContactMethod.choices, label="How should the supporter reach you?"
    )
    phone = forms.CharField(max_length=32, required=False, help_text=PHONE_HELP)
    email = forms.EmailField(required=False, label="E-mail")
    urgency = forms.ChoiceField(choices=vocab.Urgency.choices, label="How soon?")
    best_time = forms.ChoiceField(choices=vocab.BestTime.choices, label="Best time to reach")
    topic = forms.ChoiceField(
        choices=_blank(vocab.Topic.choices, "Rather not say"),
        required=False,
        label="Topic (optional)",
    )

    def clean_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("phone", ""))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        method = data.get("contact_method")
        if method in (vocab.ContactMethod.PHONE, vocab.ContactMethod.TEXT) and not data.get(
            "phone"
        ):
            self.add_error("phone", "Give a phone number to be called or texted on.")
        if method == vocab.ContactMethod.EMAIL and not data.get("email"):
            self.add_error("email", "Give an e-mail address to be written to.")
        return data


_PREFERENCES = ("affiliation", "gender", "specialty", "language")


def _code_field() -> forms.CharField:
    """The page's own secret (192 random bits, made when the page is shown): the status
    code the person is given, and what makes a second submit of the page harmless."""
    return forms.CharField(
        widget=forms.HiddenInput,
        min_length=32,
        max_length=64,
        validators=[RegexValidator(r"^[A-Za-z0-9_-]+$")],
        error_messages={"required": FORM_EXPIRED, "min_length": FORM_EXPIRED},
    )


class HelpForm(_ReachForm):
    """The help page (the agency's secret link, or "Get support" inside Tandem): someone
    asks for themselves. No account is read; what identifies the person is sealed by the
    service and erased when the request ends."""

    autocomplete_self = True  # the person asks for themselves: their own name and phone
    code = _code_field()
    requester_kind = forms.ChoiceField(choices=(), widget=forms.RadioSelect, label="Who is asking?")
    name = forms.CharField(
        max_length=120, required=False, label="What should the supporter call you? (optional)"
    )
    agency_name = forms.CharField(
        max_length=200, required=False, label="Your agency (members of another agency)"
    )
    employee_number = forms.CharField(
        max_length=32,
        required=False,
        label="Employee number (optional)",
        help_text="Yours, or your family member's. Used only so that nobody in that chain of "
        "command is offered your request; encrypted and erased with it.",
    )
    chosen_supporter = forms.ModelChoiceField(
        queryset=SupporterProfile.objects.none(),
        required=False,
        empty_label="Whoever is on call",
        label="Supporter",
    )
    pref_affiliation = forms.ChoiceField(
        choices=_blank(vocab.Affiliation.choices), required=False, label="Prefer sworn or civilian"
    )
    pref_gender = forms.ChoiceField(
        choices=_blank([c for c in vocab.Gender.choices if c[0] != vocab.Gender.NOT_SAID]),
        required=False,
        label="Prefer a supporter who is",
    )
    pref_specialty = forms.ChoiceField(
        choices=_blank(vocab.Specialty.choices), required=False, label="Prefer experience with"
    )
    pref_language = forms.ChoiceField(
        choices=_blank(vocab.Language.choices),
        required=False,
        label="Prefer a supporter who speaks",
    )

    def __init__(
        self, *args: Any, kinds: list[tuple[str, str]], supporters: Any, topic: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["requester_kind"].choices = kinds  # type: ignore[attr-defined]
        self.fields["chosen_supporter"].queryset = supporters  # type: ignore[attr-defined]
        if not topic:
            del self.fields["topic"]
        if not any(k == vocab.RequesterKind.OTHER_AGENCY for k, _ in kinds):
            del self.fields["agency_name"]
        if not any(k == vocab.RequesterKind.FAMILY for k, _ in kinds):
            self.fields["employee_number"].help_text = (
                "Used only so that nobody in your chain of command is offered your request; "
                "encrypted and erased with it."
            )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("requester_kind") == vocab.RequesterKind.OTHER_AGENCY and not data.get(
            "agency_name"
        ):
            self.add_error("agency_name", "Say which agency you work for.")
        return data

    def preferences(self) -> dict[str, str]:
        return {
            k: self.cleaned_data[f"pref_{k}"]
            for k in _PREFERENCES
            if self.cleaned_data.get(f"pref_{k}")
        }


class HelpReferralForm(_ReachForm):
    """The help page when a colleague refers someone: the wording speaks of "the person",
    and the referrer may stay anonymous (what they give is for the coordinator only)."""

    code = _code_field()
    name = forms.CharField(max_length=120, label="Name of the person")
    employee_number = forms.CharField(
        max_length=32,
        required=False,
        label="Their employee number (optional)",
        help_text="Used only so that nobody in their chain of command is offered the "
        "request; encrypted and erased with it.",
    )
    referrer_name = forms.CharField(
        max_length=120,
        required=False,
        label="Your name (optional)",
        help_text="Seen only by the coordinator, in case they need to ask you something. "
        "The person is not told who referred them.",
    )
    referrer_phone = forms.CharField(
        max_length=32, required=False, label="Your phone (optional)", help_text=PHONE_HELP
    )

    def __init__(self, *args: Any, topic: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, label in (
            ("contact_method", "How should the supporter reach them?"),
            ("phone", "Their phone"),
            ("email", "Their e-mail"),
            ("urgency", "How soon should someone reach out?"),
            ("best_time", "Best time to reach them"),
        ):
            self.fields[name].label = label
        if not topic:
            del self.fields["topic"]

    def clean_referrer_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("referrer_phone", ""))


class _PersonForm(_ReachForm):
    # Who first, then how to reach them: the order a dispatcher takes them from a caller.
    field_order = ("name", "contact_method", "phone", "email")
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)
    name = forms.CharField(max_length=120, label="Name of the person")
    employee_number = forms.CharField(
        max_length=32,
        required=False,
        label="Employee number (if known)",
        help_text="Used only to keep supporters in their chain of command away.",
    )


class OnBehalfForm(_PersonForm):
    """Someone (a dispatcher, the coordinator) asks for another person. Where the policy
    leaves one way in, it is chosen and shown as text; the wording speaks of the caller."""

    channel = forms.ChoiceField(choices=(), label="How this request came in")
    incident = forms.ModelChoiceField(
        queryset=CriticalIncident.objects.none(), required=False, empty_label="No critical incident"
    )

    def __init__(
        self,
        *args: Any,
        channels: list[tuple[str, str]],
        incidents: Any,
        for_caller: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["channel"].choices = channels  # type: ignore[attr-defined]
        if len(channels) == 1:
            self.fields["channel"].widget = forms.HiddenInput()
            self.fields["channel"].initial = channels[0][0]
            self.only_channel = channels[0][1]
        self.fields["incident"].queryset = incidents  # type: ignore[attr-defined]
        if not incidents.exists() or all(c != vocab.Channel.CRITICAL_INCIDENT for c, _ in channels):
            del self.fields["incident"]
        who = "the caller" if for_caller else "the person"
        self.fields["name"].label = f"Name of {who}"
        self.fields["contact_method"].label = f"How should the supporter reach {who}?"
        self.fields["phone"].label = f"Phone of {who}"
        self.fields["email"].label = f"E-mail of {who}"
        self.fields["best_time"].label = f"Best time to reach {who}"


class StatusForm(forms.Form):
    code = forms.CharField(max_length=64, label="Your status code", strip=True)


class ReceiptForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Receipt",
        strip=True,
        help_text="The receipt shown when the request was sent.",
    )


class RecuseForm(forms.Form):
    reason = forms.ChoiceField(
        choices=vocab.RecusalReason.choices,
        widget=forms.RadioSelect,
        label="Why do you step aside?",
    )


class ContactForm(forms.Form):
    notice_given = forms.BooleanField(
        required=False,
        label="I told the person the limits of confidentiality at the start of the contact.",
    )


class CloseForm(forms.Form):
    incident_type = forms.ChoiceField(
        choices=_blank(vocab.IncidentType.choices, "Choose…"),
        required=False,
        label="Type of incident",
    )
    intervention_type = forms.ChoiceField(
        choices=_blank(vocab.InterventionType.choices, "Choose…"),
        required=False,
        label="Type of intervention",
    )
    member_category = forms.ChoiceField(
        choices=_blank(vocab.MemberCategory.choices, "Choose…"),
        required=False,
        label="Sworn / civilian / volunteer / family",
    )
    gender = forms.ChoiceField(choices=_blank(vocab.Gender.choices, "Choose…"), required=False)
    duration_bucket = forms.ChoiceField(
        choices=_blank(vocab.DurationBucket.choices, "Choose…"),
        required=False,
        label="Length of contact",
    )
    services = forms.MultipleChoiceField(
        choices=vocab.Service.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="General services provided",
    )
    referral_types = forms.MultipleChoiceField(
        choices=vocab.ReferralType.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Referrals made",
    )
    follow_up = forms.BooleanField(required=False, label="Follow-up planned")
    follow_up_on = forms.DateField(
        required=False,
        widget=DateInput,
        label="Remind me on",
        help_text="Optional: a reminder shown only to you, with the person's name and "
        "how to reach them; marking it done destroys them.",
    )

    def __init__(self, *args: Any, collected: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The policy's closed list names what this form asks for (and the request's own
        # channel, topic and urgency, which are not asked here).
        for name in (n for n in USAGE_FIELDS if n in self.fields):
            if name not in collected:
                del self.fields[name]
            elif name not in ("services", "referral_types", "follow_up"):
                self.fields[name].required = True

    def clean_follow_up_on(self) -> Any:
        value = self.cleaned_data.get("follow_up_on")
        if value is not None and value < timezone.localdate():
            raise ValidationError("The reminder date cannot be in the past.")
        return value


class ProfileForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    version = forms.IntegerField(widget=forms.HiddenInput)
    specialties = forms.MultipleChoiceField(
        choices=vocab.Specialty.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    languages = forms.MultipleChoiceField(
        choices=vocab.Language.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = SupporterProfile
        fields = [
            "phone",
            "affiliation",
            "gender",
            "unit",
            "specialties",
            "languages",
            "introduction",
        ]
        widgets = {"introduction": forms.Textarea(attrs={"rows": 3, "maxlength": 400})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["unit"].queryset = Unit.objects.filter(  # type: ignore[attr-defined]
            agency_id=self.instance.agency_id
        )
        self.fields["phone"].help_text = "Shown on the roster and to dispatchers."

    def clean_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("phone", ""))


MAX_PHOTO_BYTES = 512 * 1024
PHOTO_TYPES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpg"}


def photo_extension(data: bytes) -> str:
    """ "png" or "jpg" from the file's own bytes, or a clear error."""
    if len(data) > MAX_PHOTO_BYTES:
        raise ValidationError("The photo is larger than 512 KB; please choose a smaller one.")
    for magic, extension in PHOTO_TYPES.items():
        if data.startswith(magic):
            return extension
    raise ValidationError("The photo must be a PNG or JPEG image.")


class PhotoForm(forms.Form):
    photo = forms.FileField(required=False, label="Photo (optional, PNG or JPEG)")
    remove_photo = forms.BooleanField(required=False, label="Remove my photo")

    def clean_photo(self) -> tuple[bytes, str] | None:
        upload = self.cleaned_data.get("photo")
        if not upload:
            return None
        data = upload.read(MAX_PHOTO_BYTES + 1)
        return data, photo_extension(data)


class AvailabilityForm(forms.Form):
    until = forms.DateTimeField(required=False, widget=DateTimeInput, label="Unavailable until")


class RotationForm(forms.Form):
    name = forms.CharField(max_length=100)
    layer = forms.ChoiceField(choices=vocab.Layer.choices)
    starts_on = forms.DateField(widget=DateInput, label="First shift starts on")
    handoff_time = forms.TimeField(
        widget=forms.TimeInput(attrs={"type": "time"}), label="Hand-off time"
    )
    shift_hours = forms.IntegerField(
        min_value=1, max_value=24 * 28, initial=168, label="Shift length (hours)"
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, supporters: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(1, MAX_PARTICIPANTS + 1):
            self.fields[f"participant_{i}"] = forms.ModelChoiceField(
                queryset=supporters, required=False, label=f"Turn {i}", empty_label="—"
            )

    def participants(self) -> list[SupporterProfile]:
        return [
            self.cleaned_data[f"participant_{i}"]
            for i in range(1, MAX_PARTICIPANTS + 1)
            if self.cleaned_data.get(f"participant_{i}")
        ]


class OverrideForm(forms.Form):
    layer = forms.ChoiceField(choices=vocab.Layer.choices)
    supporter = forms.ModelChoiceField(queryset=SupporterProfile.objects.none())
    starts_at = forms.DateTimeField(widget=DateTimeInput, label="From")
    ends_at = forms.DateTimeField(widget=DateTimeInput, label="Until")
    reason = forms.ChoiceField(choices=[("cover", "Cover"), ("swap", "Swap")])

    def __init__(self, *args: Any, supporters: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supporter"].queryset = supporters  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            self.add_error("ends_at", "The cover must end after it starts.")
        return data


class DutyForm(forms.Form):
    category = forms.ChoiceField(choices=(), label="Exception to confidentiality")
    emergency = forms.BooleanField(required=False, label="This is an emergency")
    subject_name = forms.CharField(max_length=120, label="Name of the person concerned")
    subject_phone = forms.CharField(
        max_length=32, required=False, label="Their phone", help_text=PHONE_HELP
    )
    self_disclosure_due = forms.DateField(
        required=False,
        widget=DateInput,
        label="Self-disclosure by",
        help_text="Not an emergency: the date by which the member will disclose themselves.",
    )

    def __init__(self, *args: Any, categories: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = categories  # type: ignore[attr-defined]

    def clean_subject_phone(self) -> str:
        return clean_phone(self.cleaned_data.get("subject_phone", ""))


class ConsultForm(forms.Form):
    category = forms.ChoiceField(choices=(), label="Which exception might apply?")

    def __init__(self, *args: Any, categories: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = categories  # type: ignore[attr-defined]


class ConsultAnswerForm(forms.Form):
    answer = forms.ChoiceField(choices=vocab.ConsultationAnswer.choices, widget=forms.RadioSelect)


class BreachForm(forms.Form):
    kind = forms.ChoiceField(choices=vocab.BreachKind.choices, label="What happened")
    occurred_on = forms.DateField(widget=DateInput, label="When")


class IncidentForm(forms.Form):
    kind = forms.ChoiceField(choices=vocab.CriticalIncidentKind.choices, label="Type")
    occurred_on = forms.DateField(widget=DateInput, label="Date")
    units = forms.ModelMultipleChoiceField(
        queryset=Unit.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )
    members_affected = forms.IntegerField(
        min_value=0, max_value=100000, label="Members affected (a number, no names)"
    )
    involved_supporters = forms.ModelMultipleChoiceField(
        queryset=SupporterProfile.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Supporters who were part of the incident (never routed to it)",
    )

    def __init__(self, *args: Any, units: Any, supporters: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["units"].queryset = units  # type: ignore[attr-defined]
        self.fields["involved_supporters"].queryset = supporters  # type: ignore[attr-defined]


class DeploymentForm(forms.Form):
    supporter = forms.ModelChoiceField(queryset=SupporterProfile.objects.none())

    def __init__(self, *args: Any, supporters: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supporter"].queryset = supporters  # type: ignore[attr-defined]


class GroupSessionForm(forms.Form):
    kind = forms.ChoiceField(choices=vocab.GroupSessionKind.choices)
    held_on = forms.DateField(widget=DateInput, label="Held on")
    attendees = forms.IntegerField(min_value=1, max_value=10000, label="Attendees (count)")


class MutualAidForm(forms.ModelForm):  # type: ignore[type-arg]  # generic in the stubs only
    class Meta:
        model = MutualAidRequest
        fields = [
            "direction",
            "partner_agency",
            "incident_kind",
            "requested_on",
            "supporters_requested",
            "supporters_provided",
            "status",
        ]
        widgets = {"requested_on": DateInput}
        labels = {"partner_agency": "Other agency", "incident_kind": "Type of incident"}
