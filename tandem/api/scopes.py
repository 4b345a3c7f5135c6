"""What a token may do. Each scope names the screens' role whose access rules the API
applies, so a call goes through the very same ``access`` helpers as the screen; program
scopes reach peer-support or peer-recovery content and need a second person's approval."""

from __future__ import annotations

from dataclasses import dataclass

from tandem.agencies.models import Role


@dataclass(frozen=True)
class Scope:
    code: str
    label: str
    role: str
    program: bool


SCOPES: dict[str, Scope] = {
    s.code: s
    for s in (
        Scope("members:read", "Read the HR roster (members and units)", Role.ADMINISTRATOR,
              False),
        Scope("members:write", "Write the HR roster (HR sync)", Role.ADMINISTRATOR, False),
        Scope("roster:read", "Read the peer supporters' public roster", Role.MEMBER, False),
        Scope("oncall:read", "Who is on call now (dispatch, phone switch)", Role.DISPATCHER,
              True),
        Scope("dispatch:request", "Ask for peer support from dispatch", Role.DISPATCHER, True),
        Scope("readiness:read", "Readiness status of the teams", Role.CHIEF, True),
        Scope("recovery:read", "Peer recovery records, as the PRS sees them", Role.PRS, True),
        Scope("recovery:write", "Record peer recovery referrals and disclosures", Role.PRS,
              True),
        Scope("reports:read", "Published reports (suppressed tables only)", Role.CHIEF, False),
        Scope("scim", "Provision accounts from the identity provider (SCIM 2.0)",
              Role.ADMINISTRATOR, False),
    )
}

SCOPE_CHOICES = [(s.code, s.label) for s in SCOPES.values()]


def needs_approval(scopes: list[str]) -> bool:
    return any(SCOPES[s].program for s in scopes if s in SCOPES)
