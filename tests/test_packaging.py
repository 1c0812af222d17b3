"""One import package: a wheel holds the single top-level name `reviewflow`, and nothing in the folder the
command runs from can stand in for its modules."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(sys.executable).with_name("reviewflow")


def test_a_wheel_has_one_top_level_name_and_every_module(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("reviewflow-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"reviewflow"}
    folders = ("engine", "store", "workflows", "commands", "web")
    expected = {f"reviewflow/{p.relative_to(ROOT).as_posix()}" for folder in folders
                if (ROOT / folder).is_dir() for p in (ROOT / folder).rglob("*.py") if "__pycache__" not in p.parts}
    assert expected - set(names) == set(), "add the missing packages to [tool.setuptools] packages"
    assert "reviewflow/cli.py" in names
    assert {"reviewflow/workflows/serious_case_review.yaml", "reviewflow/engine/workflow.schema.json"} <= set(names)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "reviewflow = reviewflow.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_modules_named_like_ours_in_the_current_folder_do_not_disturb_the_cli(tmp_path: Path) -> None:
    for name in ("store.py", "engine.py", "cli.py", "workflows.py"):
        (tmp_path / name).write_text("raise SystemExit('the wrong module was imported')\n", "utf-8")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "__init__.py").write_text("raise SystemExit('the wrong package was imported')\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("REVIEWFLOW_")}
    db = f"sqlite:///{tmp_path / 'shadow.db'}"
    for command in ([str(SCRIPT), "--db", db, "init"], [sys.executable, "-m", "reviewflow.cli", "--db", db,
                                                          "workflow", "list"]):
        done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
                              check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "serious_case_review" in done.stdout
