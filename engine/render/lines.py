"""The lines a command prints for a result, in the order it prints them.

A `Line` with `err` set goes to standard error: a summary, a warning or a problem, kept apart from the
output proper so that can be piped. Results defined by the services are read by their attributes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reviewflow.engine.core.definition import WorkflowDefinition
from reviewflow.engine.core.errors import Problem
from reviewflow.engine.core.records import AuditReport, OutboxEntry
from reviewflow.engine.render.text import local, printable, problems_json

SCHEDULE_DUE_SHOWN = 5
"""`schedule list` names this many periods due per workflow; --json gives them all."""


@dataclass(frozen=True)
class Line:
    text: str
    err: bool = False


def load_line(result: Any, source: object | None = None) -> str:
    """'loaded    minimal v1 (note)', and ' from FILE' when it came from a file named on the command line."""
    line = f"{result.status:<9} {result.name} v{result.version}" + (f" ({result.note})" if result.note else "")
    return line if source is None else f"{line} from {source}"


def warning_lines(problems: Iterable[Problem]) -> list[Line]:
    """Each warning of a definition that loads but cannot work as written, on standard error."""
    return [Line(str(p), err=True) for p in problems]


# --- workflow validate ----------------------------------------------------------------------------

def validation_item(file: str, definition: WorkflowDefinition | None = None,
                    problems: Iterable[Problem] = (), warnings: Iterable[Problem] = ()) -> dict[str, Any]:
    """One file's entry in the `workflow validate` report: valid with a summary and its warnings, or its
    problems."""
    if definition is not None:
        summary = f"{definition.name} v{definition.version}: {len(definition.states)} states, " \
                  f"{len(definition.transitions)} transitions"
        return {"file": file, "valid": True, "summary": summary, "problems": [],
                "warnings": problems_json(warnings)}
    return {"file": file, "valid": False, "problems": problems_json(problems), "warnings": []}


def validation_lines(report: Sequence[dict[str, Any]]) -> list[Line]:
    """'ok: FILE (summary)' for each valid file; each problem and their count on standard error."""
    lines: list[Line] = []
    for item in report:
        if item["valid"]:
            lines.append(Line(f"ok: {item['file']} ({item['summary']})"))
        lines.extend(Line(str(Problem(**p)), err=True) for p in item["problems"])
        lines.extend(Line(str(Problem(**p)), err=True) for p in item.get("warnings", ()))
    if not all(item["valid"] for item in report):
        lines.append(Line(f"{sum(len(i['problems']) for i in report)} problem(s) found", err=True))
    return lines


# --- escalation, the outbox and schedules -----------------------------------------------------------

def returns_checked(report: Any) -> str:
    """', 2 late return(s)' when the sweep looked at late agency returns (engine/services/returns_sweep.py)."""
    count = getattr(report, "returns", 0)
    return f", {count} late return(s)" if count else ""


def sweep_lines(report: Any, dry_run: bool) -> list[Line]:
    """Each escalation fired (or that would fire), then how many, when and over how many cases."""
    lines = [Line(f"{f.ref:<16} {f.label:<24} {f.reason}; tells {', '.join(f.roles)} "
                  f"({', '.join(f.recipients) or 'nobody registered'})") for f in report.fired]
    verb = "would fire" if dry_run else "fired"
    lines.append(Line(f"{len(report.fired)} escalation(s) {verb} at {local(report.now)} "
                      f"({report.cases} case(s){returns_checked(report)} checked)", err=True))
    return lines


def outbox_lines(rows: Sequence[OutboxEntry]) -> list[Line]:
    lines = []
    for r in rows:
        error = f"  last error: {printable(r.last_error)}" if r.last_error else ""
        lines.append(Line(f"{r.id:>6} {r.status:<8} {r.channel:<8} {r.recipient:<14} {r.ref or '-':<16} "
                          f"{r.event:<16} attempts {r.attempts}, created {local(r.created_at)}{error}"))
    if not rows:
        lines.append(Line("no notifications match", err=True))
    return lines


def retry_lines(count: int, asked: int) -> list[Line]:
    """How many failed notifications were queued again; a warning when some IDs given were not failed ones."""
    lines = [Line(f"{count} notification(s) queued again")]
    if asked and count < asked:
        lines.append(Line(f"{asked - count} of the IDs given are not failed notifications: "
                          "see 'reviewflow outbox list --status failed'", err=True))
    return lines


def schedule_lines(rows: Sequence[Any]) -> list[Line]:
    """Each scheduled workflow's next and last case and the periods due but not opened."""
    lines = []
    for r in rows:
        last = f"{r.last_ref} opened {local(r.last_opened_at)}{' (late)' if r.last_late else ''}" \
            if r.last_ref else "none yet"
        lines.append(Line(f"{r.workflow:<30} {r.schedule:<34} next {r.next_ref or '-'} at {local(r.next_at)}; "
                          f"last {last}"))
        lines.extend(Line(f"{'':<30} DUE NOW, not opened: {d.ref} (period {d.period}, due {local(d.scheduled_for)})")
                     for d in r.due[:SCHEDULE_DUE_SHOWN])
        lines.extend(Line(f"{'':<30} CANNOT OPEN {b.ref}: {b.error}") for b in getattr(r, "blocked", ()))
        if len(r.due) > SCHEDULE_DUE_SHOWN:
            lines.append(Line(f"{'':<30} ... and {len(r.due) - SCHEDULE_DUE_SHOWN} more (see --json)"))
    due = sum(len(r.due) for r in rows)
    if due:
        lines.append(Line(f"{due} period(s) due and not opened: run 'reviewflow schedule run', or start the worker "
                          "('reviewflow run')", err=True))
    if not rows:
        lines.append(Line("no loaded workflow has a `schedule`", err=True))
    return lines


