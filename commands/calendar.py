"""`reviewflow calendar ...`: your private calendar feed of due dates."""

from __future__ import annotations

import click

from reviewflow.cli import acting, service


@click.group()
def calendar() -> None:
    """Your private calendar feed: the due dates of your stages and actions, for a calendar program."""


@calendar.command("url")
@click.option("--reset", is_flag=True, help="Make a new address; the old one stops working at once.")
@click.pass_context
def calendar_url(ctx: click.Context, reset: bool) -> None:
    """Make the address of your calendar feed and print it (shown once: it is kept only as a hash)."""
    rf = service(ctx)
    secret = rf.calendar_url_secret(acting(), reset=reset)
    click.echo(rf.calendar_url(secret))
    click.echo("subscribe to it in your calendar program; keep it private: anyone with it sees your due dates "
               "('reviewflow calendar url --reset' replaces it)", err=True)
    if not rf.settings.web.base_url:
        click.echo("[web] base_url is not set: the address above is where 'reviewflow serve' listens on this "
                   "machine (see docs/operations.md#web-addresses)", err=True)


COMMANDS = [calendar]
