"""Linked cases: a routing transition that opens (or links) a case of another workflow, and links made and removed
by hand (joint reviews, related cases). Each link is written to both cases' sealed history."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.decide import CaseState, Move
from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import InvalidValue, NotPermitted, TransitionNotAllowed
from reviewflow.engine.core.links import KIND_LABELS, ROUTED_TO, Opens, check_kind, inverse, routed_reference
from reviewflow.engine.core.records import CaseRecord
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.visibility import require_visible
from reviewflow.store import links as links_store
from reviewflow.store import repo

log = structlog.get_logger("reviewflow")

LINK, UNLINK = "link", "unlink"
"""History triggers of a link made or removed (events within the stage: they move nothing)."""


@dataclass(frozen=True)
class Route:
    """What a routing transition will open or link, worked out before anything is written."""

    opens: Opens
    target: WorkflowDefinition
    existing: str | None
    given: Mapping[str, str]
    """Opening fields of the new case given with the route (`--field NAME=VALUE`)."""


def _raw(value: Any) -> str:
    """A stored field value as it would be typed (yes/no for a yes/no field)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def split_route(ctx: ServiceContext, d: WorkflowDefinition, state: str, trigger: str,
                fields: Mapping[str, str]) -> tuple[dict[str, str], Route | None]:
    """The fields for the transition itself, and the route when the transition `opens` a case: the existing
    case's reference (`case_field`) and the new case's opening fields are taken out of `fields`."""
    t = d.transition(state, trigger)
    if t is None or t.opens is None:
        return dict(fields), None
    opens = t.opens
    own = dict(fields)
    existing = own.pop(opens.case_field, "").strip() if opens.case_field else ""
    spec = t.field(opens.workflow_field)
    target_name = own.get(opens.workflow_field, "").strip()
    if spec is None or target_name not in spec.options:
        return own, None  # the transition refuses the field as it stands
    target = ctx.definition(target_name)
    taken = {f.name for f in t.requires} | {f.reason_name for f in t.requires if f.reason_if_no}
    opening = {f.name for f in target.open.requires} | {f.reason_name for f in target.open.requires
                                                         if f.reason_if_no}
    given = {k: v for k, v in own.items() if k in opening and k not in taken}
    if existing and given:
        raise InvalidValue(f"{', '.join(sorted(given))} would open a new {target.name} case, but "
                           f"{opens.case_field}={existing} links an existing one: give one or the other",
                           field=sorted(given)[0])
    return {k: v for k, v in own.items() if k not in given}, Route(opens, target, existing or None, given)


def _opening_fields(route: Route, ref: str, trigger: str,
                    fields: Mapping[str, Any]) -> dict[str, str]:
    """The new case's opening fields: given with the route, else carried over (same name, or `carry`)."""
    found: dict[str, str] = {}
    for spec in route.target.open.requires:
        names = [spec.name] + ([spec.reason_name] if spec.reason_if_no else [])
        for name in names:
            origin = route.opens.carry.get(name, name)
            if name in route.given:
                found[name] = route.given[name]
            elif fields.get(origin) not in (None, ""):
                found[name] = _raw(fields[origin])
    missing = [s for s in route.target.open.requires if s.name not in found]
    if missing:
        flags = " ".join(f"--field {s.name}=..." for s in missing)
        case_field = route.opens.case_field
        other = f", or link an existing case with --field {case_field}=REF" if case_field else ""
        raise TransitionNotAllowed(
            f"{trigger} opens a {route.target.name} case, which needs "
            f"{', '.join(s.describe() for s in missing)} that {ref} does not have: add {flags} to the "
            f"{trigger}{other}; nothing was written", ref=ref, trigger=trigger, field=missing[0].name,
            missing=[s.name for s in missing], workflow=route.target.name)
    return found


def write_link(s: Any, a: CaseState, a_id: int, b: CaseState, b_id: int, kind: str, reason: str, by: str,
               at: datetime) -> None:
    """Link case `a` to case `b` (`kind` as seen from `a`) and record it in both histories."""
    links_store.add(s, a_id, b_id, kind, reason, by, at)
    repo.record_event(s, a, LINK, at, by, reason, {"other": b.ref, "kind": kind})
    repo.record_event(s, b, LINK, at, by, reason, {"other": a.ref, "kind": inverse(kind)})


