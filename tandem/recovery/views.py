"""Peer recovery screens. Each view: parse → access (404 for missing or not allowed) →
service → render. Nothing here reads CJI except ``cji`` and its two write views."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import ChoiceField
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.core.db_router import reads_from_replica
from tandem.core.decorators import public
from tandem.core.exports import csv_response
from tandem.core.forms import form_errors
from tandem.core.ical import (
    FEED_DAYS_AHEAD,
    FeedEvent,
    calendar_response,
    feed_token_issue,
    feed_token_user,
)
from tandem.core.keyset import keyset_page, parse_cursor
from tandem.core.pdf import Document
from tandem.recovery import imports, selectors, services, vocab
from tandem.recovery.access import (
    PROGRAM,
    STATEMENT_READERS,
    can_read_cji,
    get_candidate_for_user,
    get_cji_client_for_user,
    get_client_for_user,
    get_consent_for_user,
    get_contact_for_user,
    get_disclosure_for_user,
    get_flags_client_for_user,
    get_goal_for_user,
    get_import_for_user,
    get_merge_for_user,
    get_planned_for_user,
    get_referral_for_user,
    get_resource_for_user,
    get_statement_for_user,
    is_sworn_program,
    require_program,
    require_sworn_program,
)
from tandem.recovery.forms import (
    CJIEntryForm,
    CJIReadForm,
    ClientForm,
    ClientSearchForm,
    ConsentForm,
    ContactForm,
    DisclosureForm,
    GoalForm,
    GoalStatusForm,
    NaloxoneKitForm,
    OutreachForm,
    OverdoseForm,
    PatrolCallForm,
    PlannedForm,
    ReferralForm,
    ReferralStepForm,
    ResourceForm,
    SafetyAssessmentForm,
    SafetyFlagsForm,
    StageForm,
    StatementDecisionForm,
    StatementForm,
    SwornNoteForm,
)
from tandem.recovery.models import (
    REDISCLOSURE_NOTICE,
    Client,
    Disclosure,
    NaloxoneKit,
    OutreachEvent,
    OverdoseResponse,
    Resource,
    StatementRequest,
)

PER_PAGE = 50

#: Timeline entries per page on the client page (a phone shows ten before "Older entries").
TIMELINE_PAGE = 10
OPEN_GOALS = {vocab.GoalStatus.OPEN, vocab.GoalStatus.IN_PROGRESS}


def _stale_form(
    form_class: type, request: AuthenticatedHttpRequest, version: int, **kwargs: Any,
) -> Any:
    """The user's submitted form again, now based on the newer record's ``version``: saving
    it once more (after reviewing the newer values) is an ordinary edit, not a stale one."""
    data = request.POST.copy()
    data["version"] = str(version)
    form = form_class(data, request.FILES or None, **kwargs)
    form.is_valid()
    return form


def _display(field: Any, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    choices = dict(getattr(field, "choices", None) or [])
    if isinstance(value, list | tuple):
        return ", ".join(str(choices.get(v, v)) for v in value)
    if hasattr(value, "get_full_name"):
        return str(value.get_full_name() or value.username)
    if hasattr(value, "pk"):
        return str(value)
    if hasattr(value, "strftime"):
        moment = timezone.localtime(value) if hasattr(value, "tzinfo") and value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M" if hasattr(moment, "hour") else "%Y-%m-%d")
    return str(choices.get(value, value))


def _comparable(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None):
        return timezone.localtime(value).replace(second=0, microsecond=0)
    return value if value not in ("", None, []) else None


def _newer_values(form: Any, current: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, saved value) of every field where the newer record differs from the input."""
    rows = []
    for name, field in form.fields.items():
        if field.widget.is_hidden or name not in current or name == "photo":
            continue
        theirs = current[name]
        if _comparable(theirs) != _comparable(form.cleaned_data.get(name)):
            rows.append(
                (str(field.label or name.replace("_", " ").capitalize()), _display(field, theirs))
            )
    return rows


# --- Caseload -------------------------------------------------------------------------------


