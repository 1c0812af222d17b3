"""The annual report laid out: the figures the statutory yearly report needs, section by section."""

from __future__ import annotations

from reviewflow.engine.core.durations import local_date
from reviewflow.engine.core.reports.annual import AnnualReport, Timeliness
from reviewflow.engine.core.reports.grading_section import grading_section
from reviewflow.engine.core.reports.impact_section import impact_section, reach_section
from reviewflow.engine.core.reports.layout import Bar, Chart, Layout, Section, Table, percent, stamp, words
from reviewflow.engine.core.reports.period import long_date
from reviewflow.engine.core.reports.risks_section import risks_section
from reviewflow.engine.core.reports.sources_section import sources_section


def rapid_review_line(r: AnnualReport) -> str:
    rr = r.rapid_reviews
    if rr is None:
        return "No loaded workflow has a rapid review stage."
    return (f"Rapid reviews completed within {rr.time_limit} of notification (an expectation of Working Together "
            f"2023, counted from the notification date recorded): {rr.within} of {rr.completed} "
            f"({percent(rr.percent_within)}); {rr.overdue_at_end} still open past the limit at {long_date(r.as_of)}.")


LIMITS_NOTE = ("The time limits are the workflows' settings: a few restate statutory timescales (e.g. 5 working days "
               "to notify a serious incident), some are expectations of guidance (the rapid review's 15 working "
               "days), and the rest are local practice or defaults; each workflow file marks which.")


def _key_figures(r: AnnualReport) -> tuple[tuple[str, str], ...]:
    opened = {kind: sum(t.opened for t in r.by_type if t.kind == kind) for kind in ("review", "audit")}
    rr = r.rapid_reviews
    return (
        ("Reviews opened", str(opened["review"])),
        ("Audits opened", str(opened["audit"])),
        ("Reviews and audits closed", str(sum(t.closed for t in r.by_type))),
        ("Decisions not to review", str(len(r.decisions))),
        ("Recommendations made", str(r.recommendations.made_in_year)),
        ("Actions implemented (verified or later)", str(r.actions.implemented)),
        ("Actions embedded", str(r.actions.embedded)),
        ("Actions not progressed", str(r.actions.not_progressed)),
        ("Impact evaluations", str(len(r.impact))),
        (f"Rapid reviews within {rr.time_limit if rr else 'their time limit'} of notification "
         "(Working Together expectation)",
         f"{rr.within} of {rr.completed}" if rr else "–"),
    )


def _types(r: AnnualReport) -> Section:
    table = Table("reviews_by_type", "Reviews and audits by type",
                  ("type", "kind", "opened", "closed", "open at the end", "closed by outcome"),
                  tuple((t.title, t.kind, t.opened, t.closed, t.open_at_end,
                         "; ".join(f"{label} {n}" for label, n in t.outcomes.items()))
                        for t in r.by_type), empty="No reviews or audits in the year.")
    return Section("Reviews and audits by type", f"Open at the end: at {long_date(r.as_of)}.", (table,),
                   anchor="types")


def _decisions(r: AnnualReport) -> Section:
    counts = Table("decisions_by_outcome", "Decisions not to review, by outcome", ("outcome", "count"),
                   tuple(r.decisions_by_outcome.items()), empty="None in the year.")
    table = Table("decisions", "Decisions not to review, and why",
                  ("ref", "type", "decided on", "outcome", "why"),
                  tuple((x.ref, x.type_title, x.decided_on, x.outcome, x.reason) for x in r.decisions),
                  empty="No decision not to review in the year.")
    intro = ("Cases that ended in the year at no further action, or routed to another review type, with the "
             "rationale recorded for the decision.")
    return Section("Decisions not to review", intro, (counts, table), anchor="decisions")


