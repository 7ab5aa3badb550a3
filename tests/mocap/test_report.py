"""``output/report.html``: every section, nothing loaded from outside, and a clean load in
headless Chromium (no console message, no error event, every image decoded, every plot drawn)."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mocap.cli import main
from mocap.keypoints_io import read_camera_keypoints, write_camera_keypoints
from mocap.report import SECTIONS
from mocap.report_data import MAX_TIME_POINTS, N_STILLS, decimate
from mocap.synthetic.sample_session import make_sample_session

CHROMIUM = shutil.which("chromium")
# N_STILLS frames of a 30-frame take, drawn by matplotlib where it is installed
N_IMAGES = N_STILLS if importlib.util.find_spec("matplotlib") else 0
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
# Put first in the page's head (of a copy): records error events (script errors and resources
# that fail to load, caught in the capture phase) and, once loaded, whether each image decoded
# and how many plots plotly drew, as attributes of <body> that --dump-dom prints.
PROBE = """<script>
window.probeErrors = [];
window.addEventListener("error", e => probeErrors.push(e.message || String(e.target.src)), true);
window.addEventListener("load", () => {
  const b = document.body.dataset;
  b.images = Array.from(document.images).map(i => i.complete && i.naturalWidth > 0).join(",");
  b.errors = probeErrors.join(" | ");
  b.plots = Array.from(document.querySelectorAll(".plotly-graph-div"))
    .filter(d => d.querySelector(".main-svg")).length;
});
</script>"""


class _Resources(HTMLParser):
    """Every src and href attribute of a page, and its <link> tags."""

    def __init__(self) -> None:
        super().__init__()
        self.references: list[str] = []
        self.links = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.links += tag == "link"
        self.references += [v or "" for k, v in attrs if k in ("src", "href")]


def open_in_chromium(page: Path, tmp_path: Path) -> tuple[dict[str, str], list[str]]:
    """Load a probed copy of ``page``; its <body> attributes and Chromium's console lines.

    A virtual time budget lets the page's scripts and the load event run before the DOM is
    dumped; ``--enable-logging=stderr`` prints every console message (log, warning, error and
    uncaught exceptions alike) as an ``INFO:CONSOLE`` line."""
    copy = tmp_path / f"probed_{page.name}"
    copy.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>" + PROBE, 1),
                    encoding="utf-8")
    done = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000",
                           "--dump-dom", copy.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)
    body = re.search(r"<body([^>]*)>", done.stdout)
    assert body, done.stdout[:500]
    attributes = dict(re.findall(r'data-(\w+)="([^"]*)"', body.group(1)))
    return attributes, [line for line in done.stderr.splitlines() if "CONSOLE" in line]


def _report(session: Path) -> str:
    return (session / "output" / "report.html").read_text(encoding="utf-8")


def test_the_report_has_every_section_and_loads_nothing_from_outside(good_run):
    page = _report(good_run)
    for key in SECTIONS:
        assert f'<section id="{key}">' in page
    assert page.count("* plotly.js v") == 1                  # the library inlined once
    assert page.count("Plotly.newPlot(") == 5   # detection, 2 of errors, views, bones
    assert page.count('<img alt="3D skeleton') == N_IMAGES
    resources = _Resources()
    resources.feed(page)
    assert resources.links == 0
    assert all(r.startswith("data:") for r in resources.references), resources.references
    assert "camera cam_1" not in page.split('<section id="calibration">')[0]   # no warning
    assert "<td>30 of 30</td>" in page                       # person 0 fully seen


@needs_chromium
def test_the_report_opens_in_headless_chromium_without_errors(good_run, tmp_path):
    body, console = open_in_chromium(good_run / "output" / "report.html", tmp_path)
    assert console == []
    assert body["errors"] == ""
    assert body["images"] == ",".join(["true"] * N_IMAGES)
    assert body["plots"] == "5"


@needs_chromium
def test_the_chromium_check_sees_errors_and_broken_images(tmp_path):
    """The check above can fail: a console error, an uncaught exception and an image that does
    not decode are all seen."""
    page = tmp_path / "broken.html"
    page.write_text('<html><head></head><body><img src="data:image/png;base64,iVBORw0KGgo=">'
                    '<script>console.error("boom"); notDefined();</script></body></html>')
    body, console = open_in_chromium(page, tmp_path)
    assert any('"boom"' in line for line in console)
    assert "notDefined is not defined" in body["errors"]
    assert body["images"] == "false"


def test_a_camera_whose_2d_is_all_missing_is_a_warning_and_nothing_is_lost(tmp_path):
    """cam_3 detected nothing: the run still writes every output, and the report says so at
    the top; with --sync check its unknown offset is in the sync table and a warning."""
    session = make_sample_session(tmp_path / "studio", n_frames=30, board_videos=False)
    path = session / "keypoints2d" / "cam_3.npz"
    kp = read_camera_keypoints(path)
    write_camera_keypoints(replace(kp, xy=np.full_like(kp.xy, np.nan),
                                   score=np.zeros_like(kp.score)), path)
    assert main(["run", str(session), "-q", "--sync", "check"]) == 0
    for name in ("points3d.npz", "points3d.trc", "report.html"):
        assert (session / "output" / name).is_file()
    page = _report(session)
    top = page.split('<section id="calibration">')[0]
    assert "camera cam_3: its 2D is all missing" in top
    sync = page.split('<section id="sync">')[1].split("</section>")[0]
    assert sync.count("<tr>") == 5                            # header + 4 cameras
    assert "<td>cam_3</td><td>unknown</td>" in sync, sync


def test_long_takes_are_decimated_to_block_means():
    """1,234 frames -> blocks of ceil(1234 / 500) = 3 frames, each its mean, NaN left out."""
    values = np.arange(1234, dtype=float)
    values[4] = np.nan
    times, means = decimate(values, fps=10.0)
    assert len(means) == 412 <= MAX_TIME_POINTS
    assert means[0] == 1.0 and means[1] == 4.0                # (3 + 5) / 2 without the NaN
    assert means[-1] == 1233.0                                 # the last block: 1 frame
    assert times[0] == pytest.approx(0.1) and times[-1] == pytest.approx(123.3)


def test_without_matplotlib_the_page_says_so(good_run, tmp_path, monkeypatch):
    session = shutil.copytree(good_run, tmp_path / "studio")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else find_spec(name, *a))
    assert main(["triangulate", str(session), "-q"]) == 0
    page = _report(session)
    assert "matplotlib is not installed" in page and "<img" not in page
