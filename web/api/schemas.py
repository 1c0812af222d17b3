"""The API's request and response bodies (they make its OpenAPI document), and records turned into them."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, Literal, get_args, get_origin, get_type_hints

from pydantic import BaseModel, Field, create_model

from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.measures import MeasureInput
from reviewflow.engine.core.records import Action, ApiToken, CaseView, Evidence, HistoryEntry, LedgerEntry


class Me(BaseModel):
    name: str
    roles: list[str]
    agency: str | None
    admin: bool
    acting_admin: str | None = None
    via: str
    scope: str


class FieldOption(BaseModel):
    name: str
    type: str
    label: str = ""
    options: list[str] = []


class NextStep(BaseModel):
    trigger: str
    label: str
    to: str
    roles: list[str]
    requires: list[FieldOption]
    allowed: bool


def public(record: type, name: str, *, exclude: frozenset[str] = frozenset(), doc: str | None = None,
           **extra: Any) -> type[BaseModel]:
    """The response body of a core record: its fields, as the record declares them (one declaration, in
    engine/core/records.py), less the store's internal ids and what the API does not show, plus `extra`
    (name=(type, default) as in `pydantic.create_model`). Tuples and mappings become lists and objects."""
    hints = get_type_hints(record)
    fields: dict[str, Any] = {f.name: (_as_json(hints[f.name]), ...) for f in dataclasses.fields(record)
                              if f.name not in exclude and f.name not in extra}
    fields.update(extra)
    return create_model(name, __doc__=doc, **fields)


def _as_json(hint: Any) -> Any:
    """tuple[X, ...] as list[X] and Mapping[K, V] as dict[K, V] in the schema."""
    origin = get_origin(hint)
    if origin is tuple:
        return list[get_args(hint)[0]]  # type: ignore[misc]
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return dict[get_args(hint)]  # type: ignore[misc]
    return hint


def shown(model: type[BaseModel], record: object, **values: Any) -> Any:
    """`record` as `model`: its fields read from the record, with `values` instead where given."""
    return model.model_validate({name: values[name] if name in values else getattr(record, name)
                                 for name in model.model_fields})


IDS = frozenset({"id", "case_id", "action_id", "recommendation_id"})
HistoryOut = public(HistoryEntry, "HistoryOut", exclude=IDS)
EscalationOut = public(LedgerEntry, "EscalationOut", exclude=IDS | {"entry_seq", "due_at", "scheduled_at", "ref"})
EvidenceOut = public(Evidence, "EvidenceOut", exclude=IDS)
ActionOut = public(Action, "ActionOut", exclude=IDS | {"created_by", "created_at", "updated_at", "impact_by",
                                                        "embedded_at"},
                   evidence=(list[EvidenceOut], ...), overdue=(bool, ...))  # type: ignore[valid-type]


class RecommendationOut(BaseModel):
    number: str
    text: str
    themes: list[str]
    agencies: list[str]
    created_by: str
    created_at: datetime
    actions: list[ActionOut]  # type: ignore[valid-type]


class DisseminationOut(BaseModel):
    kind: str
    audience: str
    held_on: date
    reference: str | None
    recorded_by: str
    reach: int | None = Field(default=None, description="How many practitioners it reached (attended, for training)")
    theme: str | None = Field(default=None, description="The learning theme of a training session")


class CaseSummary(BaseModel):
    ref: str
    workflow: str
    workflow_title: str
    version: int
    state: str
    state_label: str
    is_open: bool
    opened_at: datetime
    entered_at: datetime
    due_date: date | None
    overdue: bool
    working_days_overdue: int
    paused: bool
    pause_reason: str | None
    pause_until: date | None = Field(default=None, description="The day a pause is expected to end")
    pause_note: str | None = Field(default=None, description="The text of the pause reason `other`")
    revision: int
    subgroup: str | None = Field(default=None, description="The sub-group the case belongs to; null: the whole "
                                 "partnership")


class LinkOut(BaseModel):
    other: str
    other_workflow: str
    other_state: str
    kind: str = Field(description="What the other case is to this one: joint_review, related, routed_from (this "
                      "case was opened by routing the other), routed_to")
    reason: str
    linked_by: str
    linked_at: datetime


class CaseOut(CaseSummary):
    fields: dict[str, Any]
    opened_by: str
    closed_at: datetime | None
    time_limit: str | None
    owner: str | None
    agencies: list[str]
    history: list[HistoryOut]  # type: ignore[valid-type]
    escalations: list[EscalationOut]  # type: ignore[valid-type]
    next_steps: list[NextStep]
    recommendations: list[RecommendationOut]
    dissemination: list[DisseminationOut]
    links: list[LinkOut] = Field(default_factory=list, description="The cases linked to this one")


class Page(BaseModel):
    page: int
    per_page: int
    total: int


class CasePage(Page):
    items: list[CaseSummary]


class ActionPage(Page):
    items: list[ActionOut]  # type: ignore[valid-type]


class EvidenceToDecideOut(BaseModel):
    ref: str
    action: str
    evidence: EvidenceOut  # type: ignore[valid-type]


class WorkOut(BaseModel):
    name: str
    today: date
    stages: list[CaseSummary]
    actions: list[ActionOut]  # type: ignore[valid-type]
    evidence: list[EvidenceToDecideOut]
    counts: dict[str, int]


TokenOut = public(ApiToken, "TokenOut")


class NewTokenOut(TokenOut):  # type: ignore[valid-type,misc]
    token: str = Field(description="The token itself: shown this once only.")


class SessionOut(BaseModel):
    name: str
    csrf_token: str = Field(description="Send it as the X-CSRF-Token header with every change made with this session.")
    expires_at: datetime


# --- request bodies ----------------------------------------------------------------------------------

_TEXT = Field(default=None, max_length=4000)


class SignIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)


class OpenCase(BaseModel):
    workflow: str = Field(min_length=1, max_length=100)
    ref: str = Field(min_length=1, max_length=64)
    fields: dict[str, str] = {}
    note: str | None = _TEXT
    subgroup: str | None = Field(default=None, max_length=63,
                                 description="The sub-group the case belongs to, when not its workflow's")
    legacy: bool = Field(default=False, description="Confirms a case of a legacy review type (e.g. "
                         "serious_case_review) records a historical case; without it such a case is refused")


class Fire(BaseModel):
    trigger: str = Field(min_length=1, max_length=100)
    fields: dict[str, str] = {}
    note: str | None = _TEXT


class Pause(BaseModel):
    reason: str = Field(min_length=1, max_length=4000, description="One of the workflow's pause reasons, e.g. "
                        "criminal_proceedings; `other` with `note`")
    expected_end: date | None = Field(default=None, description="The day the pause is expected to end (a reminder "
                                      "goes out on it)")
    note: str | None = _TEXT


class Link(BaseModel):
    other: str = Field(min_length=1, max_length=64, description="The other case's reference")
    kind: Literal["joint_review", "related", "routed_from", "routed_to"]
    reason: str = Field(min_length=1, max_length=4000)


class Unlink(BaseModel):
    other: str = Field(min_length=1, max_length=64, description="The other case's reference")
    reason: str = Field(min_length=1, max_length=4000)


class Resume(BaseModel):
    note: str | None = _TEXT


class Recommend(BaseModel):
    text: str = Field(min_length=1, max_length=4000)
    themes: list[str] = []
    agencies: list[str] = []


class AddAction(BaseModel):
    recommendation: str = Field(min_length=1, max_length=20)
    description: str = Field(min_length=1, max_length=4000)
    agency: str = Field(min_length=1, max_length=120)
    owner: str | None = Field(default=None, max_length=100)
    due: str = Field(min_length=1, max_length=40, description="YYYY-MM-DD or DD/MM/YYYY")
    measure: str = Field(default="", max_length=4000)
    baseline: float | None = Field(default=None, description="The measure's value before the action (with target)")
    target: float | None = Field(default=None, description="The value the action aims for (with baseline)")
    unit: str | None = Field(default=None, max_length=20, description="percent or number (the default)")
    lower_is_better: bool | None = Field(default=None, description="A lower value is better (e.g. re-referrals)")
    past_due_ok: bool = Field(default=False, description="Confirms a due date that is already past")

    def figures(self) -> MeasureInput:
        return MeasureInput(self.baseline, self.target, self.unit, self.lower_is_better)


class UpdateAction(BaseModel):
    status: str | None = Field(default=None, max_length=40)
    reason: str | None = _TEXT
    due: str | None = Field(default=None, max_length=40)
    owner: str | None = Field(default=None, max_length=100)
    agency: str | None = Field(default=None, max_length=120)
    measure: str | None = _TEXT
    baseline: float | None = None
    target: float | None = None
    unit: str | None = Field(default=None, max_length=20)
    lower_is_better: bool | None = None
    past_due_ok: bool = Field(default=False, description="Confirms a new due date that is already past")

    def figures(self) -> MeasureInput:
        return MeasureInput(self.baseline, self.target, self.unit, self.lower_is_better)


class SubmitEvidence(BaseModel):
    kind: str = Field(min_length=1, max_length=40)
    description: str = Field(min_length=1, max_length=4000)
    link: str = Field(min_length=1, max_length=500)


class Decide(BaseModel):
    reason: str | None = _TEXT


class Verify(BaseModel):
    note: str | None = _TEXT


class Evaluate(BaseModel):
    method: str = Field(min_length=1, max_length=40)
    date: str = Field(min_length=1, max_length=40)
    finding: str = Field(min_length=1, max_length=4000)
    value: float | None = Field(default=None, description="The measured value of the action's measure")


class Measure(BaseModel):
    value: float = Field(description="The measured value, in the measure's unit")
    date: str = Field(min_length=1, max_length=40, description="When it was measured (not in the future)")
    note: str | None = _TEXT


class Training(BaseModel):
    theme: str = Field(min_length=1, max_length=100, description="The learning theme the training addressed")
    attended: int = Field(ge=1, le=1_000_000, description="How many practitioners attended")
    date: str = Field(min_length=1, max_length=40)
    course: str | None = Field(default=None, max_length=300)


class Disseminate(BaseModel):
    kind: str = Field(min_length=1, max_length=40)
    audience: str = Field(min_length=1, max_length=300)
    date: str = Field(min_length=1, max_length=40)
    reference: str | None = Field(default=None, max_length=500)
    reach: int | None = Field(default=None, ge=0, le=1_000_000, description="How many practitioners it reached")


class NewToken(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    scope: str = Field(default="read", pattern="^(read|write)$")
    days: int | None = Field(default=None, ge=1, le=366)
    user: str | None = Field(default=None, max_length=100, description="Whose token (administrators only).")


# --- records to bodies ---------------------------------------------------------------------------------

def me(who: Identity) -> Me:
    return Me(name=who.name, roles=sorted(who.roles), agency=who.agency, admin=who.admin,
              acting_admin=who.acting_admin, via=who.via, scope=who.scope)


def summary(v: CaseView) -> CaseSummary:
    return CaseSummary(ref=v.ref, workflow=v.workflow, workflow_title=v.workflow_title, version=v.version,
                       state=v.state, state_label=v.state_label, is_open=v.is_open, opened_at=v.opened_at,
                       entered_at=v.entered_at, due_date=date.fromisoformat(v.due_date) if v.due_date else None,
                       overdue=v.overdue, working_days_overdue=v.working_days_overdue,
                       paused=v.paused_at is not None, pause_reason=v.pause_reason, pause_until=v.pause_until,
                       pause_note=v.pause_note, revision=v.revision,
                       subgroup=v.subgroup)


def evidence(e: Evidence) -> Any:
    return shown(EvidenceOut, e)


def action(a: Action, today: date) -> Any:
    from reviewflow.engine.core.learning import is_overdue

    return shown(ActionOut, a, evidence=[evidence(e) for e in a.evidence], overdue=is_overdue(a.facts(), today))


def case(v: CaseView, today: date) -> CaseOut:
    return CaseOut(
        **summary(v).model_dump(), fields=dict(v.fields), opened_by=v.opened_by, closed_at=v.closed_at,
        time_limit=v.time_limit, owner=v.owner, agencies=list(v.agencies),
        history=[shown(HistoryOut, h) for h in v.history], escalations=[shown(EscalationOut, e) for e in v.escalations],
        next_steps=[NextStep(trigger=o.trigger, label=o.label, to=o.dest, roles=list(o.roles), allowed=o.allowed,
                             requires=[FieldOption(name=f.name, type=f.type, label=f.label, options=list(f.options))
                                       for f in o.requires]) for o in v.options],
        recommendations=[RecommendationOut(number=r.number, text=r.text, themes=list(r.themes),
                                           agencies=list(r.agencies), created_by=r.created_by,
                                           created_at=r.created_at, actions=[action(a, today) for a in r.actions])
                         for r in v.recommendations],
        dissemination=[DisseminationOut(kind=d.kind, audience=d.audience, held_on=d.held_on, reference=d.reference,
                                        recorded_by=d.recorded_by, reach=d.reach, theme=d.theme)
                       for d in v.dissemination],
        links=[shown(LinkOut, k) for k in v.links])


def token(t: ApiToken) -> Any:
    return shown(TokenOut, t)