def _learning(r: AnnualReport) -> Section:
    recs, acts = r.recommendations, r.actions
    rec_table = Table("recommendations", "Recommendations", ("figure", "count"), (
        ("Made in the year", recs.made_in_year),
        ("All recommendations made by the end", recs.total),
        ("Implemented (every action verified or later, or not progressed)", recs.implemented),
        ("of which embedded", recs.embedded),
        ("In progress", recs.in_progress),
        ("Not progressed (every action superseded or not implemented)", recs.not_progressed),
        ("No actions agreed", recs.no_actions)))
    act_table = Table("actions", "Actions", ("figure", "at the end", "during the year"), (
        ("Agreed", acts.agreed, acts.agreed_in_year),
        ("Implemented (verified or later)", acts.implemented, acts.implemented_in_year),
        ("of which embedded", acts.embedded, acts.embedded_in_year),
        ("Not progressed (superseded or not implemented)", acts.not_progressed, acts.not_progressed_in_year),
        ("In progress", acts.in_progress, None)))
    reasons = Table("not_progressed", "Actions not progressed, with reasons",
                    ("ref", "action", "agency", "status", "on", "reason"),
                    tuple((n.ref, n.action, n.agency, words(n.status), n.on, n.reason) for n in r.not_progressed),
                    empty="No action was superseded or not implemented.")
    intro = (f"Positions at {long_date(r.as_of)}. Implemented: verified on accepted evidence (or later: impact "
             "evaluated, embedded). Embedded: impact evaluated and confirmed embedded.")
    return Section("Recommendations and actions", intro, (rec_table, act_table, reasons), anchor="learning")


def _impact(r: AnnualReport) -> Section:
    methods = Table("impact_by_method", "Impact evaluations by method", ("method", "count"),
                    tuple((words(m), n) for m, n in r.impact_by_method.items()), empty="None in the year.")
    table = Table("impact", "Impact evidence", ("ref", "action", "agency", "method", "measured on", "finding"),
                  tuple((i.ref, i.action, i.agency, words(i.method), i.measured_on, i.finding) for i in r.impact),
                  empty="No impact evaluation was measured in the year.")
    return Section("Impact evidence", "Impact evaluations measured in the year.", (methods, table), anchor="impact")


def _timeliness_row(t: Timeliness) -> tuple[str | int | float | None, ...]:
    return (t.type_title, t.stage_label, t.time_limit, t.completed, t.within, t.late, t.percent_within,
            t.overdue_at_end)


def _timeliness(r: AnnualReport) -> Section:
    table = Table("timeliness", "Timeliness against time limits",
                  ("type", "stage", "time limit", "completed in the year", "within the limit", "late",
                   "% within", "open past the limit at the end"),
                  tuple(_timeliness_row(t) for t in r.timeliness), empty="No timed stage was completed in the year.")
    intro = (f"{rapid_review_line(r)} {LIMITS_NOTE} A stage is within its limit when it was completed before its "
             "due time, moved on by any time the clock was paused; withdrawals are not counted as completions.")
    return Section("Timeliness against time limits", intro, (table,), anchor="timeliness")


def _themes(r: AnnualReport) -> Section:
    table = Table("themes", "Learning themes of recommendations made in the year",
                  ("theme", "recommendations", "reviews"),
                  tuple((t.theme, t.recommendations, t.reviews) for t in r.themes),
                  empty="No recommendation made in the year has a theme.")
    chart = Chart("themes", "Learning themes: recommendations made in the year",
                  tuple(Bar(t.theme, (("theme", t.recommendations),), str(t.recommendations)) for t in r.themes),
                  (("theme", "Recommendations"),), "No recommendation made in the year has a theme.")
    return Section("Learning themes", "", (table,), chart, "themes")


METHOD = (
    "Reviews and audits are referred to by reference only.",
    "The reporting year is the calendar year (--year 2026) or the financial year from 1 April (--year 2026-27); "
    "the learning and improvement framework has the annual report due in June.",
    "Working days exclude weekends and the bank holidays of each workflow's calendar.",
)


def annual_layout(r: AnnualReport) -> Layout:
    position = (f"Positions at the end of the year, {long_date(r.as_of)}." if r.year_over else
                f"The year is not over: positions at {long_date(r.as_of)}.")
    header = (f"Reporting year: {r.period.basis}, {r.period.label}.",
              f"{position} Produced {stamp(r.generated_at)} by reviewflow.")
    return Layout(f"Annual report figures: {r.period.basis}", header, _key_figures(r),
                  (_types(r), _decisions(r), _learning(r), _impact(r),
                   impact_section(r.impact_measures, long_date(r.as_of)), reach_section(r.impact_measures),
                   _timeliness(r), _themes(r), sources_section(r.sources, long_date(r.as_of)),
                   grading_section(r.grading, r.period), risks_section(r.risks, long_date(local_date(r.generated_at)))),
                  METHOD)
