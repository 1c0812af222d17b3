"""`reviewflow settings ...`: the database's own settings (how far --now may date a change)."""

from __future__ import annotations

import click

from reviewflow.cli import acting, echo_json, json_option, service

NAME_CHOICE = click.Choice(["future-tolerance", "backdate-window"])


def _show(limits: object, as_json: bool) -> None:
    from reviewflow.engine.core.time_limits import NAMES, TimeLimits, format_limit

    assert isinstance(limits, TimeLimits)
    if as_json:
        echo_json({name: format_limit(limits.get(name)) for name in NAMES})
        return
    for name in NAMES:
        click.echo(f"{name:<18} {format_limit(limits.get(name))}")


@click.group()
def settings() -> None:
    """The database's settings: how far a change may be dated with --now from the server's own time."""


@settings.command("show")
@json_option
@click.pass_context
def settings_show(ctx: click.Context, as_json: bool) -> None:
    """Print the time settings: future-tolerance (how far ahead) and backdate-window (how far back)."""
    _show(service(ctx).time_limits(), as_json)


@settings.command("set")
@click.argument("name", type=NAME_CHOICE)
@click.argument("value")
@json_option
@click.pass_context
def settings_set(ctx: click.Context, name: str, value: str, as_json: bool) -> None:
    """Change a time setting (administrators only): VALUE as 10m, 2h, 90d, 2w or off (no limit)."""
    _show(service(ctx).set_time_limit(acting(), name, value), as_json)
    click.echo(f"{name} changed; the change is in the administration log", err=True)


COMMANDS = [settings]
