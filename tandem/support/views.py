"""Peer-support screens: roster, asking for support, the supporter's workspace, on call
now, schedules, limits of confidentiality, critical incidents, and the intake page.

Views parse input, ask ``access`` for the object (404 for missing or not allowed), call a
service and render. Messages shown after an action never name the person who asked.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import pk_or_404, require_account, require_role
from tandem.agencies.models import Agency, Role, Unit
from tandem.core.db_router import reads_from_replica
from tandem.core.decorators import public
from tandem.core.forms import form_errors
from tandem.core.http import client_ip
from tandem.core.ical import (
    FEED_DAYS_AHEAD,
    FeedEvent,
    calendar_response,
    feed_token_active,
    feed_token_issue,
    feed_token_revoke,
    feed_token_user,
)
from tandem.core.keyset import keyset_page, parse_cursor
from tandem.core.pdf import Document
from tandem.support import access, forms, selectors, services, throttle, vocab
from tandem.support.models import (
    Consultation,
    CriticalIncident,
    Deployment,
    DutyToReportNotice,
    IntakeLink,
    MutualAidRequest,
    Override,
    Rotation,
    SupporterProfile,
)
from tandem.support.oncall import Schedule

FEED_PURPOSE = "psp.shifts"


def _form_page(
    request: AuthenticatedHttpRequest,
    *,
    title: str,
    form: Any,
    submit: str,
    lede: str = "",
    cancel: str = "",
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    context = {
        "title": title,
        "form": form,
        "submit": submit,
        "lede": lede,
        "cancel": cancel,
        **(extra or {}),
    }
    return render(request, "support/form.html", context, status=status)


def _me(request: AuthenticatedHttpRequest) -> Any:
    """The signed-in account (the middleware lets no anonymous visitor reach these views)."""
    return request.user


def _posted(request: HttpRequest) -> Any:
    """The submitted data of a POST (even an empty one), else None for an unbound form."""
    return request.POST if request.method == "POST" else None


# --- Roster ---------------------------------------------------------------------------


#: Supporters per roster page: a page of cards a phone scrolls through, however big the team.
ROSTER_PER_PAGE = 50


@require_GET
@reads_from_replica
def directory(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_account(request.user)
    form = forms.DirectoryFilterForm(request.GET or None, agency=agency)
    filters = form.cleaned_data if form.is_valid() else {}
    page = keyset_page(
        selectors.roster(agency, filters),
        order=selectors.ROSTER_ORDER,
        size=ROSTER_PER_PAGE,
        after=parse_cursor(request.GET.get("after")),
        before=parse_cursor(request.GET.get("before")),
    )
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    context = {
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "policy": agency.policy_model(),
        "help_url": reverse("support:intake", args=[access.help_pass_for(agency)]),
    }
    return render(request, "support/directory.html", context)


def _poster_rows(
    request: AuthenticatedHttpRequest,
) -> tuple[Agency, Unit | None, list[SupporterProfile]]:
    """The whole department-wide team, whichever unit the poster is for: 18.107 B.1.a posts
    every team member's name and number in every district, section and unit."""
    agency = require_account(request.user)
    unit = None
    if request.GET.get("unit"):
        unit = Unit.objects.filter(agency=agency, pk=pk_or_404(request.GET["unit"])).first()
        if unit is None:
            raise Http404
    return agency, unit, list(selectors.roster(agency, {}))


def _poster_contacts(agency: Agency) -> dict[str, Any]:
    """Who to call when no team member answers: Communications, then the psychologist."""
    from tandem.accounts.models import users_with_role

    psychologists = [
        (str(u), (u.member.phone if u.member else "") or u.phone)
        for u in users_with_role(agency, [Role.PSYCHOLOGIST]).select_related("member")
    ]
    policy = agency.policy_model()
    return {
        "communications_title": policy.title("dispatcher"),
        "communications_phone": policy.contacts.communications_phone,
        "psychologist_title": policy.title("psychologist"),
        "psychologists": psychologists,
    }


def _poster_title(unit: Unit | None) -> str:
    return "Peer support team" + (f" — posted in {unit.name}" if unit else "")


POSTER_LEDE = (
    "Call any of us, at any hour. What you say stays with us, within the limits we "
    "explain at the start."
)


