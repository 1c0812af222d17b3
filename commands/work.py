"""`reviewflow my`: what is waiting on me."""

from __future__ import annotations

import click

from reviewflow.cli import acting, as_option, echo_json, json_option, service


@click.command("my")
@as_option
@json_option
@click.pass_context
def my(ctx: click.Context, actor: str | None, as_json: bool) -> None:
    """Show what is waiting on you: stages you own through your roles, your and your agency's actions, and
    evidence awaiting your decision; overdue first."""
    from reviewflow.engine.render.work_text import my_work_json, my_work_lines

    work = service(ctx).my_work(acting(actor))
    if as_json:
        echo_json(my_work_json(work))
        return
    for line in my_work_lines(work):
        click.echo(line)


COMMANDS = [my]
