"""One exception hierarchy; every message says what is wrong and what to do.

Each error keeps the values it is about (the case reference, the state, the trigger, the field, the
value given and the values allowed) as attributes, so every front end can show them where they
belong: the CLI prints the message on one line, the HTTP API returns them in a problem document,
a web form shows the message beside the field it names.

`kind` says which sort of refusal it is; the CLI's exit status and the API's HTTP status follow it
(see docs/cli.md#exit-status):

| kind          | meaning                                            | exit | HTTP |
|---------------|----------------------------------------------------|------|------|
| `refused`     | a rule refused it, or a value cannot be used        | 1    | 422  |
| `usage`       | the command was not given what it needs            | 2    | 400  |
| `not_found`   | no such case, workflow, user, action or evidence    | 3    | 404  |
| `unavailable` | the database cannot be reached, is locked or is not ready | 4 | 503 |
| `forbidden`   | the person acting may not do this                  | 5    | 403  |
| `conflict`    | someone else changed it first                      | 6    | 409  |
| `unauthenticated` | nobody is signed in, or the credentials are not valid | 7 | 401 |
| `throttled`   | too many failed sign-ins: wait                     | 8    | 429  |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

EXIT_STATUS = {"refused": 1, "usage": 2, "not_found": 3, "unavailable": 4, "forbidden": 5, "conflict": 6,
               "unauthenticated": 7, "throttled": 8}
HTTP_STATUS = {"refused": 422, "usage": 400, "not_found": 404, "unavailable": 503, "forbidden": 403,
               "conflict": 409, "unauthenticated": 401, "throttled": 429}


class ReviewflowError(Exception):
    """Root of every error a user can cause: a message that says what to do, and the values it is about."""

    kind: ClassVar[str] = "refused"

    def __init__(self, message: str, *, ref: str | None = None, state: str | None = None,
                 trigger: str | None = None, field: str | None = None, value: Any = None,
                 allowed: Sequence[str] = (), **more: Any) -> None:
        super().__init__(message)
        self.message = message
        self.ref = ref
        self.state = state
        self.trigger = trigger
        self.field = field
        self.value = value
        self.allowed = tuple(allowed)
        self.more = more

    @property
    def exit_status(self) -> int:
        return EXIT_STATUS[self.kind]

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.kind]

    def data(self) -> dict[str, Any]:
        """The values the error is about, without the empty ones (for JSON and problem documents)."""
        found = {"ref": self.ref, "state": self.state, "trigger": self.trigger, "field": self.field,
                 "value": self.value, "allowed": list(self.allowed) or None, **self.more}
        return {k: v for k, v in found.items() if v is not None}


@dataclass(frozen=True)
class Problem:
    """One defect in a workflow definition, located by file, line and key path."""

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class InvalidDefinition(ReviewflowError):
    """A workflow definition has one or more problems."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems),
                         problems=[{"file": p.file, "line": p.line, "path": p.path, "message": p.message}
                                   for p in self.problems])


class InvalidDuration(ReviewflowError):
    """A duration string is not of the form '<number> <unit>'."""

    def __init__(self, text: object) -> None:
        self.text = text
        super().__init__(
            f"bad duration {text!r}: write a whole number and a unit, e.g. "
            "'5 working days', '20 days', '6 weeks' or '1 month'", value=str(text))


class InvalidValue(ReviewflowError):
    """A value supplied by a person cannot be used."""


class UsageError(ReviewflowError):
    """The command or request was not given something it needs (say who is acting, which file...)."""

    kind = "usage"


class FieldError(InvalidValue):
    """A field value is missing, unknown or of the wrong type."""


class TooLong(InvalidValue):
    """A typed-in text is longer than its limit (engine/core/limits.py): nothing was written."""

    def __init__(self, field: str, limit: int, length: int, what: str | None = None) -> None:
        super().__init__(f"the {what or field} is {length} characters long; the limit is {limit}: shorten it",
                         field=field, limit=limit, length=length)


class TransitionNotAllowed(ReviewflowError):
    """A trigger was refused; the message names the failed check and the way forward."""


class NotPermitted(TransitionNotAllowed):
    """The person acting holds none of the roles the move needs."""

    kind = "forbidden"


