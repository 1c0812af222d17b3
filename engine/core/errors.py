"""One exception hierarchy; every message says what is wrong and what to do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class ReviewflowError(Exception):
    """Root of every error a user can cause; the CLI prints its message and exits 1."""


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
        super().__init__("\n".join(str(p) for p in self.problems))


class InvalidDuration(ReviewflowError):
    """A duration string is not of the form '<number> <unit>'."""

    def __init__(self, text: object) -> None:
        self.text = text
        super().__init__(
            f"bad duration {text!r}: write a whole number and a unit, e.g. "
            "'5 working days', '20 days', '6 weeks' or '1 month'"
        )


class InvalidValue(ReviewflowError):
    """A value supplied on the command line cannot be used."""


class FieldError(InvalidValue):
    """A field value is missing, unknown or of the wrong type."""


class TransitionNotAllowed(ReviewflowError):
    """A trigger was refused; the message names the failed check and the way forward."""


class NotPermitted(TransitionNotAllowed):
    """The actor holds none of the roles the move needs."""


class CaseNotFound(ReviewflowError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(f"no case with reference {ref!r}: check it with 'reviewflow case list'")


class CaseExists(ReviewflowError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(
            f"a case with reference {ref!r} already exists: choose another reference "
            f"or look at it with 'reviewflow case show {ref}'"
        )


class WorkflowNotFound(ReviewflowError):
    def __init__(self, name: str, known: Sequence[str]) -> None:
        self.name = name
        hint = ", ".join(known) if known else "none loaded; run 'reviewflow init'"
        super().__init__(f"no workflow named {name!r}; known workflows: {hint}")

    @classmethod
    def version(cls, name: str, version: int, loaded: Sequence[int]) -> WorkflowNotFound:
        error = cls.__new__(cls)
        error.name = name
        Exception.__init__(error, f"workflow {name} has no version {version}; loaded versions: "
                                  f"{', '.join(map(str, loaded))}")
        return error


class UserNotFound(ReviewflowError):
    def __init__(self, name: str) -> None:
        self.name = name
        shown = name if name.isprintable() and " " not in name else "NAME"
        super().__init__(
            f"no user named {name!r}: register them with "
            f"'reviewflow user add {shown} --role ROLE' or pass --as with a registered user"
        )


class UserExists(ReviewflowError):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"user {name!r} already exists: see 'reviewflow user list'")


class ConcurrentChange(ReviewflowError):
    def __init__(self, ref: str) -> None:
        self.ref = ref
        super().__init__(
            f"case {ref} changed since you loaded it; try again "
            f"(see 'reviewflow case show {ref}' for its current state)"
        )


class StoreError(ReviewflowError):
    """The database cannot be reached, is locked, or is not initialised."""
