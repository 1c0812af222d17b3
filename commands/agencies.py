"""`reviewflow agency ...`: the partnership's register of agencies.

Anyone signed in may list it; adding and renaming are for administrators (the services refuse anyone else)."""

from __future__ import annotations

import click

from reviewflow.cli import acting, echo_json, echo_result, json_option, service


@click.group()
def agency() -> None:
    """The partnership's register of agencies: what an action's owner, a user or a recommendation may name."""


@agency.command("add")
@click.argument("name")
@json_option
@click.pass_context
def agency_add(ctx: click.Context, name: str, as_json: bool) -> None:
    """Register an agency (administrators)."""
    added = service(ctx).add_agency(name, by=acting())
    echo_result({"name": added}, as_json, f"registered agency {added}")


@agency.command("list")
@json_option
@click.pass_context
def agency_list(ctx: click.Context, as_json: bool) -> None:
    """The registered agencies, in the register's spelling."""
    names = service(ctx).agencies(by=acting())
    if as_json:
        echo_json([{"name": n} for n in names])
        return
    for name in names:
        click.echo(name)


@agency.command("rename")
@click.argument("old")
@click.argument("new")
@json_option
@click.pass_context
def agency_rename(ctx: click.Context, old: str, new: str, as_json: bool) -> None:
    """Rename a registered agency, and every action, user and case naming it (administrators); the cases'
    histories keep what they said."""
    renamed, counts = service(ctx).rename_agency(old, new, by=acting())
    if as_json:
        echo_json({"name": renamed, "changed": counts})
        return
    changed = ", ".join(f"{n} {table}" for table, n in counts.items())
    click.echo(f"renamed agency {old.strip()} to {renamed} ({changed})")


COMMANDS = [agency]
