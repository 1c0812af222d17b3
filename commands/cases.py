"""`reviewflow case ...`: open cases, move them on, pause and resume their clock, and see where they stand.

The learning loop's `case recommend` and `case disseminate` are in `learning.py`, `case timeline` in `reports.py`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from reviewflow.cli import (
    acting,
    as_option,
    echo_fitted,
    echo_json,
    echo_table,
    field_option,
    field_values,
    json_option,
    service,
    table_output,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from reviewflow.engine.core.records import CaseView
    from reviewflow.engine.core.risks import Risk


@click.group()
def case() -> None:
    """Open cases, move them on, and see where they stand."""


def _show(ctx: click.Context, view: CaseView, as_json: bool, risks: Sequence[Risk] = ()) -> None:
    from reviewflow.engine.render.text import case_json, case_text

    overdue = service(ctx).working_days_overdue(view)
    if as_json:
        echo_json({**case_json(view, overdue), "risks": [r.view() for r in risks]} if risks
                  else case_json(view, overdue))
    else:
        from reviewflow.engine.render.risks import case_risk_lines

        echo_fitted("\n".join([case_text(view, overdue), *case_risk_lines(risks)]))


@case.command("open")
@click.argument("workflow_name", metavar="WORKFLOW")
@click.option("--ref", required=True, help="Case reference, e.g. SCR-2026-001 (never a child's name).")
@field_option
@click.option("--note", help="A note for the history.")
@click.option("--subgroup", help="The sub-group the case belongs to, when not its workflow's (e.g. audit).")
@click.option("--legacy", is_flag=True,
              help="Confirm a case of a legacy review type (e.g. serious_case_review) records a historical case.")
@as_option
@json_option
@click.pass_context
def case_open(ctx: click.Context, workflow_name: str, ref: str, fields: tuple[str, ...],
              note: str | None, subgroup: str | None, legacy: bool, actor: str | None, as_json: bool) -> None:
    """Open a case of WORKFLOW (in its workflow's sub-group, or in --subgroup)."""
    view = service(ctx).open_case(workflow_name, ref, acting(actor), field_values(fields), note, subgroup,
                                  legacy)
    _show(ctx, view, as_json)


@case.command("fire")
@click.argument("ref")
@click.argument("trigger")
@field_option
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def case_fire(ctx: click.Context, ref: str, trigger: str, fields: tuple[str, ...], note: str | None,
              actor: str | None, as_json: bool) -> None:
    """Move case REF on by firing TRIGGER."""
    cases = service(ctx)
    who = acting(actor)
    cases.fire(ref, trigger, who, field_values(fields), note)
    _show(ctx, cases.case(ref, who), as_json)


@case.command("show")
@click.argument("ref")
@as_option
@json_option
@click.pass_context
def case_show(ctx: click.Context, ref: str, actor: str | None, as_json: bool) -> None:
    """Show state, time in stage, due date, history, grades and the next possible steps."""
    rf = service(ctx)
    view = rf.case(ref, acting(actor))
    rules = rf.definition(view.workflow, view.version).grading
    if rules is None:
        _show(ctx, view, as_json, rf.risks(ref, acting(actor)))  # a risk register's risks (commands/risks.py)
        return
    from reviewflow.engine.render.grades import grade_json, grade_text
    from reviewflow.engine.render.text import case_json, case_text

    grades = rf.grades(ref, acting(actor))
    if as_json:
        echo_json({**case_json(view, rf.working_days_overdue(view)), "grades": [grade_json(g, rules) for g in grades]})
        return
    grade_lines = [f"    {grade_text(g, rules)}" for g in grades] or ["    none recorded"]
    echo_fitted("\n".join([case_text(view, rf.working_days_overdue(view)), "  grades:", *grade_lines]))


@case.command("pause")
@click.argument("ref")
@click.option("--reason", required=True,
              help="Why the clock stops: one of the workflow's pause reasons, e.g. criminal_proceedings, inquest, "
                   "police_request, family_liaison, other (with --note).")
@click.option("--expected-end", metavar="YYYY-MM-DD",
              help="The day the pause is expected to end: a reminder goes out on it.")
@click.option("--note", help="The text of the reason `other`, or a note with any reason.")
@as_option
@json_option
@click.pass_context
def case_pause(ctx: click.Context, ref: str, reason: str, expected_end: str | None, note: str | None,
               actor: str | None, as_json: bool) -> None:
    """Stop the stage's clock and its escalation, with a reason and the day it is expected to end."""
    _show(ctx, service(ctx).pause(ref, acting(actor), reason, expected_end=expected_end, note=note), as_json)


@case.command("link")
@click.argument("ref")
@click.argument("other")
@click.option("--kind", required=True, type=click.Choice(["joint_review", "related", "routed_from", "routed_to"]),
              help="What OTHER is to REF: a joint review, a related case, the case REF was routed from or to.")
@click.option("--reason", required=True, help="Why the cases are linked, e.g. 'DHR and LCSPR on the same incident'.")
@as_option
@json_option
@click.pass_context
def case_link(ctx: click.Context, ref: str, other: str, kind: str, reason: str, actor: str | None,
              as_json: bool) -> None:
    """Link case REF to case OTHER; both cases show the link and record it in their history."""
    _show(ctx, service(ctx).link_cases(ref, other, kind, reason, acting(actor)), as_json)


@case.command("unlink")
@click.argument("ref")
@click.argument("other")
@click.option("--reason", required=True, help="Why the link is removed.")
@as_option
@json_option
@click.pass_context
def case_unlink(ctx: click.Context, ref: str, other: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Remove the link between cases REF and OTHER, with the reason (both histories keep it)."""
    _show(ctx, service(ctx).unlink_cases(ref, other, reason, acting(actor)), as_json)


@case.command("resume")
@click.argument("ref")
@click.option("--note", help="A note for the history.")
@as_option
@json_option
@click.pass_context
def case_resume(ctx: click.Context, ref: str, note: str | None, actor: str | None, as_json: bool) -> None:
    """Restart a paused clock; the due date moves on by the time it was paused."""
    _show(ctx, service(ctx).resume(ref, acting(actor), note), as_json)


@case.command("list")
@click.option("--workflow", "workflow_name", help="Only this workflow.")
@click.option("--state", help="Only cases in this state.")
@click.option("--overdue", is_flag=True, help="Only open cases past their stage's time limit.")
@click.option("--open", "only_open", is_flag=True, help="Only open cases.")
@click.option("--theme", help="Only cases with a recommendation of this learning theme.")
@click.option("--agency", help="Only cases this agency takes part in.")
@click.option("--owner", metavar="ROLE", help="Only cases whose current stage this role owns, e.g. business_manager.")
@click.option("--mine", is_flag=True, help="Only cases whose current stage you own through a role you hold.")
@as_option
@json_option
@click.pass_context
def case_list(ctx: click.Context, workflow_name: str | None, state: str | None, overdue: bool,
              only_open: bool, theme: str | None, agency: str | None, owner: str | None, mine: bool,
              actor: str | None, as_json: bool) -> None:
    """List the cases you may see. An unknown state, theme or agency is refused with the nearest names."""
    from reviewflow.engine.render.list_tables import case_table
    from reviewflow.engine.render.text import case_json

    cases = service(ctx)
    views = cases.cases(workflow_name, state, overdue, include_closed=not only_open, actor=acting(actor),
                        theme=theme, agency=agency, owner=owner, mine=mine)
    if as_json:
        echo_json([case_json(v, cases.working_days_overdue(v)) for v in views])
        return
    echo_table(case_table(views, cases.working_days_overdue, table_output()))
    if not views:
        click.echo("no cases match", err=True)


COMMANDS = [case]
