"""One date and time format per context on every screen (US English, 24-hour clock as
dispatch and patrol use it). Templates name the context, never a pattern:
``|date`` (a day), ``|date:"SHORT_DATE_FORMAT"`` (a day this year), ``|date:"DATETIME_FORMAT"``,
``|date:"SHORT_DATETIME_FORMAT"`` (a moment in the coming days) and ``|time``."""

DATE_FORMAT = "D, M j, Y"  # Mon, Nov 30, 2026
SHORT_DATE_FORMAT = "D, M j"  # Mon, Nov 30
DATETIME_FORMAT = "D, M j, Y, H:i"  # Mon, Nov 30, 2026, 17:51
SHORT_DATETIME_FORMAT = "D, M j, H:i"  # Mon, Nov 30, 17:51
TIME_FORMAT = "H:i"
MONTH_DAY_FORMAT = "F j"
YEAR_MONTH_FORMAT = "F Y"
