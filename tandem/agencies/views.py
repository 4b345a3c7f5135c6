"""Agency screens: policy and logo, units, members, HR roster import.

Each view parses its input, asks ``access`` for the object (404 for missing or not allowed),
calls a service and renders. Everything is scoped to ``request.user.agency``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies import services
from tandem.agencies.access import (
    DIRECTORY_READERS,
    MANAGERS,
    get_agency_for_user,
    get_member_for_user,
    get_unit_for_user,
    require_role,
)
from tandem.agencies.forms import (
    LogoForm,
    MemberFilterForm,
    MemberForm,
    PolicyTextForm,
    PresetResetForm,
    RosterUploadForm,
    UnitForm,
)
from tandem.agencies.logos import CONTENT_TYPES, MAX_LOGO_BYTES
from tandem.agencies.models import PEER_RECOVERY, PEER_SUPPORT, Agency
from tandem.agencies.presets import Policy, PolicyError, parse_policy_toml, policy_to_toml
from tandem.agencies.roster import COLUMN_HELP, MAX_BYTES, REQUIRED_COLUMNS, RosterError
from tandem.agencies.selectors import MEMBER_ORDER, unit_tree
from tandem.agencies.selectors import member_list as select_members
from tandem.core.db_router import reads_from_replica
from tandem.core.keyset import keyset_page, page_query, parse_cursor

MEMBERS_PER_PAGE = 50
ROSTER_SESSION_KEY = "agencies.roster_digest"

# --- Policy and logo ----------------------------------------------------------------------


def _policy_page(
    request: AuthenticatedHttpRequest, agency: Agency, *, status: int = 200, **forms: Any
) -> HttpResponse:
    policy: Policy = agency.policy_model()
    context = {
        "policy": policy,
        # The summary speaks of the programs the agency runs (the full text below has all).
        "runs_support": agency.runs(PEER_SUPPORT),
        "runs_recovery": agency.runs(PEER_RECOVERY),
        "titles": [(role, title) for role, title in policy.titles if agency.uses_role(role)],
        "text_form": forms.get("text_form")
        or PolicyTextForm(initial={"policy_text": policy_to_toml(policy)}),
        "policy_errors": forms.get("policy_errors", []),
        "reset_form": forms.get("reset_form") or PresetResetForm(initial={"preset": agency.preset}),
        "logo_form": forms.get("logo_form") or LogoForm(),
    }
    return render(request, "agencies/policy.html", context, status=status)


@require_http_methods(["GET", "POST"])
def policy(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = get_agency_for_user(request.user)
    action = request.POST.get("action", "")
    if action == "save":
        return _policy_save(request, agency)
    if action == "reset":
        return _policy_reset(request, agency)
    if action == "logo":
        return _logo_upload(request, agency)
    return _policy_page(request, agency)


def _policy_save(request: AuthenticatedHttpRequest, agency: Agency) -> HttpResponse:
    form = PolicyTextForm(request.POST)
    if not form.is_valid():
        return _policy_page(request, agency, status=400, text_form=form)
    try:
        new_policy = parse_policy_toml(form.cleaned_data["policy_text"])
    except PolicyError as exc:
        return _policy_page(request, agency, status=400, text_form=form, policy_errors=exc.errors)
    services.agency_policy_update(
        acting_user=request.user, agency=agency, policy_data=new_policy, request=request
    )
    messages.success(request, "The policy was saved.")
    return redirect("agencies:policy")


def _policy_reset(request: AuthenticatedHttpRequest, agency: Agency) -> HttpResponse:
    form = PresetResetForm(request.POST)
    if not form.is_valid():
        return _policy_page(request, agency, status=400, reset_form=form)
    preset = form.cleaned_data["preset"]
    services.agency_policy_reset(
        acting_user=request.user, agency=agency, preset=preset, request=request
    )
    messages.success(request, f"The policy was replaced by the “{preset}” preset.")
    return redirect("agencies:policy")


def _logo_upload(request: AuthenticatedHttpRequest, agency: Agency) -> HttpResponse:
    form = LogoForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["logo"]
        data = upload.read(MAX_LOGO_BYTES + 1)
        try:
            services.agency_logo_update(
                acting_user=request.user,
                agency=agency,
                content=data,
                filename=upload.name or "",
                request=request,
            )
        except ValidationError as exc:
            form.add_error("logo", exc)
        else:
            messages.success(request, "The logo was updated.")
            return redirect("agencies:policy")
    return _policy_page(request, agency, status=400, logo_form=form)


@require_GET
def logo(request: AuthenticatedHttpRequest) -> HttpResponseBase:
    """The signed-in user's agency logo (any signed-in user of that agency)."""
    agency = getattr(request.user, "agency", None)
    if agency is None or not agency.logo:
        raise Http404
    extension = agency.logo.name.rsplit(".", 1)[-1].lower()
    try:
        handle = agency.logo.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(handle, content_type=CONTENT_TYPES.get(extension, "image/png"))
    response["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- Units -------------------------------------------------------------------------------


@require_GET
def unit_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *MANAGERS)
    return render(request, "agencies/unit_list.html", {"nodes": unit_tree(agency)})