class NotSignedIn(ReviewflowError):
    """No identity was established, or the credentials given are not (or no longer) valid."""

    kind = "unauthenticated"


class Throttled(ReviewflowError):
    """Too many failed sign-ins for this account or address: sign-in is locked for a while."""

    kind = "throttled"


class NotFound(ReviewflowError):
    """Something named does not exist (or is not in the view of the person asking)."""

    kind = "not_found"


class CaseNotFound(NotFound):
    def __init__(self, ref: str) -> None:
        super().__init__(f"no case with reference {ref!r}: check it with 'reviewflow case list'", ref=ref)


class CaseExists(ReviewflowError):
    kind = "conflict"

    def __init__(self, ref: str, existing: str | None = None) -> None:
        same = "" if existing is None or existing == ref else \
            f" as {existing!r} (references differ only in letter case or trailing punctuation name one case)"
        shown = existing or ref
        super().__init__(
            f"a case with reference {ref!r} already exists{same}: choose another reference "
            f"or look at it with 'reviewflow case show {shown}'", ref=ref, existing=shown)


class WorkflowNotFound(NotFound):
    def __init__(self, name: str, known: Sequence[str], message: str | None = None) -> None:
        self.name = name
        hint = ", ".join(known) if known else "none loaded; run 'reviewflow init'"
        super().__init__(message or f"no workflow named {name!r}; known workflows: {hint}", value=name,
                         allowed=known, workflow=name)

    @classmethod
    def version(cls, name: str, version: int, loaded: Sequence[int]) -> WorkflowNotFound:
        return cls(name, [], f"workflow {name} has no version {version}; loaded versions: "
                             f"{', '.join(map(str, loaded))}")


class UserNotFound(NotFound):
    def __init__(self, name: str) -> None:
        self.name = name
        shown = name if name.isprintable() and " " not in name else "NAME"
        super().__init__(
            f"no user named {name!r}: register them with "
            f"'reviewflow user add {shown} --role ROLE' or pass --as with a registered user", value=name, user=name)


class UserExists(ReviewflowError):
    kind = "conflict"

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"user {name!r} already exists: see 'reviewflow user list'", value=name, user=name)


def _quoted(name: str) -> str:
    """A name in single quotes, as typed (an apostrophe in it is kept, not escaped)."""
    return repr(name) if "'" not in name else "'" + repr(name)[1:-1] + "'"


class UnknownAgency(InvalidValue):
    """An agency typed in is not in the partnership's register (engine/core/agencies.py)."""

    def __init__(self, name: str, suggestions: Sequence[str] = (), field: str | None = "agency",
                 lookalike: bool = False) -> None:
        hint = f": did you mean {' or '.join(_quoted(n) for n in suggestions)}?" if suggestions else ""
        tail = ("(its quote marks, dashes or look-alike characters differ: type it as registered)" if lookalike
                else "(an administrator can add one with 'reviewflow agency add')")
        super().__init__(f"{_quoted(name)} is not a registered agency{hint} {tail}", field=field, value=name,
                         allowed=list(suggestions))


class AgencyExists(ReviewflowError):
    kind = "conflict"

    def __init__(self, name: str, registered: str) -> None:
        super().__init__(f"{_quoted(name)} is already registered as {_quoted(registered)}: "
                         "see 'reviewflow agency list'", value=name, agency=registered)


class ConcurrentChange(ReviewflowError):
    kind = "conflict"

    def __init__(self, ref: str, message: str | None = None) -> None:
        super().__init__(
            message or f"case {ref} changed since you loaded it; try again "
            f"(see 'reviewflow case show {ref}' for its current state)", ref=ref)


class StaleRevision(ConcurrentChange):
    """A change made on a case that someone else changed after it was read: nothing was written."""

    @property
    def http_status(self) -> int:
        return 412


class StoreError(ReviewflowError):
    """The database cannot be reached, is locked, or is not initialised."""

    kind = "unavailable"


class TimeRefused(ReviewflowError):
    """A change dated (with --now) too far from the server's own time: nothing was written.

    The limits are the database's time settings (`reviewflow settings show`)."""
