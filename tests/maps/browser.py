"""Headless Chromium for the map tests (Playwright's Python client driving Debian's chromium).

No browser is downloaded: Playwright is pointed at the system Chromium (``GRIDCARBON_CHROMIUM``
or the first of ``chromium``, ``chromium-browser``, ``google-chrome`` on PATH).  Network
requests are counted twice: by Playwright's request events and, independently, by the DevTools
protocol's ``Network.requestWillBeSent`` through a CDP session opened before navigation.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--no-default-browser-check",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_path() -> str | None:
    """The system Chromium executable, or None."""
    env = os.environ.get("GRIDCARBON_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def skip_reason() -> str | None:
    """Why browser tests cannot run here (None = they can)."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the 'playwright' Python package is not installed (pip install playwright; no browser download needed)"
    if chromium_path() is None:
        return "no Chromium executable found (apt-get install -y chromium); set GRIDCARBON_CHROMIUM to override"
    return None


class Page:
    """A loaded page with its console messages, errors and network requests."""

    def __init__(self, page, cdp):
        self.page = page
        self.cdp = cdp
        self.console: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.requests: list[str] = []  # Playwright request events
        self.cdp_requests: list[str] = []  # DevTools Network.requestWillBeSent
        self.dialogs: list[str] = []
        page.on("console", lambda m: self.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("dialog", self._dialog)
        cdp.on(
            "Network.requestWillBeSent", lambda ev: self.cdp_requests.append(ev["request"]["url"])
        )
        cdp.send("Network.enable")

    def _dialog(self, d) -> None:
        self.dialogs.append(d.message)
        d.dismiss()

    def network_requests(self) -> list[str]:
        """Requests other than the page's own file and data: URIs."""
        urls = set(self.requests) | set(self.cdp_requests)
        return sorted(u for u in urls if not u.startswith(("data:", "file://")))

    def console_errors(self) -> list[str]:
        return [t for kind, t in self.console if kind == "error"] + self.errors

    def js(self, expr: str, arg=None):
        return self.page.evaluate(expr, arg)

    def layer_names(self) -> list[str]:
        return self.js(
            "Array.from(document.querySelectorAll('.leaflet-control-layers label'))"
            ".map(l => l.textContent.trim())"
        )

    def set_layer(self, name: str, on: bool) -> None:
        """Tick or untick ``name`` in the layer control, as a reviewer would."""
        ok = self.js(
            """([name, on]) => {
                for (const l of document.querySelectorAll('.leaflet-control-layers label')) {
                    if (l.textContent.trim() === name) {
                        const box = l.querySelector('input');
                        if (box.checked !== on) { box.click(); }
                        return true;
                    }
                }
                return false;
            }""",
            [name, on],
        )
        if not ok:
            raise AssertionError(f"layer {name!r} not in the layer control: {self.layer_names()}")
        self.page.wait_for_timeout(150)

    def legend_visible(self, key: str) -> bool:
        return self.js(
            '(k) => { const el = document.querySelector(`[data-gc-legend="${k}"]`);'
            " return !!(el && el.isConnected && el.offsetParent !== null); }",
            key,
        )

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        self.page.screenshot(path=str(path))
        return path


@contextmanager
def browser():
    """A launched Chromium (one per test module; pages are cheap)."""
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="gc-chromium-")
    with sync_playwright() as pw:
        ctx = pw.chromium.launch_persistent_context(
            profile,
            executable_path=chromium_path(),
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield ctx
        finally:
            ctx.close()
            shutil.rmtree(profile, ignore_errors=True)


def open_page(
    ctx, path: Path, settle_ms: int = 600, viewport: tuple[int, int] | None = None
) -> Page:
    """Load ``path`` in a new page (``viewport`` = (width, height) px; default the context's)."""
    page = ctx.new_page()
    if viewport is not None:
        page.set_viewport_size({"width": viewport[0], "height": viewport[1]})
    cdp = ctx.new_cdp_session(page)
    p = Page(page, cdp)
    page.goto(Path(path).resolve().as_uri())
    page.wait_for_load_state("load")
    page.wait_for_timeout(settle_ms)
    return p
