"""A list of people to register, as a spreadsheet saves it (CSV): one row per person. Pure: text in, entries out.

Columns (the header row names them, in any order and case): `name` and `roles` are needed; `email`,
`agency` and `os_account` may be given. Roles are separated by `;` (or spaces), e.g.
`action_owner; agency_safeguarding_lead`.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from reviewflow.engine.core.errors import InvalidDefinition, Problem

COLUMNS = ("name", "email", "agency", "roles", "os_account")
NEEDED = ("name", "roles")
_ALIASES = {"e-mail": "email", "e_mail": "email", "email address": "email", "role": "roles",
            "os account": "os_account", "os-account": "os_account", "user": "name", "user name": "name",
            "username": "name"}
_SPLIT = re.compile(r"[;,\s]+")


class InvalidUserList(InvalidDefinition):
    """A list of people has problems, each located by file and line."""


@dataclass(frozen=True)
class UserEntry:
    line: int
    name: str
    roles: tuple[str, ...]
    email: str | None = None
    agency: str | None = None
    os_account: str | None = None


def _column(header: str) -> str:
    key = " ".join(header.strip().lower().split())
    return _ALIASES.get(key, key.replace(" ", "_"))


@dataclass(frozen=True)
class UserList:
    entries: list[UserEntry]
    problems: list[Problem]
    """Rows that cannot be used as they stand (no name, no roles, a person listed twice), by line."""


def _header(rows: list[list[str]], file: str) -> list[str]:
    """The columns the first row names; InvalidUserList when it is missing, or names unknown or too few."""
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidUserList([Problem(file, "", "the file is empty: its first row names the columns "
                                       f"({', '.join(COLUMNS)})", 1)])
    header = [_column(h) for h in rows[0]]
    problems: list[Problem] = []
    unknown = [rows[0][i].strip() for i, h in enumerate(header) if h not in COLUMNS]
    if unknown:
        problems.append(Problem(file, "", f"unknown column(s) {', '.join(map(repr, unknown))}: use "
                                f"{', '.join(COLUMNS)}", 1))
    missing = [c for c in NEEDED if c not in header]
    if missing:
        problems.append(Problem(file, "", f"missing column(s) {', '.join(missing)}: the first row names the "
                                f"columns ({', '.join(COLUMNS)})", 1))
    if problems:
        raise InvalidUserList(problems)
    return header


def _row_problem(file: str, number: int, name: str, roles: tuple[str, ...], first: dict[str, int]) -> Problem | None:
    if not name:
        return Problem(file, "", "no name: give each person a user name, e.g. a.khan", number)
    first.setdefault(name, number)
    if first[name] != number:
        return Problem(file, "", f"{name} is listed twice (first on line {first[name]}): keep one row per "
                       "person, with all their roles", number)
    if not roles:
        return Problem(file, "", f"{name}: no roles: give at least one, separated by ';'", number)
    return None


def parse_user_list(text: str, file: str) -> UserList:
    """The people in `text` and the problems of its rows; InvalidUserList when the file itself is unusable (no
    header, unknown or missing columns, no rows)."""
    text = text.removeprefix("\ufeff")  # the byte-order mark a spreadsheet may put first
    rows = list(csv.reader(io.StringIO(text, newline="")))
    header = _header(rows, file)
    entries: list[UserEntry] = []
    problems: list[Problem] = []
    first: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        cells = {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)}
        name = cells.get("name", "")
        roles = tuple(r for r in _SPLIT.split(cells.get("roles", "")) if r)
        problem = _row_problem(file, number, name, roles, first)
        if problem is not None:
            problems.append(problem)
            continue
        entries.append(UserEntry(number, name, roles, cells.get("email") or None, cells.get("agency") or None,
                                 cells.get("os_account") or None))
    if not entries and not problems:
        raise InvalidUserList([Problem(file, "", "no people listed below the header row", 1)])
    return UserList(entries, problems)
