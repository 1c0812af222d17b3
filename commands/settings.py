"""`reviewflow settings ...`: the database's own settings (how far --now may date a change), and where the settings
file and the database are found."""

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
    """The database's settings (how far a change may be dated with --now), and where the settings file and the
    database are found."""


@settings.command("paths")
@json_option
@click.pass_context
def settings_paths(ctx: click.Context, as_json: bool) -> None:
    """Where the settings file and the database are found, and why (each place looked in, in order)."""
    import os
    from pathlib import Path

    from reviewflow.cli import settings as options
    from reviewflow.engine.services.locations import config_candidates, find_config, find_database, shown

    cwd = Path.cwd()
    given = options(ctx)
    config = find_config(given.config, cwd, os.environ)
    database = find_database(given.db if given.db_given else None, config, cwd, os.environ)
    looked = [str(path) for path, _where in config_candidates(cwd, os.environ)]
    if as_json:
        echo_json({"settings_file": {"path": config.value, "from": config.source, "looked_in": looked},
                   "database": {"url": shown(database.value), "from": database.source}})
        return
    click.echo(f"settings file  {config.value or '(none)'}  [{config.source}]")
    click.echo(f"database       {shown(database.value)}  [{database.source}]")


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
