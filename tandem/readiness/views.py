"""Readiness screens. Each view parses input, asks ``access`` for the object (404 for
missing or not allowed), calls a service and renders; rules live in services/compliance."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_account, require_role
from tandem.agencies.presets import choice_label
from tandem.core.decorators import public
from tandem.core.exports import csv_response
from tandem.core.ical import FeedEvent, calendar_response, feed_token_issue, feed_token_user
from tandem.core.pdf import Document
from tandem.core.when import when
from tandem.readiness import compliance, forms, selectors, services
from tandem.readiness.access import (
    COORDINATORS,
    HOUR_SIGNERS,
    OVERSEERS,
    REMOVERS,
    SELECTORS,
    STATEMENT_READERS,
    TEAM,
    get_application_for_user,
    get_designation_for_user,
    get_document_for_user,
    get_hour_log_for_user,
    get_person_for_user,
    get_session_for_user,
    get_time_entry_for_user,
    get_vacancy_for_user,
)
from tandem.readiness.gates import gate_for
from tandem.readiness.models import (
    AttendanceStatus,
    Certification,
    TrainingSession,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User

FEED_PURPOSE = "readiness.training"


def _errors(request: AuthenticatedHttpRequest, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _person_form_post(
    request: AuthenticatedHttpRequest,
    target: User,
    form: BaseForm,
    record: Callable[[dict[str, Any]], None],
    success: str,
) -> HttpResponse:
    """A form posted from a person's page: ``record`` its data, then back to the page with
    the outcome, or each of the form's errors, as messages (the form is not shown again)."""
    if form.is_valid():
        try:
            record(dict(form.cleaned_data))
            messages.success(request, success)
        except ValidationError as exc:
            _errors(request, exc)
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
    return redirect("readiness:person", target.pk)


# --- My training ---------------------------------------------------------------------------


@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *TEAM)
    user = request.user
    now = timezone.now()
    upcoming = selectors.sessions_between(agency, now, now + timedelta(days=120))
    documents = [d for d in selectors.current_documents(agency) if _concerns(d.kind, user)]
    signed = selectors.signed_document_ids(user)
    context = {
        "status": compliance.status_for(user),
        "gate": gate_for(user),
        "upcoming": [s for s in upcoming if s.course.serves_any(_programs(user))],
        "enrolled": selectors.enrolled_ids(user),
        "attendance": selectors.attendance_for_user(user)[:20],
        "documents": [(d, d.pk in signed) for d in documents],
        "feed_url": request.session.pop("readiness.feed_url", ""),
        "is_supporter": user.has_role("supporter"),
        "is_recovery": user.has_role("aro", "prs"),
    }
    return render(request, "readiness/home.html", context)


def _programs(user: User) -> set[str]:
    programs = set()
    if user.has_role("supporter"):
        programs.add("psp")
    if user.has_role("aro", "prs"):
        programs.add("prp")
    return programs


def _concerns(kind: str, user: User) -> bool:
    """Which agreements a person is asked to sign: the NDA binds the PRS (PR-8), the
    confidentiality agreement the peer supporters (PS-13); everyone acknowledges the policy."""
    if kind == "nda":
        return bool(user.has_role("prs"))
    if kind == "confidentiality":
        return bool(user.has_role("supporter"))
    return True


# --- Team dashboard --------------------------------------------------------------------------


@require_GET
def team(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *OVERSEERS)
    people = selectors.team_overview(acting_user=request.user, agency=agency)
    statuses = compliance.statuses_for(agency, people)
    ready = selectors.peer_support_ready_ids(agency)
    rows = [(p, statuses[p.pk], p.pk in ready) for p in people]
    summary = dict.fromkeys(compliance.LEVELS, 0)
    for _, status, _ in rows:
        summary[status.level] += 1
    context = {
        "rows": rows,
        "summary": [(compliance.LEVEL_LABELS[k], v) for k, v in summary.items()],
        "ready_people": [p for p in people if p.pk in ready],
        "review_due": services.policy_review_due(agency),
        "can_review": request.user.has_role(*COORDINATORS),
        "pending_hours": selectors.hours_to_sign_off(agency, signer=request.user)
        if request.user.has_role(*HOUR_SIGNERS)
        else [],
    }
    return render(request, "readiness/team.html", context)


@require_POST
def policy_review(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *COORDINATORS)
    services.policy_review_record(acting_user=request.user)
    messages.success(request, "The policy review was recorded.")
    return redirect("readiness:team")


