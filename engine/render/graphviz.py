"""SVG drawn from DOT text by Graphviz's `dot` program (the one renderer that runs another program)."""

from __future__ import annotations

import shutil
import subprocess

from reviewflow.engine.core.errors import InvalidValue, ReviewflowError

TIMEOUT_SECONDS = 60


def svg(dot: str) -> str:
    """Draw DOT text as SVG with Graphviz's `dot`; refuse with advice when it is missing, slow or fails."""
    program = shutil.which("dot")
    if program is None:
        raise InvalidValue("--format svg needs Graphviz's `dot` program, which is not on PATH: install "
                           "it (apt-get install graphviz, or brew install graphviz) or use --format mermaid",
                           field="format", value="svg")
    try:
        done = subprocess.run([program, "-Tsvg"], input=dot.encode("utf-8"), capture_output=True,
                              timeout=TIMEOUT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ReviewflowError(f"Graphviz's dot took over {TIMEOUT_SECONDS} seconds: use --format mermaid or dot") \
            from None
    if done.returncode != 0:
        problem = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ReviewflowError(f"Graphviz's dot failed: {problem[0] if problem else 'no message'}")
    return done.stdout.decode("utf-8")
