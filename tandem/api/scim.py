"""SCIM 2.0 provisioning (RFC 7643/7644): the identity provider creates, updates and
disables accounts (Users) and assigns roles (Groups, one per role).

Writes go through the accounts services (``user_create``, ``user_deactivate`` — which ends
every session at once —, ``role_grant``...). Program roles and the administrator role are
not granted from SCIM: they need a second person in Tandem, so such a change is refused
with 403 and recorded, and nothing is granted.

``externalId`` is the account's subject at the agency's identity provider, that is, its way
in through single sign-on. SCIM sets it only on an account it creates, or on one that has
none and holds no administrator or program role; it never replaces or removes a link and
never takes a subject linked to another account (403, recorded as ``scim.link_refused``).
Changing a link is a credential reset, done in Tandem (``external_identity_link``).
"""

from __future__ import annotations

import re
import secrets
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from tandem.accounts import services as accounts
from tandem.accounts.models import RoleAssignment, User
from tandem.accounts.oidc import external_identity_link, holds_power, subject_digest
from tandem.agencies.access import MANAGERS, one_or_404, require_role
from tandem.agencies.models import Member, Role
from tandem.api.base import ApiView
from tandem.api.models import ExternalIdentity, IdentityProvider
from tandem.audit.services import audit_record

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
#: Roles the identity provider may assign by itself; all others need a second person.
DIRECT_ROLES = (Role.MEMBER, Role.DISPATCHER, Role.SUPERVISOR)
FILTER_RE = re.compile(r'^\s*(userName|externalId|displayName)\s+eq\s+"([^"]*)"\s*$', re.I)


class ScimError(APIException):
    def __init__(self, status: int, detail: str, scim_type: str = "") -> None:
        super().__init__(detail)
        self.status_code = status
        self.scim_type = scim_type


class ScimParser(JSONParser):
    media_type = "application/scim+json"


class ScimRenderer(JSONRenderer):
    media_type = "application/scim+json"


def scim_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    from tandem.api.problems import problem_exception_handler

    if isinstance(exc, ScimError):
        status, detail, scim_type = exc.status_code, str(exc.detail), exc.scim_type
    else:
        answer = problem_exception_handler(exc, context)
        if answer is None:
            return None
        status, detail, scim_type = answer.status_code, answer.data.get("detail", ""), ""
        if isinstance(exc, ValidationError):
            scim_type = "invalidValue"
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    response = Response(body, status=status, content_type="application/scim+json")
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="tandem"'
    return response


class ScimView(ApiView):
    scopes = {"*": "scim"}
    parser_classes = [ScimParser, JSONParser]
    renderer_classes = [ScimRenderer, JSONRenderer]

    def get_exception_handler(self) -> Any:
        return scim_exception_handler


# --- Representations ---------------------------------------------------------------------


def _subject(user: User) -> str:
    link = next(iter(user.external_identities.all()), None)
    return link.subject if link else ""


def user_resource(request: Request, user: User) -> dict[str, Any]:
    roles = sorted(a.role for a in user.role_assignments.all() if a.agency_id == user.agency_id)
    member = user.member
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "id": str(user.pk),
        "externalId": _subject(user),
        "userName": user.username,
        "name": {"givenName": user.first_name, "familyName": user.last_name},
        "displayName": user.get_full_name() or user.username,
        "emails": [{"value": user.email, "primary": True, "type": "work"}] if user.email else [],
        "active": user.is_active,
        "groups": [{"value": r, "display": Role(r).label} for r in roles],
        ENTERPRISE: {"employeeNumber": member.employee_number if member else ""},
        "meta": {
            "resourceType": "User",
            "location": request.build_absolute_uri(reverse("scim:user", args=[user.pk])),
        },
    }


def group_resource(request: Request, agency: Agency, role: str) -> dict[str, Any]:
    holders = RoleAssignment.objects.filter(agency=agency, role=role).select_related("user")
    return {
        "schemas": [GROUP_SCHEMA],
        "id": role,
        "displayName": Role(role).label,
        "members": [{"value": str(a.user_id), "display": a.user.username} for a in holders],
        "meta": {
            "resourceType": "Group",
            "location": request.build_absolute_uri(reverse("scim:group", args=[role])),
        },
    }


