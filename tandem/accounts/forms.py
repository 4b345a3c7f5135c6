"""Forms for signing in, the second factor, passwords and the administrator screens."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import password_validation

from tandem.accounts import mfa
from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, Role


class SignInForm(forms.Form):
    username = forms.CharField(
        max_length=150,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "username",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )
    password = forms.CharField(
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=20,
        help_text="The 6-digit code from your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autocapitalize": "none",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )


class ReauthForm(forms.Form):
    """Password and the app's current code again, before something as sensitive as a new set
    of backup codes. ``failure`` says why it was refused (for counting towards the lock),
    or is empty when nothing was checked (malformed or throttled code)."""

    password = forms.CharField(
        label="Your password",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=12,
        help_text="The 6-digit code the app shows now (a backup code does not count here).",
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autocapitalize": "none",
                "spellcheck": "false",
            }
        ),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.failure = ""

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password, code = cleaned.get("password"), cleaned.get("code")
        if not password or not code:
            return cleaned
        if not self.user.check_password(password):
            self.failure = "bad_password"
            raise forms.ValidationError("Your password or the code is not correct.")
        device = mfa.app_device(self.user)
        result = (
            mfa.check_totp(device, code)
            if device is not None
            else mfa.CodeResult(None, mfa.CodeProblem.WRONG)
        )
        if result.device is None:
            problem = result.problem or mfa.CodeProblem.WRONG
            if problem not in (mfa.CodeProblem.THROTTLED, mfa.CodeProblem.MALFORMED):
                self.failure = problem.value
            raise forms.ValidationError(mfa.PROBLEM_MESSAGES[problem])
        return cleaned


class EnrolForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from the app",
        max_length=12,
        help_text="After adding Tandem to the app, type the code it shows to confirm.",
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "pattern": r"[0-9 ]*"}
        ),
    )


def _new_password_fields() -> tuple[forms.CharField, forms.CharField]:
    first = forms.CharField(
        label="Password",
        strip=False,
        help_text=password_validation.password_validators_help_text_html(),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    second = forms.CharField(
        label="Password again",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    return first, second


class NewPasswordMixin(forms.Form):
    """Two password fields checked against each other and against the validators."""

    password_user: User | None = None

    def clean_password2(self) -> str:
        first = self.cleaned_data.get("password1", "")
        second = self.cleaned_data.get("password2", "")
        if first and second and first != second:
            raise forms.ValidationError("The two passwords are not the same.")
        return str(second)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password2")
        if password:
            try:
                password_validation.validate_password(password, self.validation_user())
            except forms.ValidationError as error:
                self.add_error("password1", error)
        return cleaned

    def validation_user(self) -> User | None:
        return self.password_user


class SetPasswordForm(NewPasswordMixin):
    password1, password2 = _new_password_fields()

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.password_user = user
        self.fields["password1"].label = "New password"
        self.fields["password2"].label = "New password again"


class CredentialResetForm(SetPasswordForm):
    """An administrator's reset: a temporary password, optionally a new authenticator too."""

    authenticator = forms.BooleanField(
        required=False,
        label="Also reset the authenticator app and backup codes",
    )


class PasswordChangeForm(SetPasswordForm):
    current_password = forms.CharField(
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["current_password", "password1", "password2"]

    def clean_current_password(self) -> str:
        current = self.cleaned_data["current_password"]
        if self.password_user is None or not self.password_user.check_password(current):
            raise forms.ValidationError("Your current password is not correct.")
        return str(current)


class AccountCreateForm(NewPasswordMixin):
    username = forms.CharField(
        max_length=150,
        help_text="Letters, digits and @ . + - _ only. People sign in with it.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    email = forms.EmailField(required=False, label="E-mail")
    phone = forms.CharField(max_length=32, required=False, help_text="For SMS notifications.")
    member = forms.ModelChoiceField(
        queryset=Member.objects.none(),
        required=False,
        label="Person on the roster",
        help_text="Link the account to the person's roster entry (optional).",
    )
    roles = forms.MultipleChoiceField(
        choices=Role.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    password1, password2 = _new_password_fields()

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        members: Any = self.fields["member"]
        members.queryset = Member.objects.filter(
            agency=agency, active=True, account__isnull=True
        ).order_by("last_name", "first_name")
        self.fields["password1"].label = "Initial password"
        roles: Any = self.fields["roles"]
        roles.choices = agency.role_choices()

    def clean_username(self) -> str:
        username = str(self.cleaned_data["username"]).strip()
        User.username_validator(username)
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError("An account with this username already exists.")
        return username

    def validation_user(self) -> User | None:
        data = self.cleaned_data
        return User(
            username=data.get("username", ""),
            first_name=data.get("first_name", ""),
            last_name=data.get("last_name", ""),
            email=data.get("email", ""),
        )


class RoleForm(forms.Form):
    """One role to grant: only the roles the agency has use for (``Agency.role_choices``)."""

    role = forms.ChoiceField(choices=Role.choices)

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        role: Any = self.fields["role"]
        role.choices = agency.role_choices()


class SsoLinkForm(forms.Form):
    """The subject an account signs in as at the agency's identity provider."""

    prefix = "sso"

    subject = forms.CharField(
        label="Subject at the identity provider",
        max_length=255,
        error_messages={"required": "Give the subject the identity provider uses for this person."},
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "spellcheck": "false", "autocomplete": "off"}
        ),
    )

    def __init__(self, *args: Any, claim: str = "sub", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["subject"].help_text = (
            f"The value of the “{claim}” claim the provider sends for this person, "
            "exactly as written there."
        )
