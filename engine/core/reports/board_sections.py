"""The Board report laid out: key figures, then sections of tables and charts, in the order the Board reads."""

from __future__ import annotations

from reviewflow.engine.core.learning import STATUSES
from reviewflow.engine.core.reports.board import BoardReport, RagCounts
from reviewflow.engine.core.reports.exceptions import BoardException
from reviewflow.engine.core.reports.grading_section import grading_section
from reviewflow.engine.core.reports.impact_section import impact_section
from reviewflow.engine.core.reports.layout import Bar, Chart, Layout, Section, Table, percent, stamp, words
from reviewflow.engine.core.reports.period import long_date
from reviewflow.engine.core.reports.returns_section import returns_section
from reviewflow.engine.core.reports.risks_section import risks_section
from reviewflow.engine.core.reports.stages import DUE_SOON_WORKING_DAYS, RAG_LABELS, RAG_ORDER

RAG_SERIES = tuple((status, RAG_LABELS[status]) for status in RAG_ORDER)
RAG_COLUMNS = tuple(RAG_LABELS[s] for s in RAG_ORDER)
SHORT = {"overdue": "overdue", "due_soon": "due soon", "on_time": "on time", "paused": "paused",
         "no_limit": "no limit"}


def _rag_cells(counts: RagCounts) -> tuple[int, ...]:
    return tuple(getattr(counts, status) for status in RAG_ORDER)


def _funnel_note(counts: RagCounts) -> str:
    """'3: 1 overdue, 2 on time': the bar's numbers in words."""
    parts = [f"{getattr(counts, k)} {SHORT[k]}" for k in RAG_ORDER if getattr(counts, k)]
    return f"{counts.total} open: {', '.join(parts)}"


def _key_figures(r: BoardReport) -> tuple[tuple[str, str], ...]:
    counts = r.all_open
    outstanding = sum(e.outstanding for e in r.exceptions)
    plans = r.actions.all_agencies
    return (
        ("Open reviews and audits", str(counts.total)),
        ("Overdue", str(counts.overdue)),
        (f"Due within {DUE_SOON_WORKING_DAYS} working days", str(counts.due_soon)),
        ("Paused", str(counts.paused)),
        ("Escalated to the Board, still outstanding", str(outstanding)),
        ("Actions overdue", str(plans.overdue)),
        ("Actions completed on time", percent(plans.percent_on_time)),
        ("Evidence awaiting verification", str(len(r.actions.awaiting_verification))),
        ("Opened in the period", str(len(r.opened))),
        ("Closed in the period", str(len(r.closed))),
    )


def _open_section(r: BoardReport) -> Section:
    by_type = Table("open_by_type", "Open reviews and audits by type", ("type", "kind", "open", *RAG_COLUMNS),
                    tuple((t.title, t.kind, t.counts.total, *_rag_cells(t.counts)) for t in r.by_type),
                    empty="No open reviews or audits.")
    funnel = Table("stage_funnel", "Open reviews and audits by stage", ("stage", "open", *RAG_COLUMNS),
                   tuple((s.label, s.counts.total, *_rag_cells(s.counts)) for s in r.funnel),
                   empty="No open reviews or audits.")
    paused = any(o.paused_since for o in r.open_reviews)
    cases = Table("open_reviews", "Every open review and audit, overdue first",
                  ("ref", "type", "stage", "RAG", "time limit", "due date", "working days overdue",
                   "days in stage", "days since opened",
                   *(("paused since", "pause reason", "pause expected end") if paused else ())),
                  tuple((o.ref, o.type_title, o.stage_label, o.rag_label, o.time_limit, o.due_date,
                         o.working_days_overdue, o.days_in_stage, o.age_days,
                         *((o.paused_since, o.pause_reason, o.pause_expected_end) if paused else ()))
                         for o in r.open_reviews),
                  empty="No open reviews or audits.", rag_column=3)
    chart = Chart("stage_funnel", "Stage funnel: open reviews and audits at each stage, by RAG status",
                  tuple(Bar(s.label, tuple((k, getattr(s.counts, k)) for k in RAG_ORDER), _funnel_note(s.counts))
                        for s in r.funnel), RAG_SERIES, "No open reviews or audits.")
    intro = (f"RAG status at {long_date(r.today)}: overdue once past the stage's time limit; due within "
             f"{DUE_SOON_WORKING_DAYS} working days (amber); on time (green); paused clocks are shown as paused.")
    return Section("Open reviews and audits by type and stage", intro, (by_type, funnel, cases), chart, "open")


