"""``output/viewer.html`` and ``mocap view``: the page a run writes opens in headless Chromium
without errors, draws the skeleton, and its slider moves it to the frames the data says; long
takes are decimated; ``--serve`` serves it on localhost; bad input is a clear error."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from plotly.offline import get_plotlyjs

from exporters.points3d import read_points3d
from mocap.cli import main
from mocap.errors import ConfigError
from mocap.scene3d import camera_frusta
from mocap.synthetic.sample_session import sample_rig
from mocap.viewer import viewer_figure, write_viewer
from mocap.viewer_data import (
    FLOOR_LINES,
    FRUSTUM_SHARE,
    MAX_FRAMES,
    scene_bounds,
    shown_frames,
)
from rigs.motion import LIFTED, MISSING, TRIANGULATED, Motion3D
from tests.mocap.pages import (
    ERRORS_PROBE,
    needs_chromium,
    open_in_chromium,
    probed_copy,
    references,
    screenshot,
)

STEP = 12                     # the slider step the probe clicks (frame 12 of the 30 kept)
# Three seconds (of Chromium's virtual time) after the load event, when plotly has drawn the
# scene and applied #frame=N: the points of the joint traces as drawn (plotly's full data),
# the slider's active step and the number of frames; then what the slider's step STEP does
# (its own animate arguments) and the points after it. Error events are recorded throughout.
VIEW_PROBE = ERRORS_PROBE + """<script>
window.addEventListener("load", () => setTimeout(() => {
  const gd = document.getElementById("viewer"), b = document.body.dataset;
  const dump = () => JSON.stringify(gd._fullData.filter(t => t.mode === "markers")
    .map(t => [Array.from(t.x), Array.from(t.y), Array.from(t.z)]));
  const colours = () => JSON.stringify(Array.from(gd._fullData
    .find(t => t.name === "joints: reprojection error").marker.color));
  b.active = gd.layout.sliders[0].active;
  b.frames = gd._transitionData._frames.length;
  b.canvases = gd.querySelectorAll("canvas").length;
  b.joints = dump();
  b.colours = colours();
  const step = gd.layout.sliders[0].steps[STEP];
  Plotly.animate(gd, ...step.args).then(() => {
    b.stepped = dump();
    b.errors = probeErrors.join(" | ");
  });
}, 3000));
</script>""".replace("STEP]", f"{STEP}]")
# One second after the load event: the bones and joints emptied (NaN points, so the legend, the
# colour bar and everything else stay as they were): the page as it is without a skeleton.
NO_SKELETON = """<script>
window.addEventListener("load", () => setTimeout(() => {
  const gd = document.getElementById("viewer");
  const moving = gd._fullData.filter(t => t.name === "bones" || t.name.startsWith("joints"))
    .map(t => t.index);
  const nan = moving.map(() => [NaN, NaN]);
  Plotly.restyle(gd, {x: nan, y: nan, z: nan}, moving);
}, 1000));
</script>"""


def _motion(session: Path) -> Motion3D:
    return read_points3d(session / "output" / "points3d.npz")


def _drawn(traces: str) -> np.ndarray:
    """(P J, 3) joints drawn, from the probe's dump of the joint traces (each joint is a point
    of one trace and NaN in the others); NaN where no trace draws it."""
    points = np.array(json.loads(html.unescape(traces)), dtype=float)     # (K, 3, P J)
    assert (np.isfinite(points).sum(axis=0) <= 1).all()                    # one trace a joint
    drawn = np.full(points.shape[1:], np.nan)                              # (3, P J)
    for trace in points:                                                   # K <= 3 traces
        drawn = np.where(np.isfinite(trace), trace, drawn)
    return drawn.T


def _expected(motion: Motion3D, frame: int) -> np.ndarray:
    """(P J, 3) joints of ``frame`` that the page should draw: NaN where missing."""
    xyz = np.where((motion.source[frame] != MISSING)[..., None], motion.xyz[frame], np.nan)
    return xyz.reshape(-1, 3)


def _decode(spec: dict[str, str]) -> np.ndarray:
    """plotly.js's typed-array spec (float32, base64) -> its numbers."""
    assert spec["dtype"] == "f4"
    return np.frombuffer(base64.b64decode(spec["bdata"]), dtype="<f4").astype(float)


