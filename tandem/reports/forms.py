"""The report request: which months, and for whom the figures are."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms

from tandem.reports.models import Audience
from tandem.reports.services import DEFAULT_EPSILON, ReportError, check_period, month_end
from tandem.reports.statistics import Period

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def _month(value: str, label: str) -> date:
    match = _MONTH.match(value.strip())
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
        raise forms.ValidationError(f"Give the {label} month as year and month, e.g. 2026-03.")
    return date(int(match.group(1)), int(match.group(2)), 1)


class PeriodForm(forms.Form):
    start = forms.CharField(
        label="First month",
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text="Year and month, e.g. 2026-01.",
    )
    end = forms.CharField(
        label="Last month",
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month"}),
        help_text="A month that has ended. January to December makes the annual report.",
    )
    audience = forms.ChoiceField(
        label="Figures for",
        choices=Audience.choices,
        initial=Audience.DEPARTMENT,
        required=False,
    )
    epsilon = forms.FloatField(
        label="Protection for published figures",
        required=False,
        min_value=0.05,
        max_value=10,
        initial=DEFAULT_EPSILON,
        help_text="Only for figures published outside the department: random noise is added "
        "so nobody can be picked out. A smaller number adds more noise and protects more; "
        "1.0 is a common choice.",
    )

    def __init__(self, *args: Any, may_publish: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.may_publish = may_publish
        if not may_publish:
            del self.fields["audience"]
            del self.fields["epsilon"]

    def clean_start(self) -> date:
        return _month(self.cleaned_data["start"], "first")

    def clean_end(self) -> date:
        return _month(self.cleaned_data["end"], "last")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "start" in data and "end" in data:
            try:
                data["period"] = check_period(Period(data["start"], month_end(data["end"])))
            except ReportError as error:
                raise forms.ValidationError(str(error)) from error
        if self.may_publish and data.get("audience") == Audience.PUBLIC and not data.get("epsilon"):
            self.add_error("epsilon", "Choose how much protection figures published outside get.")
        return data
