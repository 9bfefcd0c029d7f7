"""Open every page of the built book in headless Chromium and check that its figures load.

For each HTML page: the page must load with a title, and every <img> must have finished
loading with a non-zero natural size. Pages generated from executed chapters must carry at
least one figure. Exits non-zero, listing the failures, otherwise prints a per-page summary.

    python scripts/check_html.py book/_build/html
"""
from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
DRIVER = "/usr/bin/chromedriver"
SKIP = {"genindex.html", "search.html"}
CHAPTERS_NEED_FIGURES = "chapters/"
NO_FIGURES_EXPECTED = ("07_reproducibility",)

JS_IMAGES = """
return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);
"""


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def main(argv=None) -> int:
    argv = argv or sys.argv[1:]
    root = Path(argv[0] if argv else "book/_build/html").resolve()
    pages = sorted(p for p in root.rglob("*.html") if p.name not in SKIP and "_static" not in p.parts)
    if not pages:
        print(f"no HTML pages under {root}")
        return 1
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"):
        opts.add_argument(flag)
    server, port = serve(root)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    failures, total_images = [], 0
    try:
        for page in pages:
            rel = page.relative_to(root).as_posix()
            driver.get(f"http://127.0.0.1:{port}/{rel}")
            images = driver.execute_script(JS_IMAGES)
            broken = [src for src, complete, width in images if not complete or width == 0]
            total_images += len(images)
            if not driver.title:
                failures.append(f"{rel}: page has no title")
            if broken:
                failures.append(f"{rel}: {len(broken)} image(s) failed to load: {broken[:5]}")
            if CHAPTERS_NEED_FIGURES in rel and not any(n in rel for n in NO_FIGURES_EXPECTED) and not images:
                failures.append(f"{rel}: executed chapter shows no figure")
            print(f"{rel:55s} {len(images):3d} images, {len(broken)} broken")
    finally:
        driver.quit()
        server.shutdown()
    print(f"checked {len(pages)} pages, {total_images} images")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