def test_the_run_writes_a_viewer_that_loads_nothing_from_outside(good_run):
    page = (good_run / "output" / "viewer.html").read_text(encoding="utf-8")
    assert page.count("* plotly.js v") == 1                  # the library inlined once
    assert page.count("Plotly.newPlot(") == 1 and page.count("Plotly.addFrames(") == 1
    found = references(page)
    assert found.links == 0 and found.references == ["report.html"]   # scripts inline
    assert (good_run / "output" / "report.html").is_file()
    assert "showing all 30 frames" in page


@needs_chromium
def test_the_viewer_opens_without_errors_and_its_slider_moves_the_skeleton(good_run, tmp_path):
    """Opened as is: frame 0 drawn; the slider's step 12 draws frame 12; opened at #frame=20:
    frame 20, the slider at step 20. Every point is the take's (float32 on the page: 1e-6 m is
    ten times the rounding of a coordinate below 8 m)."""
    motion = _motion(good_run)
    page = good_run / "output" / "viewer.html"
    body, console = open_in_chromium(page, tmp_path, probe=VIEW_PROBE)
    assert console == [] and body["errors"] == ""
    assert body["frames"] == "30" and body["active"] == "0"
    assert int(body["canvases"]) >= 1                        # the WebGL scene
    np.testing.assert_allclose(_drawn(body["joints"]), _expected(motion, 0), atol=1e-6)
    np.testing.assert_allclose(_drawn(body["stepped"]), _expected(motion, STEP), atol=1e-6)
    found = (motion.source[0] == TRIANGULATED).reshape(-1)
    colours = np.array(json.loads(html.unescape(body["colours"])))
    np.testing.assert_allclose(colours[found], motion.reprojection_error[0].reshape(-1)[found],
                               rtol=1e-6)
    assert np.abs(_expected(motion, STEP) - _expected(motion, 0)).max() > 0.1   # it did move

    body, console = open_in_chromium(page, tmp_path, probe=VIEW_PROBE, fragment="frame=20")
    assert console == [] and body["errors"] == "" and body["active"] == "20"
    np.testing.assert_allclose(_drawn(body["joints"]), _expected(motion, 20), atol=1e-6)


@needs_chromium
def test_the_3d_canvas_shows_the_skeleton_and_it_moves(good_run, tmp_path):
    """Screenshots of the run's page at frames 0 and 29, each against the same page with the
    skeleton emptied: the pixels that differ are the drawn skeleton."""
    page = good_run / "output" / "viewer.html"
    empty = probed_copy(page, tmp_path, NO_SKELETON)
    shots = {(frame, skeleton): screenshot(page if skeleton else empty,
                                           tmp_path / f"{frame}_{skeleton}.png",
                                           fragment=f"frame={frame}")
             for frame in (0, 29) for skeleton in (True, False)}
    drawn = {frame: (shots[frame, True] != shots[frame, False]).any(-1) for frame in (0, 29)}
    # 17 joints drawn as discs 4 px across (12 px each); the 8 of the limbs (elbows, wrists,
    # knees, ankles) lie apart from each other, and the bones are lines 4 px wide between them:
    # at least 8 x 12 = 96 pixels whatever the zoom (the run's page draws about 600)
    assert drawn[0].sum() > 96 and drawn[29].sum() > 96
    # the joints moved 0.47 m or more between the two frames (0.68 m on average), tens of
    # pixels at this scale (a 1.7 m person is about 60 px tall): at least half of the
    # skeleton's pixels are not where they were
    moved = (drawn[0] ^ drawn[29]).sum()
    assert moved > 0.5 * min(drawn[0].sum(), drawn[29].sum())
    # what else changes with the frame (the slider's knob and label, the legend's swatch of
    # the error colours) lies apart from the skeleton: its pixels differ because of it alone
    elsewhere = (shots[0, False] != shots[29, False]).any(-1)
    assert elsewhere.any() and not (elsewhere & (drawn[0] | drawn[29])).any()


