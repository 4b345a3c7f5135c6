from __future__ import annotations

from typing import Any

from django import forms

from tandem.audit.models import Outcome


class EventFilterForm(forms.Form):
    date_from = forms.DateField(
        required=False, label="From (UTC date)", widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        required=False, label="To (UTC date)", widget=forms.DateInput(attrs={"type": "date"})
    )
    action = forms.CharField(
        required=False,
        max_length=80,
        help_text="Exact action or its start, e.g. “account.” for all account events.",
    )
    actor = forms.CharField(required=False, max_length=150, label="Actor (username)")
    object_type = forms.CharField(required=False, max_length=80, label="Object type")
    object_id = forms.CharField(required=False, max_length=64, label="Record number")
    outcome = forms.ChoiceField(required=False, choices=[("", "Any outcome"), *Outcome.choices])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data
