"""Screenshots of a run's map and zone report in English and Chinese, at 1,400 × 900 in headless
Chromium (the files under docs/screenshots/).

Usage, from a folder of your choice::

    gridcarbon run -o run
    gridcarbon zones --grids run/posterior.nc --lang zh -o zones_zh
    gridcarbon map --run-dir run --lang zh -o map_zh.html
    python docs/screenshots/shoot.py . docs/screenshots
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

PAGES = [
    ("run/map.html", "map_en.png"),
    ("map_zh.html", "map_zh.png"),
    ("run/zone_report.html", "zone_report_en.png"),
    ("zones_zh/zone_report.html", "zone_report_zh.png"),
]


def main(source: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for page_file, name in PAGES:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto((source / page_file).resolve().as_uri())
            page.wait_for_timeout(4000)  # tiles drawn, fonts loaded
            page.screenshot(path=str(out / name))
            print(name, (out / name).stat().st_size, "bytes")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