def schedule_run_lines(report: Any, dry_run: bool) -> list[Line]:
    """The cases opened (or that would open); periods taken by another worker or not opened; the count."""
    verb = "would open" if dry_run else "opened"
    lines = []
    for o in report.opened:
        late = f" (late: due {local(o.scheduled_for)})" if o.late else ""
        lines.append(Line(f"{verb:<10} {o.ref:<20} {o.workflow}, period {o.period}{late}"))
    lines.extend(Line(f"already opened by another worker: {t.ref} ({t.workflow}, period {t.period})", err=True)
                 for t in report.taken)
    lines.extend(Line(f"not opened: {f.ref} ({f.workflow}, period {f.period}): {f.error}", err=True)
                 for f in report.failed)
    lines.append(Line(f"{len(report.opened)} case(s) {verb} at {local(report.now)}", err=True))
    return lines


# --- audit ----------------------------------------------------------------------------------------

def audit_json(report: AuditReport) -> dict[str, Any]:
    return {"ok": report.ok, "cases": report.cases, "rows": report.rows, "head_seq": report.head_seq,
            "head_hash": report.head_hash, "findings": [str(f) for f in report.findings],
            "chain_problem": report.chain_problem}


def audit_lines(report: AuditReport) -> list[Line]:
    """Each altered row or chain, or 'ok' with the number of rows and cases and the chain's head."""
    lines = [Line(f"ALTERED {finding}") for finding in report.findings]
    if report.chain_problem:
        lines.append(Line(f"ALTERED database chain: {report.chain_problem}"))
    if report.ok:
        lines.append(Line(f"ok: {report.rows} sealed rows in {report.cases} case(s) verified; "
                          f"chain head {report.head_seq}:{report.head_hash[:16]}"))
    return lines


# --- import ---------------------------------------------------------------------------------------

def dump_import_lines(result: Any, file: object, dry_run: bool) -> list[Line]:
    """What a dump brought in (or would), table by table."""
    lines = [Line(f"{'would import' if dry_run else 'imported'} {sum(result.counts.values())} rows from {file} "
                  f"(exported {result.exported_at} by reviewflow {result.reviewflow_version})")]
    lines.extend(Line(f"  {name:<22} {count:>8}") for name, count in result.counts.items() if count)
    if dry_run:
        lines.append(Line("dry run: nothing written", err=True))
    return lines


