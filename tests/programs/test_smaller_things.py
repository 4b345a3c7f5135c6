"""Programs, smaller things seen on the way, from the users' side."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tandem.agencies.models import Agency
from tandem.agencies.presets import (
    validate_policy,
)
from tests.conftest import make_agency, make_user, sign_in
from tests.programs.support import text

# ========================================================================================
# 9. Smaller things seen on the way
# ========================================================================================


def test_chart_labels_start_inside_the_picture_and_are_not_cut() -> None:
    import re

    from tandem.reports.charts import bar_chart

    label = "Through dispatch / communications"
    svg = str(bar_chart("Requests by channel", [(label, 12), ("Member asks directly", 40)]))
    texts = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="start"[^>]*>([^<]+)</text>', svg)
    assert any(t == label for _, t in texts)
    assert all(float(x) >= 0 for x, _ in texts)
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
    # 13-pixel text is at most ~7.5 px a character: the longest label fits the width.
    assert max(len(t) for _, t in texts) * 7.5 <= width


def test_absence_rule_words_read_right_for_zero_one_and_many() -> None:
    from tandem.readiness.compliance import absence_limit_words, every_months_words

    assert absence_limit_words(0) == "no unexcused absence"
    assert absence_limit_words(1) == "at most one unexcused absence"
    assert absence_limit_words(3) == "at most 3 unexcused absences"
    assert every_months_words(1) == "every month"
    assert every_months_words(3) == "every 3 months"


@pytest.mark.django_db
def test_the_policy_page_reads_right_for_one_of_anything() -> None:
    agency = make_agency("onesy", "Onesy PD", preset="joplin")
    policy = agency.policy_model().model_dump(mode="json")
    policy["requests"]["expiry_hours"] = 1
    policy["escalation"]["steps"][0]["timeout_minutes"] = 1
    policy["document"]["review_months"] = 1
    Agency.objects.filter(pk=agency.pk).update(
        policy=validate_policy(policy).model_dump(mode="json")
    )
    page = text(
        sign_in(Client(), make_user(agency, "onesy-admin", "administrator")).get(
            reverse("agencies:policy")
        )
    )
    assert "expires after 1 hour." in page
    assert "1 minute to acknowledge" in page
    assert "reviewed every month." in page
    for wrong in ("1 hours", "1 minutes", "every 1 months"):
        assert wrong not in page
