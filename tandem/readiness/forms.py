"""Forms for the readiness screens: parsing and clear messages; the rules live in services."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone

from tandem.readiness.models import (
    AgreementKind,
    AttendanceStatus,
    CheckResult,
    Course,
    Education,
    ExamResult,
    HourKind,
    InterviewOutcome,
    RemovalReason,
    course_programs_run,
    programs_run,
)

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

DATE = forms.DateInput(attrs={"type": "date"})
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def new_key() -> str:
    return secrets.token_urlsafe(16)


class IdempotentForm(forms.Form):
    """A hidden key so that a double submit creates one record, not two."""

    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {}).setdefault("idempotency_key", new_key())
        super().__init__(*args, **kwargs)


class _ProgramChoice(forms.Form):
    """A form whose ``program`` offers only the programs the agency runs (preselected when
    there is one)."""

    program = forms.ChoiceField()

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        program: Any = self.fields["program"]
        program.choices = programs_run(agency)
        if len(program.choices) == 1:
            program.initial = program.choices[0][0]


class VacancyForm(_ProgramChoice):
    title = forms.CharField(max_length=200)
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 5}),
        max_length=4000,
        required=False,
        help_text="What the team does and who may apply.",
    )
    closes_on = forms.DateField(widget=DATE, required=False, label="Applications close on")


class ApplicationForm(forms.Form):
    letter = forms.CharField(
        label="Letter of request",
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=5000,
        help_text="In your own words: why you would like to join and what you bring.",
    )


class InterviewForm(forms.Form):
    outcome = forms.ChoiceField(choices=InterviewOutcome.choices, widget=forms.RadioSelect)
    interviewed_on = forms.DateField(widget=DATE, label="Interview date")
    version = forms.IntegerField(widget=forms.HiddenInput)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "Approve and designate"), ("decline", "Decline")],
        widget=forms.RadioSelect,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class DesignateForm(_ProgramChoice):
    pass


class RemovalForm(forms.Form):
    # No reason is preselected: a removal records why, so the coordinator picks one.
    reason = forms.ChoiceField(
        choices=[("", "Choose a reason"), *RemovalReason.choices], label="Reason for removal"
    )


class SessionForm(forms.Form):
    course = forms.ModelChoiceField(queryset=Course.objects.none())
    starts_at = forms.DateTimeField(widget=DATETIME, label="Starts")
    ends_at = forms.DateTimeField(widget=DATETIME, label="Ends")
    place = forms.CharField(max_length=200)
    instructor = forms.CharField(max_length=200)
    capacity = forms.IntegerField(min_value=1, max_value=500, initial=20)

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        course_field: Any = self.fields["course"]
        course_field.queryset = Course.objects.filter(
            agency=agency, active=True, program__in=course_programs_run(agency)
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("starts_at"), data.get("ends_at")
        if start and start <= timezone.now():
            self.add_error("starts_at", "A session cannot be scheduled in the past.")
        if start and end and end <= start:
            self.add_error("ends_at", "The session must end after it starts.")
        return data


class AttendanceForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    status = forms.ChoiceField(choices=AttendanceStatus.choices)


class CheckForm(forms.Form):
    checked_on = forms.DateField(widget=DATE, label="Fingerprint check date")
    result = forms.ChoiceField(choices=CheckResult.choices)
    renewal_due = forms.DateField(widget=DATE, label="Renewal due")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        checked, due = data.get("checked_on"), data.get("renewal_due")
        if checked and checked > timezone.localdate():
            self.add_error("checked_on", "The check date is in the future.")
        if checked and due and due <= checked:
            self.add_error("renewal_due", "The renewal date must be after the check date.")
        return data


class AgreementForm(forms.Form):
    kind = forms.ChoiceField(choices=AgreementKind.choices)
    title = forms.CharField(max_length=200)
    body = forms.CharField(
        label="Text", widget=forms.Textarea(attrs={"rows": 10}), max_length=20000
    )


class SignForm(forms.Form):
    autocomplete_self = True  # the signer types their own name
    typed_name = forms.CharField(label="Type your full name", max_length=200)
    password = forms.CharField(widget=forms.PasswordInput, label="Your password")
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


def _hours(label: str = "Hours") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        max_digits=4,
        decimal_places=2,
        help_text="For example 1.5 for an hour and a half.",
    )


def _check_hours(form: forms.Form) -> None:
    hours: Decimal | None = form.cleaned_data.get("hours")
    if hours is not None and hours <= 0:
        form.add_error("hours", "Hours must be more than zero.")
    elif hours is not None and hours > 24:
        form.add_error("hours", "A day has at most 24 hours.")
    day = form.cleaned_data.get("worked_on")
    if day and day > timezone.localdate():
        form.add_error("worked_on", "The date is in the future.")


class TimeEntryForm(IdempotentForm):
    worked_on = forms.DateField(widget=DATE, label="Date")
    hours = _hours()

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        _check_hours(self)
        return data


class HourLogForm(TimeEntryForm):
    """A time entry that says which kind of certification hours it is."""

    kind = forms.ChoiceField(choices=HourKind.choices)
    field_order = ["idempotency_key", "kind", "worked_on", "hours"]


class CertificationForm(forms.Form):
    """What a peer recovery specialist records about themselves."""

    education = forms.ChoiceField(choices=Education.choices)
    exam_date = forms.DateField(widget=DATE, required=False)
    exam_result = forms.ChoiceField(choices=ExamResult.choices)
    version = forms.IntegerField(widget=forms.HiddenInput)


class CredentialForm(forms.Form):
    """The credential, recorded by the supervisor who signs off hours."""

    credential_number = forms.CharField(max_length=64, required=False)
    issued_on = forms.DateField(widget=DATE, required=False, label="Credential issued on")
    expires_on = forms.DateField(widget=DATE, required=False, label="Credential expires on")
    renewed_on = forms.DateField(widget=DATE, required=False, label="Last renewed on")
    version = forms.IntegerField(widget=forms.HiddenInput)


class ExportForm(forms.Form):
    start = forms.DateField(widget=DATE, label="From")
    end = forms.DateField(widget=DATE, label="To")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            self.add_error("end", "The end date is before the start date.")
        return data


class StatementForm(forms.Form):
    on = forms.DateField(widget=DATE, label="Date of the contact")

    def clean_on(self) -> Any:
        day = self.cleaned_data["on"]
        if day > timezone.localdate():
            raise forms.ValidationError("Choose a date that has passed.")
        return day
