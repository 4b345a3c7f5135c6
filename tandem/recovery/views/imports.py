"""Spreadsheet import (X-11, issue 13).

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.core.forms import form_errors
from tandem.core.pdf import Document
from tandem.recovery import imports, selectors, services, vocab
from tandem.recovery.access import (
    get_client_for_user,
    get_import_for_user,
    require_program,
)
from tandem.recovery.forms import (
    PatrolCallForm,
)

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
        messages.success(
            request,
            "The import runs in the background: this page shows when "
            "it is done. Nothing is in the registry until then.",
        )
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
            messages.success(
                request, "The patrol call was recorded with the officer's safety check."
            )
            return redirect("recovery:client_detail", client.pk)
    return render(
        request,
        "recovery/patrol_call.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


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
    written = selectors.evaluations_written(agency, year)
    rows = [(e, written.get(e.person.pk)) for e in personnel_evaluations(agency, year)]
    return render(
        request,
        "recovery/personnel_evaluation.html",
        {
            "year": year,
            "rows": rows,
            "me": request.user,
            "years": list(range(timezone.localdate().year, default - 4, -1)),
        },
    )


@require_POST
def personnel_evaluation_write(request: AuthenticatedHttpRequest, person: int) -> HttpResponse:
    """The evaluator writes one person's feedback for the year (OO 2-78 E.2: "valuable
    feedback to the ARO and PRS")."""
    from tandem.recovery.access import require_evaluator

    agency = require_evaluator(request.user)
    subject = selectors.agency_user(agency, person)
    try:
        year = int(request.POST.get("year", ""))
        version = int(request.POST["version"]) if request.POST.get("version") else None
    except ValueError:
        messages.error(request, "The form was incomplete: choose the year and write again.")
        return redirect("recovery:personnel_evaluation")
    try:
        services.personnel_evaluation_write(
            acting_user=request.user,
            person=subject,
            year=year,
            feedback=request.POST.get("feedback", ""),
            version=version,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"The evaluation of {subject.get_full_name()} was saved; "
            "they were told to read and acknowledge it.",
        )
    return redirect(f"{reverse('recovery:personnel_evaluation')}?year={year}#eval-{subject.pk}")


@require_GET
def my_evaluations(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The ARO's or the PRS's own evaluations, to read and acknowledge."""
    from tandem.recovery.access import EVALUATED

    agency = require_role(request.user, *EVALUATED)
    mine = selectors.evaluations_of(agency, request.user)
    return render(request, "recovery/my_evaluations.html", {"evaluations": mine})


@require_POST
def personnel_evaluation_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    from tandem.recovery.access import get_evaluation_for_user

    evaluation = get_evaluation_for_user(request.user, pk, write=True)
    try:
        services.personnel_evaluation_acknowledge(
            acting_user=request.user,
            evaluation=evaluation,
            response=request.POST.get("response", ""),
        )
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
    doc = Document(
        agency=agency,
        title=f"Personnel evaluation {evaluation.year}",
        subtitle=f"{evaluation.person.get_full_name()}, {title}",
    )
    reference = agency.policy_model().document.reference
    doc.fields(
        [
            ("Policy", f"{reference}, Program and Personnel Evaluation (E.1–2)"),
            ("Evaluated by", evaluation.evaluator.get_full_name()),
            ("Written", timezone.localtime(evaluation.written_at).strftime("%Y-%m-%d")),
            (
                "Acknowledged",
                timezone.localtime(evaluation.acknowledged_at).strftime("%Y-%m-%d")
                if evaluation.acknowledged_at
                else "Not yet",
            ),
        ]
    )
    doc.heading(f"The figures of {evaluation.year}")
    doc.table(
        ["Duty", "Figure", str(evaluation.year)],
        [list(line) for line in evaluation.figures],
        widths=[25, 90, 45],
    )
    doc.heading("Feedback")
    for part in str(evaluation.feedback or "").split("\n\n"):
        doc.paragraph(part)
    if evaluation.acknowledged_at:
        doc.heading(f"Response of {evaluation.person.get_full_name()}")
        doc.paragraph(str(evaluation.response or "") or "No response; read and acknowledged.")
    return doc.response(f"evaluation-{evaluation.year}-{evaluation.person.username}.pdf")
