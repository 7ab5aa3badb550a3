"""The report and viewer pages under test: their references, and the pages opened in Debian's
headless Chromium (real browser, real plotly): a probed copy's <body> attributes and console
lines, and screenshots."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pytest
from numpy.typing import NDArray

CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
# Headless Chromium has no GPU: plotly's 3D scenes need WebGL, drawn in software by SwiftShader,
# which Chromium only uses without a console warning when asked to. A virtual time budget lets
# the page's scripts, the load event and the probes' timers run before the DOM is dumped or the
# screenshot taken; --enable-logging=stderr prints every console message (log, warning, error
# and uncaught exceptions alike) as an ``INFO:CONSOLE`` line.
FLAGS = ("--headless", "--no-sandbox", "--enable-unsafe-swiftshader", "--use-angle=swiftshader",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
         "--hide-scrollbars")
# Console lines that are Chromium's own performance hints, not the page's errors: plotly's
# WebGL text labels read a 2D canvas back (getImageData) without willReadFrequently.
HINTS = ("Canvas2D: Multiple readback operations using getImageData",)
# Put first in a probed copy's head: records error events (script errors and resources that
# fail to load, caught in the capture phase).
ERRORS_PROBE = """<script>
window.probeErrors = [];
window.addEventListener("error", e => probeErrors.push(e.message || String(e.target.src)), true);
</script>"""
# ... and, once loaded, whether each image decoded and how many plots plotly drew, as
# attributes of <body> that --dump-dom prints.
PROBE = ERRORS_PROBE + """<script>
window.addEventListener("load", () => {
  const b = document.body.dataset;
  b.images = Array.from(document.images).map(i => i.complete && i.naturalWidth > 0).join(",");
  b.errors = probeErrors.join(" | ");
  b.plots = Array.from(document.querySelectorAll(".plotly-graph-div"))
    .filter(d => d.querySelector(".main-svg")).length;
});
</script>"""


class Resources(HTMLParser):
    """Every src and href attribute of a page, and its <link> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += tag == "link"
        self.references += [v or "" for k, v in attrs if k in ("src", "href")]


def references(page: str) -> Resources:
    """The src and href attributes and <link> tags of ``page`` (HTML text)."""
    found = Resources()
    found.feed(page)
    return found


def probed_copy(page: Path, folder: Path, probe: str = PROBE) -> Path:
    """A copy of ``page`` in ``folder`` with ``probe`` first in its head."""
    copy = folder / f"probed_{page.name}"
    copy.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + probe, 1),
                    encoding="utf-8")
    return copy


def open_in_chromium(page: Path, tmp_path: Path, *, probe: str = PROBE,
                     fragment: str = "") -> tuple[dict[str, str], list[str]]:
    """Load a probed copy of ``page`` (at ``#fragment`` if given); its <body> attributes and
    Chromium's console lines (less :data:`HINTS`)."""
    copy = probed_copy(page, tmp_path, probe)
    url = copy.as_uri() + (f"#{fragment}" if fragment else "")
    done = subprocess.run([CHROMIUM, *FLAGS, "--dump-dom", url],
                          capture_output=True, text=True, timeout=120, check=True)
    body = re.search(r"<body([^>]*)>", done.stdout)
    assert body, done.stdout[:500]
    attributes = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    console = [line for line in done.stderr.splitlines()
               if "CONSOLE" in line and not any(hint in line for hint in HINTS)]
    return attributes, console


def screenshot(page: Path, png: Path, *, fragment: str = "",
               size: tuple[int, int] = (1200, 900)) -> NDArray[np.uint8]:
    """(H, W, 3) BGR pixels of ``page`` (at ``#fragment``) in a ``size`` (width, height)
    window, saved to ``png``."""
    url = page.as_uri() + (f"#{fragment}" if fragment else "")
    subprocess.run([CHROMIUM, *FLAGS, f"--window-size={size[0]},{size[1]}",
                    f"--screenshot={png}", url],
                   capture_output=True, text=True, timeout=120, check=True)
    pixels = cv2.imread(str(png))
    assert pixels is not None and pixels.shape[:2] == (size[1], size[0]), png
    return pixels
