"""The longest value, in characters, each free-text input accepts (docs/limits.md lists them).

Every service that writes a typed-in text checks it here with `check`, so the command line, the
HTTP API and the web pages refuse the same values; a too-long value is refused before anything is
written. The web forms' `maxlength` attributes use the same numbers.
"""

from __future__ import annotations

from reviewflow.engine.core.errors import TooLong

# cases
REFERENCE = 64
NOTE = 4000
PAUSE_REASON = 4000
FIELD_VALUE = 4000

# people
USER_NAME = 64
TOKEN_LABEL = 100
EMAIL = 254
AGENCY = 120

# the learning loop
RECOMMENDATION = 4000
THEME = 120
DESCRIPTION = 4000
SUCCESS_MEASURE = 4000
STATUS_REASON = 4000
EVIDENCE_DESCRIPTION = 4000
EVIDENCE_LINK = 500
FINDING = 4000
AUDIENCE = 300

# schedules
SCHEDULE_NAME = 100

# risk registers
RISK_TITLE = 300
RISK_CONTROLS = 4000


def check(value: str, field: str, limit: int, what: str | None = None) -> str:
    """`value` unchanged when it is at most `limit` characters; TooLong naming the field otherwise."""
    if len(value) > limit:
        raise TooLong(field, limit, len(value), what)
    return value


def check_optional(value: str | None, field: str, limit: int, what: str | None = None) -> str | None:
    """`check` for a value that may be absent."""
    return None if value is None else check(value, field, limit, what)


FORM_FIELDS = {
    "ref": REFERENCE, "note": NOTE, "reason": PAUSE_REASON, "name": USER_NAME, "email": EMAIL, "agency": AGENCY,
    "theme": THEME, "text": RECOMMENDATION, "description": DESCRIPTION, "measure": SUCCESS_MEASURE,
    "link": EVIDENCE_LINK, "reference": EVIDENCE_LINK, "finding": FINDING, "audience": AUDIENCE,
}
"""The web forms' `maxlength` by the name of the form field (web/templates/macros/forms.html); a text area
not named here gets FIELD_VALUE, the limit of every other text typed into a page."""
