"""Make docs/screenshot.png: the web page of a daemon reading generated logs (the last hour), in Debian's chromium.

    .venv/bin/python scripts/screenshot.py [OUT.png]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.web_load import demo_logs, free_port, start_daemon, wait_lines


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshot.png"
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        total = demo_logs(tmp / "logs", 24_000, 3, time.time())
        port = free_port()
        proc = start_daemon(tmp / "logs", tmp / "state", port)
        try:
            wait_lines(port, total)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_selector("body[data-ready='1']")
                if page.locator("#windows button[data-window='1h']:not([disabled])").count():
                    page.click("#windows button[data-window='1h']")
                    page.wait_for_selector("#window-label:text('window 1h')")
                page.wait_for_timeout(1500)
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True, clip={"x": 0, "y": 0, "width": 1280, "height": 1250})
                browser.close()
        finally:
            proc.terminate()
            proc.wait(30)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