def tracker_lines(report: Any, file_name: str, dry_run: bool, all_or_nothing: bool) -> list[Line]:
    """Each bad row, who must be registered, each change to a case already in the database, what was imported
    (or would be), and what became of the bad rows."""
    lines = [Line(str(problem), err=True) for problem in report.problems]
    lines += _owner_lines(report, dry_run)
    lines += [Line(printable(change)) for change in report.changes]
    counts = (f"{report.cases} case(s), {report.recommendations} recommendation(s) and {report.actions} action(s) "
              f"from {file_name} ({report.rows} rows)")
    if report.updated or report.unchanged:
        counts += f"; {report.updated} case(s) already here {'would be ' if dry_run else ''}updated, " \
                  f"{report.unchanged} unchanged"
    if report.cases or report.updated or report.unchanged or not report.problems:
        lines.append(Line(f"{'would import' if dry_run else 'imported'} {counts}"
                          + ("; nothing written (dry run)" if dry_run else "")))
        lines += _theme_lines(report, dry_run, all_or_nothing)
    if report.problems and all_or_nothing:
        lines.append(Line(f"{len(report.bad_rows)} bad row(s): nothing {'would be ' if dry_run else ''}imported (all "
                          "or nothing); fix them and run again, or use --per-row to import the cases whose rows are "
                          "all good", err=True))
    elif report.problems:
        skipped = f"; rows {', '.join(map(str, report.skipped))} belong to a case with a bad row" \
            if report.skipped else ""
        lines.append(Line(f"{len(report.bad_rows)} bad row(s) not imported{skipped}", err=True))
    return lines


def _theme_lines(report: Any, dry_run: bool, all_or_nothing: bool) -> list[Line]:
    """The learning themes the sheet names that were not on the partnership's list: the import adds them."""
    if not getattr(report, "new_themes", None) or not (report.cases or report.updated) or (
            report.problems and all_or_nothing):
        return []
    return [Line(f"{'would add' if dry_run else 'added'} to the list of learning themes: "
                 f"{', '.join(printable(t) for t in report.new_themes)} (see 'reviewflow theme list')")]


def _owner_lines(report: Any, dry_run: bool) -> list[Line]:
    """The action owners the sheet names who are not registered: registered by --create-owners, or listed with
    how to register them."""
    if not report.missing_owners:
        return []
    if report.created_owners:
        verb = "would register" if dry_run else "registered"
        return [Line(f"{verb} {printable(m.name)} as an action owner of {printable(m.agency)} (rows "
                     f"{', '.join(map(str, m.rows))})") for m in report.missing_owners]
    lines = [Line(f"{len(report.missing_owners)} action owner(s) named in the sheet are not registered users:",
                  err=True)]
    lines += [Line(f"  {printable(m.name)} ({printable(m.agency)}): row(s) {', '.join(map(str, m.rows))}", err=True)
              for m in report.missing_owners]
    lines.append(Line("register them with 'reviewflow user import users.csv' (name, email, agency, roles: see "
                      "docs/import-export.md), or run the import again with --create-owners", err=True))
    return lines


# --- people ----------------------------------------------------------------------------------------

def user_import_lines(report: Any) -> list[Line]:
    """One line per person of an imported list, then the totals (what would happen, in a dry run)."""
    verbs = {"added": "add", "granted": "grant", "unchanged": "unchanged"}
    lines = []
    for p in report.people:
        status = verbs[p.status] if report.dry_run and p.status != "unchanged" else p.status
        roles = f": {', '.join(p.roles)}" if p.roles else ""
        lines.append(Line(f"{status:<9} {printable(p.name)}{roles}"))
    if report.dry_run:
        summary = (f"dry run, nothing written: {report.count('added')} to add, {report.count('granted')} to gain "
                   f"roles, {report.count('unchanged')} unchanged")
    else:
        summary = (f"{report.count('added')} added, {report.count('granted')} gained roles, "
                   f"{report.count('unchanged')} unchanged")
    lines.append(Line(summary, err=True))
    return lines