def list_response(items: list[dict[str, Any]], total: int, start: int) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def _paging(request: Request) -> tuple[int, int]:
    try:
        start = max(int(request.query_params.get("startIndex", 1)), 1)
        count = min(max(int(request.query_params.get("count", 100)), 0), 200)
    except ValueError:
        raise ScimError(400, "startIndex and count are numbers.", "invalidValue") from None
    return start, count


def agency_users(agency: Agency) -> Any:
    return (
        User.objects.filter(agency=agency, api_client__isnull=True)
        .select_related("member")
        .prefetch_related("role_assignments", "external_identities")
        .order_by("pk")
    )


def get_scim_user(request: Request, pk: int | str) -> User:
    agency = require_role(request.user, *MANAGERS)
    user: User = one_or_404(agency_users(agency), pk, agency=agency)
    return user


# --- Services -----------------------------------------------------------------------------


def _values(data: dict[str, Any]) -> dict[str, Any]:
    name = data.get("name") or {}
    emails = data.get("emails") or []
    email = next((e.get("value", "") for e in emails if e.get("primary")), "") or (
        emails[0].get("value", "") if emails else ""
    )
    return {
        "first_name": str(name.get("givenName", ""))[:150],
        "last_name": str(name.get("familyName", ""))[:150],
        "email": str(email)[:254],
    }


def _link_refusal(
    user: User | None, agency_id: int, subject: str
) -> tuple[str, ExternalIdentity | None]:
    """Why SCIM may not make ``subject`` the link of ``user`` (None: a new account); "" when
    it may or when there is nothing to change. Also returns the account's current link."""
    provider = IdentityProvider.objects.filter(agency_id=agency_id).first()
    if provider is None:
        return "", None
    current = provider.identities.filter(user=user).first() if user is not None else None
    if current is not None:
        return ("" if current.subject == subject else "replace"), current
    if not subject:
        return "", None
    if provider.identities.filter(subject=subject).exists():
        return "taken", None
    if user is not None and holds_power(user):
        return "power", None
    return "", None


def _check_link(acting_user: User, user: User | None, subject: str) -> None:
    """Refuse (403, audited in its own transaction) a link SCIM may not set."""
    reason, current = _link_refusal(user, acting_user.home_agency_id, subject)
    if not reason:
        return
    audit_record(
        action="scim.link_refused",
        actor=acting_user,
        agency_id=acting_user.agency_id,
        obj=user,
        outcome="denied",
        detail={
            "reason": reason,
            "subject": subject_digest(subject),
            "previous": subject_digest(current.subject if current else ""),
        },
    )
    raise ScimError(
        403,
        "The identity provider cannot change who signs in to an account "
        "with power or with a sign-in already, nor reuse a subject: a "
        "second person decides that in Tandem.",
        "mutability",
    )


def _link(acting_user: User, user: User, subject: str) -> None:
    """Set a link ``_check_link`` allowed (nothing when there is nothing to change)."""
    if (
        subject
        and user.agency_id is not None
        and IdentityProvider.objects.filter(agency_id=user.agency_id).exists()
    ):
        external_identity_link(acting_user=acting_user, user=user, subject=subject, source="scim")


def _external_id(data: dict[str, Any]) -> str:
    return str(data.get("externalId") or "").strip()[:255]


def scim_user_create(*, acting_user: User, data: dict[str, Any]) -> User:
    _check_link(acting_user, None, _external_id(data))
    return _user_create(acting_user=acting_user, data=data)


