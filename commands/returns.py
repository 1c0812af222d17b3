"""Agencies' returns on a case: `reviewflow case request`, `case return`, `case excuse` and `case returns`."""

from __future__ import annotations

import click

from reviewflow.cli import acting, as_option, echo_json, echo_lines, json_option, service
from reviewflow.commands.cases import case


def _today(ctx: click.Context) -> object:
    from reviewflow.engine.core.durations import local_date

    return local_date(service(ctx).clock())


@case.command("request")
@click.argument("ref")
@click.option("--agency", "agencies", multiple=True, required=True,
              help="A registered agency (or school) asked for its return; repeat for several.")
@click.option("--due", metavar="DATE", help="When the returns are due (default: the workflow's `returns: due`).")
@as_option
@json_option
@click.pass_context
def case_request(ctx: click.Context, ref: str, agencies: tuple[str, ...], due: str | None, actor: str | None,
                 as_json: bool) -> None:
    """Ask agencies for their returns on case REF; they take part in the case from now on."""
    found = service(ctx).request_returns(ref, acting(actor), agencies, due)
    if as_json:
        echo_json(found)
        return
    from reviewflow.engine.render.escape import printable

    due_on = sorted({r.due_date.isoformat() for r in found})
    click.echo(f"{ref}: returns requested of {', '.join(printable(r.agency) for r in found)}, due {', '.join(due_on)}")


@case.command("return")
@click.argument("ref")
@click.option("--agency", required=True, help="The agency whose return came in.")
@click.option("--date", "on", metavar="DATE", help="When it came in (default: today).")
@as_option
@json_option
@click.pass_context
def case_return(ctx: click.Context, ref: str, agency: str, on: str | None, actor: str | None, as_json: bool) -> None:
    """Mark an agency's return on case REF in."""
    found = service(ctx).mark_return_in(ref, acting(actor), agency, on)
    if as_json:
        echo_json(found)
        return
    from reviewflow.engine.render.escape import printable

    click.echo(f"{ref}: {printable(found.agency)}'s return marked in on {found.returned_on}")


@case.command("excuse")
@click.argument("ref")
@click.option("--agency", required=True, help="The agency whose return is excused.")
@click.option("--reason", required=True, help="Why it is excused (kept in the case's history).")
@as_option
@json_option
@click.pass_context
def case_excuse(ctx: click.Context, ref: str, agency: str, reason: str, actor: str | None, as_json: bool) -> None:
    """Excuse an agency's return on case REF, with a reason."""
    found = service(ctx).excuse_return(ref, acting(actor), agency, reason)
    if as_json:
        echo_json(found)
        return
    from reviewflow.engine.render.escape import printable

    click.echo(f"{ref}: {printable(found.agency)}'s return excused")


@case.command("returns")
@click.argument("ref")
@as_option
@json_option
@click.pass_context
def case_returns(ctx: click.Context, ref: str, actor: str | None, as_json: bool) -> None:
    """List the agencies asked for returns on case REF: requested, late, returned or excused."""
    from datetime import date

    from reviewflow.engine.render.returns import returns_lines

    found = service(ctx).returns(ref, acting(actor))
    today = _today(ctx)
    assert isinstance(today, date)
    if as_json:
        echo_json([{"agency": r.agency, "status": r.shown_status(today), "requested_on": r.requested_on,
                    "due_date": r.due_date, "returned_on": r.returned_on, "reason": r.reason,
                    "requested_by": r.requested_by} for r in found])
        return
    echo_lines(returns_lines(ref, found, today))


COMMANDS: list[click.Command] = []
"""The commands are added to `reviewflow case` above."""
