"""Open every page of the built book in headless Chromium as a reader would, and check it.

For each HTML page:

* the page loads with a title, and every <img> has finished loading with a non-zero natural size;
* a page generated from an executed chapter carries at least one figure (07_reproducibility excepted);
* no cell output shows a traceback or a warning: the text of the output areas (``div.cell_output``, which
  holds stdout, stderr, errors, tables and figures, collapsed ones included) must not contain "Traceback" or
  "Warning" (case-sensitive, so "UserWarning:" is caught and prose, which is not an output, never is);
* the first screen of a chapter (the viewport of ``--width`` × ``--height`` pixels at the top of the page)
  shows no expanded code: every code cell whose source is visible there must start below it;
* a screenshot of the first screen is saved to ``--screenshots`` (default: book/_build/screenshots, next to the
  HTML), one PNG per page, named after the page's path, for a person to look at.

Exits non-zero, listing the failures; otherwise prints a summary per page. The browser and its driver are
``/usr/bin/chromium`` and ``/usr/bin/chromedriver`` unless the environment names others (``CHROMIUM``,
``CHROMEDRIVER``: the GitHub workflow uses the runner's Chrome).

    python scripts/check_html.py book/_build/html
"""
from __future__ import annotations

import argparse
import functools
import http.server
import os
import re
import sys
import threading
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
SKIP = {"genindex.html", "search.html"}
CHAPTERS_NEED_FIGURES = "chapters/"
NO_FIGURES_EXPECTED = ("07_reproducibility",)
#: what no output may show (case-sensitive)
FORBIDDEN_IN_OUTPUTS = re.compile(r"Traceback|Warning")

JS_IMAGES = """
return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);
"""
# the text of every cell output, collapsed or not (textContent does not depend on the layout)
JS_OUTPUTS = """
return Array.from(document.querySelectorAll('div.cell_output')).map(e => e.textContent);
"""
# code cells whose source is shown (not collapsed in a closed <details>) and starts inside the first screen
JS_CODE_ON_FIRST_SCREEN = """
const h = window.innerHeight;
return Array.from(document.querySelectorAll('div.cell_input')).filter(e => {
  const r = e.getBoundingClientRect();
  return !e.closest('details:not([open])') && e.offsetParent !== null && r.height > 0 && r.top < h;
}).map(e => e.textContent.trim().split('\\n')[0].slice(0, 60));
"""


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, int]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


def output_problems(texts: list[str]) -> list[str]:
    """The forbidden words found in the output texts, each with the line it sits on (at most 120 characters)."""
    found = []
    for text in texts:
        for line in text.splitlines():
            m = FORBIDDEN_IN_OUTPUTS.search(line)
            if m:
                found.append(f"{m.group(0)}: {line.strip()[:120]}")
    return found


def screenshot_name(rel: str) -> str:
    """The screenshot's file name for a page's path relative to the HTML root (``a/b.html`` -> ``a__b.png``)."""
    return rel.removesuffix(".html").replace("/", "__") + ".png"


def check_page(driver, url: str, rel: str, shots: Path) -> tuple[list[str], int]:
    """Load one page, save its first-screen screenshot and return (failures, number of images)."""
    driver.get(url)
    failures = []
    images = driver.execute_script(JS_IMAGES)
    broken = [src for src, complete, width in images if not complete or width == 0]
    if not driver.title:
        failures.append(f"{rel}: page has no title")
    if broken:
        failures.append(f"{rel}: {len(broken)} image(s) failed to load: {broken[:5]}")
    is_chapter = CHAPTERS_NEED_FIGURES in rel
    if is_chapter and not any(n in rel for n in NO_FIGURES_EXPECTED) and not images:
        failures.append(f"{rel}: executed chapter shows no figure")
    problems = output_problems(driver.execute_script(JS_OUTPUTS))
    if problems:
        failures.append(f"{rel}: {len(problems)} output line(s) show a traceback or a warning: {problems[:3]}")
    if is_chapter:
        code = driver.execute_script(JS_CODE_ON_FIRST_SCREEN)
        if code:
            failures.append(f"{rel}: the first screen shows code: {code[:3]}")
    driver.save_screenshot(str(shots / screenshot_name(rel)))
    print(f"{rel:55s} {len(images):3d} images, {len(broken)} broken, {len(problems)} warning/traceback lines")
    return failures, len(images)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", nargs="?", default="book/_build/html", help="the built HTML (default: %(default)s)")
    ap.add_argument("--screenshots", help="where the PNGs go (default: ../screenshots next to the HTML)")
    ap.add_argument("--width", type=int, default=1366, help="window width in pixels (default: %(default)s)")
    ap.add_argument("--height", type=int, default=900, help="window height in pixels (default: %(default)s)")
    args = ap.parse_args(argv)
    root = Path(args.root).resolve()
    shots = Path(args.screenshots) if args.screenshots else root.parent / "screenshots"
    pages = sorted(p for p in root.rglob("*.html") if p.name not in SKIP and "_static" not in p.parts)
    if not pages:
        print(f"no HTML pages under {root}")
        return 1
    shots.mkdir(parents=True, exist_ok=True)
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--hide-scrollbars", f"--window-size={args.width},{args.height}"):
        opts.add_argument(flag)
    server, port = serve(root)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    driver.set_window_size(args.width, args.height)
    failures, total_images = [], 0
    try:
        for page in pages:
            rel = page.relative_to(root).as_posix()
            page_failures, n_images = check_page(driver, f"http://127.0.0.1:{port}/{rel}", rel, shots)
            failures += page_failures
            total_images += n_images
    finally:
        driver.quit()
        server.shutdown()
    print(f"checked {len(pages)} pages, {total_images} images; screenshots in {shots}")
    if failures:
        print("FAILURES:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
