"""Helpers shared by the deconfliction tests."""

from __future__ import annotations

from typing import Any

from django.test import Client as Browser
from django.urls import reverse

from tandem.recovery import services, vocab
from tandem.recovery.models import (
    Client,
    MatchRun,
)
from tests.conftest import sign_in


def browser(user: Any) -> Browser:
    return sign_in(Browser(), user)


def add(user: Any, first: str, last: str, **extra: Any) -> Client:
    return services.client_create(
        acting_user=user, data={"first_name": first, "last_name": last, **extra}
    )


def scan(user: Any) -> MatchRun:
    run = MatchRun.objects.create(
        agency=user.agency, trigger=vocab.MatchTrigger.ON_DEMAND, requested_by=user
    )
    return services.match_run_execute(run_id=run.pk)


def upload(user: Any, name: str, data: bytes, kind: str = "clients") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return browser(user).post(
        reverse("recovery:import_start"), {"kind": kind, "file": SimpleUploadedFile(name, data)}
    )


CLIENT_CSV = (
    "Surname,Given name,DOB,Phone,Sex,Drug of choice,Notes kept elsewhere\n"
    "Rivera,Jaime,04/05/1990,540 555 0199,M,Heroin,x\n"  # row 2: already in the registry
    "Okafor,Ngozi,1988-02-11,540 555 0300,Female,alcohol; meth,y\n"  # row 3: new
    "Okafor,Ngozi,11.02.1988,540 555 0300,F,alcohol,z\n"  # row 4: row 3 again
    "Lindqvist,Sven,1979-06-30,,male,,\n"  # row 5: new
)
