"""Django's formats for en-US, from the one table in ``tandem.core.when`` (templates use the
``when`` filter; this keeps what Django prints by itself, ``{{ day }}``, in step)."""

from tandem.core.when import django_formats

_FORMATS = django_formats("en-US")
DATE_FORMAT = _FORMATS["DATE_FORMAT"]
SHORT_DATE_FORMAT = _FORMATS["SHORT_DATE_FORMAT"]
DATETIME_FORMAT = _FORMATS["DATETIME_FORMAT"]
SHORT_DATETIME_FORMAT = _FORMATS["SHORT_DATETIME_FORMAT"]
TIME_FORMAT = _FORMATS["TIME_FORMAT"]
YEAR_MONTH_FORMAT = _FORMATS["YEAR_MONTH_FORMAT"]
MONTH_DAY_FORMAT = _FORMATS["MONTH_DAY_FORMAT"]