def complete_route(s: Any, route: Route, case: CaseState, case_id: int, move: Move, who: Identity,
                   open_case: Callable[[Any, WorkflowDefinition, str, Mapping[str, str], Identity, datetime, str], int]
                   ) -> str:
    """After the move: open the new case (or check the existing one) and link it; the other case's reference."""
    now = move.at
    moved = replace(case, state=move.dest, fields=move.fields, revision=case.revision + 1)
    reason = f"{move.trigger}: {route.target.title}"
    if route.existing is not None:
        other = repo.get_case_record(s, route.existing)
        if other.workflow != route.target.name:
            raise InvalidValue(f"{other.ref} is a {other.workflow} case, not {route.target.name}: give a "
                               f"{route.target.name} case, or route to {other.workflow}", ref=case.ref,
                               field=route.opens.case_field, value=route.existing)
        if other.case_id == case_id:
            raise InvalidValue(f"{case.ref} cannot be routed to itself", ref=case.ref, field=route.opens.case_field)
        if links_store.between(s, case_id, other.case_id) is not None:
            raise InvalidValue(f"{case.ref} and {other.ref} are already linked: route without "
                               f"{route.opens.case_field}, or unlink them first", ref=case.ref)
        write_link(s, moved, case_id, other.case, other.case_id, ROUTED_TO, reason, who.recorded, now)
        return other.ref
    opening = _opening_fields(route, case.ref, move.trigger, move.fields)
    target = route.target
    new_ref = routed_reference(case.ref, target.name, lambda r: repo.case_exists(s, r) is not None)
    new_id = open_case(s, target, new_ref, opening, who, now, f"opened by {move.trigger} of {case.ref}")
    write_link(s, moved, case_id, repo.get_case(s, new_ref), new_id, ROUTED_TO, reason, who.recorded, now)
    log.info("case.opened", ref=new_ref, workflow=target.name, version=target.version, actor=who.recorded,
             routed_from=case.ref)
    return new_ref


class LinkService:
    """Links made and removed by hand: joint reviews (a DHR and an LCSPR on the same incident), related cases."""

    def __init__(self, ctx: ServiceContext) -> None:
        self.ctx = ctx

    def _pair(self, s: Any, ref: str, other: str, actor: str | Identity, what: str,
              revision: int | None) -> tuple[CaseRecord, CaseRecord, Identity]:
        from reviewflow.engine.services.cases import check_revision, not_before

        a, b = repo.get_case_record(s, ref), repo.get_case_record(s, other)
        who = self.ctx.who(s, actor)
        limited = who if isinstance(actor, Identity) else None
        da = self.ctx.definition_in(s, a.workflow, a.version)
        db = self.ctx.definition_in(s, b.workflow, b.version)
        require_visible(s, limited, da, a)
        require_visible(s, limited, db, b)
        if a.case_id == b.case_id:
            raise InvalidValue(f"{ref} and {other} are the same case: give another case", ref=ref, value=other)
        allowed = tuple(dict.fromkeys([*da.open.roles, *db.open.roles]))
        if not who.roles & set(allowed):
            raise NotPermitted(f"{what} {a.ref} and {b.ref} needs a role that may open {a.workflow} or "
                               f"{b.workflow} cases ({', '.join(allowed)}); {who.name} has "
                               f"{', '.join(sorted(who.roles)) or 'no roles'}", ref=ref, allowed=allowed)
        check_revision(a, revision)
        now = self.ctx.clock()
        not_before(a.ref, repo.last_change(s, a.ref), now)
        not_before(b.ref, repo.last_change(s, b.ref), now)
        return a, b, who

    @staticmethod
    def _reason(reason: str, what: str) -> str:
        text = (reason or "").strip()
        if not text:
            raise InvalidValue(f"give the reason for {what} with --reason, e.g. 'DHR and LCSPR on the same "
                               "incident'", field="reason")
        return limits.check(text, "reason", limits.NOTE, f"reason for {what}")

    def link(self, ref: str, other: str, kind: str, reason: str, actor: str | Identity,
             revision: int | None = None) -> str:
        """Link case `ref` to case `other` (`kind` as seen from `ref`): the link is in both histories."""
        check_kind(kind)
        text = self._reason(reason, "linking")
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            a, b, who = self._pair(s, ref, other, actor, "linking", revision)
            found = links_store.between(s, a.case_id, b.case_id)
            if found is not None:
                raise InvalidValue(f"{a.ref} is already linked to {b.ref} ({KIND_LABELS[found]} it): unlink them "
                                   f"first with 'reviewflow case unlink {a.ref} {b.ref} --reason ...'", ref=a.ref,
                                   value=b.ref)
            self.ctx.write_time(s, now)
            write_link(s, a.case, a.case_id, b.case, b.case_id, kind, text, who.recorded, now)
        log.info("case.linked", ref=a.ref, other=b.ref, kind=kind, actor=who.recorded)
        return a.ref

    def unlink(self, ref: str, other: str, reason: str, actor: str | Identity, revision: int | None = None) -> str:
        """Remove the link between two cases, with the reason, in both histories."""
        text = self._reason(reason, "unlinking")
        now = self.ctx.clock()
        with self.ctx.transaction() as s:
            a, b, who = self._pair(s, ref, other, actor, "unlinking", revision)
            kind = links_store.between(s, a.case_id, b.case_id)
            if kind is None:
                raise InvalidValue(f"{a.ref} and {b.ref} are not linked: see the links with "
                                   f"'reviewflow case show {a.ref}'", ref=a.ref, value=b.ref)
            self.ctx.write_time(s, now)
            links_store.remove(s, a.case_id, b.case_id)
            repo.record_event(s, a.case, UNLINK, now, who.recorded, text, {"other": b.ref, "kind": kind})
            repo.record_event(s, b.case, UNLINK, now, who.recorded, text, {"other": a.ref, "kind": inverse(kind)})
        log.info("case.unlinked", ref=a.ref, other=b.ref, kind=kind, actor=who.recorded)
        return a.ref
