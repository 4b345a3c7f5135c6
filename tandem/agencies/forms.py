"""Forms for the agency screens: they parse and describe input; services do the writing."""

from __future__ import annotations

from typing import Any, cast

from django import forms

from tandem.agencies.logos import LOGO_MAX_SIDE, MAX_LOGO_BYTES
from tandem.agencies.models import Agency, Member, MemberCategory, Unit, UnitKind
from tandem.agencies.presets import available_presets
from tandem.agencies.roster import MAX_BYTES
from tandem.agencies.selectors import MemberFilters, unit_tree
from tandem.core.forms import QuickSelect


def _unit_choices(agency: Agency, exclude: Unit | None = None) -> list[tuple[str, str]]:
    nodes = unit_tree(agency)
    skip: set[int] = set()
    if exclude is not None:
        skip.add(exclude.pk)
        for node in nodes:  # parents come before children, so one pass finds all descendants
            if node.unit.parent_id in skip:
                skip.add(node.unit.pk)
    return [(str(n.unit.pk), f"{n.path} ({n.unit.code})") for n in nodes if n.unit.pk not in skip]


class PolicyTextForm(forms.Form):
    policy_text = forms.CharField(
        label="Policy settings",
        widget=forms.Textarea(attrs={"rows": 30, "spellcheck": "false", "class": "code"}),
        max_length=200_000,
        strip=False,
        help_text="Edit the settings and save. Unknown or missing keys are refused with the "
        "name of the key; nothing changes until the whole policy is valid.",
    )


class PresetResetForm(forms.Form):
    preset = forms.ChoiceField(label="Preset", choices=())
    confirm = forms.BooleanField(
        label="Replace the whole current policy with this preset",
        help_text="Your adjustments are lost; the change is recorded in the audit trail.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["preset"]).choices = [
            (p, p) for p in available_presets()
        ]


class LogoForm(forms.Form):
    logo = forms.FileField(
        label="Agency logo",
        help_text=f"PNG, JPEG or SVG, at most {MAX_LOGO_BYTES // 1024} KB. Shown next to the "
        f"agency name on every page; a PNG or JPEG is stored as a PNG at most {LOGO_MAX_SIDE} "
        "pixels wide.",
        widget=forms.ClearableFileInput(attrs={"accept": ".png,.jpg,.jpeg,.svg"}),
    )


class UnitForm(forms.Form):
    code = forms.CharField(max_length=32, help_text="Short code used in roster files, e.g. D3.")
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=UnitKind.choices)
    parent = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Part of",
        help_text="Leave empty for a top-level unit.",
    )

    def __init__(self, *args: Any, agency: Agency, unit: Unit | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.agency = agency
        cast(forms.ChoiceField, self.fields["parent"]).choices = [
            ("", "— none —"),
            *_unit_choices(agency, unit),
        ]

    def parent_unit(self) -> Unit | None:
        pk = self.cleaned_data.get("parent")
        return Unit.objects.get(agency=self.agency, pk=pk) if pk else None

    def values(self) -> dict[str, Any]:
        """The keyword arguments of ``unit_create`` and ``unit_update``."""
        data = self.cleaned_data
        return {
            "code": data["code"],
            "name": data["name"],
            "kind": data["kind"],
            "parent": self.parent_unit(),
        }


class MemberForm(forms.Form):
    employee_number = forms.CharField(max_length=32)
    first_name = forms.CharField(max_length=100)
    last_name = forms.CharField(max_length=100)
    rank_title = forms.CharField(max_length=100, required=False, label="Rank or title")
    category = forms.ChoiceField(choices=MemberCategory.choices)
    unit = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    supervisor_number = forms.CharField(
        max_length=32,
        required=False,
        label="Supervisor's employee number",
        help_text="Leave empty when the member has no supervisor on the roster.",
    )
    phone = forms.CharField(max_length=32, required=False)
    email = forms.EmailField(required=False, label="E-mail")
    active = forms.BooleanField(
        required=False,
        initial=True,
        help_text="Inactive members stay on record but are not listed.",
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.agency = agency
        cast(forms.ChoiceField, self.fields["unit"]).choices = [
            ("", "— none —"),
            *_unit_choices(agency),
        ]

    def clean_supervisor_number(self) -> Member | None:
        number = self.cleaned_data["supervisor_number"].strip()
        if not number:
            return None
        supervisor = Member.objects.filter(agency=self.agency, employee_number=number).first()
        if supervisor is None:
            raise forms.ValidationError(f"No member with employee number '{number}'.")
        return supervisor

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        unit = Unit.objects.get(agency=self.agency, pk=data["unit"]) if data["unit"] else None
        return {
            "employee_number": data["employee_number"],
            "first_name": data["first_name"],
            "last_name": data["last_name"],
            "rank_title": data["rank_title"],
            "category": data["category"],
            "unit": unit,
            "supervisor": data["supervisor_number"],
            "phone": data["phone"],
            "email": data["email"],
            "active": data["active"],
        }

    @staticmethod
    def initial_for(member: Member) -> dict[str, Any]:
        return {
            "employee_number": member.employee_number,
            "first_name": member.first_name,
            "last_name": member.last_name,
            "rank_title": member.rank_title,
            "category": member.category,
            "unit": member.unit_id or "",
            "supervisor_number": member.supervisor.employee_number if member.supervisor else "",
            "phone": member.phone,
            "email": member.email,
            "active": member.active,
        }


class MemberFilterForm(forms.Form):
    q = forms.CharField(
        required=False,
        label="Search",
        max_length=100,
        help_text="Last or first name, or exact employee number.",
    )
    unit = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, widget=QuickSelect)
    category = forms.ChoiceField(required=False, choices=[("", "Any"), *MemberCategory.choices])
    active = forms.ChoiceField(
        required=False,
        label="Status",
        initial="yes",
        choices=[("yes", "Active"), ("no", "Inactive"), ("", "All")],
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["unit"]).choices = [("", "Any"), *_unit_choices(agency)]

    def filters(self) -> MemberFilters:
        if not self.is_valid():
            return MemberFilters()
        data = self.cleaned_data
        active = data["active"] if "active" in self.data else "yes"
        return MemberFilters(
            q=data["q"], unit=data["unit"], category=data["category"], active=active
        )


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster file (CSV)",
        help_text=f"UTF-8 CSV, at most {MAX_BYTES // 1_048_576} MB and 50,000 rows.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )


class AgencyCreateForm(forms.Form):
    """The deployment operator's form: an agency and its first administrator."""

    name = forms.CharField(max_length=200, label="Agency name")
    short_name = forms.CharField(
        max_length=60, required=False, help_text="Shown in the header, e.g. “Joplin PD”."
    )
    slug = forms.SlugField(max_length=63, help_text="Short lowercase identifier, e.g. joplin.")
    preset = forms.ChoiceField(
        label="Policy preset",
        choices=(),
        help_text="The policy the agency starts from; its administrator "
        "adjusts it on the policy screen.",
    )
    time_zone = forms.CharField(max_length=64, initial="America/New_York")
    admin_username = forms.CharField(max_length=150, label="Administrator's username")
    admin_first_name = forms.CharField(max_length=150, required=False, label="First name")
    admin_last_name = forms.CharField(max_length=150, required=False, label="Last name")
    admin_email = forms.EmailField(required=False, label="Administrator's e-mail")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["preset"]).choices = [
            (p, p) for p in available_presets()
        ]
