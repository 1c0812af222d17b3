"""Where the settings file and the database are found when a command is not told.

The settings file: `--config` (or `$REVIEWFLOW_CONFIG`), else `reviewflow.toml` in the current folder, else the
user's configuration folder, else the machine's (platformdirs: `~/.config/reviewflow/reviewflow.toml` and
`/etc/xdg/reviewflow/reviewflow.toml` on Linux). The database: `--db` (or `$REVIEWFLOW_DB`), else `[database]
url` in the settings file, else `reviewflow.db` in the current folder if it is there, else `reviewflow.db` in the
user's data folder if it is there (`~/.local/share/reviewflow/` on Linux), else a new `reviewflow.db` in the
current folder. Each answer says where it came from (`reviewflow settings paths`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reviewflow.engine.core.errors import InvalidValue

APP = "reviewflow"
CONFIG_NAME = "reviewflow.toml"
DATABASE_NAME = "reviewflow.db"


@dataclass(frozen=True)
class Located:
    """A file or URL found, and where from (a sentence fragment: 'the --db option', 'the current folder')."""

    value: str | None
    source: str


def _user_config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP))


def _site_config_dir() -> Path:
    from platformdirs import site_config_dir

    return Path(site_config_dir(APP))


def _user_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP))


def config_candidates(cwd: Path, env: Mapping[str, str]) -> list[tuple[Path, str]]:
    """The settings files looked for, in order, with how each place is described."""
    return [(cwd / CONFIG_NAME, "the current folder"),
            (_user_config_dir() / CONFIG_NAME, "your configuration folder"),
            (_site_config_dir() / CONFIG_NAME, "this machine's configuration folder")]


def find_config(given: Path | None, cwd: Path, env: Mapping[str, str]) -> Located:
    """The settings file in use: the one given, else the first of `config_candidates` that exists."""
    if given is not None:
        source = "$REVIEWFLOW_CONFIG" if env.get("REVIEWFLOW_CONFIG") == str(given) else "the --config option"
        return Located(str(given), source)
    for path, where in config_candidates(cwd, env):
        if path.is_file():
            return Located(str(path), where)
    return Located(None, "none found (looked in " + ", ".join(str(p) for p, _ in config_candidates(cwd, env)) + ")")


def _database_from(config: Located) -> str | None:
    if config.value is None:
        return None
    path = Path(config.value)
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None  # reading the settings proper reports the problem with the file
    url = data.get("database", {}).get("url") if isinstance(data.get("database"), dict) else None
    if url is not None and (not isinstance(url, str) or not url.strip()):
        raise InvalidValue(f"{path}: [database] url must be a database URL in quotes, such as "
                           '"sqlite:///reviewflow.db" or "postgresql+psycopg://user@host/db"')
    return url.strip() if url else None


def find_database(given: str | None, config: Located, cwd: Path, env: Mapping[str, str]) -> Located:
    """The database URL in use, and where it came from (see the module)."""
    if given:
        return Located(given, "$REVIEWFLOW_DB" if env.get("REVIEWFLOW_DB") == given else "the --db option")
    from_file = _database_from(config)
    if from_file:
        return Located(from_file, f"[database] url in {config.value}")
    here = cwd / DATABASE_NAME
    if here.is_file():
        return Located(f"sqlite:///{DATABASE_NAME}", "the current folder")
    mine = _user_data_dir() / DATABASE_NAME
    if mine.is_file():
        return Located(f"sqlite:///{mine}", "your data folder")
    return Located(f"sqlite:///{DATABASE_NAME}", "the default: a new file in the current folder")


def shown(url: str | None) -> str:
    """A database URL fit to print: its password, if any, hidden."""
    if not url:
        return "(none)"
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):  # not a URL SQLAlchemy reads: shown without anything after its scheme
        return url.split("://", 1)[0] + "://…"
