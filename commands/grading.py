"""Grades on a case: `reviewflow case grade` and `case grades`."""

from __future__ import annotations

import click

from reviewflow.cli import acting, as_option, echo_json, echo_lines, echo_result, json_option, service
from reviewflow.commands.cases import case


@case.command("grade")
@click.argument("ref")
@click.option("--grade", required=True, help="A grade of the workflow's scale, e.g. good.")
@click.option("--agency", help="The registered agency graded (workflows graded per agency).")
@click.option("--standard", help="The standard the agency is graded against (e.g. training; Section 11).")
@click.option("--school", help="The school graded, as named (workflows graded per school; Section 175).")
@click.option("--note", help="A note for the history (a reference to the audit tool, never a child's name).")
@as_option
@json_option
@click.pass_context
def case_grade(ctx: click.Context, ref: str, grade: str, agency: str | None, standard: str | None,
               school: str | None, note: str | None, actor: str | None, as_json: bool) -> None:
    """Grade an agency, an agency against a standard, or a school on case REF; grading it again replaces the
    grade (the earlier one stays in the history)."""
    from reviewflow.engine.render.grades import grade_json, grade_text
    from reviewflow.engine.services.grading import GradeRequest

    rf = service(ctx)
    found = rf.record_grade(ref, acting(actor), GradeRequest(grade, agency, standard, school, note))
    rules = rf.definition(found.workflow, rf.case(ref, acting(actor)).version).grading
    echo_result(grade_json(found, rules), as_json, lambda: f"{ref}: {grade_text(found, rules)}")


@case.command("grades")
@click.argument("ref")
@click.option("--all", "earlier", is_flag=True, help="Also list the grades replaced by a later one.")
@as_option
@json_option
@click.pass_context
def case_grades(ctx: click.Context, ref: str, earlier: bool, actor: str | None, as_json: bool) -> None:
    """List the grades given on case REF: who or what was graded, the grade, when and by whom."""
    from reviewflow.engine.render.grades import grade_json, grade_lines

    rf = service(ctx)
    who = acting(actor)
    view = rf.case(ref, who)
    rules = rf.definition(view.workflow, view.version).grading
    found = rf.grades(ref, who, earlier)
    if as_json:
        echo_json([grade_json(g, rules) for g in found])
        return
    echo_lines(grade_lines(ref, found, rules))


COMMANDS: list[click.Command] = []
"""The commands are added to `reviewflow case` above."""