def test_long_takes_are_decimated_and_the_page_stays_light(good_run, tmp_path):
    """10,000 frames: MAX_FRAMES of them, spread evenly from the first to the last."""
    motion = _motion(good_run)
    take = np.arange(10_000) % motion.n_frames
    long = replace(motion, xyz=motion.xyz[take], reprojection_error=motion.reprojection_error[
        take], n_views=motion.n_views[take], source=motion.source[take])
    names = [int(f["name"]) for f in viewer_figure(long, None)["frames"]]
    assert len(names) == MAX_FRAMES and names[0] == 0 and names[-1] == 9_999
    assert set(np.diff(names)) <= {33, 34}                   # 9,999 / 299 = 33.4
    page = write_viewer(tmp_path / "viewer.html", long, sample_rig(), "long")
    extra = page.stat().st_size - len(get_plotlyjs())
    # per frame: 18 bones x 3 points + 2 joint traces x 17 joints, 3 coordinates each, and 17
    # colour values: 281 float32, 1,508 characters of base64 (padded per array), under 2,000
    # with plotly's escaping of "/" as 6 characters (1 base64 character in 64, and one in each
    # of the 54 NaN that break the bones' line); under 600 of JSON names and the slider's step;
    # under 100 kB for the rest (cameras, floor, layout, text). Measured: 787 kB.
    assert extra < MAX_FRAMES * (2_000 + 600) + 100_000, extra


def test_joints_are_coloured_by_error_or_by_source(good_run):
    """By error: a colour scale over the triangulated joints' errors (their 95th percentile at
    its top, with a colour bar). By source: one trace per source; lifted joints in theirs."""
    motion = _motion(good_run)
    source = motion.source.copy()
    source[1::2, :, 5:11] = LIFTED                           # shoulders to wrists, odd frames
    lifted = replace(motion, source=source)
    by_error = viewer_figure(lifted, None)
    joints = by_error["data"][-2]
    triangulated = motion.reprojection_error[source == TRIANGULATED]
    assert joints["marker"]["cmax"] == pytest.approx(np.percentile(triangulated, 95))
    assert joints["marker"]["colorbar"]["title"]["text"] == "reprojection error (px)"
    frame = by_error["frames"][2]["data"][1]                 # frame 2: none lifted
    np.testing.assert_allclose(_decode(frame["marker"]["color"]),
                               motion.reprojection_error[2, 0], rtol=1e-6)

    by_source = viewer_figure(lifted, None, colour="source")
    names = [t["name"] for t in by_source["data"]]
    assert names[-3:] == ["joints: triangulated", "joints: lifted", "joints: filled"]
    assert by_source["data"][-2]["marker"]["color"] not in {
        t["marker"]["color"] for t in (by_source["data"][-3], by_source["data"][-1])}
    for f in (2, 3):                                         # none lifted, then 6 lifted
        points = _decode(by_source["frames"][f]["data"][2]["x"])              # (P J,)
        np.testing.assert_array_equal(np.isfinite(points), source[f].reshape(-1) == LIFTED)


def test_mocap_view_writes_the_page_with_the_chosen_colours(good_run, tmp_path, capsys):
    session = shutil.copytree(good_run, tmp_path / "studio")
    (session / "output" / "viewer.html").unlink()
    assert main(["view", str(session), "--colour", "source", "--max-frames", "10"]) == 0
    page = (session / "output" / "viewer.html").read_text(encoding="utf-8")
    assert "showing 10 of its 30 frames" in page and "joints: lifted" in page
    assert f"wrote {session / 'output' / 'viewer.html'}" in capsys.readouterr().out


