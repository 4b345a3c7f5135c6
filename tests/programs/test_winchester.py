"""Programs, Winchester Operation Order 2-78, end to end from the users' side."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tests.programs.support import sign_in_from_the_demo_listing, text

# ========================================================================================
# 7. Winchester Operation Order 2-78
# ========================================================================================


def test_winchester_story_prs_page_and_the_annual_report(demo: Any) -> None:
    agency, people = demo("winchester")
    prs = sign_in_from_the_demo_listing("winchester-prs")
    own = text(prs.get(reverse("readiness:home")))
    assert "Criminal justice information: <strong>open" not in own
    assert "Criminal justice information: <strong>cleared" not in own
    assert "not for civilian staff" in own
    supervisor = sign_in_from_the_demo_listing("winchester-crt-supervisor")
    about_prs = text(supervisor.get(reverse("readiness:person", args=[people["prs"].pk])))
    assert "Criminal justice information: <strong>open" not in about_prs
    about_aro = text(supervisor.get(reverse("readiness:person", args=[people["aro"].pk])))
    assert "Criminal justice information: <strong>open" in about_aro
    # "Annual report" opens the last complete year in which the program had activity.
    from tandem.recovery.models import Contact

    year = timezone.localdate().year - 1
    assert Contact.objects.filter(agency=agency, occurred_at__year=year).exists()
    index = text(supervisor.get(reverse("reports:index")))
    assert f"Annual report {year}" in index
    report = supervisor.get(
        reverse("reports:recovery"), {"start": f"{year}-01", "end": f"{year}-12"}
    )
    assert report.status_code == 200
    # E.1–2: the personnel evaluation of the ARO and of the PRS, with each one's figures.
    evaluation = text(
        supervisor.get(
            reverse("recovery:personnel_evaluation"), {"year": timezone.localdate().year}
        )
    )
    for person in (people["aro"], people["prs"]):
        assert person.get_full_name() in evaluation
    for words in (
        "Client contacts documented",
        "Safety assessments before field contacts",
        "Co-responses with the PRS",
        "Community outreach events",
        "Certification hours signed off",
    ):
        assert words in evaluation, words
    from tandem.recovery.evaluation import personnel_evaluations

    figures = {
        e.role: {line.label: line.value for line in e.lines}
        for e in personnel_evaluations(agency, timezone.localdate().year)
    }
    assert int(figures["prs"]["Clients worked with"]) > 0
    assert int(figures["aro"]["Clients worked with"]) > 0
    assert prs.get(reverse("recovery:personnel_evaluation")).status_code == 404


def _pdf(data: bytes) -> Any:
    import io

    from pypdf import PdfReader

    assert data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(data))


def test_winchester_story_the_prs_reads_and_acknowledges_written_feedback_with_a_pdf(
    demo: Any,
) -> None:
    """OO 2-78 E.2: evaluations "provide valuable feedback to the ARO and PRS": the
    evaluator writes it against the year's figures, the person reads and acknowledges it
    (with a response), both print it; every step is audited."""
    from tandem.recovery.models import PersonnelEvaluation

    agency, people = demo("winchester")
    year = timezone.localdate().year - 1
    prs = people["prs"]
    supervisor = sign_in_from_the_demo_listing("winchester-crt-supervisor")
    write = reverse("recovery:personnel_evaluation_write", args=[prs.pk])
    empty = supervisor.post(write, {"year": year, "feedback": "  "}, follow=True)
    assert "Write the feedback for this year." in text(empty)
    assert not PersonnelEvaluation.objects.exists()
    feedback = (
        "Strong engagement with clients after overdoses.\n\n"
        "Goal for next year: two more outreach events in schools."
    )
    supervisor.post(write, {"year": year, "feedback": feedback})
    evaluation = PersonnelEvaluation.objects.get(person=prs, year=year)
    assert evaluation.role == "prs"
    assert evaluation.evaluator == people["crt_supervisor"]
    assert any(label == "Clients worked with" for _, label, _ in evaluation.figures)
    # A year of history for both: the ARO's evaluation has figures too.
    from tandem.recovery.evaluation import personnel_evaluations

    for each in personnel_evaluations(agency, year):
        worked = next(line.value for line in each.lines if line.label == "Clients worked with")
        assert int(worked) > 0, each.role
    page = text(supervisor.get(reverse("recovery:personnel_evaluation"), {"year": year}))
    assert "Strong engagement with clients after overdoses." in page
    assert f"Waiting for {prs.get_full_name()} to acknowledge it" in page

    # The PRS is told on the home page, reads it and acknowledges it with a response.
    peer = sign_in_from_the_demo_listing("winchester-prs")
    assert "1 evaluation waiting for you to read and acknowledge" in text(
        peer.get(reverse("core:home"))
    )
    mine = text(peer.get(reverse("recovery:my_evaluations")))
    assert "Goal for next year: two more outreach events in schools." in mine
    assert "Clients worked with" in mine
    peer.post(
        reverse("recovery:personnel_evaluation_acknowledge", args=[evaluation.pk]),
        {"response": "Agreed; I will plan the school events with the ARO."},
    )
    evaluation.refresh_from_db()
    assert evaluation.acknowledged_at is not None
    assert "You acknowledged it on" in text(peer.get(reverse("recovery:my_evaluations")))
    # Acknowledged: the evaluator can no longer rewrite it.
    late = supervisor.post(
        write,
        {"year": year, "feedback": "Changed afterwards", "version": evaluation.version},
        follow=True,
    )
    assert "acknowledged; it no longer changes" in text(late)
    evaluation.refresh_from_db()
    assert "Changed afterwards" not in str(evaluation.feedback)

    # The PDF: tagged, on the agency's paper, for the person and the evaluator only.
    for reader in (peer, supervisor):
        pdf = reader.get(reverse("recovery:personnel_evaluation_pdf", args=[evaluation.pk]))
        assert pdf.status_code == 200
        document = _pdf(pdf.content)
        catalog = document.trailer["/Root"]
        assert "/StructTreeRoot" in catalog
        box = document.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # Letter
        words = " ".join(page.extract_text() for page in document.pages)
        assert "Strong engagement with clients after overdoses." in words
        assert "Agreed; I will plan the school events" in words
    aro = sign_in_from_the_demo_listing("winchester-aro")
    assert (
        aro.get(reverse("recovery:personnel_evaluation_pdf", args=[evaluation.pk])).status_code
        == 404
    )
    assert (
        aro.post(
            reverse("recovery:personnel_evaluation_acknowledge", args=[evaluation.pk])
        ).status_code
        == 404
    )
    actions = list(
        AuditEvent.objects.filter(
            object_type="recovery.PersonnelEvaluation", object_id=str(evaluation.pk)
        ).values_list("action", flat=True)
    )
    assert actions.count("recovery.evaluation_write") == 1
    assert actions.count("recovery.evaluation_acknowledge") == 1
    assert actions.count("recovery.evaluation_export") == 2