@transaction.atomic
def _user_create(*, acting_user: User, data: dict[str, Any]) -> User:
    username = str(data.get("userName", "")).strip()[:150]
    if not username:
        raise ScimError(400, "userName is required.", "invalidValue")
    if User.objects.filter(username__iexact=username).exists():
        raise ScimError(409, "An account with this userName exists.", "uniqueness")
    agency = acting_user.home_agency
    number = str((data.get(ENTERPRISE) or {}).get("employeeNumber", "")).strip()
    member = (
        Member.objects.filter(agency=agency, employee_number__iexact=number).first()
        if number
        else None
    )
    if member is not None and hasattr(member, "account"):
        raise ScimError(409, "This member already has an account.", "uniqueness")
    user = accounts.user_create(
        acting_user=acting_user,
        agency_id=agency.pk,
        username=username,
        password=secrets.token_urlsafe(32),
        member=member,
        **_values(data),
    )
    user.set_unusable_password()  # they sign in through the identity provider
    user.save(update_fields=["password"])
    _link(acting_user, user, _external_id(data))
    if data.get("active") is False:
        accounts.user_deactivate(acting_user=acting_user, user=user, reason="scim")
    return user


def scim_user_update(*, acting_user: User, user: User, data: dict[str, Any]) -> User:
    if "externalId" in data:
        _check_link(acting_user, user, _external_id(data))
    return _user_update(acting_user=acting_user, user=user, data=data)


@transaction.atomic
def _user_update(*, acting_user: User, user: User, data: dict[str, Any]) -> User:
    values = {k: v for k, v in _values(data).items() if v or k in data}
    changed = [k for k, v in values.items() if getattr(user, k) != v]
    for key in changed:
        setattr(user, key, values[key])
    if changed:
        user.save(update_fields=changed)
        audit_record(
            action="account.updated",
            actor=acting_user,
            agency_id=user.agency_id,
            obj=user,
            detail={"fields": changed, "source": "scim"},
        )
    if "externalId" in data:
        _link(acting_user, user, _external_id(data))
    if "active" in data:
        active = data["active"]
        if isinstance(active, str):
            active = active.strip().lower() == "true"
        if active:
            accounts.user_reactivate(acting_user=acting_user, user=user)
        else:
            accounts.user_deactivate(acting_user=acting_user, user=user, reason="scim")
    return user


def scim_role_change(*, acting_user: User, user: User, role: str, add: bool) -> None:
    if role not in DIRECT_ROLES:
        audit_record(
            action="scim.role_refused",
            actor=acting_user,
            agency_id=user.agency_id,
            obj=user,
            outcome="denied",
            detail={"role": role, "add": add},
        )
        raise ScimError(
            403,
            f"The role '{role}' needs a second person in Tandem; "
            "ask the administrator to grant it there.",
            "mutability",
        )
    if add:
        accounts.role_grant(acting_user=acting_user, user=user, role=role)
    else:
        accounts.role_revoke(acting_user=acting_user, user=user, role=role)


def _patch_as_values(operations: list[Any]) -> dict[str, Any]:
    """Flatten PatchOp replace/add operations on a User into a resource-shaped dict."""
    data: dict[str, Any] = {}
    for op in operations:
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("replace", "add"):
            raise ScimError(400, "Only add and replace operations apply to users.", "invalidSyntax")
        path, value = op.get("path"), op.get("value")
        if not path and isinstance(value, dict):
            for key, item in value.items():
                _set_path(data, key, item)
        elif path:
            _set_path(data, str(path), value)
    return data


def _set_path(data: dict[str, Any], path: str, value: Any) -> None:
    if path.startswith("emails"):
        data["emails"] = [
            {
                "value": value
                if isinstance(value, str)
                else (value[0].get("value") if value else ""),
                "primary": True,
            }
        ]
    elif path.startswith("name."):
        data.setdefault("name", {})[path.split(".", 1)[1]] = value
    elif path in ("name", "active", "externalId"):
        data[path] = value


# --- Views ------------------------------------------------------------------------------


@extend_schema(exclude=True)
class ServiceProviderConfig(ScimView):
    def get(self, request: Request) -> Response:
        require_role(request.user, *MANAGERS)
        return Response(
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
                "patch": {"supported": True},
                "bulk": {"supported": False},
                "filter": {"supported": True, "maxResults": 200},
                "changePassword": {"supported": False},
                "sort": {"supported": False},
                "etag": {"supported": False},
                "authenticationSchemes": [
                    {
                        "type": "oauthbearertoken",
                        "name": "Bearer token",
                        "description": "A Tandem API token with scope scim",
                    }
                ],
            }
        )


