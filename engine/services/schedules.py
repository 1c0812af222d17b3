"""Opening recurring reviews on time: each due period of each workflow's `schedule`, exactly once.

Which periods are due is worked out from the definitions and the `schedule_runs` table every time, so
nothing depends on a worker having run at the right moment: after downtime the missed periods are
opened late, oldest first, and `Reviewflow.open_scheduled` makes a period that two workers reach at
the same time open once.

A period that cannot open (most often because a case with its reference was opened by hand) is logged
once and tried again with a growing wait (`RETRY_FIRST`, doubling up to `RETRY_MOST`), not at every tick;
`schedule list` shows it with what to do, and `schedule cover` records that a hand-opened case is the
period's case, after which nothing more is tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from reviewflow.engine.core import limits
from reviewflow.engine.core.access import Identity
from reviewflow.engine.core.definition import Schedule, WorkflowDefinition
from reviewflow.engine.core.errors import CaseExists, InvalidValue, NotPermitted, ReviewflowError, StoreError
from reviewflow.engine.core.records import CaseView, ScheduleRun, StoredDefinition
from reviewflow.engine.core.recurring import (
    Period,
    case_fields,
    case_ref,
    catch_up_floor,
    describe,
    due_periods,
    next_period,
)
from reviewflow.engine.services.accounts import AccountService
from reviewflow.engine.services.cases import CaseService
from reviewflow.engine.services.context import ServiceContext
from reviewflow.store import repo, schedule_runs

log = structlog.get_logger("reviewflow.schedule")

LATE_AFTER = timedelta(hours=1)
"""A period opened more than this after its time is marked late (as `Reviewflow.open_scheduled` does)."""
RETRY_FIRST = timedelta(minutes=5)
"""How long a worker waits before trying again a period that could not open; the wait doubles each time..."""
RETRY_MOST = timedelta(hours=6)
"""... up to this."""
COVER_ROLES = ("business_manager",)
"""Who may record that a hand-opened case covers a period (administrators may too)."""


@dataclass(frozen=True)
class Opening:
    """A period's case that was opened (or, in a dry run, would be)."""

    workflow: str
    period: str
    ref: str
    scheduled_for: datetime
    late: bool


@dataclass(frozen=True)
class Failure:
    workflow: str
    period: str
    ref: str
    error: str


@dataclass
class ScheduleReport:
    now: datetime
    dry_run: bool
    opened: list[Opening] = field(default_factory=list)
    taken: list[Opening] = field(default_factory=list)
    """Periods another worker opened first, while this run was on its way to them."""
    failed: list[Failure] = field(default_factory=list)


@dataclass(frozen=True)
class Upcoming:
    """`schedule list`: what a scheduled workflow opens next, what it opened last, and what is overdue."""

    workflow: str
    title: str
    schedule: str
    next_period: str | None
    next_ref: str | None
    next_at: datetime | None
    last_ref: str | None
    last_opened_at: datetime | None
    last_late: bool
    due: list[Opening] = field(default_factory=list)
    blocked: list[Failure] = field(default_factory=list)
    """Due periods whose reference is already a case's (opened by hand?), with what to do."""


@dataclass(frozen=True)
class _Plan:
    definition: WorkflowDefinition
    schedule: Schedule
    floor: datetime
    last: ScheduleRun | None


@dataclass(frozen=True)
class _Retry:
    """A period that could not open: how many times, and when to try again."""

    failures: int
    next_at: datetime


def _exists_error(workflow: str, period: str, ref: str, existing: str) -> str:
    return (f"case {existing} already has the reference of {workflow}'s period {period} ({ref}): if it is that "
            f"period's review, record so with 'reviewflow schedule cover {workflow} {period} {existing}'; "
            "otherwise give the other case another reference")