@require_GET
def person(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    target = get_person_for_user(request.user, pk, write=False)
    context = {
        **selectors.person_record(acting_user=request.user, person=target),
        "person": target,
        "gate": gate_for(target),
        "credential_form": _credential_form(target),
        "check_form": forms.CheckForm(),
        "removal_form": forms.RemovalForm(),
        "designate_form": forms.DesignateForm(agency=target.home_agency),
        "can_designate": request.user.has_role("chief") and target.pk != request.user.pk,
        "can_coordinate": request.user.has_role(*COORDINATORS),
        "can_remove": request.user.has_role(*REMOVERS),
        "can_sign_off": request.user.has_role(*HOUR_SIGNERS),
        "is_prp": target.has_role("aro", "prs"),
        "can_state": request.user.has_role(*STATEMENT_READERS),
    }
    # The "Action" column (a removal form per current designation) only when one can be used.
    context["any_active_designation"] = any(
        d.removed_on is None for d in context.get("designations") or ()
    )
    return render(request, "readiness/person.html", context)


@require_POST
def check_add(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    target = get_person_for_user(request.user, pk, write=True)

    def record(data: dict[str, Any]) -> None:
        services.check_record(acting_user=request.user, user=target, **data)

    return _person_form_post(
        request, target, forms.CheckForm(request.POST), record, "The background check was recorded."
    )


@require_POST
def designate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The Chief designates someone directly (a team member from before Tandem)."""
    target = get_person_for_user(request.user, pk, roles=("chief",), write=False)
    form = forms.DesignateForm(request.POST, agency=target.home_agency)
    if not form.is_valid():
        messages.error(request, "Choose the program.")
    else:
        try:
            services.designation_grant(
                acting_user=request.user, user=target, program=form.cleaned_data["program"]
            )
            messages.success(request, "Officially designated from today.")
        except ValidationError as exc:
            _errors(request, exc)
    return redirect("readiness:person", target.pk)


@require_POST
def vacancy_close(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    vacancy = get_vacancy_for_user(request.user, pk, write=True)
    services.vacancy_close(acting_user=request.user, vacancy=vacancy)
    messages.success(request, "The vacancy is closed.")
    return redirect("readiness:vacancies")


@require_POST
def designation_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    designation = get_designation_for_user(request.user, pk, write=True)
    form = forms.RemovalForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the reason for the removal.")
    else:
        try:
            services.designation_remove(
                acting_user=request.user,
                designation=designation,
                reason=form.cleaned_data["reason"],
            )
            messages.success(request, "Removed from the team.")
        except ValidationError as exc:
            _errors(request, exc)
    return redirect("readiness:person", designation.user_id)


# --- Selection -------------------------------------------------------------------------------


@require_GET
def vacancies(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_account(request.user)
    mine = selectors.my_applications(agency, request.user)
    context = {
        "vacancies": selectors.open_vacancies(agency, timezone.localdate()),
        "mine": mine,
        "can_create": request.user.has_role(*COORDINATORS),
        "can_review": request.user.has_role(*SELECTORS),
    }
    return render(request, "readiness/vacancies.html", context)


@require_http_methods(["GET", "POST"])
def vacancy_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *COORDINATORS)
    form = forms.VacancyForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        try:
            services.vacancy_create(acting_user=request.user, **form.cleaned_data)
            messages.success(request, "The vacancy is announced to the whole agency.")
            return redirect("readiness:vacancies")
        except ValidationError as exc:
            form.add_error(None, exc)
    status = 400 if request.method == "POST" else 200
    return render(request, "readiness/vacancy_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
def apply(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    vacancy = get_vacancy_for_user(request.user, pk, write=False)
    form = forms.ApplicationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_submit(
                acting_user=request.user, vacancy=vacancy, letter=form.cleaned_data["letter"]
            )
            messages.success(request, "Your letter of request was sent.")
            return redirect("readiness:application", application.pk)
        except ValidationError as exc:
            form.add_error(None, exc)
    status = 400 if request.method == "POST" else 200
    return render(
        request, "readiness/apply.html", {"form": form, "vacancy": vacancy}, status=status
    )


@require_GET
def applications(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *SELECTORS)
    return render(
        request,
        "readiness/applications.html",
        {"applications": selectors.applications_read(acting_user=request.user, agency=agency)},
    )


@require_GET
def application(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = selectors.application_read(
        acting_user=request.user, application=get_application_for_user(request.user, pk)
    )
    user = request.user
    reviewer = user.has_role(*SELECTORS)
    context = {
        "application": app,
        "steps": [(choice_label(s), ok) for s, ok in services.selection_progress(app)]
        if reviewer
        else [],
        "reviewer": reviewer,
        "can_interview": user.has_role("psychologist")
        and app.is_open
        and app.applicant_id != user.pk,
        "can_decide": user.has_role("chief") and app.is_open and app.applicant_id != user.pk,
        "is_applicant": app.applicant_id == user.pk,
        "interview_form": forms.InterviewForm(
            initial={"version": app.version, "interviewed_on": timezone.localdate()}
        ),
        "decision_form": forms.DecisionForm(initial={"version": app.version}),
        "history": selectors.designation_history(app.applicant) if reviewer else [],
    }
    return render(request, "readiness/application.html", context)


@require_POST
def application_interview(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, "psychologist")
    app = get_application_for_user(request.user, pk)
    form = forms.InterviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the outcome and the date of the interview.")
    else:
        try:
            services.application_interview(
                acting_user=request.user, application=app, **form.cleaned_data
            )
            messages.success(request, "The interview outcome was recorded.")
        except ValidationError as exc:
            _errors(request, exc)
    return redirect("readiness:application", app.pk)


@require_POST
def application_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, "chief")
    app = get_application_for_user(request.user, pk)
    form = forms.DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to approve or to decline.")
    else:
        try:
            services.application_decide(
                acting_user=request.user,
                application=app,
                approve=form.cleaned_data["decision"] == "approve",
                version=form.cleaned_data["version"],
            )
            messages.success(request, "The decision was recorded.")
        except ValidationError as exc:
            _errors(request, exc)
    return redirect("readiness:application", app.pk)


@require_POST
def application_withdraw(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    app = get_application_for_user(request.user, pk)
    if app.applicant_id != request.user.pk:
        raise Http404
    try:
        services.application_withdraw(acting_user=request.user, application=app)
        messages.success(request, "Your application was withdrawn.")
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("readiness:application", app.pk)


# --- Sessions and attendance ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sessions(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *COORDINATORS)
    services.catalogue_seed(agency=agency, acting_user=request.user)
    form = forms.SessionForm(request.POST or None, agency=agency)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.session_schedule(acting_user=request.user, **form.cleaned_data)
            messages.success(request, "The session is scheduled.")
            return redirect("readiness:session", session.pk)
        except ValidationError as exc:
            form.add_error(None, exc)
    now = timezone.now()
    context = {
        "form": form,
        "upcoming": selectors.sessions_between(agency, now),
        "recent": selectors.sessions_between(agency, now - timedelta(days=90), now),
        "courses": selectors.courses(agency),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "readiness/sessions.html", context, status=status)


@require_http_methods(["GET", "POST"])
def session(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    item = get_session_for_user(request.user, pk, write=True)
    if request.method == "POST":
        if request.POST.get("action") == "enrol":
            _enrol_other(request, item)
        else:
            _mark(request, item)
        return redirect("readiness:session", item.pk)
    marks = selectors.session_attendance(acting_user=request.user, session=item)
    people = selectors.session_people(item, viewer=request.user)
    enrolled = selectors.session_enrolled_ids(item)
    context = {
        "item": item,
        "rows": [(p, marks.get(p.pk), p.pk in enrolled) for p in people],
        "started": item.starts_at <= timezone.now(),
        "statuses": AttendanceStatus.choices,
    }
    return render(request, "readiness/session.html", context)


def _enrol_other(request: AuthenticatedHttpRequest, item: TrainingSession) -> None:
    raw = request.POST.get("user", "").strip()
    target = (
        selectors.team_person_in_scope(item.agency, int(raw), viewer=request.user)
        if raw.isdigit()
        else None
    )
    if target is None:
        messages.error(request, "Choose someone on a peer team.")
        return
    try:
        services.session_enrol(acting_user=request.user, session=item, user=target)
        messages.success(request, f"{target.get_full_name()} is enrolled.")
    except ValidationError as exc:
        _errors(request, exc)


def _mark(request: AuthenticatedHttpRequest, item: TrainingSession) -> None:
    form = forms.AttendanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose present, excused or unexcused.")
        return
    target = selectors.person_in_scope(item.agency, form.cleaned_data["user"], viewer=request.user)
    if target is None:
        messages.error(request, "This person is not on a team you oversee.")
        return
    try:
        services.attendance_mark(
            acting_user=request.user, session=item, user=target, status=form.cleaned_data["status"]
        )
        messages.success(request, f"Attendance saved for {target.get_full_name()}.")
    except ValidationError as exc:
        _errors(request, exc)


@require_POST
def session_enrol(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    require_role(request.user, *TEAM)
    item = get_session_for_user(request.user, pk, write=False)
    try:
        services.session_enrol(acting_user=request.user, session=item, user=request.user)
        messages.success(request, "You are enrolled.")
    except ValidationError as exc:
        _errors(request, exc)
    return redirect("readiness:home")


# --- Agreements ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def agreements(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *COORDINATORS)
    form = forms.AgreementForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            document = services.agreement_publish(acting_user=request.user, **form.cleaned_data)
            messages.success(request, f"Version {document.version} is published.")
            return redirect("readiness:agreements")
        except ValidationError as exc:
            form.add_error(None, exc)
    documents = selectors.agreement_documents(agency)
    context = {
        "form": form,
        "documents": documents,
        "review_due": services.policy_review_due(agency),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "readiness/agreements.html", context, status=status)


@never_cache
@require_http_methods(["GET", "POST"])
def agreement_sign(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    document = get_document_for_user(request.user, pk)
    signature = selectors.signature_of(document, request.user)
    form = forms.SignForm(request.POST or None)
    if request.method == "POST" and signature is None and form.is_valid():
        try:
            services.agreement_sign(
                acting_user=request.user, document=document, **form.cleaned_data
            )
            messages.success(request, "Signed. Thank you.")
            return redirect("readiness:agreement_sign", document.pk)
        except ValidationError as exc:
            form.add_error(None, exc)
    current = services.current_version(document)
    context = {
        "document": document,
        "signature": signature,
        "form": form,
        "outdated": current is not None and current.pk != document.pk,
        "current": current,
    }
    status = 400 if request.method == "POST" and signature is None else 200
    return render(request, "readiness/sign.html", context, status=status)


# --- Hours worked ----------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def time_entries(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, "supporter")
    form = forms.TimeEntryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.time_entry_add(acting_user=request.user, **form.cleaned_data)
            messages.success(request, "Hours recorded.")
            return redirect("readiness:time_entries")
        except ValidationError as exc:
            form.add_error(None, exc)
    context = {
        "form": form,
        "entries": selectors.recent_time_entries(request.user),
        "code": agency.policy_model().training.hours_activity_code,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "readiness/time_entries.html", context, status=status)


@require_POST
def time_entry_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    entry = get_time_entry_for_user(request.user, pk)
    services.time_entry_delete(acting_user=request.user, entry=entry)
    messages.success(request, "The entry was removed.")
    return redirect("readiness:time_entries")


@require_GET
def time_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, "coordinator")  # peer support hours
    form = forms.ExportForm(request.GET or None)
    if not form.is_valid():
        status = 400 if request.GET else 200
        return render(request, "readiness/time_export.html", {"form": form}, status=status)
    start, end = form.cleaned_data["start"], form.cleaned_data["end"]
    entries = selectors.time_export_entries(
        acting_user=request.user, agency=agency, start=start, end=end
    )
    rows = (
        [
            e.worked_on,
            getattr(e.user.member, "employee_number", "") if e.user.member else "",
            e.user.get_full_name(),
            e.activity_code,
            float(e.hours),
        ]
        for e in entries
    )
    return csv_response(
        f"hours-worked-{start}-{end}.csv",
        ["Date", "Employee number", "Name", "Activity code", "Hours"],
        rows,
    )


# --- Certification ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def certification(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, "aro", "prs")
    user = request.user
    # Reading the page writes nothing: a blank record until the first save creates it.
    cert = selectors.certification_of(user) or Certification(
        user=user, agency_id=user.home_agency_id
    )
    cert_form = forms.CertificationForm(
        initial={**{f: getattr(cert, f) for f in services.SELF_FIELDS}, "version": cert.version}
    )
    hours_form = forms.HourLogForm()
    if request.method == "POST":
        if request.POST.get("action") == "hours":
            hours_form = forms.HourLogForm(request.POST)
            if hours_form.is_valid():
                try:
                    services.hours_log(acting_user=user, **hours_form.cleaned_data)
                    messages.success(request, "Hours logged; a supervisor will sign them off.")
                    return redirect("readiness:certification")
                except ValidationError as exc:
                    hours_form.add_error(None, exc)
        else:
            cert_form = forms.CertificationForm(request.POST)
            if cert_form.is_valid():
                data = dict(cert_form.cleaned_data)
                version = data.pop("version")
                try:
                    services.certification_update(
                        acting_user=user, user=user, version=version, **data
                    )
                    messages.success(request, "Certification record saved.")
                    return redirect("readiness:certification")
                except ValidationError as exc:
                    cert_form.add_error(None, exc)
    context = {
        "cert_form": cert_form,
        "hours_form": hours_form,
        "cert": cert,
        **selectors.certification_read(acting_user=user, person=user),
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "readiness/certification.html", context, status=status)


def _credential_form(target: Any) -> forms.CredentialForm:
    cert = selectors.certification_of(target)
    initial: dict[str, Any] = {"version": cert.version if cert else 1}
    if cert is not None:
        initial.update({f: getattr(cert, f) for f in services.CREDENTIAL_FIELDS})
    return forms.CredentialForm(initial=initial)


@require_POST
def person_credential(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """A supervisor records a peer recovery specialist's credential (number and dates)."""
    target = get_person_for_user(request.user, pk, roles=HOUR_SIGNERS, write=False)

    def record(data: dict[str, Any]) -> None:
        version = data.pop("version")
        services.certification_update(
            acting_user=request.user, user=target, version=version, **data
        )

    return _person_form_post(
        request, target, forms.CredentialForm(request.POST), record, "Credential recorded."
    )


@require_POST
def hours_sign_off(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    log = get_hour_log_for_user(request.user, pk)
    try:
        services.hours_sign_off(acting_user=request.user, log=log)
        messages.success(request, "Hours signed off.")
    except ValidationError as exc:
        _errors(request, exc)
    if request.user.has_role(*OVERSEERS):
        return redirect("readiness:person", log.user_id)
    return redirect("readiness:certification")


# --- Privilege eligibility statement -----------------------------------------------------------


def _statement(request: AuthenticatedHttpRequest, pk: int) -> tuple[Any, Any, Any]:
    target = get_person_for_user(request.user, pk, roles=STATEMENT_READERS, write=False)
    form = forms.StatementForm(request.GET or None)
    if not form.is_valid():
        return target, form, None
    day = form.cleaned_data["on"]
    policy = target.agency.policy_model()
    status = selectors.statement_status(acting_user=request.user, person=target, day=day)
    designated = status.designated.get("psp")
    trained = status.initial_complete.get("psp", False)
    return (
        target,
        form,
        {
            "day": day,
            "status": status,
            "designated_on": designated,
            "trained": trained,
            "eligible": designated is not None
            and trained
            and status.level != compliance.NOT_COMPLIANT,
            "policy": policy,
        },
    )


@require_GET
def statement(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    target, form, result = _statement(request, pk)
    status = 400 if request.GET and result is None else 200
    return render(
        request,
        "readiness/statement.html",
        {"person": target, "form": form, "result": result},
        status=status,
    )


@require_GET
def statement_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    target, _, result = _statement(request, pk)
    if result is None:
        return redirect(reverse("readiness:statement", args=[pk]))
    doc = Document(
        agency=target.agency,
        title="Peer support privilege eligibility statement",
        subtitle=result["policy"].document.title,
    )
    doc.fields(
        [
            ("Peer supporter", target.get_full_name()),
            ("Date", f"{when(result['day'])}"),
            ("Trained", "Yes" if result["trained"] else "No"),
            (
                "Designated by the Chief",
                f"Yes, since {when(result['designated_on'])}" if result["designated_on"] else "No",
            ),
            (
                "Compliant with the policy",
                "Yes" if result["status"].level != compliance.NOT_COMPLIANT else "No",
            ),
            ("Eligible", "Yes" if result["eligible"] else "No"),
        ]
    )
    if result["status"].reasons:
        doc.heading("Notes")
        for reason in result["status"].reasons:
            doc.paragraph(reason)
    doc.paragraph(
        "This statement is made from Tandem's training, designation and attendance "
        "records. It contains no information about any person who received support."
    )
    return doc.response(f"eligibility-{target.pk}-{result['day']}.pdf")


# --- Calendar feed -----------------------------------------------------------------------------


@require_POST
def feed_issue(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *TEAM)
    token = feed_token_issue(acting_user=request.user, user=request.user, purpose=FEED_PURPOSE)
    request.session["readiness.feed_url"] = request.build_absolute_uri(
        reverse("readiness:feed", args=[token])
    )
    messages.success(request, "Your calendar link is ready. Any earlier link stops working.")
    return redirect("readiness:home")


@public
@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    user = feed_token_user(token, purpose=FEED_PURPOSE)
    if user is None:
        raise Http404
    events = [
        FeedEvent(
            uid=f"training-{s.pk}@tandem",
            start=s.starts_at,
            end=s.ends_at,
            summary=s.course.title,
            location=s.place,
        )
        for s in selectors.sessions_for_user(user)
    ]
    return calendar_response("Training", events)
