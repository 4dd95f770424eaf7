"""Open the built report in a real headless Chromium and check what a reader would see.

    python tools/check_report.py [_build/html] [--screenshots DIR]

For every page of the report: that it loads, that nothing is wider than the page
(wide tables and code scroll inside it instead), that no progress-bar debris or
warning about IProgress is shown, that no absolute path of the machine that built it
appears, and that the sidebar names every chapter differently. Prints a line per
page and exits 1 if any check fails. Needs Debian's chromium and chromedriver
(``apt-get install chromium chromium-driver``) and ``pip install selenium``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

LEAKS = re.compile(r"(/work/main|/tmp/tmp[\w.]+|/tmp/pytest|/root/|/home/\w+/)")
DEBRIS = re.compile(r"(IProgress not found|TqdmWarning|\d+%\|[█▏▎▍▌▋▊▉ ]*\|)")
OVERFLOW = "return Math.max(document.documentElement.scrollWidth - document.documentElement.clientWidth, 0)"


def browser():
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


def check(html: Path, screenshots: Path | None = None) -> list[str]:
    """Every problem found, one line each."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    pages = sorted(p for p in html.rglob("*.html") if "_static" not in p.parts and "_sources" not in p.parts and p.name not in ("search.html", "genindex.html"))
    problems = []
    driver = browser()
    try:
        for page in pages:
            driver.get(page.resolve().as_uri())
            name = page.relative_to(html)
            # index.html redirects to the first chapter: wait until whichever page it lands on has a body
            text = WebDriverWait(driver, 20).until(expected_conditions.presence_of_element_located((By.TAG_NAME, "body"))).text
            wide = driver.execute_script(OVERFLOW)
            found = []
            if wide > 2:
                found.append(f"{wide}px wider than the page")
            found += [f"shows {m!r}" for m in sorted(set(DEBRIS.findall(text)))[:3]]
            found += [f"leaks the path {m!r}" for m in sorted(set(LEAKS.findall(driver.page_source)))[:3]]
            if screenshots:
                screenshots.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(screenshots / f"{str(name).replace('/', '_')}.png"))
            print(f"{name}: {'; '.join(found) or 'ok'}")
            problems += [f"{name}: {f}" for f in found]
        driver.get((html / "index.html").resolve().as_uri())
        titles = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "nav.bd-links a, .bd-sidebar a.reference.internal") if a.text.strip()]
        repeated = sorted({t for t in titles if titles.count(t) > 1})
        print(f"sidebar: {len(titles)} entries" + (f"; repeated: {repeated}" if repeated else ", all different"))
        problems += [f"sidebar repeats {t!r}" for t in repeated]
    finally:
        driver.quit()
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html", nargs="?", type=Path, default=Path("_build/html"))
    parser.add_argument("--screenshots", type=Path, help="save a screenshot of every page here")
    args = parser.parse_args()
    problems = check(args.html, args.screenshots)
    print(f"{len(problems)} problems" if problems else "every page is fine")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
