"""The supporter's workspace.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

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
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.agencies.models import PEER_SUPPORT, Role
from tandem.core.decorators import public
from tandem.core.forms import form_errors
from tandem.core.ical import (
    FEED_DAYS_AHEAD,
    FeedEvent,
    calendar_response,
    feed_token_active,
    feed_token_issue,
    feed_token_revoke,
    feed_token_user,
)
from tandem.support import access, forms, selectors, services, vocab
from tandem.support.models import (
    SupporterProfile,
)
from tandem.support.oncall import Schedule

from .common import FEED_PURPOSE, _form_page, _posted
from .on_behalf import _status

# --- The supporter's workspace ----------------------------------------------------------


@require_GET
def workspace(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    profile = selectors.profile_of(request.user)  # none until the helper's first write
    context = {
        "profile": profile,
        "offers": selectors.offers_for(request.user),
        "mine": selectors.accepted_by(request.user),
        "reminders": selectors.open_reminders(profile) if profile else [],
        "deployments": selectors.recent_deployments(profile) if profile else [],
        "availability_form": forms.AvailabilityForm(
            initial={"until": profile.unavailable_until if profile else None}
        ),
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
    if request.method == "POST":
        profile = services.profile_for(request.user)
    else:
        profile = selectors.profile_of(request.user) or services.profile_draft(request.user)
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
    on_roster = selectors.on_roster(profile)
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
    profile = selectors.profile_of(user)
    if profile is None or not profile.agency.runs(PEER_SUPPORT):
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