@require_GET
@reads_from_replica
def caseload(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    start, end = selectors.day_bounds(timezone.localdate())
    clients = keyset_page(selectors.my_clients(agency, request.user), size=PER_PAGE,
                          order=("last_name", "first_name", "pk"),
                          after=parse_cursor(request.GET.get("after")),
                          before=parse_cursor(request.GET.get("before")))
    context = {
        "clients": clients,
        "follow_ups": selectors.follow_ups_due(agency, request.user),
        "visits": selectors.planned_between(agency, start, end, request.user),
    }
    return render(request, "recovery/caseload.html", context)


# --- Clients ----------------------------------------------------------------------------


@require_GET
@reads_from_replica
def client_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = ClientSearchForm(request.GET or None)
    text = status = ""
    if form.is_valid():
        text, status = form.cleaned_data["q"], form.cleaned_data["status"]
    page = keyset_page(selectors.client_search(agency, text, status), size=PER_PAGE,
                       order=("last_name", "first_name", "pk"),
                       after=parse_cursor(request.GET.get("after")),
                       before=parse_cursor(request.GET.get("before")))
    template = "recovery/partials/client_rows.html" if request.htmx else "recovery/client_list.html"
    return render(request, template, {"form": form, "page": page, "q": text})


def _duplicates_for(agency: Any, data: Any, exclude_pk: int | None = None) -> list[Any]:
    from datetime import date

    try:
        dob = date.fromisoformat(str(data.get("date_of_birth") or ""))
    except ValueError:
        dob = None
    return selectors.likely_duplicates(
        agency,
        first_name=str(data.get("first_name", ""))[:80],
        last_name=str(data.get("last_name", ""))[:80],
        date_of_birth=dob,
        phone=str(data.get("phone", ""))[:32],
        exclude_pk=exclude_pk,
    )


@require_GET
def client_duplicates(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The htmx partial shown while a client is being typed in (PR-2)."""
    agency = require_program(request.user)
    return render(
        request,
        "recovery/partials/duplicates.html",
        {"duplicates": _duplicates_for(agency, request.GET)},
    )


@require_http_methods(["GET", "POST"])
def client_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = ClientForm(request.POST or None, request.FILES or None, agency=agency)
    duplicates: list[Any] = []
    if request.method == "POST" and form.is_valid():
        duplicates = _duplicates_for(agency, request.POST)
        if duplicates and not request.POST.get("confirm_new"):
            form.add_error(
                None,
                "This person may already be in the registry. Open the match "
                "instead, or confirm that none of them is the same person.",
            )
        else:
            try:
                client = services.client_create(
                    acting_user=request.user,
                    data=form.service_data(),
                    photo=form.photo_bytes,
                    photo_type=form.photo_type,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "The client was added.")
                return redirect("recovery:client_detail", client.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "recovery/client_form.html",
        {"form": form, "duplicates": duplicates},
        status=status,
    )


@require_GET
def client_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    services.client_view_log(acting_user=request.user, client=client)
    timeline = selectors.client_timeline(client)
    page = Paginator(timeline, TIMELINE_PAGE).get_page(request.GET.get("timeline"))
    referrals = list(client.referrals.select_related("resource"))
    consents = list(client.consents.select_related("recipient", "data_key"))
    goals = list(client.goals.select_related("data_key"))
    context = {
        "client": client,
        "stage": client.current_stage(),
        "stages": client.stages.select_related("assessed_by")[:10],
        "stage_count": client.stages.count(),
        "goals": goals,
        "goals_open": sum(g.status in OPEN_GOALS for g in goals),
        "referrals": referrals,
        "consents": consents,
        "glance": selectors.client_glance(client, timeline, referrals, consents),
        "timeline": page,
        "timeline_count": len(timeline),
        "stage_form": StageForm(),
        "goal_form": GoalForm(),
        "goal_status_form": GoalStatusForm(),
        "flags_form": SafetyFlagsForm(initial={"flags": client.safety_flags}),
        "sworn": is_sworn_program(request.user),
        "cji": can_read_cji(request.user),
        "merges": selectors.merges_into(client),
    }
    return render(request, "recovery/client_detail.html", context)


def _client_section(pk: int, section: str) -> HttpResponse:
    """Back to the client page, with the section just changed opened (tandem.js)."""
    return redirect(reverse("recovery:client_detail", args=[pk]) + f"#{section}")


@require_http_methods(["GET", "POST"])
def client_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = ClientForm(
        request.POST or None,
        request.FILES or None,
        agency=client.agency,
        initial=ClientForm.initial_for(client),
    )
    status = 200
    newer: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.client_update(
                acting_user=request.user,
                client=client,
                data=form.service_data(),
                version=form.cleaned_data["version"] or 0,
                photo=form.photo_bytes,
                photo_type=form.photo_type,
            )
        except services.StaleEdit as exc:
            client = get_client_for_user(request.user, pk, write=False)
            form = _stale_form(ClientForm, request, client.version, agency=client.agency)
            newer = _newer_values(form, ClientForm.initial_for(client))
            form_errors(form, exc)
            status = 409
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The client was saved.")
            return redirect("recovery:client_detail", client.pk)
    if form.errors and status == 200:
        status = 400
    return render(
        request,
        "recovery/client_form.html",
        {"form": form, "client": client, "newer": newer},
        status=status,
    )


@require_GET
def client_photo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    if not client.photo:
        raise Http404
    services.client_photo_view_log(acting_user=request.user, client=client)
    response = HttpResponse(base64.b64decode(client.photo), content_type=client.photo_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
def client_flags(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_flags_client_for_user(request.user, pk, write=True)
    form = SafetyFlagsForm(request.POST)
    if form.is_valid():
        services.client_flags_set(
            acting_user=request.user, client=client, flags=form.cleaned_data["flags"]
        )
        messages.success(request, "The safety flags were saved.")
    else:
        messages.error(request, "Choose safety flags from the list.")
    return _client_section(client.pk, "flags")


@require_GET
def deconflict(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    days = agency.policy_model().recovery.deconfliction_days
    clients, doubles = selectors.deconfliction(agency, days)
    context = {
        "days": days,
        "clients": clients,
        "doubles": doubles,
        "candidates": selectors.open_candidates(agency)[:100],
        "run": selectors.latest_run(agency),
    }
    context["conflicts"], context["double_visits"] = selectors.fact_conflicts(agency, days)
    return render(request, "recovery/deconflict.html", context)


# --- Contacts ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def contact_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    is_aro = request.user.has_role("aro")
    now = timezone.localtime().replace(second=0, microsecond=0)
    initial = {
        "occurred_at": now,
        "aro_present": is_aro,
        "prs_present": request.user.has_role("prs"),
        "planned": request.GET.get("planned"),
    }
    form = ContactForm(request.POST or None, client=client, initial=initial)
    moment = now
    if request.method == "POST" and form.is_valid():
        moment = form.cleaned_data["occurred_at"]
    # The same rule as the Deconflict list: the same client and day, another person.
    same_day = list(services.contacts_same_day(client, moment, other_than=request.user))
    if request.method == "POST" and form.is_valid():
        separate = bool(request.POST.get("confirm_separate"))
        if same_day and not separate:
            form.add_error(
                None,
                "Somebody else already logged a contact with this client that day. Open it "
                "if it is the same encounter, or confirm that this one is separate.",
            )
        else:
            try:
                services.contact_create(
                    acting_user=request.user,
                    client=client,
                    data=form.service_data(),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    separate_from_same_day=separate and bool(same_day),
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "The contact was recorded.")
                return redirect("recovery:client_detail", client.pk)
    return render(
        request,
        "recovery/contact_form.html",
        {"form": form, "client": client, "same_day": same_day},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def contact_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contact = get_contact_for_user(request.user, pk)
    if request.method == "GET":
        services.contact_view_log(acting_user=request.user, contact=contact)
    initial = {name: getattr(contact, name) for name in services.CONTACT_FIELDS}
    initial.update(
        planned=contact.planned_id,
        version=contact.version,
        occurred_at=timezone.localtime(contact.occurred_at),
    )
    form = ContactForm(request.POST or None, client=contact.client, initial=initial)
    status = 200
    newer: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                acting_user=request.user,
                contact=contact,
                data=form.service_data(),
                version=form.cleaned_data["version"] or 0,
            )
        except services.StaleEdit as exc:
            contact = get_contact_for_user(request.user, pk)
            form = _stale_form(ContactForm, request, contact.version, client=contact.client)
            current = {name: getattr(contact, name) for name in services.CONTACT_FIELDS}
            newer = _newer_values(form, current)
            form_errors(form, exc)
            status = 409
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The contact was saved.")
            return redirect("recovery:client_detail", contact.client_id)
    if form.errors and status == 200:
        status = 400
    return render(
        request,
        "recovery/contact_form.html",
        {"form": form, "client": contact.client, "contact": contact, "newer": newer},
        status=status,
    )


# --- Readiness and plan -------------------------------------------------------------------


@require_POST
def stage_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=True)
    form = StageForm(request.POST)
    if form.is_valid():
        services.stage_record(
            acting_user=request.user, client=client, stage=form.cleaned_data["stage"]
        )
        messages.success(request, "The stage of change was recorded.")
    else:
        messages.error(request, "Choose a stage of change from the list.")
    if request.POST.get("next") == "deconflict":
        return redirect("recovery:deconflict")
    return _client_section(client.pk, "stages")


@require_POST
def goal_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=True)
    form = GoalForm(request.POST)
    if form.is_valid():
        services.goal_create(
            acting_user=request.user,
            client=client,
            text=form.cleaned_data["text"],
            target_on=form.cleaned_data["target_on"],
        )
        messages.success(request, "The goal was added to the plan.")
    else:
        messages.error(request, "Describe the goal (at most 500 characters).")
    return _client_section(client.pk, "goals")


@require_POST
def goal_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    goal = get_goal_for_user(request.user, pk)
    form = GoalStatusForm(request.POST)
    if form.is_valid():
        services.goal_set_status(
            acting_user=request.user, goal=goal, status=form.cleaned_data["status"]
        )
        messages.success(request, "The goal was updated.")
    else:
        messages.error(request, "Choose a status from the list.")
    return _client_section(goal.client_id, "goals")


# --- Planned contacts and the safety gate ------------------------------------------------


@require_GET
def planned_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    today = timezone.localdate()
    start, _ = selectors.day_bounds(today)
    asked = request.GET.get("days", "")
    days = min(max(int(asked), 1), 90) if asked.isdigit() else 14
    visits = selectors.planned_between(agency, start, start + timedelta(days=days))
    context = {
        "visits": visits,
        "days": days,
        "feed_url": request.session.pop("recovery.feed_url", ""),
    }
    return render(request, "recovery/planned_list.html", context)


@require_http_methods(["GET", "POST"])
def planned_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    initial = {
        "client": request.GET.get("client"),
        "aro": request.user.pk if request.user.has_role("aro") else None,
        "prs": request.user.pk if request.user.has_role("prs") else None,
    }
    form = PlannedForm(request.POST or None, agency=agency, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            planned = services.planned_create(
                acting_user=request.user,
                client=data["client"],
                kind=data["kind"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                aro=data["aro"],
                prs=data["prs"],
                with_prs=data["with_prs"],
                idempotency_key=data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            same_day = services.visits_same_day(
                planned.client, planned.starts_at, exclude_pk=planned.pk
            ).select_related("created_by")
            if planned.overlaps().exists():
                messages.warning(
                    request,
                    "Another visit to this client is planned at an "
                    "overlapping time. Agree with your partner who goes.",
                )
            elif same_day:
                other = same_day[0]
                messages.warning(
                    request,
                    f"Another visit to this client is planned the same day, at "
                    f"{timezone.localtime(other.starts_at):%H:%M}"
                    f"{' by ' + other.created_by.get_full_name() if other.created_by else ''}."
                    " Agree with your partner who goes; it is listed on the Deconflict page.",
                )
            else:
                messages.success(request, "The visit was planned.")
            return redirect("recovery:planned_detail", planned.pk)
    return render(
        request, "recovery/planned_form.html", {"form": form}, status=400 if form.errors else 200
    )


def _planned_page(
    request: AuthenticatedHttpRequest, planned: Any, form: Any = None, status: int = 200
) -> HttpResponse:
    checklist = list(planned.agency.policy_model().recovery.safety_checklist)
    context = {
        "planned": planned,
        "assessments": planned.assessments.select_related("assessed_by"),
        "overlapping": planned.overlaps().select_related("aro", "prs"),
        "form": form or SafetyAssessmentForm(checklist=checklist),
        "can_assess": is_sworn_program(request.user),
    }
    return render(request, "recovery/planned_detail.html", context, status=status)


@require_GET
def planned_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _planned_page(request, get_planned_for_user(request.user, pk))


@require_POST
def planned_assess(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    require_sworn_program(request.user)
    planned = get_planned_for_user(request.user, pk)
    checklist = list(planned.agency.policy_model().recovery.safety_checklist)
    form = SafetyAssessmentForm(request.POST, checklist=checklist)
    if form.is_valid():
        try:
            assessment = services.safety_assessment_record(
                acting_user=request.user,
                planned=planned,
                confirmed=form.cleaned_data["confirmed"],
                reassessment=planned.status == vocab.PlanStatus.STARTED,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            if assessment.all_clear:
                messages.success(request, "Safety assessment recorded: the contact may go ahead.")
            else:
                messages.warning(
                    request,
                    "Not every item was confirmed: the PRS must not "
                    "take part until a complete assessment is recorded.",
                )
            return redirect("recovery:planned_detail", planned.pk)
    planned.refresh_from_db()
    return _planned_page(request, planned, form, status=400)


@require_POST
def planned_start(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    planned = get_planned_for_user(request.user, pk)
    try:
        services.planned_start(acting_user=request.user, planned=planned)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The contact has started.")
    return redirect("recovery:planned_detail", planned.pk)


@require_POST
def planned_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    planned = get_planned_for_user(request.user, pk)
    try:
        services.planned_cancel(acting_user=request.user, planned=planned)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The visit was cancelled.")
    if request.POST.get("next") == "deconflict":
        return redirect("recovery:deconflict")
    return redirect("recovery:planned_detail", planned.pk)


FEED_PURPOSE = "prp.visits"


@require_POST
def feed_issue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A new secret calendar link for my planned visits (the old one stops working)."""
    require_program(request.user)
    token = feed_token_issue(acting_user=request.user, user=request.user, purpose=FEED_PURPOSE)
    request.session["recovery.feed_url"] = request.build_absolute_uri(
        reverse("recovery:feed", args=[token])
    )
    messages.success(request, "Your calendar link is ready. Any earlier link stops working.")
    return redirect("recovery:planned_list")


@public
@require_GET
def feed(request: AuthenticatedHttpRequest, token: str) -> HttpResponse:
    """My planned visits as iCal. A lock screen may show it: no client names."""
    user = feed_token_user(token, purpose=FEED_PURPOSE)
    if user is None or not user.has_role(*PROGRAM):
        raise Http404
    start, _ = selectors.day_bounds(timezone.localdate())
    visits = selectors.planned_between(
        user.agency, start - timedelta(days=7), start + timedelta(days=FEED_DAYS_AHEAD), user
    )
    events = [
        FeedEvent(
            uid=f"prp-visit-{v.pk}@tandem",
            start=v.starts_at,
            end=v.ends_at,
            summary=f"Peer recovery visit — {v.get_kind_display().lower()}",
        )
        for v in visits
    ]
    return calendar_response("Peer recovery visits", events)


# --- Resources and referrals --------------------------------------------------------------


@require_GET
def resource_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    category = request.GET.get("category", "")
    resources = Resource.objects.filter(agency=agency)
    if category in vocab.ResourceCategory.values:
        resources = resources.filter(category=category)
    return render(
        request,
        "recovery/resource_list.html",
        {
            "resources": resources,
            "categories": vocab.ResourceCategory.choices,
            "category": category,
        },
    )


def _resource_form_page(
    request: AuthenticatedHttpRequest, resource: Resource | None
) -> HttpResponse:
    fields = [f for f in ResourceForm.base_fields if f != "idempotency_key"]
    initial = {f: getattr(resource, f) for f in fields} if resource else {}
    form = ResourceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.resource_save(
                acting_user=request.user,
                data=form.cleaned_data,
                resource=resource,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The directory was updated.")
            return redirect("recovery:resource_list")
    return render(
        request,
        "recovery/resource_form.html",
        {"form": form, "resource": resource},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def resource_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_program(request.user)
    return _resource_form_page(request, None)


@require_http_methods(["GET", "POST"])
def resource_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _resource_form_page(request, get_resource_for_user(request.user, pk))


@require_http_methods(["GET", "POST"])
def referral_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = ReferralForm(request.POST or None, agency=client.agency)
    if request.method == "POST" and form.is_valid():
        try:
            referral = services.referral_create(
                acting_user=request.user,
                client=client,
                resource=form.cleaned_data["resource"],
                follow_up_on=form.cleaned_data["follow_up_on"],
                sent=form.cleaned_data["sent"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The referral was recorded.")
            return redirect("recovery:referral_detail", referral.pk)
    return render(
        request,
        "recovery/referral_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


def _referral_page(
    request: AuthenticatedHttpRequest, referral: Any, form: Any = None, status: int = 200
) -> HttpResponse:
    step_form = form or ReferralStepForm(initial={"on": timezone.localdate()})
    cast(ChoiceField, step_form.fields["status"]).choices = referral.next_steps()
    return render(
        request,
        "recovery/referral_detail.html",
        {"referral": referral, "form": step_form},
        status=status,
    )


@require_GET
def referral_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    referral = get_referral_for_user(request.user, pk)
    services.referral_view_log(acting_user=request.user, referral=referral)
    return _referral_page(request, referral)


@require_POST
def referral_advance(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    referral = get_referral_for_user(request.user, pk)
    form = ReferralStepForm(request.POST)
    cast(ChoiceField, form.fields["status"]).choices = referral.next_steps()
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.referral_advance(
                acting_user=request.user,
                referral=referral,
                status=data["status"],
                on=data["on"],
                reason=data["reason"],
                follow_up_on=data["follow_up_on"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The referral was updated.")
            return redirect("recovery:referral_detail", referral.pk)
    return _referral_page(request, referral, form, status=400)


# --- Consent and disclosures ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def consent_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = ConsentForm(
        request.POST or None,
        agency=client.agency,
        initial={
            "discloser": f"{client.agency.name} Peer Recovery Program",
            "starts_on": timezone.localdate(),
            "signed_on": timezone.localdate(),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            consent = services.consent_create(
                acting_user=request.user,
                client=client,
                data=form.cleaned_data,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The consent was recorded.")
            return redirect("recovery:consent_detail", consent.pk)
    return render(
        request,
        "recovery/consent_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


@require_GET
def consent_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consent = get_consent_for_user(request.user, pk)
    services.consent_view_log(acting_user=request.user, consent=consent)
    return render(
        request,
        "recovery/consent_detail.html",
        {"consent": consent, "disclosures": consent.disclosures.all()},
    )


@require_POST
def consent_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consent = get_consent_for_user(request.user, pk)
    try:
        services.consent_revoke(acting_user=request.user, consent=consent)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The consent is revoked; nothing more may be disclosed under it.")
    return redirect("recovery:consent_detail", consent.pk)


@require_POST
def consent_event(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The event on which the consent ends has happened: it ends at once."""
    consent = get_consent_for_user(request.user, pk)
    try:
        services.consent_event_occurred(acting_user=request.user, consent=consent)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The consent has ended; nothing more may be disclosed under it.")
    return redirect("recovery:consent_detail", consent.pk)


@require_http_methods(["GET", "POST"])
def disclosure_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = DisclosureForm(request.POST or None, agency=client.agency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            disclosure = services.disclosure_create(
                acting_user=request.user,
                client=client,
                recipient=data["recipient"],
                purpose=data["purpose"],
                information=data["information"],
                description=data["description"],
                idempotency_key=data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The disclosure was recorded in the ledger.")
            return redirect("recovery:disclosure_detail", disclosure.pk)
    return render(
        request,
        "recovery/disclosure_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


@require_GET
def disclosure_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    disclosure = get_disclosure_for_user(request.user, pk)
    services.disclosure_view_log(acting_user=request.user, disclosure=disclosure)
    return render(request, "recovery/disclosure_detail.html", {"disclosure": disclosure})


def _ledger(client: Client) -> list[Disclosure]:
    return list(
        Disclosure.objects.filter(client=client)
        .select_related("data_key", "disclosed_by")
        .order_by("disclosed_at", "pk")
    )


@require_GET
def accounting(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    services.accounting_view_log(acting_user=request.user, client=client)
    return render(
        request,
        "recovery/accounting.html",
        {"client": client, "ledger": _ledger(client), "notice": REDISCLOSURE_NOTICE},
    )


@require_GET
def accounting_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    services.accounting_view_log(acting_user=request.user, client=client)
    doc = Document(
        agency=client.agency,
        title="Accounting of disclosures",
        subtitle=f"{client.full_name}, born {client.date_of_birth or 'unknown'}",
    )
    rows = [
        (
            timezone.localtime(d.disclosed_at).strftime("%Y-%m-%d"),
            d.recipient_name,
            d.description,
            d.get_purpose_display(),
        )
        for d in _ledger(client)
    ]
    doc.table(
        ["Date", "Recipient", "Description", "Purpose"],
        rows or [("—", "", "", "")],
        widths=[25, 50, 75, 40],
    )
    doc.heading("Notice to recipients (42 CFR 2.32)")
    doc.paragraph(REDISCLOSURE_NOTICE, size=8)
    return doc.response(f"disclosures-{client.pk}.pdf")


# --- The CJI compartment -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def cji(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_cji_client_for_user(request.user, pk, write=False)
    form = CJIReadForm(request.POST or None)
    context: dict[str, Any] = {"client": client, "form": form, "shown": False}
    if request.method == "POST" and form.is_valid():
        entries, notes = services.cji_read(
            acting_user=request.user, client=client, purpose=form.cleaned_data["purpose"]
        )
        context.update(
            shown=True,
            entries=entries,
            notes=notes,
            entry_form=CJIEntryForm(initial={"queried_on": timezone.localdate()}),
            note_form=SwornNoteForm(),
        )
    return render(request, "recovery/cji.html", context, status=400 if form.errors else 200)


@require_POST
def cji_entry_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_cji_client_for_user(request.user, pk, write=True)
    form = CJIEntryForm(request.POST)
    if form.is_valid():
        try:
            services.cji_entry_create(acting_user=request.user, client=client, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "The CJI entry was recorded.")
    else:
        messages.error(request, "Give the source, a query date, the purpose and a summary.")
    return redirect("recovery:cji", client.pk)


@require_POST
def sworn_note_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_cji_client_for_user(request.user, pk, write=True)
    form = SwornNoteForm(request.POST)
    if form.is_valid():
        services.sworn_note_create(
            acting_user=request.user, client=client, text=form.cleaned_data["text"]
        )
        messages.success(request, "The sworn-only note was recorded.")
    else:
        messages.error(request, "Write the note.")
    return redirect("recovery:cji", client.pk)


# --- Overdoses, naloxone, outreach -------------------------------------------------------


@require_http_methods(["GET", "POST"])
def overdose_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = OverdoseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data, naloxone_doses=form.cleaned_data["naloxone_doses"] or 0)
        try:
            services.overdose_create(
                acting_user=request.user, data=data, idempotency_key=data["idempotency_key"]
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The overdose response was recorded.")
            return redirect("recovery:overdose_list")
    records = OverdoseResponse.objects.filter(agency=agency).select_related("data_key")[:200]
    return render(
        request,
        "recovery/overdose_list.html",
        {"form": form, "records": records},
        status=400 if form.errors else 200,
    )


# ODMAP column layout. ODMAP (Washington/Baltimore HIDTA) records four required elements —
# date/time of the suspected overdose, its approximate location, fatal or non-fatal, and
# whether naloxone was administered (with the number of doses) — plus optional suspected drug
# and case number; see the CSTE overdose-alert guide, "How Information is Captured in ODMAP"
# (odalerts.cste.org, page 197) and the HIDTA ODMAP entry form. The columns follow that order.
ODMAP_COLUMNS = [
    "Date",
    "Time",
    "Latitude",
    "Longitude",
    "Address",
    "Fatal/Non-Fatal",
    "Naloxone Administered",
    "Naloxone Doses",
    "Suspected Drug",
    "Agency Case Number",
]


@require_GET
def overdose_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    records = OverdoseResponse.objects.filter(agency=agency).select_related("data_key")
    rows = []
    for r in records.order_by("occurred_at", "pk"):
        local = timezone.localtime(r.occurred_at)
        rows.append(
            [
                local.strftime("%m/%d/%Y"),
                local.strftime("%H:%M"),
                r.latitude if r.latitude is not None else "",
                r.longitude if r.longitude is not None else "",
                r.location or "",
                "Fatal" if r.fatal else "Non-Fatal",
                "Yes" if r.naloxone_given else "No",
                r.naloxone_doses,
                r.get_suspected_drug_display(),
                r.case_number,
            ]
        )
    services.overdose_export_log(acting_user=request.user, count=len(rows))
    return csv_response("odmap-overdoses.csv", ODMAP_COLUMNS, rows)


@require_http_methods(["GET", "POST"])
def naloxone_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = NaloxoneKitForm(request.POST or None, initial={"given_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.naloxone_kit_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The naloxone kits were recorded.")
            return redirect("recovery:naloxone_list")
    kits = NaloxoneKit.objects.filter(agency=agency).select_related("given_by")[:200]
    total = sum(k.quantity for k in NaloxoneKit.objects.filter(agency=agency).only("quantity"))
    return render(
        request,
        "recovery/naloxone_list.html",
        {"form": form, "kits": kits, "total": total},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def outreach_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = OutreachForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.outreach_create(
                acting_user=request.user,
                data=form.cleaned_data,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The outreach event was recorded.")
            return redirect("recovery:outreach_list")
    events = OutreachEvent.objects.filter(agency=agency)[:200]
    return render(
        request,
        "recovery/outreach_list.html",
        {"form": form, "events": events},
        status=400 if form.errors else 200,
    )


# --- Public statements (PR-8) --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def statement_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *STATEMENT_READERS)
    can_request = request.user.has_role("aro", "prs", "crt_supervisor")
    form = StatementForm(request.POST or None) if can_request else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                services.statement_request_create(acting_user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "Your request was sent to the Chief.")
                return redirect("recovery:statement_list")
    statements = StatementRequest.objects.filter(agency=agency).select_related(
        "requested_by", "decided_by"
    )
    if not request.user.has_role("chief", "crt_supervisor"):
        statements = statements.filter(requested_by=request.user)
    return render(
        request,
        "recovery/statement_list.html",
        {
            "form": form,
            "statements": statements,
            "decision_form": StatementDecisionForm(),
            "is_chief": request.user.has_role("chief"),
        },
        status=400 if form is not None and form.errors else 200,
    )


@require_POST
def statement_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    statement = get_statement_for_user(request.user, pk, write=True)
    form = StatementDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to approve or refuse.")
        return redirect("recovery:statement_list")
    try:
        services.statement_decide(
            acting_user=request.user,
            statement=statement,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The decision was recorded.")
    return redirect("recovery:statement_list")


# --- Deconfliction: scans, explained pairs, merge and unmerge (issue 13) -------------------


@require_POST
def deconflict_scan(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_program(request.user)
    services.match_run_request(acting_user=request.user)
    messages.success(request, "The scan of the whole registry has started; refresh in a while.")
    return redirect("recovery:deconflict")


@require_GET
def candidate_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    candidate = get_candidate_for_user(request.user, pk)
    services.candidate_view_log(acting_user=request.user, candidate=candidate)
    cji = can_read_cji(request.user)
    context = {
        "candidate": candidate,
        "sides": selectors.merge_sides(candidate.left, candidate.right),
        "left_counts": selectors.related_counts(candidate.left, cji=cji),
        "right_counts": selectors.related_counts(candidate.right, cji=cji),
        "merged": candidate.left.merged_into_id or candidate.right.merged_into_id,
    }
    return render(request, "recovery/candidate_detail.html", context)


@require_POST
def candidate_not_same(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    candidate = get_candidate_for_user(request.user, pk)
    try:
        services.candidate_not_same(acting_user=request.user, candidate=candidate)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("recovery:candidate_detail", candidate.pk)
    messages.success(request, "Remembered: these are two people. The pair is not proposed again.")
    return redirect("recovery:deconflict")


@require_POST
def candidate_merge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Merge the pair: the chosen survivor keeps its values except the fields ticked."""
    candidate = get_candidate_for_user(request.user, pk)
    pair = {candidate.left_id: candidate.left, candidate.right_id: candidate.right}
    survivor_pk = request.POST.get("survivor", "")
    if not survivor_pk.isdigit() or int(survivor_pk) not in pair:
        messages.error(request, "Choose which record survives the merge.")
        return redirect("recovery:candidate_detail", candidate.pk)
    survivor = pair.pop(int(survivor_pk))
    absorbed = next(iter(pair.values()))
    take = [f for f in services.MERGE_FIELDS if request.POST.get(f"take_{f}") == "absorbed"]
    try:
        merge = services.client_merge(
            acting_user=request.user, survivor=survivor, absorbed=absorbed, take=take
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("recovery:candidate_detail", candidate.pk)
    messages.success(request, "Merged. The merge can be undone from this record's page.")
    return redirect("recovery:client_detail", merge.survivor_id)


@require_POST
def merge_undo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    merge = get_merge_for_user(request.user, pk)
    try:
        services.client_unmerge(acting_user=request.user, merge=merge)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The merge is undone: both records are as they were.")
    return redirect("recovery:client_detail", merge.survivor_id)


@require_POST
def conflict_settle(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Settle what was recorded differently, in one click from the Deconflict page."""
    from datetime import date

    client = get_client_for_user(request.user, pk, write=True)
    topic = request.POST.get("topic", "")
    try:
        day = date.fromisoformat(request.POST["day"]) if request.POST.get("day") else None
    except ValueError:
        day = None
    if topic not in vocab.ConflictTopic.values:
        messages.error(request, "Choose what to settle.")
        return redirect("recovery:deconflict")
    try:
        services.conflict_settle(acting_user=request.user, client=client, topic=topic,
                                 choice=request.POST.get("choice", ""), day=day)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Settled: {vocab.ConflictTopic(topic).label.lower()} "
                                  f"of {client.full_name}.")
    return redirect("recovery:deconflict")


# --- Spreadsheet import (X-11, issue 13) ---------------------------------------------------


@require_http_methods(["GET", "POST"])
def import_start(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Upload a client list or a contact log (CSV or XLSX); nothing is imported yet."""
    require_program(request.user)
    errors: list[str] = []
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            errors = ["Choose a file to upload."]
        else:
            try:
                batch = services.import_upload(
                    acting_user=request.user,
                    kind=request.POST.get("kind", ""),
                    filename=upload.name or "",
                    data=upload.read(),
                )
            except (imports.SheetError, ValidationError) as exc:
                errors = list(exc.messages)
            else:
                return redirect("recovery:import_detail", batch.pk)
    context = {"errors": errors, "kinds": vocab.ImportKind.choices}
    return render(request, "recovery/import_start.html", context, status=400 if errors else 200)


@require_http_methods(["GET", "POST"])
def import_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Map the columns and the file's words, preview, and see the dry run."""
    batch = get_import_for_user(request.user, pk)
    busy = batch.job_state in (vocab.ImportJob.CHECKING, vocab.ImportJob.IMPORTING)
    if request.method == "POST" and batch.committed_at is None and not busy:
        mapping = {
            name: request.POST.get(f"map_{name}", "") for name, _, _ in imports.FIELDS[batch.kind]
        }
        values = {
            name: {w: request.POST.get(f"value_{name}_{i}", "") for i, w in enumerate(words)}
            for name, words in imports.vocabulary_values(
                batch.kind, batch.header, batch.rows, mapping
            ).items()
        }
        batch = services.import_map(
            acting_user=request.user, batch=batch, mapping=mapping, values=values
        )
        batch = services.import_dry_run(acting_user=request.user, batch=batch)
    return render(request, "recovery/import_detail.html", selectors.import_context(batch))


@require_POST
def import_commit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    batch = get_import_for_user(request.user, pk)
    try:
        counts = services.import_commit_request(acting_user=request.user, batch=batch)
    except ValidationError as exc:
        for message in exc.messages[:20]:
            messages.error(request, message)
        return redirect("recovery:import_detail", batch.pk)
    if counts is None:
        messages.success(request, "The import runs in the background: this page shows when "
                                  "it is done. Nothing is in the registry until then.")
        return redirect("recovery:import_detail", batch.pk)
    messages.success(
        request,
        f"Imported: {counts['new']} new, {counts['uncertain']} to review on the Deconflict"
        f" page; {counts['matched']} already in the registry.",
    )
    return redirect("recovery:deconflict")
@require_http_methods(["GET", "POST"])
def patrol_call(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """West Virginia Police and Peers: the embedded peer records an unscheduled contact on
    a patrol call, with the officer's on-scene safety check recorded at that moment."""
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = PatrolCallForm(request.POST or None, client=client)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            services.patrol_call_record(acting_user=request.user, client=client, **data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The patrol call was recorded with the officer's "
                                      "safety check.")
            return redirect("recovery:client_detail", client.pk)
    return render(request, "recovery/patrol_call.html", {"form": form, "client": client},
                  status=400 if form.errors else 200)


@require_GET
def personnel_evaluation(request: AuthenticatedHttpRequest) -> HttpResponse:
    """OO 2-78 E.1–2: each ARO's and PRS's figures for a calendar year (the last complete
    year with activity unless another is asked for)."""
    from tandem.recovery.access import require_evaluator
    from tandem.recovery.evaluation import personnel_evaluations
    from tandem.reports.services import annual_year

    agency = require_evaluator(request.user)
    default = annual_year(agency, "recovery")
    try:
        year = int(request.GET.get("year", default))
    except ValueError:
        year = default
    if not 2000 <= year <= timezone.localdate().year:
        year = default
    from tandem.recovery.models import PersonnelEvaluation

    written = {e.person_id: e for e in PersonnelEvaluation.objects.filter(
        agency=agency, year=year).select_related("data_key", "evaluator")}
    rows = [(e, written.get(e.person.pk)) for e in personnel_evaluations(agency, year)]
    return render(request, "recovery/personnel_evaluation.html", {
        "year": year, "rows": rows, "me": request.user,
        "years": list(range(timezone.localdate().year, default - 4, -1))})


@require_POST
def personnel_evaluation_write(request: AuthenticatedHttpRequest, person: int) -> HttpResponse:
    """The evaluator writes one person's feedback for the year (OO 2-78 E.2: "valuable
    feedback to the ARO and PRS")."""
    from tandem.accounts.models import User
    from tandem.agencies.access import one_or_404
    from tandem.recovery.access import require_evaluator

    agency = require_evaluator(request.user)
    subject = one_or_404(User.objects.all(), person, agency=agency)
    try:
        year = int(request.POST.get("year", ""))
        version = int(request.POST["version"]) if request.POST.get("version") else None
    except ValueError:
        messages.error(request, "The form was incomplete: choose the year and write again.")
        return redirect("recovery:personnel_evaluation")
    try:
        services.personnel_evaluation_write(
            acting_user=request.user, person=subject, year=year,
            feedback=request.POST.get("feedback", ""), version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The evaluation of {subject.get_full_name()} was saved; "
                                  "they were told to read and acknowledge it.")
    return redirect(f"{reverse('recovery:personnel_evaluation')}?year={year}"
                    f"#eval-{subject.pk}")


@require_GET
def my_evaluations(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The ARO's or the PRS's own evaluations, to read and acknowledge."""
    from tandem.recovery.access import EVALUATED
    from tandem.recovery.models import PersonnelEvaluation

    agency = require_role(request.user, *EVALUATED)
    mine = PersonnelEvaluation.objects.filter(agency=agency, person=request.user
                                              ).select_related("data_key", "evaluator")
    return render(request, "recovery/my_evaluations.html", {"evaluations": mine})


@require_POST
def personnel_evaluation_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    from tandem.recovery.access import get_evaluation_for_user

    evaluation = get_evaluation_for_user(request.user, pk, write=True)
    try:
        services.personnel_evaluation_acknowledge(
            acting_user=request.user, evaluation=evaluation,
            response=request.POST.get("response", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"You acknowledged your {evaluation.year} evaluation.")
    return redirect("recovery:my_evaluations")


@require_GET
def personnel_evaluation_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    from tandem.recovery.access import get_evaluation_for_user

    evaluation = get_evaluation_for_user(request.user, pk, write=False)
    services.personnel_evaluation_exported(acting_user=request.user, evaluation=evaluation)
    agency = evaluation.agency
    titles = agency.policy_model().titles
    title = titles.aro if evaluation.role == "aro" else titles.prs
    doc = Document(agency=agency, title=f"Personnel evaluation {evaluation.year}",
                   subtitle=f"{evaluation.person.get_full_name()}, {title}")
    reference = agency.policy_model().document.reference
    doc.fields([
        ("Policy", f"{reference}, Program and Personnel Evaluation (E.1–2)"),
        ("Evaluated by", evaluation.evaluator.get_full_name()),
        ("Written", timezone.localtime(evaluation.written_at).strftime("%Y-%m-%d")),
        ("Acknowledged", timezone.localtime(evaluation.acknowledged_at).strftime("%Y-%m-%d")
         if evaluation.acknowledged_at else "Not yet"),
    ])
    doc.heading(f"The figures of {evaluation.year}")
    doc.table(["Duty", "Figure", str(evaluation.year)],
              [list(line) for line in evaluation.figures], widths=[25, 90, 45])
    doc.heading("Feedback")
    for part in str(evaluation.feedback or "").split("\n\n"):
        doc.paragraph(part)
    if evaluation.acknowledged_at:
        doc.heading(f"Response of {evaluation.person.get_full_name()}")
        doc.paragraph(str(evaluation.response or "") or "No response; read and acknowledged.")
    return doc.response(f"evaluation-{evaluation.year}-{evaluation.person.username}.pdf")

