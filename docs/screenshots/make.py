"""Make the README's screenshots of the web pages from the demo: My work, a case page and the Board report, at a
desktop width.

    .venv/bin/python docs/screenshots/make.py

Runs `reviewflow demo --serve` on a free port of 127.0.0.1, signs in as the demo's business manager with the
password it prints, saves docs/screenshots/my-work.png, case.png and board.png, and stops the server.
Needs the test extras (Playwright) and the system Chromium.
"""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1200, 1100
PERSON, CASE = "a.khan", "SCR-2026-001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    chromium = shutil.which("chromium")
    if chromium is None:
        print("make.py: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 2
    port = free_port()
    command = [str(Path(sys.executable).with_name("reviewflow")), "demo", "--dir", tempfile.mkdtemp(), "--serve",
               "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        passwords: dict[str, str] = {}
        assert server.stdout is not None
        for line in server.stdout:
            found = re.match(r"^\s+(\S+)\s+password (\S+)", line)
            if found:
                passwords[found.group(1)] = found.group(2)
            if "Stop the server with Ctrl-C" in line:
                break
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                httpx.get(f"{base}/sign-in", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium)
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(f"{base}/sign-in")
            page.get_by_label("User name").fill(PERSON)
            page.get_by_label("Password").fill(passwords[PERSON])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/")
            page.screenshot(path=str(HERE / "my-work.png"))
            page.goto(f"{base}/cases/{CASE}")
            page.screenshot(path=str(HERE / "case.png"))
            page.goto(f"{base}/board")
            page.screenshot(path=str(HERE / "board.png"))
            browser.close()
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
    print(f"wrote {HERE / 'my-work.png'}, {HERE / 'case.png'} and {HERE / 'board.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
