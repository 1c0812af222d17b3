"""`reviewflow demo`: realistic cases walked through their lifecycles on a fresh SQLite file; with `--serve`, then
served as web pages with demo accounts to sign in as."""

from __future__ import annotations

import os
from pathlib import Path

import click

from reviewflow.cli import settings


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo database (default: a new temporary folder).")
@click.option("--serve", is_flag=True,
              help="Then serve the demo's web pages on 127.0.0.1 (as of its last simulated day) until Ctrl-C, "
                   "printing the demo accounts' sign-in names and passwords.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port to serve on, with --serve.")
@click.pass_context
def demo(ctx: click.Context, folder: Path | None, serve: bool, port: int) -> None:
    """Walk realistic cases through their lifecycles over simulated months ending today (or at --now), on a fresh
    SQLite file."""
    from reviewflow.engine.core.clock import SteppingClock, parse_instant
    from reviewflow.engine.services.context import system_clock
    from reviewflow.engine.services.demo import give_passwords, run_demo

    given = settings(ctx).now
    clock = SteppingClock(parse_instant(given) if given else system_clock())  # the story ends now
    path = run_demo(folder, click.echo, clock, given)
    if not serve:
        return
    from reviewflow.commands.serve import serve as serve_command
    from reviewflow.engine.services.facade import Reviewflow

    options = settings(ctx)
    options.db, options.now, options._service = f"sqlite:///{path}", clock.now.isoformat(), None
    options.db_given = True
    rf = Reviewflow.connect(options.db, clock)
    try:
        sign_ins = give_passwords(rf)
    finally:
        rf.db.dispose()
    url = f"http://127.0.0.1:{port}"
    click.echo(f"\nThe web pages, as of {clock.now:%Y-%m-%d}: open {url}/sign-in and sign in as one of")
    width = max(len(s.name) for s in sign_ins)
    for s in sign_ins:
        click.echo(f"  {s.name:<{width}}  password {s.password}   ({s.what})")
    click.echo("The passwords are new each time the demo runs. Stop the server with Ctrl-C.")
    os.environ["REVIEWFLOW_NOW_RUNS"] = "1"  # the served demo's clock runs on from its last day
    ctx.invoke(serve_command, host="127.0.0.1", port=port, workers=1, behind_proxy=False)


COMMANDS = [demo]
