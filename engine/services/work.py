"""What is waiting on one person: the stages they own through their roles, the actions they or their agency
own, and the evidence awaiting their decision. Overdue first, then soonest due."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from reviewflow.engine.core.access import Identity, agency_key, sees_all_of
from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.learning import WORKING, is_overdue
from reviewflow.engine.core.records import Action, CaseView, Evidence
from reviewflow.engine.core.subgroups import narrow
from reviewflow.engine.services.cases import CaseService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.engine.services.learning import LearningService
from reviewflow.store import subgroups as subgroup_store

_NEVER = datetime.max.replace(tzinfo=UTC)
"""Sorts a stage with no due date after those with one."""


@dataclass(frozen=True)
class EvidenceToDecide:
    action: Action
    evidence: Evidence


@dataclass
class MyWork:
    """Everything waiting on one person, as of `today`."""

    who: Identity
    today: date
    stages: list[CaseView] = field(default_factory=list)
    actions: list[Action] = field(default_factory=list)
    evidence: list[EvidenceToDecide] = field(default_factory=list)

    @property
    def overdue_stages(self) -> int:
        return sum(v.overdue for v in self.stages)

    @property
    def overdue_actions(self) -> int:
        return sum(is_overdue(a.facts(), self.today) for a in self.actions)

    @property
    def count(self) -> int:
        return len(self.stages) + len(self.actions) + len(self.evidence)


class WorkService:
    def __init__(self, ctx: ServiceContext, cases: CaseService, learning: LearningService) -> None:
        self.ctx = ctx
        self.cases = cases
        self.learning = learning

    def my_work(self, who: Identity) -> MyWork:
        """What waits on `who` (given by a front end, or a trusted name turned into an Identity)."""
        with self.ctx.read() as s:
            me = self.ctx.who(s, who, write=False)
        today = local_date(self.ctx.clock())
        definitions = self.ctx.all_definitions()
        work = MyWork(me, today)
        for view in self.cases.list(include_closed=False, actor=me):
            d = definitions[(view.workflow, view.version)]
            owner = d.states[view.state].owner
            if owner and owner in narrow(me, view.subgroup).roles:
                work.stages.append(view)
        work.stages.sort(key=lambda v: (not v.overdue, v.paused_at is not None, v.due_at or _NEVER, v.ref))
        visible = self.learning.actions(actor=me)
        mine = agency_key(me.agency) if me.agency else None
        work.actions = sorted(
            (a for a in visible if a.status in WORKING
             and (a.owner == me.name or (mine is not None and agency_key(a.owner_agency) == mine))),
            key=lambda a: (not is_overdue(a.facts(), today), a.due_date, a.ref, a.number))
        newest = {name: d for (name, _v), d in sorted(definitions.items())}
        with self.ctx.read() as s:
            groups = subgroup_store.of_refs(s, [a.ref for a in visible])
        for a in visible:
            found = newest.get(a.workflow)
            there = narrow(me, groups.get(a.ref))  # a role held for another sub-group decides nothing here
            if found is None or not there.roles & set(found.learning.verify) or not sees_all_of(there, found):
                continue
            work.evidence.extend(EvidenceToDecide(a, e) for e in a.evidence if e.status == "submitted")
        work.evidence.sort(key=lambda item: (item.evidence.submitted_at, item.action.ref))
        return work