def _movement_section(r: BoardReport) -> Section:
    opened = Table("opened", "Opened in the period", ("ref", "type", "opened", "closed", "outcome"),
                   tuple((m.ref, m.type_title, m.opened_on, m.closed_on, m.outcome) for m in r.opened),
                   empty="None opened in the period.")
    closed = Table("closed", "Closed in the period", ("ref", "type", "opened", "closed", "outcome"),
                   tuple((m.ref, m.type_title, m.opened_on, m.closed_on, m.outcome) for m in r.closed),
                   empty="None closed in the period.")
    backdated = Table("backdated", "Changes back-dated: dated well before they were recorded",
                      ("ref", "change", "dated", "recorded", "back-dated by", "by"),
                      tuple((m.ref, words(m.what), stamp(m.dated), stamp(m.recorded), m.backdated_by, m.by)
                            for m in r.backdated),
                      empty="No change in the period was back-dated.")
    return Section("Reviews opened and closed in the period", f"From {r.period.label}. A change dated more than "
                   "a few minutes before the server recorded it is listed as back-dated: the timeliness figures "
                   "that rest on it were not changed without trace.", (opened, closed, backdated),
                   anchor="movement")


def ladder_steps(e: BoardException) -> tuple[str, ...]:
    return tuple(f"{s.label} {s.fired_on.isoformat()}" for s in e.ladder)


def _exception_section(r: BoardReport) -> Section:
    table = Table("exceptions", "Escalated to the Board, oldest first",
                  ("ref", "type", "what", "escalated to the Board", "due date", "outstanding", "where it stands",
                   "ladder history"),
                  tuple((e.ref, e.type_title, e.subject, e.escalated_on, e.due_date,
                         "yes" if e.outstanding else "no", e.position, ladder_steps(e)) for e in r.exceptions),
                  empty="Nothing has reached the Board's level of the escalation ladder.")
    intro = ("Every stage and action that climbed to the top of its escalation ladder (the Board): still "
             "outstanding, or escalated or resolved in the period. The ladder history shows each level and when "
             "it was reached.")
    return Section("Exceptions: escalated to the Board", intro, (table,), anchor="exceptions")


