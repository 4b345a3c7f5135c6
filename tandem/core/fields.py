"""Encrypted model fields: plaintext in Python, AES-256-GCM ciphertext in the database.

Use them only on subclasses of :class:`tandem.core.models.EnvelopeEncrypted` (a system check
says so otherwise). The column holds a token "v1:<data key id>:<nonce>:<ciphertext>" sealed
under the record's own data key, bound to "<app_label.model>.<field>".

* Reading decrypts lazily on attribute access; after the record was shredded it reads
  ``None``. A token that was altered or copied from another record or field raises
  :class:`tandem.core.crypto.DecryptionFailed` rather than returning garbage.
* Writes go through ``Model.save()`` / ``bulk_create()``. ``QuerySet.update()`` and
  ``bulk_update()`` on these fields raise ``TypeError`` (they would bypass encryption), and
  the only lookup is ``isnull``: ciphertext cannot be searched.
* ``dumpdata`` exports the ciphertext token, never the plaintext.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core import checks
from django.db import models
from django.db.models.query_utils import DeferredAttribute

from tandem.core import crypto

_NOT_OPENED = object()


class Sealed:
    """A ciphertext token loaded from (or just written to) the database."""

    __slots__ = ("token", "plain")

    def __init__(self, token: str, plain: Any = _NOT_OPENED) -> None:
        self.token = token
        self.plain = plain

    def __repr__(self) -> str:
        return "<Sealed>"

    def __getstate__(self) -> dict[str, Any]:
        return {"token": self.token}  # cached plaintext never reaches a pickle

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.token = state["token"]
        self.plain = _NOT_OPENED


class _EncryptedAttribute(DeferredAttribute):
    """Data descriptor: keeps the token in ``instance.__dict__`` and decrypts on access."""

    field: EncryptedFieldMixin

    def __get__(self, instance: Any, cls: Any = None) -> Any:
        if instance is None:
            return self
        attname = self.field.attname
        if attname not in instance.__dict__:
            super().__get__(instance, cls)  # load a deferred column
        raw = instance.__dict__.get(attname)
        if isinstance(raw, Sealed):
            return self.field.open(instance, raw)
        return raw

    def __set__(self, instance: Any, value: Any) -> None:
        instance.__dict__[self.field.attname] = value


class EncryptedFieldMixin(models.Field):  # type: ignore[type-arg]  # generic in the stubs only
    descriptor_class = _EncryptedAttribute
    # Mutable values (JSON) are kept decrypted once read, so in-place changes are saved.
    keep_opened_value = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["null"] = True  # shredding and blanking write NULL
        for forbidden in ("unique", "db_index", "primary_key"):
            if kwargs.get(forbidden):
                raise TypeError(f"An encrypted field cannot be {forbidden}.")
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("null", None)
        return name, path, args, kwargs

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        from tandem.core.models import EnvelopeEncrypted

        errors = super().check(**kwargs)
        model = getattr(self, "model", None)
        if model is not None and not issubclass(model, EnvelopeEncrypted):
            errors.append(
                checks.Error(
                    f"{type(self).__name__} needs a model derived from "
                    "tandem.core.models.EnvelopeEncrypted.",
                    obj=self,
                    id="tandem.E001",
                )
            )
        return errors

    # --- encoding of the Python value --------------------------------------------------

    def encode(self, value: Any) -> str:
        return str(value)

    def decode(self, text: str) -> Any:
        return text

    def aad_for(self) -> str:
        return f"{self.model._meta.label_lower}.{self.name}"

    # --- database round trip -----------------------------------------------------------

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Sealed | None:
        return None if value is None else Sealed(str(value))

    def open(self, instance: Any, sealed: Sealed) -> Any:
        if sealed.plain is not _NOT_OPENED:
            return sealed.plain
        if instance.data_key_id is None:
            raise crypto.DecryptionFailed(
                f"{self.aad_for()} holds ciphertext but the record has no data key."
            )
        try:
            value = self.decode(crypto.unseal(instance.data_key, sealed.token, aad=self.aad_for()))
        except crypto.KeyShredded:
            return None
        if self.keep_opened_value:
            instance.__dict__[self.attname] = value
        else:
            sealed.plain = value
        return value

    def pre_save(self, model_instance: Any, add: bool) -> Sealed | None:
        raw = model_instance.__dict__.get(self.attname)
        if raw is None or isinstance(raw, Sealed):
            return raw
        data_key = model_instance.ensure_data_key()
        sealed = Sealed(crypto.seal(data_key, self.encode(raw), aad=self.aad_for()), plain=raw)
        if not self.keep_opened_value:
            model_instance.__dict__[self.attname] = sealed
        return sealed

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value.token
        raise TypeError(
            f"{self.aad_for()} is encrypted: write it through Model.save(), not "
            "QuerySet.update(), bulk_update() or a lookup."
        )

    def value_from_object(self, obj: Any) -> Any:
        return getattr(obj, self.attname)

    def value_to_string(self, obj: Any) -> str:
        """Serialisers (dumpdata) get ciphertext, never plaintext."""
        raw = obj.__dict__.get(self.attname)
        if isinstance(raw, Sealed):
            return raw.token
        if raw is None or obj.data_key_id is None:
            return ""
        return crypto.seal(obj.data_key, self.encode(raw), aad=self.aad_for())

    def get_lookup(self, lookup_name: str) -> Any:
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def get_transform(self, lookup_name: str) -> Any:
        return None


class EncryptedTextField(EncryptedFieldMixin, models.TextField):  # type: ignore[type-arg]  # generic in the stubs only
    """A text value stored encrypted. ``max_length`` only shapes the form field."""

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        return str(value)


class EncryptedJSONField(EncryptedFieldMixin, models.TextField):  # type: ignore[type-arg]  # generic in the stubs only
    """A JSON-serialisable value (dict, list, str, number) stored encrypted."""

    keep_opened_value = True

    def encode(self, value: Any) -> str:
        return json.dumps(value, separators=(",", ":"), sort_keys=True)

    def decode(self, text: str) -> Any:
        return json.loads(text)

    def to_python(self, value: Any) -> Any:
        return value

    def formfield(self, **kwargs: Any) -> Any:
        return super().formfield(**{"form_class": forms.JSONField, **kwargs})


class EnvelopeKeyField(models.ForeignKey[Any, Any]):
    """The ``data_key`` foreign key of EnvelopeEncrypted: creates the record's data key on
    first save, including inside ``bulk_create``, whatever the order of the columns."""

    def pre_save(self, model_instance: Any, add: bool) -> Any:
        if getattr(model_instance, self.attname) is None and hasattr(
            model_instance, "ensure_data_key"
        ):
            model_instance.ensure_data_key()
        return super().pre_save(model_instance, add)
