"""Where the settings file and the database are found when a command is not told: `reviewflow settings paths`.

Each case runs the real command in its own process, in an empty folder, with its own configuration and data
folders (XDG_CONFIG_HOME, XDG_DATA_HOME), so what it finds is only what the test put there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def place(tmp_path: Path) -> dict[str, Path]:
    places = {name: tmp_path / name for name in ("work", "config", "data", "xdg")}
    for folder in places.values():
        folder.mkdir()
    return places


def _run(place: dict[str, Path], *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("REVIEWFLOW_DB", "REVIEWFLOW_CONFIG", "REVIEWFLOW_NOW", "REVIEWFLOW_USER")}
    environ.update(XDG_CONFIG_HOME=str(place["config"]), XDG_DATA_HOME=str(place["data"]),
                   XDG_CONFIG_DIRS=str(place["xdg"]), **(env or {}))
    return subprocess.run([sys.executable, "-m", "reviewflow.cli", *args], cwd=place["work"], env=environ,
                          capture_output=True, text=True, timeout=120, check=False)


def _paths(place: dict[str, Path], *args: str, env: dict[str, str] | None = None) -> dict[str, dict[str, str]]:
    done = _run(place, *args, "settings", "paths", "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_nothing_anywhere_means_a_new_file_here(place: dict[str, Path]) -> None:
    found = _paths(place)
    assert found["settings_file"]["path"] is None
    assert found["settings_file"]["looked_in"] == [
        str(place["work"] / "reviewflow.toml"), str(place["config"] / "reviewflow" / "reviewflow.toml"),
        str(place["xdg"] / "reviewflow" / "reviewflow.toml")]
    assert found["database"] == {"url": "sqlite:///reviewflow.db",
                                 "from": "the default: a new file in the current folder"}


def test_the_user_folders_are_the_fallbacks(place: dict[str, Path]) -> None:
    (place["data"] / "reviewflow").mkdir()
    mine = place["data"] / "reviewflow" / "reviewflow.db"
    mine.write_bytes(b"")
    (place["xdg"] / "reviewflow").mkdir()
    (place["xdg"] / "reviewflow" / "reviewflow.toml").write_text("[worker]\ninterval_seconds = 30\n")
    found = _paths(place)
    assert found["settings_file"]["from"] == "this machine's configuration folder"
    assert found["database"] == {"url": f"sqlite:///{mine}", "from": "your data folder"}
    (place["config"] / "reviewflow").mkdir()
    (place["config"] / "reviewflow" / "reviewflow.toml").write_text(
        '[database]\nurl = "postgresql+psycopg://board:s3cret@db.example/lscp"\n')
    found = _paths(place)
    assert found["settings_file"]["from"] == "your configuration folder"
    assert found["database"]["url"] == "postgresql+psycopg://board:***@db.example/lscp"
    assert found["database"]["from"].startswith("[database] url in ")
    (place["work"] / "reviewflow.db").write_bytes(b"")
    (place["work"] / "reviewflow.toml").write_text("")
    found = _paths(place)
    assert found["settings_file"]["from"] == "the current folder"
    assert found["database"] == {"url": "sqlite:///reviewflow.db", "from": "the current folder"}


def test_the_option_and_the_environment_come_first(place: dict[str, Path]) -> None:
    (place["work"] / "reviewflow.db").write_bytes(b"")
    found = _paths(place, "--db", "sqlite:///other.db")
    assert found["database"] == {"url": "sqlite:///other.db", "from": "the --db option"}
    found = _paths(place, env={"REVIEWFLOW_DB": "sqlite:///env.db"})
    assert found["database"] == {"url": "sqlite:///env.db", "from": "$REVIEWFLOW_DB"}


def test_init_uses_the_database_the_settings_file_names(place: dict[str, Path]) -> None:
    target = place["data"] / "board.db"
    (place["work"] / "reviewflow.toml").write_text(f'[database]\nurl = "sqlite:///{target}"\n')
    done = _run(place, "init")
    assert done.returncode == 0, done.stderr
    assert f"database ready: sqlite:///{target}" in done.stdout
    assert target.is_file()
    assert not (place["work"] / "reviewflow.db").exists()
    listed = _run(place, "workflow", "list")
    assert listed.returncode == 0
    assert "rapid_review_lcspr" in listed.stdout


def test_a_bad_database_url_in_the_settings_file_is_one_line(place: dict[str, Path]) -> None:
    (place["work"] / "reviewflow.toml").write_text("[database]\nurl = 5\n")
    done = _run(place, "workflow", "list")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "[database] url must be a database URL in quotes" in done.stderr
