from __future__ import annotations

from django import forms

from tandem.api.scopes import SCOPE_CHOICES


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The system that calls, e.g. “CAD”.")
    scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES,
                                       widget=forms.CheckboxSelectMultiple)


class TokenForm(forms.Form):
    days = forms.IntegerField(min_value=1, max_value=366, initial=90,
                              help_text="The token stops working after this many days.")
