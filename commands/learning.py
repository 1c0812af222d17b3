"""The learning loop: `reviewflow case recommend`, `case disseminate` and `reviewflow action ...`.

Recommendations, action plans, evidence and its check, verification and the evaluation of impact.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reviewflow.cli import acting, as_option, echo_json, echo_result, echo_table, json_option, service, table_output
from reviewflow.commands.cases import case

if TYPE_CHECKING:
    from reviewflow.engine.core.records import Action


@case.command("recommend")
@click.argument("ref")
@click.option("--text", "text", required=True, help="The recommendation, as agreed.")
@click.option("--theme", "themes", multiple=True, help="A learning theme, e.g. neglect; repeat for several.")
@click.option("--agency", "agencies", multiple=True, help="An agency it applies to; repeat for several.")
@as_option
@json_option
@click.pass_context
def case_recommend(ctx: click.Context, ref: str, text: str, themes: tuple[str, ...], agencies: tuple[str, ...],
                   actor: str | None, as_json: bool) -> None:
    """Record a recommendation of case REF (numbered R1, R2, ...)."""
    number = service(ctx).recommend(ref, acting(actor), text, themes, agencies)
    echo_result({"ref": ref, "recommendation": number}, as_json,
                f"{ref}: recommendation {number} recorded; add its actions with "
                f"'reviewflow action add {ref} --rec {number} ...'")


@case.command("disseminate")
@click.argument("ref")
@click.option("--kind", required=True, metavar="KIND",
              help="briefing, seven_minute_briefing ('7-minute briefing'), training_session, newsletter, conference "
                   "or learning_summary.")
@click.option("--audience", required=True, help="Who the learning reached, e.g. 'GP practice leads'.")
@click.option("--date", "held_on", required=True, metavar="DATE", help="When it happened (YYYY-MM-DD).")
@click.option("--reference", help="Where the material is kept (a reference or link).")
@click.option("--reach", metavar="N", help="How many practitioners it reached (a whole number, 0 or more).")
@as_option
@json_option
@click.pass_context
def case_disseminate(ctx: click.Context, ref: str, kind: str, audience: str, held_on: str,
                     reference: str | None, reach: str | None, actor: str | None, as_json: bool) -> None:
    """Record that the learning of case REF was shared."""
    service(ctx).record_dissemination(ref, acting(actor), kind, audience, held_on, reference, reach=reach)
    if as_json:
        echo_json({"ref": ref, "recorded": "dissemination", "kind": kind, "audience": audience,
                   "held_on": held_on, "reference": reference, "reach": int(reach) if reach else None})
        return
    click.echo(f"{ref}: dissemination recorded")


@case.command("training")
@click.argument("ref")
@click.option("--theme", required=True, help="The learning theme the training addressed, e.g. neglect.")
@click.option("--attended", required=True, metavar="N", help="How many practitioners attended (1 or more).")
@click.option("--on", "held_on", required=True, metavar="DATE", help="When it was held (YYYY-MM-DD).")
@click.option("--course", help="The course or session, e.g. 'Neglect toolkit refresher'.")
@as_option
@json_option
@click.pass_context
def case_training(ctx: click.Context, ref: str, theme: str, attended: str, held_on: str, course: str | None,
                  actor: str | None, as_json: bool) -> None:
    """Record training attendance on a learning theme of case REF (a training session; its reach is how many
    attended)."""
    service(ctx).record_training(ref, acting(actor), theme, attended, held_on, course)
    echo_result({"ref": ref, "recorded": "training", "theme": theme, "attended": int(attended),
                 "held_on": held_on, "course": course},
                as_json, f"{ref}: training attendance recorded ({int(attended)} on {theme})")


def measure_options(command: Any) -> Any:
    """--baseline, --target, --unit and --lower-is-better / --higher-is-better: a success measure in figures."""
    options = (
        click.option("--baseline", metavar="N", help="The measure's value before the action (needs --target)."),
        click.option("--target", metavar="N", help="The value the action aims for (needs --baseline)."),
        click.option("--unit", metavar="UNIT", help="percent or number (the default)."),
        click.option("--lower-is-better/--higher-is-better", "lower_is_better", default=None,
                     help="Whether a lower value is better (e.g. re-referrals); higher is better by default."),
    )
    for option in reversed(options):
        command = option(command)
    return command


def _figures(baseline: str | None, target: str | None, unit: str | None, lower_is_better: bool | None) -> Any:
    from reviewflow.engine.core.measures import MeasureInput

    return MeasureInput(baseline, target, unit, lower_is_better)


@click.group("action")
def action_group() -> None:
    """Action plans: agree actions, submit and check evidence, verify, evaluate impact."""


def _action_out(ctx: click.Context, action: Action, as_json: bool) -> None:
    from reviewflow.engine.core.durations import local_date
    from reviewflow.engine.render.text import action_row

    echo_result(action, as_json, lambda: action_row(action, local_date(service(ctx).clock())))


@action_group.command("add")
@click.argument("ref")
@click.option("--rec", "recommendation", required=True, metavar="R", help="The recommendation, e.g. R1.")
@click.option("--description", required=True, help="What will be done.")
@click.option("--agency", required=True, help="The agency that owns the action.")
@click.option("--owner", metavar="USER", help="The registered person who owns it (told when it is overdue).")
@click.option("--due", required=True, metavar="DATE", help="Due date (YYYY-MM-DD).")
@click.option("--measure", default="", help="How success will be measured.")
@measure_options
@click.option("--past-due-ok", is_flag=True, help="Confirm a due date that is already past.")
@as_option
@json_option
@click.pass_context
def action_add(ctx: click.Context, ref: str, recommendation: str, description: str, agency: str,
               owner: str | None, due: str, measure: str, baseline: str | None, target: str | None,
               unit: str | None, lower_is_better: bool | None, past_due_ok: bool, actor: str | None,
               as_json: bool) -> None:
    """Agree an action for a recommendation of case REF (numbered A1, A2, ...)."""
    loop = service(ctx)
    number = loop.add_action(ref, acting(actor), recommendation, description, agency, due, owner, measure,
                             figures=_figures(baseline, target, unit, lower_is_better), past_due_ok=past_due_ok)
    _action_out(ctx, loop.action(ref, number), as_json)


@action_group.command("update")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--status", metavar="STATUS",
              help="in_progress, embedded, superseded or not_implemented (the last two need --reason).")
@click.option("--reason", help="Why (required for superseded, not_implemented and a new --due).")
@click.option("--due", metavar="DATE", help="A new due date (YYYY-MM-DD).")
@click.option("--owner", metavar="USER", help="A new owner (a registered user).")
@click.option("--agency", help="A new owning agency.")
@click.option("--measure", help="A new success measure.")
@measure_options
@click.option("--past-due-ok", is_flag=True, help="Confirm a new due date that is already past.")
@as_option
@json_option
@click.pass_context
def action_update(ctx: click.Context, ref: str, number: str, status: str | None, reason: str | None,
                  due: str | None, owner: str | None, agency: str | None, measure: str | None,
                  baseline: str | None, target: str | None, unit: str | None, lower_is_better: bool | None,
                  past_due_ok: bool, actor: str | None, as_json: bool) -> None:
    """Change action ACTION of case REF: its status, due date, owner or success measure."""
    action = service(ctx).update_action(ref, number, acting(actor), status, reason, due, owner, agency, measure,
                                        figures=_figures(baseline, target, unit, lower_is_better),
                                        past_due_ok=past_due_ok)
    _action_out(ctx, action, as_json)


@action_group.command("evidence")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--kind", required=True, metavar="KIND",
              help="audit_result, training_record, policy_change, practitioner_feedback or data.")
@click.option("--description", required=True, help="What the evidence shows.")
@click.option("--link", "reference", required=True, help="Where it is kept: a reference or link (no uploads).")
@as_option
@json_option
@click.pass_context
def action_evidence(ctx: click.Context, ref: str, number: str, kind: str, description: str, reference: str,
                    actor: str | None, as_json: bool) -> None:
    """Submit evidence for action ACTION of case REF (numbered E1, E2, ...)."""
    evidence = service(ctx).submit_evidence(ref, number, acting(actor), kind, description, reference)
    echo_result({"ref": ref, "action": number.upper(), "evidence": evidence}, as_json,
                f"{ref}: evidence {evidence} submitted for {number.upper()}; it awaits the sub-group's check")


@action_group.command("accept")
@click.argument("ref")
@click.argument("evidence", metavar="EVIDENCE")
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def action_accept(ctx: click.Context, ref: str, evidence: str, note: str | None, actor: str | None,
                  as_json: bool) -> None:
    """Accept evidence EVIDENCE (e.g. E1) of case REF."""
    status = service(ctx).decide_evidence(ref, evidence, acting(actor), True, note)
    echo_result({"ref": ref, "evidence": evidence.upper(), "decision": "accepted", "action_status": status},
                as_json, f"{ref}: evidence {evidence.upper()} accepted")


@action_group.command("reject")
@click.argument("ref")
@click.argument("evidence", metavar="EVIDENCE")
@click.option("--reason", required=True, help="Why it does not show the action is done.")
@as_option
@json_option
@click.pass_context
def action_reject(ctx: click.Context, ref: str, evidence: str, reason: str, actor: str | None,
                  as_json: bool) -> None:
    """Reject evidence EVIDENCE of case REF, with the reason; the owner is told."""
    status = service(ctx).decide_evidence(ref, evidence, acting(actor), False, reason)
    echo_result({"ref": ref, "evidence": evidence.upper(), "decision": "rejected", "reason": reason,
                 "action_status": status},
                as_json, f"{ref}: evidence {evidence.upper()} rejected; the action is now {status}")


@action_group.command("verify")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def action_verify(ctx: click.Context, ref: str, number: str, note: str | None, actor: str | None,
                  as_json: bool) -> None:
    """Verify action ACTION of case REF on its accepted evidence."""
    _action_out(ctx, service(ctx).verify_action(ref, number, acting(actor), note), as_json)


@action_group.command("evaluate")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--method", required=True, metavar="METHOD",
              help="re_audit, survey, data, practitioner_feedback or case_file_review.")
@click.option("--date", "measured_on", required=True, metavar="DATE", help="When impact was measured.")
@click.option("--finding", required=True, help="What the measurement showed.")
@click.option("--value", metavar="N", help="The measured value of the action's measure (it has a baseline and "
              "target).")
@as_option
@json_option
@click.pass_context
def action_evaluate(ctx: click.Context, ref: str, number: str, method: str, measured_on: str, finding: str,
                    value: str | None, actor: str | None, as_json: bool) -> None:
    """Record the impact evaluation of verified action ACTION of case REF."""
    action = service(ctx).evaluate_action(ref, number, acting(actor), method, measured_on, finding, value=value)
    _action_out(ctx, action, as_json)


@action_group.command("measure")
@click.argument("ref")
@click.argument("number", metavar="ACTION")
@click.option("--value", required=True, metavar="N", help="The measured value, in the measure's unit (e.g. 85).")
@click.option("--on", "measured_on", required=True, metavar="DATE", help="When it was measured (not in the future).")
@click.option("--note", help="Where the figure comes from, e.g. 'Q3 re-audit of 20 files'.")
@as_option
@json_option
@click.pass_context
def action_measure(ctx: click.Context, ref: str, number: str, value: str, measured_on: str, note: str | None,
                   actor: str | None, as_json: bool) -> None:
    """Record a measured value of the success measure of action ACTION of case REF."""
    _action_out(ctx, service(ctx).measure_action(ref, number, acting(actor), value, measured_on, note), as_json)


@action_group.command("list")
@click.argument("ref", required=False)
@click.option("--agency", help="Only actions owned by this agency.")
@click.option("--overdue", is_flag=True, help="Only actions past their due date and not yet evidenced.")
@click.option("--theme", help="Only actions of recommendations with this learning theme.")
@click.option("--status", metavar="STATUS", help="Only actions in this status.")
@click.option("--owner", metavar="USER", help="Only actions this person owns.")
@click.option("--mine", is_flag=True, help="Only actions you own.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "xlsx"]),
              help="text (the default), JSON, CSV, or an Excel workbook with dates as dates (needs --out).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the list to this file (readable by you only); the format follows its name.")
@as_option
@json_option
@click.pass_context
def action_list(ctx: click.Context, ref: str | None, agency: str | None, overdue: bool, theme: str | None,
                status: str | None, owner: str | None, mine: bool, fmt: str | None, out: Path | None,
                actor: str | None, as_json: bool) -> None:
    """List the actions you may see, across all cases or of case REF, soonest due first."""
    from reviewflow.engine.core.durations import local_date
    from reviewflow.engine.render.list_tables import action_table

    loop = service(ctx)
    rows = loop.actions(agency, overdue, theme, ref, status, actor=acting(actor), owner=owner, mine=mine)
    today = local_date(loop.clock())
    fmt = "json" if as_json else fmt or (out.suffix.lstrip(".").lower() if out is not None else "text")
    if fmt in ("csv", "xlsx") or out is not None:
        _action_file(rows, today, fmt, out, {"case": ref, "agency": agency, "theme": theme, "status": status,
                                             "owner": owner or ("me" if mine else None),
                                             "overdue": "only" if overdue else None})
        return
    if fmt == "json":
        echo_json(rows)
        return
    echo_table(action_table(rows, today, table_output()))
    if not rows:
        click.echo("no actions match", err=True)


def _action_file(rows: list[Any], today: Any, fmt: str, out: Path | None, filters: dict[str, str | None]) -> None:
    """`action list` as CSV or a workbook (to `out`, or CSV printed); JSON or text to `out`."""
    from reviewflow.engine.core.errors import InvalidValue
    from reviewflow.engine.core.reports.action_list import action_list_layout
    from reviewflow.engine.render.reports.tabular import render_csv
    from reviewflow.engine.render.reports.xlsx import render_xlsx
    from reviewflow.engine.render.text import action_row, to_json
    from reviewflow.engine.services.private_files import write_private

    shown = "; ".join(f"{k} {v}" for k, v in filters.items() if v)
    fmt = "text" if fmt == "txt" else fmt
    if fmt not in ("text", "json", "csv", "xlsx"):
        raise InvalidValue(f"cannot tell the format from {out}: name it .csv, .xlsx, .json or .txt, or give --format",
                           field="format", value=fmt)
    if fmt == "xlsx":
        if out is None:
            raise InvalidValue("an xlsx list is a file, not text: add --out FILE.xlsx", field="out")
        data: bytes | str = render_xlsx(action_list_layout(rows, today, shown))
    elif fmt == "csv":
        data = render_csv(action_list_layout(rows, today, shown), "actions")
    elif fmt == "json":
        data = to_json(rows) + "\n"
    else:
        data = "".join(action_row(a, today) + "\n" for a in rows)
    if out is None:
        click.echo(data, nl=False)
        return
    write_private(out, data, what=f"the list to {out}")
    click.echo(f"wrote {out} ({fmt}, {len(rows)} action{'s' if len(rows) != 1 else ''})", err=True)


COMMANDS = [action_group]