@require_http_methods(["GET", "POST"])
def unit_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *MANAGERS)
    form = UnitForm(request.POST or None, agency=agency, initial=request.GET.dict())
    if request.method == "POST" and form.is_valid():
        try:
            unit = services.unit_create(
                acting_user=request.user, agency=agency, request=request, **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Unit {unit.name} was created.")
            return redirect("agencies:unit_list")
    return render(request, "agencies/unit_form.html", {"form": form, "unit": None})


@require_http_methods(["GET", "POST"])
def unit_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    unit = get_unit_for_user(request.user, pk)
    if request.method == "POST" and request.POST.get("action") == "delete":
        return _unit_delete(request, unit)
    initial = {"code": unit.code, "name": unit.name, "kind": unit.kind, "parent": unit.parent_id}
    form = UnitForm(request.POST or None, agency=unit.agency, unit=unit, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.unit_update(
                acting_user=request.user, unit=unit, request=request, **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Unit {unit.name} was saved.")
            return redirect("agencies:unit_list")
    return render(request, "agencies/unit_form.html", {"form": form, "unit": unit})


def _unit_delete(request: AuthenticatedHttpRequest, unit: Any) -> HttpResponse:
    try:
        services.unit_delete(acting_user=request.user, unit=unit, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("agencies:unit_edit", pk=unit.pk)
    messages.success(request, f"Unit {unit.name} was removed.")
    return redirect("agencies:unit_list")


# --- Members -----------------------------------------------------------------------------


@require_GET
@reads_from_replica
def member_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *DIRECTORY_READERS)
    filter_form = MemberFilterForm(request.GET or None, agency=agency)
    members = select_members(agency, filter_form.filters())
    page = keyset_page(
        members,
        order=MEMBER_ORDER,
        size=MEMBERS_PER_PAGE,
        after=parse_cursor(request.GET.get("after")),
        before=parse_cursor(request.GET.get("before")),
    )
    context = {
        "filter_form": filter_form,
        "page": page,
        "query": page_query(request),
        "can_edit": request.user.has_role(*MANAGERS),
    }
    return render(request, "agencies/member_list.html", context)


@require_http_methods(["GET", "POST"])
def member_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *MANAGERS)
    form = MemberForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.member_create(
                acting_user=request.user, agency=agency, request=request, **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{member.full_name} was added to the roster.")
            return redirect("agencies:member_list")
    return render(request, "agencies/member_form.html", {"form": form, "member": None})


@require_http_methods(["GET", "POST"])
def member_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    member = get_member_for_user(request.user, pk, write=True)
    form = MemberForm(
        request.POST or None, agency=member.agency, initial=MemberForm.initial_for(member)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update(
                acting_user=request.user, member=member, request=request, **form.values()
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"{member.full_name} was saved.")
            return redirect("agencies:member_list")
    return render(request, "agencies/member_form.html", {"form": form, "member": member})


# --- HR roster import --------------------------------------------------------------------


def _roster_page(
    request: AuthenticatedHttpRequest,
    status: int = 200,
    **context: Any,
) -> HttpResponse:
    context.setdefault("form", RosterUploadForm())
    context["columns"] = [(c, h, c in REQUIRED_COLUMNS) for c, h in COLUMN_HELP.items()]
    return render(request, "agencies/roster_import.html", context, status=status)


@require_http_methods(["GET", "POST"])
def roster_import(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *MANAGERS)
    if request.method == "GET":
        return _roster_page(request)
    if request.POST.get("action") == "confirm":
        return _roster_confirm(request, agency)
    form = RosterUploadForm(request.POST, request.FILES)
    if not form.is_valid():
        return _roster_page(request, status=400, form=form)
    upload = form.cleaned_data["file"]
    data = upload.read(MAX_BYTES + 1)
    try:
        _staged, plan = services.roster_upload_stage(
            acting_user=request.user,
            agency=agency,
            data=data,
            filename=upload.name or "",
            request=request,
        )
    except RosterError as exc:
        return _roster_page(request, status=400, form=form, errors=exc.errors)
    request.session[ROSTER_SESSION_KEY] = plan.digest
    return _roster_page(request, plan=plan, filename=upload.name)


def _roster_confirm(request: AuthenticatedHttpRequest, agency: Agency) -> HttpResponse:
    digest = request.session.get(ROSTER_SESSION_KEY, "")
    if not digest or request.POST.get("digest") != digest:
        messages.error(request, "That review is no longer current; upload the file again.")
        return redirect("agencies:roster_import")
    try:
        plan = services.roster_import_commit(
            acting_user=request.user, agency=agency, digest=digest, request=request
        )
    except RosterError as exc:
        return _roster_page(request, status=400, errors=exc.errors)
    request.session.pop(ROSTER_SESSION_KEY, None)
    messages.success(
        request,
        f"Roster imported: {len(plan.added)} added, {len(plan.changed)} changed, "
        f"{len(plan.deactivated)} deactivated, {plan.unchanged} unchanged.",
    )
    return redirect("agencies:member_list")
