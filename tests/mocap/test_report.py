"""``output/report.html``: every section, nothing loaded from outside, and a clean load in
headless Chromium (no console message, no error event, every image decoded, every plot drawn)."""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from exporters.points3d import read_points3d
from mocap.cli import main
from mocap.keypoints_io import read_camera_keypoints, write_camera_keypoints
from mocap.report import SECTIONS
from mocap.report_data import MAX_TIME_POINTS, N_STILLS, decimate
from mocap.synthetic.sample_session import make_sample_session
from mocap.take_quality import body_bone_cv
from rigs.motion import TRIANGULATED
from tests.mocap.pages import needs_chromium, open_in_chromium, references

# N_STILLS frames of a 30-frame take, drawn by matplotlib where it is installed
N_IMAGES = N_STILLS if importlib.util.find_spec("matplotlib") else 0


def _report(session: Path) -> str:
    return (session / "output" / "report.html").read_text(encoding="utf-8")


def test_the_report_has_every_section_and_loads_nothing_from_outside(good_run):
    page = _report(good_run)
    for key in SECTIONS:
        assert f'<section id="{key}">' in page
    assert page.count("* plotly.js v") == 1                  # the library inlined once
    assert page.count("Plotly.newPlot(") == 5   # detection, 2 of errors, views, bones
    assert page.count('<img alt="3D skeleton') == N_IMAGES
    resources = references(page)
    assert resources.links == 0
    # images are data URIs; the only other references are the summary's links to files
    # beside the report (test_the_summary_links_to_files_that_exist)
    outside = [r for r in resources.references if not r.startswith("data:")]
    assert all("/" not in r and ":" not in r for r in outside), outside
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


def test_without_a_renderer_the_page_says_so(good_run, tmp_path, monkeypatch):
    """Neither Open3D nor matplotlib installed: no images, and the page says what draws them."""
    session = shutil.copytree(good_run, tmp_path / "studio")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in (
        "matplotlib", "open3d") else find_spec(name, *a))
    assert main(["triangulate", str(session), "-q"]) == 0
    page = _report(session)
    assert "neither Open3D" in page and "matplotlib" in page and "<img" not in page


def test_the_summary_links_to_files_that_exist(good_run):
    """The summary at the top: the take's numbers, and a link to every result file beside the
    report (the viewer, the 3D, the exports of the run), each of which exists."""
    out = good_run / "output"
    page = _report(good_run)
    assert page.index('<section id="summary">') < page.index('<section id="warnings">')
    summary = page.split('<section id="summary">')[1].split("</section>")[0]
    links = references(summary).references
    assert links[0] == "viewer.html" and "points3d.npz" in links
    assert all((out / name).is_file() for name in links), links
    results = {p.name for p in out.iterdir() if p.is_file() and not p.name.startswith(".")}
    assert set(links) == results - {"report.html", "run.json"}   # every result file linked
    motion = read_points3d(out / "points3d.npz")
    found = motion.source == TRIANGULATED
    cv = body_bone_cv(motion)
    for line in ("<th>cameras</th><td>4: cam_1, cam_2, cam_3, cam_4</td>",
                 "<th>frames</th><td>30 at 30 fps (1.0 s)</td>", "<th>people</th><td>1</td>",
                 (f"{motion.reprojection_error[found].mean():.2f} px over {found.sum()} "
                  "triangulated joints"),
                 f"{np.median(cv[np.isfinite(cv)]):.1%} median coefficient of variation",
                 "<th>lifted joints</th><td>0.0% of the joints found in 3D"):
        assert line in summary, line
