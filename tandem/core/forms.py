"""Form defaults shared by every form: the right keyboard and autofill for each field.

Set as ``FORM_RENDERER``; its bound field class gives every phone field ``type=tel`` (the
number pad on a phone) and chooses ``autocomplete`` from the field's name. A field about the
person filling in the form (their own name, phone, e-mail) gets the standard token (WCAG 2.2,
1.3.5); a field about somebody else (a caller, a client, a roster entry) gets
``autocomplete=off`` so the browser never fills in the user's own details. A form says it
asks about its user with ``autocomplete_self = True``; fields named ``referrer_*`` always do.

Lists follow the policy-aware rule "where only one choice exists it is chosen": the empty
choice of every ``<select>`` reads "Choose…" instead of Django's "---------" (a label a form
set itself, such as "All units", stays), and a required list with exactly one real choice
comes with that choice selected.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.forms.renderers import DjangoTemplates
from django.forms.utils import flatatt
from django.utils.functional import cached_property
from django.utils.html import conditional_escape, escape, format_html
from django.utils.safestring import SafeString, mark_safe

PHONE_NAMES = frozenset({"phone", "mobile", "telephone"})
SELF_TOKENS = {
    "phone": "tel",
    "mobile": "tel",
    "telephone": "tel",
    "email": "email",
    "first_name": "given-name",
    "last_name": "family-name",
    "name": "name",
    "typed_name": "name",
    "username": "username",
    "agency_name": "organization",
}


#: The empty choice of a list, instead of Django's "---------".
CHOOSE_PROMPT = "Choose…"
DJANGO_BLANK = "---------"


def prompt_empty_choice(field: forms.Field) -> None:
    """Give ``field``'s empty choice the "Choose…" prompt, unless the form named it."""
    if isinstance(field, forms.ModelChoiceField):
        if field.empty_label == DJANGO_BLANK:
            field.empty_label = CHOOSE_PROMPT
        return
    if isinstance(field, forms.ChoiceField) and not isinstance(field, forms.MultipleChoiceField):
        declared: Any = field.choices
        choices = list(declared)
        if any(value in ("", None) and label == DJANGO_BLANK for value, label in choices):
            field.choices = [
                (value, CHOOSE_PROMPT if value in ("", None) and label == DJANGO_BLANK else label)
                for value, label in choices
            ]


def only_choice(field: forms.Field) -> Any:
    """The value of the one real choice of a required list, or None if it has none or several.

    A model list asks the database for at most two rows, whatever the size of its queryset."""
    if not field.required or isinstance(
        field, (forms.MultipleChoiceField, forms.ModelMultipleChoiceField)
    ):
        return None
    if isinstance(field, forms.ModelChoiceField):
        if field.queryset is None:
            return None
        rows = list(field.queryset[:2])
        return field.prepare_value(rows[0]) if len(rows) == 1 else None
    if not isinstance(field, forms.ChoiceField):
        return None
    values: list[Any] = []
    declared: Any = field.choices
    for value, label in declared:
        if isinstance(label, list | tuple):  # an <optgroup>: its options count
            values += [v for v, _ in label if v not in ("", None)]
        elif value not in ("", None):
            values.append(value)
    return values[0] if len(values) == 1 else None


def _base_name(name: str) -> str:
    return name.removeprefix("referrer_").removeprefix("caller_")


def autocomplete_for(form: forms.BaseForm, name: str) -> str | None:
    """The ``autocomplete`` value a field should carry, or None to leave it alone."""
    base = _base_name(name)
    token = SELF_TOKENS.get(base)
    if token is None:
        return None
    about_self = name.startswith("referrer_") or getattr(form, "autocomplete_self", False)
    return token if about_self else "off"


class TandemBoundField(BoundField):
    def __init__(self, form: forms.BaseForm, field: forms.Field, name: str) -> None:
        widget = field.widget
        if (
            _base_name(name) in PHONE_NAMES
            and isinstance(widget, forms.TextInput)
            and widget.input_type == "text"
        ):
            widget.input_type = "tel"
        prompt_empty_choice(field)
        super().__init__(form, field, name)

    @cached_property
    def initial(self) -> Any:
        value = self.form.get_initial_for_field(self.field, self.name)
        if value in (None, "") and not self.form.is_bound and not self.field.disabled:
            only = only_choice(self.field)
            if only is not None:
                return only
        return value

    def build_widget_attrs(self, attrs: dict[str, Any], widget: Any = None) -> dict[str, Any]:
        attrs = super().build_widget_attrs(attrs, widget)
        widget = widget or self.field.widget
        if "autocomplete" not in attrs and "autocomplete" not in widget.attrs:
            token = autocomplete_for(self.form, self.name)
            if token:
                attrs["autocomplete"] = token
        return attrs


class TandemFormRenderer(DjangoTemplates):
    bound_field_class = TandemBoundField


def unfillable(form: forms.BaseForm) -> list[str]:
    """Labels of the required lists in ``form`` that offer nothing to choose: such a form
    cannot be sent, so the page says what to do instead of showing it."""
    missing = []
    for name, field in form.fields.items():
        if not field.required or not isinstance(field, forms.ChoiceField):
            continue
        choices: Any = field.choices
        if not any(value not in ("", None) for value, _ in choices):
            missing.append(str(field.label or name.replace("_", " ").capitalize()))
    return missing


def form_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's refusal on the form that asked for it: a message about one of the
    form's fields next to that field, every other message at the top of the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            target = field if field in form.fields else None
            for error in errors:
                form.add_error(target, error)
    else:
        for message in exc.messages:
            form.add_error(None, message)


class QuickSelect(forms.Select):
    """A ``<select>`` written in Python rather than one template per option.

    Django's ``Select`` renders an included template for every ``<option>``, and builds a
    dictionary of attributes for each on the way: a unit filter over the 250 precincts of a
    50,000-member agency cost more than the page's rows. Same markup, same attributes (the
    bound field's ``id``, ``aria-describedby``, ``required``); the options are written
    straight from the choices, the first one matching the value selected.
    """

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        # The widget's own attributes and value, without Select's per-option context.
        widget = forms.Widget.get_context(self, name, value, attrs)["widget"]
        chosen = set(widget["value"])
        options: list[str] = []
        selected = False
        choices: Any = self.choices
        for option_value, label in choices:
            group = label if isinstance(label, list | tuple) else [(option_value, label)]
            for item_value, item_label in group:
                text = "" if item_value is None else str(item_value)
                mark = not selected and text in chosen
                selected = selected or mark
                options.append(
                    f'<option value="{escape(text)}"{" selected" if mark else ""}>'
                    f"{conditional_escape(item_label)}</option>"
                )
        return format_html(
            '<select name="{}"{}>{}</select>',
            widget["name"],
            flatatt(widget["attrs"]),
            mark_safe("".join(options)),  # noqa: S308 - every value and label escaped above
        )
