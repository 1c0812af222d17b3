"""`reviewflow demo`: realistic cases walked through their lifecycles on a fresh SQLite file."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the demo database (default: a new temporary folder).")
def demo(folder: Path | None) -> None:
    """Walk realistic cases through their lifecycles over simulated months, on a fresh SQLite file."""
    from reviewflow.engine.services.demo import run_demo

    run_demo(folder, click.echo)


COMMANDS = [demo]