@extend_schema(exclude=True)
class Users(ScimView):
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *MANAGERS)
        users = agency_users(agency)
        text = request.query_params.get("filter", "")
        if text:
            match = FILTER_RE.match(text)
            if match is None:
                raise ScimError(400, "Filter by userName or externalId eq.", "invalidFilter")
            field, value = match.group(1).lower(), match.group(2)
            users = (
                users.filter(username__iexact=value)
                if field == "username"
                else users.filter(external_identities__subject=value)
            )
        start, count = _paging(request)
        page = list(users[start - 1 : start - 1 + count])
        return Response(
            list_response([user_resource(request, u) for u in page], users.count(), start)
        )

    def post(self, request: Request) -> Response:
        require_role(request.user, *MANAGERS)
        user = scim_user_create(acting_user=request.user, data=dict(request.data))
        return Response(user_resource(request, get_scim_user(request, user.pk)), status=201)


@extend_schema(exclude=True)
class UserDetail(ScimView):
    def get(self, request: Request, pk: int) -> Response:
        return Response(user_resource(request, get_scim_user(request, pk)))

    def put(self, request: Request, pk: int) -> Response:
        user = get_scim_user(request, pk)
        scim_user_update(acting_user=request.user, user=user, data=dict(request.data))
        return Response(user_resource(request, get_scim_user(request, pk)))

    def patch(self, request: Request, pk: int) -> Response:
        user = get_scim_user(request, pk)
        operations = request.data.get("Operations") if isinstance(request.data, dict) else None
        if not isinstance(operations, list):
            raise ScimError(400, "A PatchOp with Operations is expected.", "invalidSyntax")
        scim_user_update(acting_user=request.user, user=user, data=_patch_as_values(operations))
        return Response(user_resource(request, get_scim_user(request, pk)))

    def delete(self, request: Request, pk: int) -> Response:
        """Accounts are never deleted (the audit trail refers to them): disabled at once."""
        user = get_scim_user(request, pk)
        accounts.user_deactivate(acting_user=request.user, user=user, reason="scim")
        return Response(status=204)


def _role_or_404(role: str) -> str:
    if role not in Role.values:
        raise Http404
    return role


@extend_schema(exclude=True)
class Groups(ScimView):
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *MANAGERS)
        groups = [group_resource(request, agency, r) for r in Role.values]
        return Response(list_response(groups, len(groups), 1))


@extend_schema(exclude=True)
class GroupDetail(ScimView):
    def get(self, request: Request, role: str) -> Response:
        agency = require_role(request.user, *MANAGERS)
        return Response(group_resource(request, agency, _role_or_404(role)))

    def patch(self, request: Request, role: str) -> Response:
        agency = require_role(request.user, *MANAGERS)
        role = _role_or_404(role)
        operations = request.data.get("Operations") if isinstance(request.data, dict) else None
        if not isinstance(operations, list):
            raise ScimError(400, "A PatchOp with Operations is expected.", "invalidSyntax")
        for op in operations:
            for pk, add in _member_changes(op):
                user = get_scim_user(request, pk)
                scim_role_change(acting_user=request.user, user=user, role=role, add=add)
        return Response(group_resource(request, agency, role))


def _member_changes(op: Any) -> list[tuple[str, bool]]:
    kind = str(op.get("op", "")).lower() if isinstance(op, dict) else ""
    path = str(op.get("path", "")) if isinstance(op, dict) else ""
    if kind not in ("add", "remove") or not path.startswith("members"):
        raise ScimError(400, "Add or remove members only.", "invalidSyntax")
    found = re.search(r'value\s+eq\s+"([^"]+)"', path)
    if found:
        return [(found.group(1), kind == "add")]
    values = op.get("value") or []
    return [(str(v.get("value", "")), kind == "add") for v in values if isinstance(v, dict)]
