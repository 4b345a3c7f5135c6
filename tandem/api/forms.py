from __future__ import annotations

from django import forms

from tandem.api.scopes import SCOPE_CHOICES


class ApiClientForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="The system that calls, e.g. “CAD”.")
    scopes = forms.MultipleChoiceField(choices=SCOPE_CHOICES, widget=forms.CheckboxSelectMultiple)


class TokenForm(forms.Form):
    days = forms.IntegerField(
        min_value=1,
        max_value=366,
        initial=90,
        help_text="The token stops working after this many days.",
    )


def _words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


class IdentityProviderForm(forms.Form):
    """The agency's OpenID Connect provider, as the administrator types it in."""

    issuer = forms.URLField(
        max_length=300,
        assume_scheme="https",
        label="Issuer",
        help_text="The provider's issuer address, e.g. https://login.microsoftonline.com/"
        "TENANT/v2.0. Tandem reads its discovery document "
        "(/.well-known/openid-configuration) from there.",
    )
    client_id = forms.CharField(
        max_length=200, label="Client id", help_text="The id the provider issued to Tandem."
    )
    client_secret = forms.CharField(
        required=False,
        max_length=500,
        label="Client secret",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the stored secret.",
    )
    subject_claim = forms.CharField(
        max_length=64,
        initial="sub",
        label="Claim that names a person for good",
        help_text="sub for most providers; oid for Entra ID. Accounts are matched by it.",
    )
    mfa_amr = forms.CharField(
        required=False,
        max_length=500,
        label="amr values that count as multi-factor",
        help_text="Separated by spaces or commas. A sign-in whose token carries none of "
        "these (nor an acr below) goes on to Tandem's own authenticator code.",
    )
    mfa_acr = forms.CharField(
        required=False,
        max_length=500,
        label="acr values that count as multi-factor",
        help_text="Separated by spaces or commas; may stay empty.",
    )
    email_domains = forms.CharField(
        required=False,
        max_length=1000,
        label="Work e-mail domains",
        help_text="People who type an address at these domains on the sign-in page are "
        "sent to this provider, e.g. alphapd.gov.",
    )
    leeway_seconds = forms.IntegerField(
        min_value=0,
        max_value=300,
        initial=60,
        label="Clock leeway (seconds)",
        help_text="How far the provider's clock may be off Tandem's.",
    )
    jit_create = forms.BooleanField(
        required=False,
        label="Create an account at a person's first sign-in",
        help_text="Off: accounts come from provisioning (SCIM) or from you. New accounts "
        "hold no role.",
    )
    active = forms.BooleanField(
        required=False, initial=True, label="People may sign in with this provider"
    )

    def clean_mfa_amr(self) -> list[str]:
        return _words(self.cleaned_data["mfa_amr"])

    def clean_mfa_acr(self) -> list[str]:
        return _words(self.cleaned_data["mfa_acr"])

    def clean_email_domains(self) -> list[str]:
        return [d.lower() for d in _words(self.cleaned_data["email_domains"])]


class SsoFindForm(forms.Form):
    address = forms.CharField(
        max_length=254,
        label="Your work e-mail or your agency's short name",
        widget=forms.TextInput(
            attrs={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