@require_GET
def poster(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency, unit, profiles = _poster_rows(request)
    units = Unit.objects.filter(agency=agency)
    return render(
        request,
        "support/poster.html",
        {
            "unit": unit,
            "profiles": profiles,
            "units": units,
            "title": _poster_title(unit),
            **_poster_contacts(agency),
        },
    )


@require_GET
def poster_pdf(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency, unit, profiles = _poster_rows(request)
    contacts = _poster_contacts(agency)
    # Poster type (large, from across a room) is the document's own; the whole team fits.
    doc = Document(agency=agency, title=_poster_title(unit), subtitle=POSTER_LEDE, poster=True)
    doc.table(
        ["Name", "Phone", "Sworn / civilian", "Unit"],
        [
            [
                p.display_name,
                p.reach_phone,
                p.get_affiliation_display(),
                p.unit.name if p.unit else "",
            ]
            for p in profiles
        ],
        widths=[60, 45, 35, 50],
    )
    doc.heading(
        f"No answer? Call {contacts['communications_title']}"
        + (f": {contacts['communications_phone']}" if contacts["communications_phone"] else "")
    )
    doc.paragraph(
        "They reach a team member at any hour, and if none answers, the "
        f"{contacts['psychologist_title']}.",
        size=13,
    )
    for name, phone in contacts["psychologists"]:
        doc.paragraph(
            f"{contacts['psychologist_title']}: {name}" + (f", {phone}" if phone else ""), size=13
        )
    return doc.response("peer-support-roster.pdf")


# --- Asking for someone else (dispatch, coordinator) -----------------------------------


def _ready_choices(agency: Agency) -> Any:
    return selectors.roster(agency)


def _status(form: Any) -> int:
    return 400 if form.is_bound and form.errors else 200


def _person(agency: Agency, data: dict[str, Any], kind: str = "member") -> dict[str, Any]:
    member = services.member_by_number(agency, data.get("employee_number", ""))
    return {
        "kind": kind,
        "name": data["name"],
        "phone": data.get("phone", ""),
        "email": data.get("email", ""),
        "member_id": member.pk if member else None,
        "user_id": getattr(getattr(member, "account", None), "pk", None) if member else None,
        "category": member.category if member else "",
    }


#: How each policy channel reaches the program, said to someone who must use another one.
CHANNEL_WAYS = {
    vocab.Channel.SELF_REQUEST: "the person asks for support themselves",
    vocab.Channel.SUPERVISOR: "a supervisor asks the peer-support coordinator",
    vocab.Channel.REFERRAL: "a colleague refers them confidentially",
    vocab.Channel.CRITICAL_INCIDENT: "the coordinator activates the team after a critical incident",
    vocab.Channel.DISPATCH: "the dispatch center asks on their behalf",
    vocab.Channel.OTHER_AGENCY: "another agency asks the coordinator",
}


def _policy_ways(agency: Agency, *, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The ways the agency's policy takes peer-support requests, in the policy's words."""
    return [
        CHANNEL_WAYS[vocab.Channel(c)]
        for c in agency.policy_model().eligibility.channels
        if c not in leave_out
    ]


def on_behalf_channels(user: Any, agency: Agency) -> list[tuple[str, str]]:
    """The channels this person may use for someone else under the agency's policy."""
    allowed = ([vocab.Channel.DISPATCH] if user.has_role(Role.DISPATCHER) else []) + (
        [vocab.Channel.SUPERVISOR, vocab.Channel.CRITICAL_INCIDENT, vocab.Channel.OTHER_AGENCY]
        if user.has_role(Role.COORDINATOR)
        else []
    )
    return [
        (c.value, c.label)
        for c in vocab.Channel
        if c in allowed and c in agency.policy_model().eligibility.channels
    ]


@require_http_methods(["GET", "POST"])
def on_behalf_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.REQUEST_ON_BEHALF)
    channels = on_behalf_channels(request.user, agency)
    for_caller = not request.user.has_role(Role.COORDINATOR)
    title = "Request support for a caller" if for_caller else "Request support for someone"
    if not channels:
        return render(
            request,
            "support/on_behalf_none.html",
            {
                "title": title,
                "through": "dispatch" if for_caller else "the coordinator",
                "who": "the caller" if for_caller else "the person",
                "ways": _policy_ways(agency, leave_out=(vocab.Channel.DISPATCH,)),
            },
        )
    form = forms.OnBehalfForm(
        _posted(request),
        channels=channels,
        for_caller=for_caller,
        incidents=CriticalIncident.objects.filter(agency=agency),
        initial={"idempotency_key": forms.new_idempotency_key()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = (
            vocab.RequesterKind.OTHER_AGENCY
            if data["channel"] == vocab.Channel.OTHER_AGENCY
            else vocab.RequesterKind.MEMBER
        )
        # The form's own secret is the sender's receipt; the request keeps a digest of it and
        # an idempotency key derived from it, so a second submit finds the same request and
        # shows the same receipt, and nothing stored gives the receipt away.
        secret = data["idempotency_key"]
        try:
            services.request_create(
                acting_user=request.user,
                agency=agency,
                idempotency_key=services.help_idempotency_key(secret),
                channel=data["channel"],
                urgency=data["urgency"],
                contact_method=data["contact_method"],
                best_time=data["best_time"],
                topic=data["topic"],
                incident=data.get("incident"),
                requester=_person(agency, data, kind),
                receipt=secret,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            return render(
                request,
                "support/on_behalf_sent.html",
                {
                    "title": "Request sent",
                    "receipt": secret,
                    "who": "the caller" if for_caller else "the person",
                },
            )
    lede = f"How this request came in: {channels[0][1]}." if len(channels) == 1 else ""
    return _form_page(
        request, title=title, form=form, submit="Send request", lede=lede, status=_status(form)
    )


@require_http_methods(["GET", "POST"])
def receipt(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What became of a request sent for someone, for whoever holds its receipt: looking
    for a supporter, accepted or closed — never who, never the routing step."""
    require_role(request.user, *access.REQUEST_ON_BEHALF)
    form = forms.ReceiptForm(_posted(request))
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            item = access.get_request_by_receipt(request.user, form.cleaned_data["code"])
        except Http404:
            context["unknown"] = True
        else:
            context["answer"] = services.RECEIPT_ANSWERS[vocab.RequestStatus(item.status)]
    return render(request, "support/receipt.html", context)


# --- The supporter's workspace ----------------------------------------------------------


@require_GET
def workspace(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    profile = services.profile_for(request.user)
    context = {
        "profile": profile,
        "offers": selectors.offers_for(request.user),
        "mine": selectors.accepted_by(request.user),
        "reminders": profile.reminders.filter(done_at__isnull=True).select_related("data_key"),
        "deployments": Deployment.objects.filter(
            supporter=profile, deployed_at__gte=timezone.now() - timedelta(days=30)
        ).select_related("incident"),
        "availability_form": forms.AvailabilityForm(initial={"until": profile.unavailable_until}),
        "feed_active": feed_token_active(request.user, FEED_PURPOSE),
        "feed_url": request.session.pop("support.feed_url", ""),
        "now": timezone.now(),
        "is_coordinator": request.user.has_role(Role.COORDINATOR),
        "is_psychologist": request.user.has_role(Role.PSYCHOLOGIST),
        "is_supporter": request.user.has_role(Role.SUPPORTER),
    }
    return render(request, "support/workspace.html", context)


@require_GET
def request_detail(request: AuthenticatedHttpRequest, pk: UUID) -> HttpResponse:
    item = access.get_request_for_user(request.user, pk)
    mine = item.accepted_by is not None and item.accepted_by.user_id == request.user.pk
    policy = item.agency.policy_model()
    context = {
        "item": item,
        "mine": mine,
        "recuse_form": forms.RecuseForm(),
        "preferences": _preference_labels(item.preference_data),
        "contact_form": forms.ContactForm(),
        "policy": policy,
        "exceptions": policy.exceptions_for(supervisor=request.user.has_role(Role.SUPERVISOR)),
    }
    return render(request, "support/request_detail.html", context)


def _preference_labels(preferences: dict[str, str]) -> list[str]:
    vocabularies = {
        "affiliation": vocab.Affiliation,
        "gender": vocab.Gender,
        "specialty": vocab.Specialty,
        "language": vocab.Language,
    }
    return [
        str(vocabularies[k](v).label)
        for k, v in preferences.items()
        if k in vocabularies and v in vocabularies[k].values
    ]


@require_POST
def request_accept(request: AuthenticatedHttpRequest, pk: UUID) -> HttpResponse:
    try:
        item = access.get_request_for_user(request.user, pk)
    except Http404:
        if not access.request_taken_from_user(request.user, pk):
            raise
        messages.error(request, services.ACCEPTED_BY_ANOTHER)
        return redirect("support:workspace")
    try:
        services.request_accept(acting_user=request.user, request=item)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect("support:workspace")
    messages.success(request, f"You accepted request {item.reference}. Reach out now.")
    return redirect("support:request_detail", pk=item.pk)


@require_POST
def request_recuse(request: AuthenticatedHttpRequest, pk: UUID) -> HttpResponse:
    item = access.get_request_for_user(request.user, pk)
    form = forms.RecuseForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose why you step aside.")
        return redirect("support:request_detail", pk=item.pk)
    try:
        services.request_recuse(
            acting_user=request.user, request=item, reason=form.cleaned_data["reason"]
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "You stepped aside; the request goes to someone else.")
    return redirect("support:workspace")


@require_POST
def request_contact(request: AuthenticatedHttpRequest, pk: UUID) -> HttpResponse:
    item = access.get_request_for_user(request.user, pk)
    form = forms.ContactForm(request.POST)
    form.is_valid()
    try:
        services.request_contact(
            acting_user=request.user,
            request=item,
            notice_given=bool(form.cleaned_data.get("notice_given")),
        )
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(request, "First contact recorded.")
    return redirect("support:request_detail", pk=item.pk)


@require_http_methods(["GET", "POST"])
def request_close(request: AuthenticatedHttpRequest, pk: UUID) -> HttpResponse:
    item = access.get_request_for_user(request.user, pk)
    if item.accepted_by is None or item.accepted_by.user_id != request.user.pk:
        raise Http404
    collected = services.usage_fields(item.agency)
    initial = {"member_category": item.requester_data.get("category", "")}
    form = forms.CloseForm(_posted(request), collected=collected, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.request_close(
                acting_user=request.user,
                request=item,
                usage=data,
                follow_up_on=data.get("follow_up_on"),
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(
                request,
                "Closed. The person's details were erased for good; "
                "the usage record joins the statistics tomorrow.",
            )
            return redirect("support:workspace")
    return _form_page(
        request,
        title=f"Close request {item.reference}",
        form=form,
        submit="Close and erase identity",
        lede="Only these statistics are kept — no name, no notes.",
        cancel=reverse("support:request_detail", args=[item.pk]),
        status=_status(form),
    )


@require_POST
def reminder_done(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    reminder = access.get_reminder_for_user(request.user, pk)
    services.reminder_done(acting_user=request.user, reminder=reminder)
    messages.success(request, "Reminder done.")
    return redirect("support:workspace")


@require_http_methods(["GET", "POST"])
def profile_edit(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    profile = services.profile_for(request.user)
    form = forms.ProfileForm(
        _posted(request), instance=profile, initial={"version": profile.version}
    )
    photo_form = forms.PhotoForm(_posted(request), request.FILES or None)
    if request.method == "POST" and form.is_valid() and photo_form.is_valid():
        values = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            profile = services.profile_update(
                acting_user=request.user,
                profile=profile,
                version=form.cleaned_data["version"],
                **values,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            _save_photo(request, profile, photo_form)
            messages.success(request, "Your roster entry was saved.")
            return redirect("support:workspace")
    status = 400 if request.method == "POST" and (form.errors or photo_form.errors) else 200
    return render(
        request,
        "support/profile_edit.html",
        {"form": form, "photo_form": photo_form, "profile": profile},
        status=status,
    )


def _save_photo(
    request: AuthenticatedHttpRequest, profile: SupporterProfile, photo_form: Any
) -> None:
    upload = photo_form.cleaned_data.get("photo")
    if upload is not None:
        services.profile_photo_set(
            acting_user=request.user, profile=profile, content=upload[0], extension=upload[1]
        )
    elif photo_form.cleaned_data.get("remove_photo") and profile.photo:
        services.profile_photo_set(acting_user=request.user, profile=profile, content=None)


@require_GET
def photo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponseBase:
    """A roster photo, for anyone of the agency while the supporter is on the roster."""
    profile = access.get_profile_for_user(request.user, pk)
    on_roster = selectors.roster(profile.agency).filter(pk=profile.pk).exists()
    if not profile.photo or not (on_roster or profile.user_id == request.user.pk):
        raise Http404
    extension = str(profile.photo.name).rsplit(".", 1)[-1].lower()
    try:
        handle = profile.photo.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    response = FileResponse(
        handle, content_type="image/png" if extension == "png" else "image/jpeg"
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_POST
def availability(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    profile = services.profile_for(request.user)
    form = forms.AvailabilityForm(request.POST)
    until = form.cleaned_data.get("until") if form.is_valid() else None
    if request.POST.get("action") == "available":
        until = None
    elif until is None:
        messages.error(request, "Give the date and time you are back.")
        return redirect("support:workspace")
    try:
        services.availability_set(acting_user=request.user, profile=profile, until=until)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(
            request,
            "You are available again." if until is None else "You will not be called until then.",
        )
    return redirect("support:workspace")


@require_POST
def feed_manage(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    if request.POST.get("action") == "revoke":
        feed_token_revoke(acting_user=request.user, user=request.user, purpose=FEED_PURPOSE)
        messages.success(request, "Your calendar link no longer works.")
    else:
        token = feed_token_issue(acting_user=request.user, user=request.user, purpose=FEED_PURPOSE)
        request.session["support.feed_url"] = request.build_absolute_uri(
            reverse("support:feed", args=[token])
        )
        messages.success(request, "Here is your new calendar link; the old one stopped working.")
    return redirect("support:workspace")


@public
@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    user = feed_token_user(token, purpose=FEED_PURPOSE)
    profile = SupporterProfile.objects.filter(user=user).first() if user else None
    if profile is None:
        raise Http404
    schedule = Schedule(user.agency, full=True)
    shifts = schedule.shifts_of(
        profile, timezone.now() - timedelta(days=7), days=7 + FEED_DAYS_AHEAD
    )
    events = [
        FeedEvent(
            uid=f"psp-{s.layer}-{int(s.start.timestamp())}-{profile.pk}@tandem",
            start=s.start,
            end=s.end,
            summary=f"On call — {vocab.Layer(s.layer).label.lower()}",
        )
        for s in shifts
    ]
    return calendar_response("On-call shifts", events)


# --- On call ----------------------------------------------------------------------------


@require_GET
def on_call_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.ON_CALL_READERS)
    lines = selectors.on_call_now(agency)
    return render(
        request,
        "support/on_call_now.html",
        {
            "lines": lines,
            "now": timezone.now(),
            "unrouted": selectors.unrouted_count(agency),
            "may_request": request.user.has_role(*access.REQUEST_ON_BEHALF),
            "can_request": bool(on_behalf_channels(request.user, agency)),
        },
    )


@require_GET
def schedule(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    context = {
        "rotations": Rotation.objects.filter(agency=agency).prefetch_related(
            "members__supporter__user"
        ),
        "overrides": Override.objects.filter(
            agency=agency, ends_at__gt=timezone.now()
        ).select_related("supporter__user"),
        "override_form": forms.OverrideForm(supporters=_ready_choices(agency)),
    }
    return render(request, "support/schedule.html", context)


@require_http_methods(["GET", "POST"])
def rotation_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    rotation = access.get_rotation_for_user(request.user, pk) if pk else None
    initial: dict[str, Any] = {"shift_hours": 168, "handoff_time": "07:00"}
    if rotation is not None:
        initial = {
            "name": rotation.name,
            "layer": rotation.layer,
            "starts_on": rotation.starts_on,
            "handoff_time": rotation.handoff_time,
            "shift_hours": rotation.shift_hours,
            "version": rotation.version,
        }
        for m in rotation.members.all():
            initial[f"participant_{m.position + 1}"] = m.supporter_id
    supporters = _all_profiles(agency)
    form = forms.RotationForm(_posted(request), supporters=supporters, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {k: data[k] for k in ("name", "layer", "starts_on", "handoff_time", "shift_hours")}
        try:
            services.rotation_save(
                acting_user=request.user,
                agency=agency,
                rotation=rotation,
                participants=form.participants(),
                version=data.get("version"),
                **values,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Rotation saved.")
            return redirect("support:schedule")
    return _form_page(
        request,
        title="Rotation" if rotation else "New rotation",
        form=form,
        submit="Save rotation",
        cancel=reverse("support:schedule"),
        lede="Participants take turns in this order, one shift each.",
        status=_status(form),
    )


def _all_profiles(agency: Agency) -> Any:
    return SupporterProfile.objects.filter(agency=agency).select_related("user")


@require_POST
def override_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    form = forms.OverrideForm(request.POST, supporters=_ready_choices(agency))
    if form.is_valid():
        try:
            services.override_create(acting_user=request.user, agency=agency, **form.cleaned_data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Cover saved.")
            return redirect("support:schedule")
    return _form_page(
        request,
        title="Cover or swap",
        form=form,
        submit="Save cover",
        cancel=reverse("support:schedule"),
        status=400,
    )


@require_POST
def override_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    item = access.get_override_for_user(request.user, pk)
    services.override_delete(acting_user=request.user, override=item)
    messages.success(request, "Cover removed.")
    return redirect("support:schedule")


@require_GET
def coverage(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    gaps = Schedule(agency, until=timezone.now() + timedelta(days=15), full=True).gaps()
    return render(request, "support/coverage.html", {"gaps": gaps})


@require_GET
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    return render(
        request, "support/queue.html", {"items": selectors.queue(agency), "now": timezone.now()}
    )


# --- Intake page ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def intake_admin(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    link_url = ""
    if request.method == "POST":
        token = services.intake_link_rotate(acting_user=request.user, agency=agency)
        link_url = request.build_absolute_uri(reverse("support:intake", args=[token]))
        messages.success(request, "A new intake link was made; the old one stopped working.")
    current = IntakeLink.objects.filter(agency=agency, revoked_at__isnull=True).first()
    return render(
        request,
        "support/intake_admin.html",
        {
            "current": current,
            "link_url": link_url,
            "now": timezone.now(),
            "eligibility": agency.policy_model().eligibility,
        },
    )


# --- The help page: asking without an account ---------------------------------------------
# Reached by the agency's posted link or QR code, or from "Get support" inside Tandem through
# a help pass (the same for every member that day). Served cookie-free (the middleware drops
# the browser's cookies on these paths), so a signed-in member's session is neither read nor
# written; the request never takes ``request.user``; a status code shown once, whose digest
# alone is stored, is the only way back to it.


def _help_kinds(agency: Agency) -> list[tuple[str, str]]:
    eligibility = agency.policy_model().eligibility
    own = vocab.Channel.SELF_REQUEST in eligibility.channels
    offered = [
        ("member", f"I work for {agency.name}", eligibility.members and own),
        (
            vocab.RequesterKind.FAMILY,
            f"I am family of someone who works for {agency.name}",
            eligibility.families and own,
        ),
        (
            vocab.RequesterKind.RETIREE,
            f"I retired from {agency.name}",
            eligibility.retirees and own,
        ),
        (
            vocab.RequesterKind.OTHER_AGENCY,
            "I work for another agency",
            eligibility.other_agencies and vocab.Channel.OTHER_AGENCY in eligibility.channels,
        ),
    ]
    return [(str(kind), label) for kind, label, allowed in offered if allowed]


def _takes_referrals(agency: Agency) -> bool:
    eligibility = agency.policy_model().eligibility
    return eligibility.members and vocab.Channel.REFERRAL in eligibility.channels


def _help_form(request: HttpRequest, agency: Agency, *, referral: bool) -> Any:
    topic = "topic" in services.usage_fields(agency)
    initial: dict[str, Any] = {"code": forms.new_idempotency_key()}
    if referral:
        return forms.HelpReferralForm(_posted(request), topic=topic, initial=initial)
    kinds = _help_kinds(agency)
    if len(kinds) == 1:
        initial["requester_kind"] = kinds[0][0]
    initial["chosen_supporter"] = request.GET.get("supporter") or None
    return forms.HelpForm(
        _posted(request),
        kinds=kinds,
        supporters=selectors.roster(agency),
        topic=topic,
        initial=initial,
    )


def _help_page(request: HttpRequest, agency: Agency) -> HttpResponse:
    referral = request.GET.get("for") == "colleague" and _takes_referrals(agency)
    form = _help_form(request, agency, referral=referral)
    context = {
        "form": form,
        "intake_agency": agency,
        "referral": referral,
        "kinds": referral or bool(_help_kinds(agency)),
        "referrals": _takes_referrals(agency),
        "ways": _policy_ways(agency, leave_out=(vocab.Channel.SELF_REQUEST,)),
        "eligibility": agency.policy_model().eligibility,
    }
    if request.method == "POST" and form.is_valid():
        if not throttle.allow(
            [
                (throttle.client_bucket(client_ip(request)), throttle.PER_CLIENT_PER_HOUR),
                (f"agency:{agency.pk}", throttle.PER_AGENCY_PER_HOUR),
            ]
        ):
            return render(request, "support/intake_busy.html", context, status=429)
        try:
            _help_submit(agency, form, referral=referral)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            code = "" if referral else form.cleaned_data["code"]
            return render(request, "support/intake_done.html", {**context, "code": code})
    return render(request, "support/intake.html", context, status=_status(form))


def _help_submit(agency: Agency, form: Any, *, referral: bool) -> None:
    data = form.cleaned_data
    code = data["code"]
    # The employee number finds the member only to keep their chain of command out of
    # routing; nothing else about the member (account, category) is taken from it.
    member = services.member_by_number(agency, data.get("employee_number", ""))
    person = {
        "name": data["name"],
        "phone": data["phone"],
        "email": data["email"],
        "member_id": member.pk if member else None,
    }
    common = {
        "acting_user": None,
        "agency": agency,
        "urgency": data["urgency"],
        "idempotency_key": services.help_idempotency_key(code),
        "contact_method": data["contact_method"],
        "best_time": data["best_time"],
        "topic": data.get("topic", ""),
    }
    if referral:
        referrer = (
            {"name": data["referrer_name"], "phone": data["referrer_phone"]}
            if data["referrer_name"] or data["referrer_phone"]
            else None
        )
        services.request_create(
            **common,
            channel=vocab.Channel.REFERRAL,
            requester={"kind": "member", **person},
            referrer=referrer,
        )
        return
    kind = data["requester_kind"]
    channel = (
        vocab.Channel.OTHER_AGENCY
        if kind == vocab.RequesterKind.OTHER_AGENCY
        else vocab.Channel.SELF_REQUEST
    )
    services.request_create(
        **common,
        channel=channel,
        chosen_supporter=data["chosen_supporter"],
        preferences=form.preferences(),
        status_digest=services.status_code_digest(code),
        requester={
            "kind": kind,
            **person,
            "agency_name": data.get("agency_name", ""),
            "category": "" if kind == "member" else kind,
        },
    )


@public
@csrf_exempt
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest, token: str) -> HttpResponse:
    """The help page, opened by the posted link or by an in-app help pass (one URL shape,
    so not even the masked access log tells the two apart)."""
    if access.is_help_pass(token):
        return _help_page(request, access.get_agency_for_help_pass(token))
    link = services.intake_link_for(token)
    if link is None:
        raise Http404
    if not link.is_valid_at(timezone.now()):
        return render(
            request, "support/intake_closed.html", {"intake_agency": link.agency}, status=410
        )
    return _help_page(request, link.agency)


@public
@csrf_exempt
@require_http_methods(["GET", "POST"])
def help_status(request: HttpRequest) -> HttpResponse:
    """Where a request stands, for whoever holds its status code; one neutral answer for a
    request that ended and a code that never existed."""
    form = forms.StatusForm(_posted(request))
    if request.method != "POST" or not form.is_valid():
        return render(request, "support/intake_status.html", {"form": form})
    code = form.cleaned_data["code"]
    try:
        item = access.get_request_by_status_code(code)
        if request.POST.get("action") == "withdraw":
            services.request_withdraw(acting_user=None, request=item)
            return render(request, "support/intake_status.html", {"withdrawn": True})
    except (Http404, ValidationError):
        return render(
            request, "support/intake_status.html", {"form": forms.StatusForm(), "neutral": True}
        )
    policy = item.agency.policy_model()
    return render(
        request,
        "support/intake_status.html",
        {
            "item": item,
            "code": code,
            "excluded": services.chosen_supporter_excluded(item),
            "exceptions": policy.confidentiality.exceptions,
        },
    )


# --- Limits of confidentiality ----------------------------------------------------------


@require_http_methods(["GET", "POST"])
def duty_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, Role.SUPPORTER)
    categories = services.exception_choices(agency, request.user)
    form = forms.DutyForm(_posted(request), categories=categories)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.duty_file(
                acting_user=request.user,
                category=data["category"],
                emergency=data["emergency"],
                subject={"name": data["subject_name"], "phone": data["subject_phone"]},
                self_disclosure_due=data["self_disclosure_due"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(
                request,
                "Notice filed. The Wellness Unit and the psychologist were alerted."
                if data["emergency"]
                else "Notice filed with the self-disclosure plan.",
            )
            return redirect("support:workspace")
    return _form_page(
        request,
        title="Duty-to-report notice",
        form=form,
        submit="File notice",
        lede="Emergency: the coordinator and the psychologist are alerted at "
        "once by text and e-mail until one of them acknowledges.",
        cancel=reverse("support:workspace"),
        status=_status(form),
    )


@require_GET
def duty_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.DUTY_READERS)
    notices = DutyToReportNotice.objects.filter(agency=agency).select_related("filed_by__user")[
        :200
    ]
    labels = services.exception_labels(agency)
    return render(request, "support/duty_list.html", {"notices": notices, "labels": labels})


@require_GET
def duty_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    notice = access.get_duty_for_user(request.user, pk)
    labels = services.exception_labels(notice.agency)
    return render(
        request,
        "support/duty_detail.html",
        {"notice": notice, "label": labels.get(notice.category, notice.category)},
    )


@require_POST
def duty_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    notice = access.get_duty_for_user(request.user, pk)
    if request.POST.get("action") == "resolve":
        services.duty_resolve(acting_user=request.user, notice=notice)
        messages.success(request, "Resolved; the identity on the notice was erased.")
    else:
        services.duty_acknowledge(acting_user=request.user, notice=notice)
        messages.success(request, "Acknowledged; the alerts stop.")
    return redirect("support:duty_detail", pk=notice.pk)


@require_http_methods(["GET", "POST"])
def consult_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, Role.SUPPORTER)
    form = forms.ConsultForm(
        _posted(request), categories=services.exception_choices(agency, request.user)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_ask(
                acting_user=request.user, category=form.cleaned_data["category"]
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Your question was sent without anyone's identity.")
            return redirect("support:workspace")
    return _form_page(
        request,
        title="Is this reportable?",
        form=form,
        submit="Ask",
        lede="Ask the Wellness Unit without identifying the member.",
        cancel=reverse("support:workspace"),
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def consult_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_account(request.user)
    if not request.user.has_role(agency.policy_model().confidentiality.consult_role):
        raise Http404
    if request.method == "POST":
        item = access.get_consultation_for_user(request.user, request.POST.get("consultation"))
        form = forms.ConsultAnswerForm(request.POST)
        if form.is_valid():
            services.consultation_answer(
                acting_user=request.user, consultation=item, answer=form.cleaned_data["answer"]
            )
            messages.success(request, "Answer recorded.")
        else:
            messages.error(request, "Choose an answer.")
        return redirect("support:consult_list")
    items = Consultation.objects.filter(agency=agency).select_related("asked_by__user")[:200]
    labels = services.exception_labels(agency)
    return render(
        request,
        "support/consult_list.html",
        {"items": items, "labels": labels, "answers": vocab.ConsultationAnswer},
    )


@require_http_methods(["GET", "POST"])
def breach_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    form = forms.BreachForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.breach_report(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Reported to the Wellness Unit and the psychologist.")
            return redirect("support:workspace")
    return _form_page(
        request,
        title="Report a breach of confidentiality",
        form=form,
        submit="Report",
        cancel=reverse("support:workspace"),
        status=_status(form),
    )


# --- Critical incidents and mutual aid --------------------------------------------------


@require_http_methods(["GET", "POST"])
def incident_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    form = forms.IncidentForm(
        _posted(request), units=Unit.objects.filter(agency=agency), supporters=_all_profiles(agency)
    )
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.incident_create(
                acting_user=request.user, agency=agency, **form.cleaned_data
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Incident recorded.")
            return redirect("support:incident_detail", pk=incident.pk)
    incidents = CriticalIncident.objects.filter(agency=agency).prefetch_related("units")[:200]
    return render(
        request,
        "support/incident_list.html",
        {"incidents": incidents, "form": form},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def incident_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = access.get_incident_for_user(request.user, pk)
    ready = selectors.roster(incident.agency)
    deploy_form = forms.DeploymentForm(supporters=ready)
    session_form = forms.GroupSessionForm()
    if request.method == "POST":
        if request.POST.get("action") == "deploy":
            deploy_form = forms.DeploymentForm(request.POST, supporters=ready)
            _deploy(request, incident, deploy_form)
        else:
            session_form = forms.GroupSessionForm(request.POST)
            _session(request, incident, session_form)
        if not (deploy_form.errors or session_form.errors):
            return redirect("support:incident_detail", pk=incident.pk)
    context = {
        "incident": incident,
        "deploy_form": deploy_form,
        "session_form": session_form,
        "deployments": incident.deployments.select_related("supporter__user"),
        "sessions": incident.group_sessions.all(),
    }
    status = 400 if deploy_form.errors or session_form.errors else 200
    return render(request, "support/incident_detail.html", context, status=status)


def _deploy(request: AuthenticatedHttpRequest, incident: CriticalIncident, form: Any) -> None:
    if form.is_valid():
        try:
            services.deployment_create(
                acting_user=request.user,
                incident=incident,
                supporter=form.cleaned_data["supporter"],
            )
            messages.success(request, "Supporter deployed and notified.")
        except ValidationError as exc:
            form_errors(form, exc)


def _session(request: AuthenticatedHttpRequest, incident: CriticalIncident, form: Any) -> None:
    if form.is_valid():
        try:
            services.group_session_create(
                acting_user=request.user, incident=incident, **form.cleaned_data
            )
            messages.success(request, "Group session recorded.")
        except ValidationError as exc:
            form_errors(form, exc)


@require_http_methods(["GET", "POST"])
def mutual_aid(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    item = (
        access.get_mutual_aid_for_user(request.user, request.GET["edit"])
        if request.GET.get("edit")
        else None
    )
    form = forms.MutualAidForm(
        _posted(request), instance=item, initial={"requested_on": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        services.mutual_aid_save(
            acting_user=request.user, agency=agency, item=item, **form.cleaned_data
        )
        messages.success(request, "Mutual-aid request saved.")
        return redirect("support:mutual_aid")
    items = MutualAidRequest.objects.filter(agency=agency)[:200]
    return render(
        request,
        "support/mutual_aid.html",
        {"items": items, "form": form, "editing": item},
        status=_status(form),
    )