def _unknown_set(session: Path) -> None:
    path = session / "output" / "points3d.npz"
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    with open(path, "wb") as f:
        np.savez(f, **{**arrays, "skeleton": np.array("coco18")})


@pytest.mark.parametrize(("spoil", "args", "message"), [
    (lambda s: (s / "output" / "points3d.npz").unlink(), [],
     "points3d.npz to view; run mocap run"),
    (_unknown_set, [], "unknown keypoint set 'coco18'; did you mean 'coco17'?"),
    (lambda s: None, ["--max-frames", "1"], "--max-frames must be 2 or more"),
])
def test_bad_input_is_a_clear_error(good_run, tmp_path, capsys, spoil, args, message):
    session = shutil.copytree(good_run, tmp_path / "studio")
    (session / "output" / "viewer.html").unlink()
    spoil(session)
    assert main(["view", str(session), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mocap: error: ") and message in err and "Traceback" not in err
    assert not (session / "output" / "viewer.html").exists()


def _signals_as_a_shell_gives_them() -> None:
    """In the child before it runs: no signal blocked (a mask is inherited across exec, and
    earlier tests' threads may leave one on the test process)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def test_serve_serves_the_output_folder_on_localhost_until_ctrl_c(good_run, tmp_path):
    session = shutil.copytree(good_run, tmp_path / "studio")
    server = subprocess.Popen([sys.executable, "-m", "mocap.cli", "view", str(session),
                               "--serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, cwd=Path(__file__).parents[2],
                              preexec_fn=_signals_as_a_shell_gives_them)  # noqa: PLW1509
    try:
        assert server.stdout.readline().startswith("wrote ")
        url = re.search(r"http://127\.0\.0\.1:\d+/viewer\.html", server.stdout.readline())
        assert url, "no address printed"
        local = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy
        with local.open(url.group(), timeout=30) as reply:
            assert reply.read() == (session / "output" / "viewer.html").read_bytes()
        with local.open(url.group().replace("viewer", "report"), timeout=30) as reply:
            assert reply.status == 200                       # the page's link works there too
    finally:
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0 and "stopped" in out, err


def _segments(trace: dict) -> np.ndarray:
    """(S, 3, 3) a line trace's points as segments: a, b and the NaN that breaks the line."""
    xyz = np.stack([_decode(trace[a]) for a in "xyz"], axis=-1)           # (3 S, 3)
    return xyz.reshape(-1, 3, 3)


def test_the_viewer_draws_the_scene3d_frusta_and_a_light_floor_over_the_scene(good_run):
    """The cameras' trace is :func:`camera_frusta` (up triangle included) at the page's depth,
    segment by segment; the floor covers the scene's cube with lines on multiples of the step
    its name gives, at most FLOOR_LINES of them per axis."""
    rig = sample_rig()
    fig = viewer_figure(_motion(good_run), rig)
    traces = {t["name"]: t for t in fig["data"]}
    bounds = np.array([fig["layout"]["scene"][f"{a}axis"]["range"] for a in "xyz"])  # (3, 2)
    side = bounds[0, 1] - bounds[0, 0]

    drawn = _segments(traces["cameras"])
    expected = camera_frusta(rig, FRUSTUM_SHARE * side).segments           # (10 C, 2, 3)
    assert len(drawn) == 10 * len(rig) and np.isnan(drawn[:, 2]).all()   # segments apart
    # float32 on the page: 1e-6 m is ten times the rounding of a coordinate below 8 m
    np.testing.assert_allclose(drawn[:, :2], expected, rtol=0, atol=1e-6)

    (name,) = [n for n in traces if n.startswith("floor")]
    step = float(re.search(r"a line every ([\d.]+) m", name).group(1))
    grid = _segments(traces[name])
    assert np.isnan(grid[:, 2]).all() and (grid[:, :2, 2] == 0).all()   # apart, on the floor
    ends = grid[:, :2, :2]                                                 # (L, 2, xy)
    assert (ends.min(axis=(0, 1)) <= bounds[:2, 0]).all()                # covers the cube
    assert (ends.max(axis=(0, 1)) >= bounds[:2, 1]).all()
    along_y = ends[:, 0, 0] == ends[:, 1, 0]                               # x fixed
    assert (along_y ^ (ends[:, 0, 1] == ends[:, 1, 1])).all()              # along x or y
    # a studio of a few metres: more than a handful of lines, few enough for a light page
    assert 5 <= along_y.sum() <= FLOOR_LINES and 5 <= (~along_y).sum() <= FLOOR_LINES
    fixed = np.where(along_y, ends[:, 0, 0], ends[:, 0, 1])
    # on multiples of the step: float32 rounds a coordinate below 8 m by under 5e-7 m, under
    # 1e-5 of a step of 0.1 m or more
    np.testing.assert_allclose(fixed / step, np.round(fixed / step), rtol=0, atol=1e-5)


def test_the_scene_is_one_cube_around_everything_and_the_floor():
    points = np.array([[0.5, 1.0, 0.2], [2.5, 1.5, 1.9], [np.nan, 0, 0]])
    bounds = scene_bounds(points)
    sides = bounds[:, 1] - bounds[:, 0]
    np.testing.assert_allclose(sides, sides[0])              # equal aspect
    assert (bounds[:, 0] <= [0.5, 1.0, 0.0]).all() and (bounds[:, 1] >= [2.5, 1.5, 1.9]).all()


def test_frames_kept():
    assert shown_frames(30).tolist() == list(range(30))
    kept = shown_frames(10_000, 300)
    assert len(kept) == 300 and kept[0] == 0 and kept[-1] == 9_999
    with pytest.raises(ConfigError, match="--max-frames must be 2 or more"):
        shown_frames(10, 1)


@pytest.mark.parametrize("suffix", [".ply", ".glb"])
def test_mocap_view_writes_a_frame_as_a_scene_file_open3d_reads_back(good_run, tmp_path, suffix):
    """``--scene``: the cameras, floor and skeletons of ``--frame`` as a line set; the PLY opens
    again in Open3D with the scene's numbers of points and lines (the glTF is read back by our
    reader: Open3D skips glTF line primitives), and a frame beyond the take is a clear error."""
    o3d = pytest.importorskip("open3d")
    from mocap.scene3d import build_scene
    from mocap.scene3d_io import read_scene_gltf
    from mocap.session import Session
    from mocap.viewer import session_cameras
    out = tmp_path / f"scene{suffix}"
    assert main(["view", str(good_run), "--scene", str(out), "--frame", "7"]) == 0
    scene = build_scene(_motion(good_run), 7, session_cameras(Session.open(str(good_run)))).merged()
    if suffix == ".ply":
        lines = o3d.io.read_line_set(str(out))
        assert (len(lines.points), len(lines.lines)) == (scene.n_points, scene.n_lines)
    else:
        parts = read_scene_gltf(out).values()
        assert (sum(len(points) for points, _ in parts),
                sum(len(segments) for _, segments in parts)) == (scene.n_points, scene.n_lines)
    assert main(["view", str(good_run), "--scene", str(tmp_path / "late.ply"), "--frame",
                 "999"]) == 2
    assert not (tmp_path / "late.ply").exists()


def test_mocap_view_desktop_without_a_display_points_to_the_browser_viewer(good_run, monkeypatch,
                                                                          capsys):
    pytest.importorskip("open3d")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("DISPLAY", "")
    assert main(["view", str(good_run), "--desktop"]) == 2
    err = capsys.readouterr().err
    assert "mocap view" in err and "Traceback" not in err
