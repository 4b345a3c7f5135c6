"""What a token may do. Each scope names the screens' role whose access rules the API
applies, so a call goes through the very same ``access`` helpers as the screen; program
scopes reach peer-support or peer-recovery content and need a second person's approval, as
does ``scim`` (it provisions accounts and their sign-in links).

Who approves is decided as for program roles: the chief, or a current holder of the program
role every such scope of the client maps to; never an administrator as such (an administrator
makes another administrator alone) and never the client's creator."""

from __future__ import annotations

from dataclasses import dataclass

from tandem.agencies.models import PROGRAM_ROLES, Role


@dataclass(frozen=True)
class Scope:
    code: str
    label: str
    role: str
    program: bool
    #: Needs a second person even though it reaches no program content (``scim``).
    approval: bool = False

    @property
    def needs_approval(self) -> bool:
        return self.program or self.approval


SCOPES: dict[str, Scope] = {
    s.code: s
    for s in (
        Scope("members:read", "Read the HR roster (members and units)", Role.ADMINISTRATOR, False),
        Scope("members:write", "Write the HR roster (HR sync)", Role.ADMINISTRATOR, False),
        Scope("roster:read", "Read the peer supporters' public roster", Role.MEMBER, False),
        Scope("oncall:read", "Who is on call now (dispatch, phone switch)", Role.DISPATCHER, True),
        Scope("dispatch:request", "Ask for peer support from dispatch", Role.DISPATCHER, True),
        Scope("readiness:read", "Readiness status of the teams", Role.CHIEF, True),
        Scope("recovery:read", "Peer recovery records, as the PRS sees them", Role.PRS, True),
        Scope("recovery:write", "Record peer recovery referrals and disclosures", Role.PRS, True),
        Scope("reports:read", "Published reports (suppressed tables only)", Role.CHIEF, False),
        Scope(
            "scim",
            "Provision accounts from the identity provider (SCIM 2.0)",
            Role.ADMINISTRATOR,
            False,
            approval=True,
        ),
    )
}

SCOPE_CHOICES = [(s.code, s.label) for s in SCOPES.values()]


def needs_approval(scopes: list[str]) -> bool:
    return any(SCOPES[s].needs_approval for s in scopes if s in SCOPES)


def approver_roles(scopes: list[str]) -> list[str]:
    """The roles whose holders may approve a client with ``scopes``: the chief, and the
    holders of the one program role all its scopes needing approval map to. A role an
    administrator grants alone (dispatcher, administrator) makes no approver."""
    roles = {SCOPES[s].role for s in scopes if s in SCOPES and SCOPES[s].needs_approval}
    holders = [r for r in roles if r in PROGRAM_ROLES and r != Role.CHIEF]
    return [Role.CHIEF, *holders] if len(roles) == 1 and holders else [Role.CHIEF]


#: Everyone who may be asked to approve some client: the chief and the holders of the program
#: roles scopes needing approval map to.
APPROVING_ROLES: tuple[str, ...] = tuple(
    sorted(
        {Role.CHIEF}
        | {s.role for s in SCOPES.values() if s.needs_approval and s.role in PROGRAM_ROLES}
    )
)
