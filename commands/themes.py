"""`reviewflow theme ...`: the partnership's list of learning themes that recommendations carry.

Anyone signed in may list them; adding, relabelling and retiring are for administrators (the services refuse
anyone else)."""

from __future__ import annotations

import click

from reviewflow.cli import acting, echo_json, echo_result, json_option, service


@click.group()
def theme() -> None:
    """The learning themes recommendations carry: a list kept by administrators, retired themes included."""


@theme.command("list")
@click.option("--active", "only_active", is_flag=True, help="Leave out retired themes.")
@json_option
@click.pass_context
def theme_list(ctx: click.Context, only_active: bool, as_json: bool) -> None:
    """The learning themes: key, label and description; retired ones are marked."""
    found = service(ctx).themes(by=acting(), include_retired=not only_active)
    if as_json:
        echo_json(found)
        return
    width = max((len(t.key) for t in found), default=0) + 2
    for t in found:
        mark = f"  (retired {t.retired_at.date()})" if t.retired_at else ""
        click.echo(f"{t.key:<{width}}{t.label}{mark}")


@theme.command("add")
@click.argument("key")
@click.option("--label", required=True, help="What people read, e.g. 'County lines'.")
@click.option("--description", help="One line saying what the theme covers.")
@json_option
@click.pass_context
def theme_add(ctx: click.Context, key: str, label: str, description: str | None, as_json: bool) -> None:
    """Add learning theme KEY (administrators): lower-case text recommendations will carry, e.g. 'county lines'."""
    added = service(ctx).theme_add(key, label, description, by=acting())
    echo_result(added, as_json, f"added learning theme {added.key!r}: {added.label}")


@theme.command("rename")
@click.argument("key")
@click.option("--label", required=True, help="Its new label (its key stays: recommendations carry it).")
@click.option("--description", help="A new one-line description.")
@json_option
@click.pass_context
def theme_rename(ctx: click.Context, key: str, label: str, description: str | None, as_json: bool) -> None:
    """Change the label of learning theme KEY (administrators)."""
    changed = service(ctx).theme_rename(key, label, description, by=acting())
    echo_result(changed, as_json, f"learning theme {changed.key!r} is now labelled: {changed.label}")


@theme.command("retire")
@click.argument("key")
@json_option
@click.pass_context
def theme_retire(ctx: click.Context, key: str, as_json: bool) -> None:
    """Retire learning theme KEY (administrators): it stays on old recommendations and in reports, and new
    recommendations refuse it."""
    retired = service(ctx).theme_retire(key, by=acting())
    echo_result(retired, as_json,
                f"retired learning theme {retired.key!r}: kept on old recommendations, refused for new ones")


COMMANDS = [theme]
