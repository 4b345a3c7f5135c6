"""API endpoints. Each one: scope (``scopes``) → the screens' access helper or selector →
the screens' service → serializer. Peer-support requests and usage records are not here,
except creating a request from dispatch and asking what became of it: the answer carries no
identifier, only the receipt the caller holds (kept as a one-way digest, as on the screen)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.response import Response

from tandem.agencies import selectors as agency_selectors
from tandem.agencies import services as agency_services
from tandem.agencies.access import (
    DIRECTORY_READERS,
    MANAGERS,
    get_member_for_user,
    require_role,
)
from tandem.agencies.models import UnitKind
from tandem.api import serializers as s
from tandem.api.base import ApiView
from tandem.api.models import ApiToken
from tandem.api.pagination import StableCursorPagination
from tandem.readiness import compliance
from tandem.readiness import selectors as readiness_selectors
from tandem.readiness.access import OVERSEERS
from tandem.recovery import selectors as recovery_selectors
from tandem.recovery import services as recovery_services
from tandem.recovery.access import (
    get_client_for_user,
    get_referral_for_user,
    get_resource_for_user,
    require_program,
)
from tandem.reports import selectors as report_selectors
from tandem.reports.access import READERS, get_run_for_user
from tandem.reports.services import reports_for
from tandem.support import access as support_access
from tandem.support import selectors as support_selectors
from tandem.support import services as support_services
from tandem.support import vocab as support_vocab

if TYPE_CHECKING:
    from tandem.agencies.models import Agency


def _page(view: ApiView, request: Request, queryset: Any, serializer: Any) -> Response:
    paginator = StableCursorPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer(page, many=True).data)


class ListView(ApiView):
    pagination_class = StableCursorPagination


# --- Members and units (HR) ------------------------------------------------------------


class UnitList(ListView):
    scopes = {"GET": "members:read", "POST": "members:write"}

    @extend_schema(responses=s.UnitSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *MANAGERS)
        units = agency_selectors.units_with_parent(agency)
        return _page(self, request, units, s.UnitSerializer)

    @extend_schema(request=s.UnitWriteSerializer, responses={201: s.UnitSerializer})
    def post(self, request: Request) -> Response:
        agency = require_role(request.user, *MANAGERS)
        form = s.UnitWriteSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        parent = None
        if data.get("parent_code"):
            parent = agency_selectors.unit_by_code(agency, data["parent_code"])
            if parent is None:
                raise drf.ValidationError({"parent_code": ["No unit has this code."]})
        unit = agency_services.unit_create(
            acting_user=request.user,
            agency=agency,
            code=data["code"],
            name=data["name"],
            kind=data.get("kind", UnitKind.UNIT),
            parent=parent,
        )
        return Response(s.UnitSerializer(unit).data, status=201)


def _member_values(agency: Agency, data: dict[str, Any]) -> dict[str, Any]:
    values = {k: v for k, v in data.items() if k not in ("unit_code", "supervisor_number")}
    if "unit_code" in data:
        code = data["unit_code"]
        values["unit"] = agency_selectors.unit_by_code(agency, code)
        if code and values["unit"] is None:
            raise drf.ValidationError({"unit_code": ["No unit has this code."]})
    if "supervisor_number" in data:
        number = data["supervisor_number"]
        values["supervisor"] = support_services.member_by_number(agency, number) if number else None
        if number and values["supervisor"] is None:
            raise drf.ValidationError({"supervisor_number": ["No member has this number."]})
    return values


class MemberList(ListView):
    scopes = {"GET": "members:read", "POST": "members:write"}

    @extend_schema(responses=s.MemberSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *DIRECTORY_READERS)
        members = agency_selectors.members(agency)
        return _page(self, request, members, s.MemberSerializer)

    @extend_schema(request=s.MemberWriteSerializer, responses={201: s.MemberSerializer})
    def post(self, request: Request) -> Response:
        agency = require_role(request.user, *MANAGERS)
        data = s.MemberWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        member = agency_services.member_create(
            acting_user=request.user,
            agency=agency,
            **_member_values(agency, dict(data.validated_data)),
        )
        return Response(s.MemberSerializer(member).data, status=201)


class MemberDetail(ApiView):
    scopes = {"GET": "members:read", "PATCH": "members:write"}

    @extend_schema(responses=s.MemberSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(s.MemberSerializer(get_member_for_user(request.user, pk, write=False)).data)

    @extend_schema(request=s.MemberWriteSerializer(partial=True), responses=s.MemberSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        member = get_member_for_user(request.user, pk, write=True)
        data = s.MemberWriteSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        member = agency_services.member_update(
            acting_user=request.user,
            member=member,
            **_member_values(member.agency, dict(data.validated_data)),
        )
        return Response(s.MemberSerializer(member).data)


# --- Peer support: roster, on call, a request from dispatch ----------------------------


class RosterList(ListView):
    scopes = {"GET": "roster:read"}

    @extend_schema(responses=s.RosterEntrySerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *support_access.EVERYONE)
        return _page(self, request, support_selectors.roster(agency), s.RosterEntrySerializer)


class OnCallNow(ApiView):
    scopes = {"GET": "oncall:read"}

    @extend_schema(responses=s.OnCallSerializer)
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *support_access.ON_CALL_READERS)
        now = timezone.now()
        lines = support_selectors.on_call_now(agency, now)
        # No count of waiting requests: polled, it would time each request's arrival.
        return Response(s.OnCallSerializer({"at": now, "lines": lines}).data)


class DispatchRequest(ApiView):
    scopes = {"POST": "dispatch:request"}

    @extend_schema(
        request=s.DispatchRequestSerializer,
        responses={202: s.AcceptedSerializer},
        description="Ask for peer support for a caller. The answer holds a receipt, "
        "shown once (the same key gives the same receipt again), which is the only "
        "way to ask what became of the request: no identifier, no Location.",
    )
    def post(self, request: Request) -> Response:
        agency = require_role(request.user, *support_access.REQUEST_ON_BEHALF)
        form = s.DispatchRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        member = support_services.member_by_number(agency, data.get("employee_number", ""))
        requester = {
            "kind": "member",
            "name": data["name"],
            "phone": data.get("phone", ""),
            "email": data.get("email", ""),
            "member_id": member.pk if member else None,
            "user_id": getattr(getattr(member, "account", None), "pk", None),
            "category": member.category if member else "",
        }
        # As the screen: the request keeps the receipt's digest and a key derived from the
        # receipt, never the caller's own key (it could name the call in the caller's CAD).
        token = request.auth
        if not isinstance(token, ApiToken):
            raise Http404
        receipt = support_services.api_receipt(token.client_id, data["idempotency_key"])
        support_services.request_create(
            acting_user=request.user,
            agency=agency,
            idempotency_key=support_services.help_idempotency_key(receipt),
            channel=support_vocab.Channel.DISPATCH,
            urgency=data["urgency"],
            contact_method=data["contact_method"],
            best_time=data.get("best_time", support_vocab.BestTime.ANY),
            requester=requester,
            receipt=receipt,
        )
        return Response({"status": "sent to the on-call chain", "receipt": receipt}, status=202)


class DispatchReceipt(ApiView):
    scopes = {"POST": "dispatch:request"}

    @extend_schema(
        request=s.ReceiptQuerySerializer,
        responses={200: s.ReceiptStateSerializer},
        description="What became of a request sent for a caller, for whoever holds "
        "its receipt: routing, accepted or closed, never who took it or when. The "
        "receipt goes in the body, out of URLs and logs. 404 for a receipt that "
        "never existed, one of another agency, and a request already erased alike.",
    )
    def post(self, request: Request) -> Response:
        form = s.ReceiptQuerySerializer(data=request.data)
        form.is_valid(raise_exception=True)
        item = support_access.get_request_by_receipt(request.user, form.validated_data["receipt"])
        status = support_vocab.RequestStatus(item.status)
        return Response(
            s.ReceiptStateSerializer(
                {
                    "state": support_services.RECEIPT_STATES[status],
                    "status": support_services.RECEIPT_ANSWERS[status],
                }
            ).data
        )


# --- Readiness ---------------------------------------------------------------------------


class ReadinessList(ApiView):
    scopes = {"GET": "readiness:read"}

    @extend_schema(responses=s.ReadinessSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *OVERSEERS)
        people = readiness_selectors.team_overview(acting_user=request.user, agency=agency)
        statuses = compliance.statuses_for(agency, people)
        ready = readiness_selectors.peer_support_ready_ids(agency)
        rows = [
            {
                "id": p.pk,
                "name": p.get_full_name() or p.username,
                "level": statuses[p.pk].level,
                "ready_for_peer_support": p.pk in ready,
            }
            for p in people
        ]
        return Response(s.ReadinessSerializer(rows, many=True).data)


# --- Peer recovery -------------------------------------------------------------------------


class ClientList(ListView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.ClientSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_program(request.user)
        return _page(self, request, recovery_selectors.client_search(agency), s.ClientSerializer)


class ClientDetail(ApiView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.ClientSerializer)
    def get(self, request: Request, pk: int) -> Response:
        client = get_client_for_user(request.user, pk, write=False)
        recovery_services.client_view_log(acting_user=request.user, client=client)
        return Response(s.ClientSerializer(client).data)


class ContactList(ListView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.ContactSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        client = get_client_for_user(request.user, pk, write=False)
        recovery_services.client_view_log(acting_user=request.user, client=client)
        return _page(self, request, recovery_selectors.client_contacts(client), s.ContactSerializer)


class VisitList(ApiView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.VisitSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_program(request.user)
        start = timezone.now() - timedelta(days=1)
        visits = recovery_selectors.planned_between(agency, start, start + timedelta(days=31))
        return Response(s.VisitSerializer(visits, many=True).data)


class ResourceList(ListView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.ResourceSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_program(request.user)
        return _page(self, request, recovery_selectors.resources(agency), s.ResourceSerializer)


class ReferralList(ListView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.ReferralSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_program(request.user)
        return _page(self, request, recovery_selectors.referrals(agency), s.ReferralSerializer)


class ReferralDetail(ApiView):
    scopes = {"GET": "recovery:read"}

    @extend_schema(responses=s.ReferralSerializer)
    def get(self, request: Request, pk: int) -> Response:
        referral = get_referral_for_user(request.user, pk)
        recovery_services.referral_view_log(acting_user=request.user, referral=referral)
        return Response(s.ReferralSerializer(referral).data)


class ClientReferralCreate(ApiView):
    scopes = {"POST": "recovery:write"}

    @extend_schema(request=s.ReferralCreateSerializer, responses={201: s.ReferralSerializer})
    def post(self, request: Request, pk: int) -> Response:
        client = get_client_for_user(request.user, pk, write=True)
        form = s.ReferralCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        referral = recovery_services.referral_create(
            acting_user=request.user,
            client=client,
            resource=get_resource_for_user(request.user, data["resource"]),
            follow_up_on=data.get("follow_up_on"),
            sent=data["sent"],
            idempotency_key=data["idempotency_key"],
        )
        return Response(s.ReferralSerializer(referral).data, status=201)


class ClientDisclosureCreate(ApiView):
    """42 CFR Part 2: refused (and the refusal audited) unless a consent in force covers it."""

    scopes = {"POST": "recovery:write"}

    @extend_schema(request=s.DisclosureCreateSerializer, responses={201: s.DisclosureSerializer})
    def post(self, request: Request, pk: int) -> Response:
        client = get_client_for_user(request.user, pk, write=True)
        form = s.DisclosureCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        disclosure = recovery_services.disclosure_create(
            acting_user=request.user,
            client=client,
            recipient=get_resource_for_user(request.user, data["recipient"]),
            purpose=data["purpose"],
            information=data["information"],
            description=data["description"],
            idempotency_key=data["idempotency_key"],
        )
        return Response(s.DisclosureSerializer(disclosure).data, status=201)


# --- Published reports ----------------------------------------------------------------------


class ReportRunList(ListView):
    scopes = {"GET": "reports:read"}

    @extend_schema(responses=s.ReportRunSerializer(many=True))
    def get(self, request: Request) -> Response:
        agency = require_role(request.user, *READERS)
        visible = [r.slug for r in reports_for(request.user)]
        runs = report_selectors.runs_listed(agency, visible)
        return _page(self, request, runs, s.ReportRunSerializer)


class ReportRunDetail(ApiView):
    scopes = {"GET": "reports:read"}

    @extend_schema(responses=s.ReportRunDetailSerializer)
    def get(self, request: Request, pk: int) -> Response:
        try:
            run = get_run_for_user(request.user, pk)
        except OverflowError:
            raise Http404 from None
        return Response(s.ReportRunDetailSerializer(run).data)
