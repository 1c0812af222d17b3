"""Statutory clocks: `reviewflow case check` records the outcome of a case's progress check."""

from __future__ import annotations

import click

from reviewflow.cli import acting, as_option, echo_result, json_option, service
from reviewflow.commands.cases import case
from reviewflow.engine.core.milestones import OUTCOMES


@case.command("check")
@click.argument("ref")
@click.option("--outcome", required=True, metavar="|".join(OUTCOMES),
              help="What the check found: on_track, concerns or off_track.")
@click.option("--note", help="What the sub-group noted (a reference to its minutes, never a name).")
@click.option("--check", "check", metavar="NAME", help="Which progress check, when the stage has several.")
@as_option
@json_option
@click.pass_context
def case_check(ctx: click.Context, ref: str, outcome: str, note: str | None, check: str | None,
               actor: str | None, as_json: bool) -> None:
    """Record the outcome of the latest progress check of case REF that is waiting for one."""
    done = service(ctx).record_check(ref, acting(actor), outcome, note, check)
    echo_result({"ref": done.ref, "check": done.check, "occurrence": done.number, "outcome": done.outcome,
                 "at": done.at.isoformat()},
                as_json, f"{done.ref}: {done.label} {done.number} recorded as {done.outcome}")


COMMANDS: list[click.Command] = []
"""`case check` joins the `case` group of commands/cases.py."""
