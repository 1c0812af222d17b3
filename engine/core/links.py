"""Linked cases and pause reasons: the definition's `opens` (a transition that opens or links a case of another
workflow), `pause_reasons`, and the pure rules over them. No clock, database or file."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

from reviewflow.engine.core.errors import InvalidValue

if TYPE_CHECKING:
    from reviewflow.engine.core.definition import WorkflowDefinition
    from reviewflow.engine.core.yamlsource import Path

JOINT_REVIEW = "joint_review"
RELATED = "related"
ROUTED_FROM = "routed_from"
ROUTED_TO = "routed_to"
LINK_KINDS = (JOINT_REVIEW, RELATED, ROUTED_FROM, ROUTED_TO)
"""`routed_from`: the other case was routed to this one; `routed_to`: this case was routed to the other."""
_INVERSE = {JOINT_REVIEW: JOINT_REVIEW, RELATED: RELATED, ROUTED_FROM: ROUTED_TO, ROUTED_TO: ROUTED_FROM}
KIND_LABELS = {JOINT_REVIEW: "joint review with", RELATED: "related to", ROUTED_FROM: "routed from",
               ROUTED_TO: "routed to"}

OTHER = "other"
DEFAULT_PAUSE_REASONS = ("criminal_proceedings", "inquest", "police_request", "family_liaison", OTHER)
"""The reasons a clock may be paused for when a workflow sets no `pause_reasons` (domain notes: reviews wait on
criminal proceedings, inquests, police requests; family liaison; anything else as `other` with its text)."""
PAUSE_LABELS = {
    "criminal_proceedings": "Awaiting criminal proceedings",
    "inquest": "Awaiting an inquest",
    "coroner": "Awaiting the coroner",
    "police_request": "Police request",
    "family_liaison": "Family liaison",
    "home_office_qa": "Awaiting the Home Office Quality Assurance Panel",
    "parallel_proceedings": "Parallel proceedings",
    OTHER: "Other",
}


@dataclass(frozen=True)
class Opens:
    """`opens:` on a transition: firing it opens a case of the workflow named by `workflow_field` (or links the
    existing case whose reference is given as `case_field`), carrying over the opening fields of the same name
    and those named in `carry` (target field: source field)."""

    workflow_field: str
    case_field: str | None = None
    carry: Mapping[str, str] = field(default_factory=dict)


def parse_opens(raw: Mapping[str, Any] | None) -> Opens | None:
    if raw is None:
        return None
    return Opens(str(raw["workflow_field"]), raw.get("case_field"), {str(k): str(v) for k, v in
                                                                    dict(raw.get("carry", {})).items()})


def inverse(kind: str) -> str:
    return _INVERSE[kind]


def check_kind(kind: str) -> str:
    if kind not in LINK_KINDS:
        raise InvalidValue(f"unknown link kind {kind!r}: use one of {', '.join(LINK_KINDS)}", field="kind",
                           value=kind, allowed=LINK_KINDS)
    return kind


def pause_label(code: str | None) -> str:
    if code is None:
        return ""
    return PAUSE_LABELS.get(code, code.replace("_", " ").capitalize())


def _squash(text: str) -> str:
    return re.sub(r"[\s\-_]+", "_", text.strip().casefold())


def pause_reason(given: str, allowed: Sequence[str]) -> str | None:
    """The code of the pause reason `given` (its code or its label, in any case, spaces for underscores), or
    None when it is none of `allowed`."""
    wanted = _squash(given)
    for code in allowed:
        if wanted in (_squash(code), _squash(pause_label(code))):
            return code
    return None


def check_expected_end(ref: str, expected_end: date | None, today: date) -> None:
    if expected_end is not None and expected_end < today:
        raise InvalidValue(f"the expected end {expected_end.isoformat()} is in the past (today is "
                           f"{today.isoformat()}): give the day the pause is now expected to end", ref=ref,
                           field="expected_end", value=expected_end.isoformat())


def parse_day(value: str | date | None, name: str = "expected_end") -> date | None:
    if value is None or isinstance(value, date):
        return value
    text = value.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"{name.replace('_', ' ')} {value!r} is not a date: write YYYY-MM-DD, e.g. 2027-03-01",
                           field=name, value=value) from None


def short_name(workflow: str) -> str:
    """The initials of a workflow's name: multi_agency_review -> MAR."""
    return "".join(word[0] for word in workflow.split("_") if word).upper() or workflow.upper()


def routed_reference(source_ref: str, workflow: str, taken: Any) -> str:
    """The reference of the case a routing opens: `<source>-<initials of the workflow>`, then `-2`, `-3`... while
    `taken(ref)` says one is in use. (A `/` would keep the case out of the web pages' and the API's paths.)"""
    base = f"{source_ref}-{short_name(workflow)}"
    candidate, n = base, 1
    while taken(candidate):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


# --- validation --------------------------------------------------------------------------------------------

def check_links_and_pauses(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    """`opens` names a choice field of its transition; `pause_reasons` are unique; `learning.open_after` names
    terminal states."""
    for i, t in enumerate(d.transitions):
        opens = t.opens
        if opens is None:
            continue
        spec = t.field(opens.workflow_field)
        if spec is None or spec.type != "choice":
            yield (("transitions", i, "opens", "workflow_field"),
                   f"{opens.workflow_field!r} is not a choice field of this transition: add it to `requires` with "
                   "`type: choice` and the workflows it may open as `options`")
        if opens.case_field is not None and t.field(opens.case_field) is not None:
            yield (("transitions", i, "opens", "case_field"),
                   f"{opens.case_field!r} is also a required field of this transition: give the existing case's "
                   "reference a name of its own (e.g. routed_case)")
        for target, source in opens.carry.items():
            if source not in d.field_specs:
                yield (("transitions", i, "opens", "carry", target),
                       f"{source!r} is not a field of {d.name}: carry a field the case has "
                       f"({', '.join(sorted(d.field_specs))})")
    yield from _check_pause_reasons(d)
    yield from _check_open_after(d)


def _check_pause_reasons(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    seen: set[str] = set()
    for j, reason in enumerate(d.pause_reasons):
        if reason in seen:
            yield ("pause_reasons", j), f"{reason!r} is listed twice: list each pause reason once"
        seen.add(reason)


def _check_open_after(d: WorkflowDefinition) -> Iterator[tuple[Path, str]]:
    for j, state in enumerate(d.learning.open_after):
        if state not in d.states:
            yield ("learning", "open_after", j), f"unknown state {state!r}; states are: {', '.join(sorted(d.states))}"
        elif not d.states[state].terminal:
            yield (("learning", "open_after", j),
                   f"state {state!r} is not terminal: learning records are always open while a case is open; "
                   "list end states only")
