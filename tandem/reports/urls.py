from django.urls import path

from tandem.reports import views
from tandem.reports.services import REPORTS

app_name = "reports"
urlpatterns = [
    path("", views.index, name="index"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
]
# One page and one export per report and format: the report is part of the address, so a
# role is allowed or refused a whole URL (see tests/authz_reports.py).
for slug, definition in REPORTS.items():
    urlpatterns.append(path(f"{slug}/", views.report, {"slug": slug}, name=definition.url_name))
    urlpatterns.extend(
        path(
            f"{slug}/export.{fmt}",
            views.export,
            {"slug": slug, "fmt": fmt},
            name=f"{definition.url_name}_{fmt}",
        )
        for fmt in views.EXPORTS
    )