def _actions_section(r: BoardReport) -> Section:
    plans = r.actions
    rows = (*plans.by_agency, plans.all_agencies)
    status = Table("actions_by_agency", "Actions by agency and status",
                   ("agency", *(words(s) for s in STATUSES), "total"),
                   tuple((a.agency, *(a.by_status[s] for s in STATUSES), a.total) for a in rows)
                   if plans.by_agency else (), empty="No actions recorded.")
    on_time = Table("actions_on_time", "Actions completed on time, by agency",
                    ("agency", "actions", "overdue", "completed on time", "completed late",
                     "past due, not completed", "% completed on time"),
                    tuple((a.agency, a.total, a.overdue, a.completed_on_time, a.completed_late, a.late_not_completed,
                           a.percent_on_time) for a in rows) if plans.by_agency else (),
                    empty="No actions recorded.")
    overdue = Table("overdue_actions", "Overdue actions, oldest due first",
                    ("ref", "action", "agency", "due date", "working days overdue", "status"),
                    tuple((o.ref, o.action, o.agency, o.due_date, o.working_days_overdue, words(o.status))
                          for o in plans.overdue), empty="No action is overdue.")
    redated = Table("redated_actions", "Actions re-dated, with the reason",
                    ("ref", "action", "agency", "first due date", "due date", "reason", "status"),
                    tuple((o.ref, o.action, o.agency, o.first_due_date, o.due_date, o.reason, words(o.status))
                          for o in plans.redated), empty="No open action has been re-dated.")
    pending = Table("evidence_awaiting_verification", "Evidence awaiting verification, oldest first",
                    ("ref", "action", "evidence", "agency", "kind", "submitted", "days waiting"),
                    tuple((p.ref, p.action, p.evidence, p.agency, words(p.kind), p.submitted_on, p.days_waiting)
                          for p in plans.awaiting_verification), empty="No evidence is waiting.")
    embedded = Table("embedded_actions", "Actions embedded, with their impact evidence",
                     ("ref", "action", "agency", "impact measured by", "measured on", "embedded on", "finding"),
                     tuple((e.ref, e.action, e.agency, words(e.impact_method), e.measured_on, e.embedded_on,
                            e.finding) for e in plans.embedded), empty="No action is embedded yet.")
    counts: dict[str, int] = {}
    for o in plans.overdue:
        counts[o.agency] = counts.get(o.agency, 0) + 1
    chart = Chart("overdue_by_agency", "Overdue actions by agency",
                  tuple(Bar(agency, (("overdue", n),), str(n)) for agency, n in
                        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))),
                  (("overdue", "Overdue actions"),), "No action is overdue.")
    intro = ("An action is completed when the sub-group verifies its evidence; on time when verified by its first "
             "due date (a re-dated action still counts against the date first agreed). The percentage counts "
             "actions completed, or past their first due date, and leaves out superseded and not implemented ones. "
             "Overdue: agreed or in progress and past the due date.")
    return Section("Action plans", intro, (status, on_time, overdue, redated, pending, embedded), chart, "actions")


def _learning_section(r: BoardReport) -> Section:
    themes = Table("themes", "Learning themes across reviews",
                   ("theme", "recommendations", "reviews", "recommendations made in the period"),
                   tuple((t.theme, t.recommendations, t.reviews, t.in_period) for t in r.themes),
                   empty="No recommendation has a theme yet.")
    chart = Chart("themes", "Learning themes: recommendations with each theme",
                  tuple(Bar(t.theme, (("theme", t.recommendations),), f"{t.recommendations} in {t.reviews} "
                            f"review{'s' if t.reviews != 1 else ''}") for t in r.themes),
                  (("theme", "Recommendations"),), "No recommendation has a theme yet.")
    return Section("Learning themes", "Counts of recommendations by theme, across every review.", (themes,), chart,
                   "themes")


def _dissemination_section(r: BoardReport) -> Section:
    kinds = Table("dissemination_by_kind", "Dissemination in the period by kind", ("kind", "count"),
                  tuple((words(k), n) for k, n in r.dissemination_by_kind.items()), empty="None in the period.")
    items = Table("dissemination", "Dissemination activity in the period", ("held on", "ref", "kind", "audience"),
                  tuple((s.held_on, s.ref, words(s.kind), s.audience) for s in r.dissemination),
                  empty="No dissemination recorded in the period.")
    return Section("Dissemination of learning", f"From {r.period.label}.", (kinds, items), anchor="dissemination")


METHOD = (
    "Reviews and audits are referred to by reference only.",
    "Working days exclude weekends and the bank holidays of each workflow's calendar.",
    f"RAG: Overdue once the stage's time limit has passed; Due within {DUE_SOON_WORKING_DAYS} working days "
    "(amber); On time (green); Paused while the clock is stopped; No time limit for stages without one. "
    "Every RAG cell is labelled in words.",
    "Exceptions: stages and actions whose escalation reached the top level of their ladder (the Board).",
)


def board_layout(r: BoardReport) -> Layout:
    header = (f"Period: {r.period.label} ({r.period.basis}).",
              f"Position at {long_date(r.today)}; produced {stamp(r.generated_at)} by reviewflow.")
    return Layout("Board report: safeguarding reviews and audits", header, _key_figures(r),
                  (_open_section(r), _movement_section(r), _exception_section(r), _actions_section(r),
                   returns_section(r), risks_section(r.risks, long_date(r.today)),
                   impact_section(r.impact, long_date(r.today)),
                   grading_section(r.grading, r.period), _learning_section(r), _dissemination_section(r)), METHOD)
