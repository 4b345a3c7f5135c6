"""Django's formats for en-US, from the one table in ``tandem.core.when`` (templates use the
``when`` filter; this keeps what Django prints by itself, ``{{ day }}``, in step)."""

from tandem.core.when import django_formats

# DATE_FORMAT, SHORT_DATE_FORMAT, DATETIME_FORMAT, SHORT_DATETIME_FORMAT, TIME_FORMAT,
# YEAR_MONTH_FORMAT, MONTH_DAY_FORMAT: Django reads them as this module's attributes.
globals().update(django_formats("en-US"))