class ScheduleRunner:
    """Opens the due periods of every scheduled workflow, and lists what opens next."""

    def __init__(self, ctx: ServiceContext, cases: CaseService, accounts: AccountService | None = None) -> None:
        self.ctx = ctx
        self.cases = cases
        self.accounts = accounts
        self._retry: dict[tuple[str, str], _Retry] = {}
        """Periods that failed to open in this process, by (workflow, period): tried again after a wait."""

    def _plans(self) -> list[_Plan]:
        """The newest version of each workflow that has a schedule, with its catch-up floor.

        The floor starts at the load of the oldest version in the unbroken run of scheduled versions
        ending at the newest, so adding a schedule (or restoring a removed one) never opens old periods.
        """
        with self.ctx.read() as s:
            stored = repo.all_definitions(s)
            runs = schedule_runs.runs(s)
        versions: dict[str, list[StoredDefinition]] = {}
        for row in sorted(stored, key=lambda r: r.version, reverse=True):
            versions.setdefault(row.name, []).append(row)
        plans = []
        for name, rows in sorted(versions.items()):
            d = self.ctx.parsed(rows[0])
            if d.schedule is None:
                continue
            since = rows[0].loaded_at
            for older in rows[1:]:
                if self.ctx.parsed(older).schedule is None:
                    break
                since = min(since, older.loaded_at)
            mine = [r for r in runs if r.workflow == name]
            last = max(mine, key=lambda r: r.scheduled_for) if mine else None
            plans.append(_Plan(d, d.schedule, catch_up_floor(d.schedule, since, last.scheduled_for if last else None),
                               last))
        return plans

    def _opening(self, plan: _Plan, p: Period, now: datetime) -> Opening:
        return Opening(plan.definition.name, p.key, case_ref(plan.schedule, p), p.opens_at,
                       now - p.opens_at > LATE_AFTER)

    def _open(self, plan: _Plan, p: Period, ref: str) -> CaseView | None:
        return self.cases.open_scheduled(plan.definition.name, ref, p.key, p.opens_at,
                                           fields=case_fields(plan.schedule, p))

    def _open_plan(self, plan: _Plan, report: ScheduleReport) -> None:
        """Open the plan's due periods oldest first; stop at the first that cannot open (it stays due, and is
        tried again after a wait that doubles at each failure)."""
        for p in due_periods(plan.schedule, plan.floor, report.now):
            item = self._opening(plan, p, report.now)
            if report.dry_run:
                report.opened.append(item)
                continue
            key = (item.workflow, item.period)
            waiting = self._retry.get(key)
            if waiting is not None and report.now < waiting.next_at:
                return  # it failed a moment ago: logged then, tried again at next_at
            try:
                view = self._open(plan, p, item.ref)
            except StoreError:
                raise  # the database, not this period: the worker's tick reports it and tries again
            except ReviewflowError as exc:
                error = str(exc).splitlines()[0]
                if isinstance(exc, CaseExists):
                    error = _exists_error(item.workflow, item.period, item.ref, str(exc.more.get("existing")))
                failures = waiting.failures + 1 if waiting else 1
                wait = min(RETRY_FIRST * 2 ** (failures - 1), RETRY_MOST)
                self._retry[key] = _Retry(failures, report.now + wait)
                report.failed.append(Failure(item.workflow, item.period, item.ref, error))
                log.error("schedule.open_failed", workflow=item.workflow, period=item.period, ref=item.ref,
                          error=error, failures=failures, retry_in_minutes=int(wait.total_seconds() // 60),
                          hint="the period stays due; 'reviewflow schedule list' says what to do")
                return
            self._retry.pop(key, None)
            if view is None:
                report.taken.append(item)
                log.info("schedule.already_opened", workflow=item.workflow, period=item.period, ref=item.ref)
            else:
                report.opened.append(item)

    def runs(self, workflow: str | None = None) -> list[ScheduleRun]:
        """The periods whose cases were opened (of every scheduled workflow, or one)."""
        with self.ctx.read() as s:
            return schedule_runs.runs(s, workflow)

    def open_due(self, dry_run: bool = False) -> ScheduleReport:
        """Open every period due by the service's `now` whose case is not open yet, each exactly once."""
        self.ctx.ensure_ready()
        report = ScheduleReport(self.ctx.clock(), dry_run)
        for plan in self._plans():
            self._open_plan(plan, report)
        log.info("schedule.run", opened=len(report.opened), taken=len(report.taken), failed=len(report.failed),
                 dry_run=dry_run)
        return report

    def upcoming(self) -> list[Upcoming]:
        """For each scheduled workflow: the next period, the last case opened, and periods due but not opened."""
        self.ctx.ensure_ready()
        now = self.ctx.clock()
        out = []
        for plan in self._plans():
            nxt = next_period(plan.schedule, max(now, plan.floor))
            last = plan.last
            out.append(Upcoming(
                workflow=plan.definition.name, title=plan.definition.title, schedule=describe(plan.schedule),
                next_period=nxt.key if nxt else None, next_ref=case_ref(plan.schedule, nxt) if nxt else None,
                next_at=nxt.opens_at if nxt else None, last_ref=last.case_ref if last else None,
                last_opened_at=last.opened_at if last else None, last_late=bool(last and last.late),
                due=(due := [self._opening(plan, p, now) for p in due_periods(plan.schedule, plan.floor, now)]),
                blocked=self._blocked(due[:1])))
        return out

    def _blocked(self, due: list[Opening]) -> list[Failure]:
        """The due periods (the oldest, which holds up the others) whose reference a case already has."""
        found = []
        with self.ctx.read() as s:
            for item in due:
                existing = repo.case_exists(s, item.ref)
                if existing is not None:
                    found.append(Failure(item.workflow, item.period, item.ref,
                                         _exists_error(item.workflow, item.period, item.ref, existing)))
        return found

    # --- covering a period with a case opened by hand -------------------------------------------------

    def cover(self, workflow: str, period: str, ref: str, by: Identity | None = None) -> ScheduleRun:
        """Record that case `ref`, opened by hand, is the case of `workflow`'s period `period` (the oldest due
        one, or the next when none is due): the period is then done, and no worker tries to open it."""
        limits.check(workflow, "workflow", limits.SCHEDULE_NAME, "schedule's name")
        who = self._may_cover(by, workflow)
        self.ctx.ensure_ready()
        now = self.ctx.clock()
        plan = next((p for p in self._plans() if p.definition.name == workflow), None)
        if plan is None:
            raise InvalidValue(f"workflow {workflow!r} has no `schedule`: see 'reviewflow schedule list'",
                               field="schedule", value=workflow)
        due = due_periods(plan.schedule, plan.floor, now)
        wanted = due[0] if due else next_period(plan.schedule, max(now, plan.floor))
        if wanted is None or wanted.key != period.strip():
            shown = wanted.key if wanted else "none"
            raise InvalidValue(f"{workflow}'s period to cover now is {shown} (its oldest period not opened), not "
                               f"{period!r}: cover the periods in order", field="period", value=period,
                               allowed=[wanted.key] if wanted else [])
        with self.ctx.transaction() as s:
            case = repo.get_case_record(s, ref)
            if case.workflow != workflow:
                raise InvalidValue(f"case {case.ref} is a {case.workflow} case, not a {workflow} one: only a case "
                                   f"of the scheduled workflow can cover its period", ref=case.ref,
                                   field="ref", value=ref)
            if not schedule_runs.claim(s, workflow, wanted.key, case.ref, wanted.opens_at, now, False):
                raise InvalidValue(f"{workflow}'s period {wanted.key} already has its case: see "
                                   "'reviewflow schedule list'", field="period", value=period)
            if self.accounts is not None:
                self.accounts.audit(s, who, "schedule.cover", f"{workflow} {wanted.key}", {"ref": case.ref})
        self._retry.pop((workflow, wanted.key), None)
        log.info("schedule.covered", workflow=workflow, period=wanted.key, ref=case.ref,
                 actor=who.name if who else "system")
        return ScheduleRun(workflow, wanted.key, case.ref, wanted.opens_at, now, False)

    def _may_cover(self, by: Identity | None, workflow: str) -> Identity | None:
        if by is None or self.accounts is None:
            return by
        who = self.accounts.refresh(by)
        if who.admin or who.acting_admin is not None or set(COVER_ROLES) & set(who.roles):
            return who
        raise NotPermitted(f"covering a period of {workflow} is for administrators and business managers; "
                           f"{who.name} is neither", user=who.name, allowed=COVER_ROLES)
