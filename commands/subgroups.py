"""`reviewflow subgroup ...`: the partnership's sub-groups (the case review sub-group, the audit sub-group...).

Anyone signed in may list them; adding and renaming are for administrators (the services refuse anyone else)."""

from __future__ import annotations

import click

from reviewflow.cli import acting, echo_json, echo_result, json_option, service


@click.group()
def subgroup() -> None:
    """The partnership's sub-groups: workflows and cases belong to one, and a role can be held for one only."""


@subgroup.command("add")
@click.argument("name")
@click.option("--title", required=True, help="What people call it, e.g. 'Case review sub-group'.")
@json_option
@click.pass_context
def subgroup_add(ctx: click.Context, name: str, title: str, as_json: bool) -> None:
    """Register sub-group NAME (administrators): lower-case letters, digits and underscores, e.g. case_review."""
    added = service(ctx).subgroup_add(name, title, by=acting())
    echo_result(added, as_json, f"added sub-group {added.name}: {added.title}")


@subgroup.command("list")
@json_option
@click.pass_context
def subgroup_list(ctx: click.Context, as_json: bool) -> None:
    """The sub-groups, with their titles."""
    found = service(ctx).subgroups(by=acting())
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo("no sub-groups: add one with 'reviewflow subgroup add NAME --title TITLE'")
    for g in found:
        click.echo(f"{g.name:<24} {g.title}")


@subgroup.command("rename")
@click.argument("name")
@click.option("--title", required=True, help="Its new title (its name stays: definitions and grants use it).")
@json_option
@click.pass_context
def subgroup_rename(ctx: click.Context, name: str, title: str, as_json: bool) -> None:
    """Change the title of sub-group NAME (administrators)."""
    changed = service(ctx).subgroup_rename(name, title, by=acting())
    echo_result(changed, as_json, f"sub-group {changed.name} is now titled: {changed.title}")


COMMANDS = [subgroup]
