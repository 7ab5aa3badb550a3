"""``output/viewer.html``: the take's 3D skeletons played in the browser, in one self-contained
page (plotly's JavaScript inlined once; nothing loaded from anywhere), and ``mocap view``.

The page holds the cameras' frusta, a floor grid and, per frame kept (at most ``max_frames``,
spread over the take), the bones and joints of every person; joints are coloured by their
reprojection error or by where they came from (triangulated, lifted, filled). A slider and a
play button move through the frames; ``viewer.html#frame=N`` opens at the kept frame nearest N.
The axes are fixed, one cube around everything, so that the scene neither jumps nor stretches.
"""

from __future__ import annotations

import base64
import html
import json
import signal
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import plotly.io as pio
from numpy.typing import NDArray
from plotly.offline import get_plotlyjs

from calibration.camera import CameraRig
from calibration.io import read_calibration
from exporters.points3d import read_points3d
from mocap.errors import ConfigError, InputError
from mocap.export_config import REFINED_CALIBRATION
from mocap.run_outputs import RunOutputs
from mocap.scene3d import camera_frusta, floor_grid, floor_step
from mocap.session import Session
from mocap.viewer_data import (
    COLOURINGS,
    FLOOR_LINES,
    FLOOR_STEP,
    FRUSTUM_SHARE,
    MAX_FRAMES,
    bone_lines,
    error_range,
    polylines,
    scene_bounds,
    shown_frames,
)
from rigs.motion import FILLED, LIFTED, TRIANGULATED, Motion3D

VIEWER = "viewer.html"
DIV_ID = "viewer"
# joints by source: name, codes, colour (lifted ones stand out in orange)
SOURCES = (("triangulated", (TRIANGULATED,), "#1f77b4"), ("lifted", (LIFTED,), "#ff7f0e"),
           ("filled", (FILLED,), "#8c8c8c"))
STEP = {"mode": "immediate", "frame": {"duration": 0, "redraw": True},
        "transition": {"duration": 0}}
STYLE = """
body { font-family: sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 1.4em; margin: 0.2em 0; }
p { margin: 0.3em 0; }
"""
# After the plot and its frames are made: show the kept frame nearest #frame=N, now and
# whenever the fragment changes. {plot_id} is plotly's placeholder for the div's id.
HASH_SCRIPT = """
const gd = document.getElementById("{plot_id}");
const shown = SHOWN;
function showHash() {
  const m = /frame=(\\d+)/.exec(location.hash);
  if (!m) return Promise.resolve();
  const want = Number(m[1]);
  let k = 0;
  shown.forEach((f, i) => { if (Math.abs(f - want) < Math.abs(shown[k] - want)) k = i; });
  return Plotly.animate(gd, [String(shown[k])], STEP)
    .then(() => Plotly.relayout(gd, {"sliders[0].active": k}));
}
window.addEventListener("hashchange", showHash);
return showHash();
"""


def typed(values: NDArray[Any]) -> dict[str, str]:
    """Numbers as plotly.js's typed-array spec: little-endian float32, base64 (about 5.3
    characters a number, NaN kept, where JSON text would take 8 or more)."""
    data = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return {"dtype": "f4", "bdata": base64.b64encode(data).decode()}


def _points(trace: dict[str, Any], xyz: NDArray[np.float64]) -> dict[str, Any]:
    """``trace`` with (N, 3) points as its x, y, z."""
    return {**trace, "type": "scatter3d", "x": typed(xyz[:, 0]), "y": typed(xyz[:, 1]),
            "z": typed(xyz[:, 2])}


def static_traces(rig: CameraRig | None, bounds: NDArray[np.float64]) -> list[dict[str, Any]]:
    """The floor grid over the scene's bounds (a little beyond them: plotly clips it at the
    axes), the cameras' frusta (with the image's up) and their names (none without cameras):
    :mod:`mocap.scene3d`'s geometry as polylines."""
    corners = bounds.T                                                     # (2, 3) low, high
    step = floor_step(corners, FLOOR_STEP, FLOOR_LINES)
    grid = floor_grid(corners, step, FLOOR_LINES)
    floor = _points({"name": f"floor (z = 0), a line every {step:g} m", "mode": "lines",
                     "hoverinfo": "skip", "line": {"color": "#c8c8c8", "width": 1}},
                    polylines(grid.segments))
    if rig is None or not len(rig):
        return [floor]
    depth = FRUSTUM_SHARE * float(bounds[0, 1] - bounds[0, 0])
    frusta = _points({"name": "cameras", "mode": "lines", "hoverinfo": "skip",
                      "line": {"color": "#3b5b92", "width": 3}},
                     polylines(camera_frusta(rig, depth).segments))
    names = _points({"name": "camera names", "mode": "text", "text": rig.names,
                     "textposition": "top center", "showlegend": False, "hoverinfo": "text"},
                    rig.centers)
    return [floor, frusta, names]


def joint_groups(motion: Motion3D, frames: NDArray[np.int64], colour: str
                 ) -> list[tuple[dict[str, Any], NDArray[np.bool_], NDArray[np.float64] | None]]:
    """The joint traces: their style, (T, P J) which joints each shows per frame kept, and the
    (T, P J) values its colour scale maps (None: one colour)."""
    source = motion.source[frames].reshape(len(frames), -1)                # (T, P J)
    if colour == "source":
        return [({"name": f"joints: {name}", "marker": {"color": hue, "size": 4}},
                 np.isin(source, codes), None) for name, codes, hue in SOURCES]
    error = motion.reprojection_error[frames].reshape(len(frames), -1)     # (T, P J) px
    scale = {"size": 4, "colorscale": "Viridis", "cmin": 0.0,
             "cmax": error_range(motion.reprojection_error[motion.source == TRIANGULATED]),
             "colorbar": {"title": {"text": "reprojection error (px)"}, "len": 0.6}}
    found = (source == TRIANGULATED) & np.isfinite(error)
    return [({"name": "joints: reprojection error", "marker": scale,
              "hovertemplate": "%{text}<br>%{marker.color:.2f} px<extra></extra>"},
             found, np.where(found, error, 0.0)),
            ({"name": "joints: lifted or filled (no error)",
              "marker": {"color": SOURCES[1][2], "size": 4}}, ~found & (source > 0), None)]


def frame_traces(motion: Motion3D, frames: NDArray[np.int64], colour: str
                 ) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]]]:
    """The moving traces (bones, then joint groups) as first drawn, and per frame kept only
    what changes (points and colour values; plotly keeps the rest): T lists of such traces."""
    xyz = motion.xyz[frames]                                               # (T, P, J, 3)
    bones = bone_lines(xyz, np.asarray(motion.skeleton.bones))             # (T, 3 P B, 3)
    joints = xyz.reshape(len(frames), -1, 3)                               # (T, P J, 3)
    labels = [f"person {p} {j}" for p in motion.person_id for j in motion.skeleton.joints]
    groups = joint_groups(motion, frames, colour)
    styles: list[dict[str, Any]] = [{"name": "bones", "mode": "lines", "hoverinfo": "skip",
                                     "line": {"color": "#444444", "width": 4}}]
    styles += [{"mode": "markers", "text": labels, **style} for style, _, _ in groups]
    per_frame = []
    for t in range(len(frames)):                       # one plotly frame each: T <= max_frames
        data = [_points({}, bones[t])]
        for _, shown, value in groups:
            trace = _points({}, np.where(shown[t, :, None], joints[t], np.nan))
            if value is not None:
                trace["marker"] = {"color": typed(value[t])}
            data.append(trace)
        per_frame.append(data)
    first = [{**style, **trace, "marker": {**style.get("marker", {}), **trace.get("marker", {})}}
             for style, trace in zip(styles, per_frame[0])]
    return first, per_frame


def viewer_figure(motion: Motion3D, rig: CameraRig | None, *, colour: str = "error",
                  max_frames: int = MAX_FRAMES) -> dict[str, Any]:
    """The page's figure as plotly's JSON layout (data, layout, frames).

    Args:
        motion: xyz (F, P, J, 3) metres, with reprojection_error and source (F, P, J).
        rig: the cameras drawn as frusta; None draws none.
        colour: "error" (a colour scale of reprojection error) or "source".
        max_frames: frames kept at most (see :func:`shown_frames`).
    """
    if colour not in COLOURINGS:
        raise ConfigError(f"--colour must be one of {', '.join(COLOURINGS)}, got '{colour}'")
    frames = shown_frames(motion.n_frames, max_frames)
    cameras = rig.centers if rig is not None and len(rig) else np.zeros((0, 3))
    bounds = scene_bounds(np.concatenate([motion.xyz.reshape(-1, 3), cameras]))
    still = static_traces(rig, bounds)
    first, per_frame = frame_traces(motion, frames, colour)
    moving = list(range(len(still), len(still) + len(first)))
    names = [str(f) for f in frames]
    stride = (frames[-1] - frames[0]) / max(len(frames) - 1, 1)
    play = {**STEP, "frame": {"duration": max(1000 * stride / motion.fps, 33), "redraw": True},
            "fromcurrent": True}
    axes = {f"{a}axis": {"range": bounds[i].tolist(), "title": {"text": f"{a} (m)"}}
            for i, a in enumerate("xyz")}
    layout = {
        "scene": {**axes, "aspectmode": "cube", "camera": {"up": {"x": 0, "y": 0, "z": 1}}},
        "uirevision": "viewer", "margin": {"l": 0, "r": 0, "t": 10, "b": 10},
        "legend": {"x": 0, "y": 1},
        "updatemenus": [{"type": "buttons", "direction": "left", "x": 0, "y": 0,
                         "xanchor": "left", "yanchor": "top", "pad": {"t": 40, "r": 10},
                         "buttons": [{"label": "Play", "method": "animate",
                                      "args": [None, play]},
                                     {"label": "Pause", "method": "animate",
                                      "args": [[None], STEP]}]}],
        "sliders": [{"active": 0, "x": 0.12, "len": 0.88, "y": 0, "pad": {"t": 30},
                     "font": {"color": "rgba(0,0,0,0)"},         # no label under each step
                     "currentvalue": {"prefix": "frame ", "font": {"color": "#222"}},
                     "steps": [{"method": "animate", "label": f"{f} ({f / motion.fps:.2f} s)",
                                "args": [[name], STEP]} for f, name in zip(frames, names)]}],
    }
    return {"data": still + first, "layout": layout,
            "frames": [{"name": name, "data": data, "traces": moving}
                       for name, data in zip(names, per_frame)]}


def viewer_html(motion: Motion3D, rig: CameraRig | None, title: str, *, colour: str = "error",
                max_frames: int = MAX_FRAMES, report: bool = True) -> str:
    """The whole page: a line on the take, a link to ``report.html`` (when ``report``) and the
    figure of :func:`viewer_figure`."""
    fig = viewer_figure(motion, rig, colour=colour, max_frames=max_frames)
    kept = len(fig["frames"])
    script = (HASH_SCRIPT.replace("SHOWN", json.dumps([int(f["name"]) for f in fig["frames"]]))
              .replace("STEP", json.dumps(STEP)))
    div = pio.to_html(fig, full_html=False, include_plotlyjs=False, auto_play=False,
                      validate=False, div_id=DIV_ID, default_height="80vh",
                      post_script=script, config={"displaylogo": False, "responsive": True})
    shown = (f"all {kept} frames" if kept == motion.n_frames else
             f"{kept} of its {motion.n_frames} frames, spread evenly (--max-frames)")
    cameras = (f"{len(rig)} cameras ({html.escape(', '.join(rig.names))})" if rig is not None
               else "no calibration found: no cameras drawn")
    colours = ("joints coloured by reprojection error" if colour == "error" else
               "joints coloured by source (lifted joints in orange)")
    link = ' <a href="report.html">Quality report</a>.' if report else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}: 3D</title><style>{STYLE}</style>\n"
            f'<script type="text/javascript">{get_plotlyjs()}</script></head>\n'
            f"<body><h1>{html.escape(title)}</h1>\n<p>{motion.n_frames} frames at "
            f"{motion.fps:g} fps, {motion.n_people} people, keypoints "
            f"{html.escape(motion.skeleton.name)}, {cameras}; showing {shown}; {colours}. "
            f"World Z up, metres.{link}</p>\n{div}\n"
            "</body></html>\n")


def write_viewer(path: Path, motion: Motion3D, rig: CameraRig | None, title: str, *,
                 colour: str = "error", max_frames: int = MAX_FRAMES,
                 report: bool = True) -> Path:
    """Write :func:`viewer_html` to ``path`` (a run's staging folder makes it atomic)."""
    path.write_text(viewer_html(motion, rig, title, colour=colour, max_frames=max_frames,
                                report=report), encoding="utf-8")
    return path


def session_cameras(session: Session) -> CameraRig | None:
    """The cameras of the session's 3D: ``output/calibration_refined.toml`` when the skeleton
    adjustment refined them, else the session's calibration; None when it has none."""
    refined = session.output / REFINED_CALIBRATION
    path = refined if refined.is_file() else session.ready_calibration_file()
    return read_calibration(path) if path is not None else None


def session_motion(session: Session) -> tuple[Motion3D, CameraRig | None]:
    """The session's 3D (``output/points3d.npz``) and its cameras (:func:`session_cameras`).

    Raises:
        InputError: the session has no 3D yet.
        ExportError: points3d.npz is unreadable or of an unknown keypoint set.
    """
    points = session.output / "points3d.npz"
    if not points.is_file():
        raise InputError(f"{session.root}: no {points} to view; run mocap run "
                         f"{session.root} (or mocap triangulate) first")
    return read_points3d(points), session_cameras(session)


def view_session(session: Session, *, colour: str = "error",
                 max_frames: int = MAX_FRAMES) -> Path:
    """``mocap view``: write ``output/viewer.html`` from ``output/points3d.npz``; its path."""
    motion, rig = session_motion(session)
    with RunOutputs(session.output) as run:
        run.own(VIEWER)
        write_viewer(run.staging / VIEWER, motion, rig, session.root.name, colour=colour,
                     max_frames=max_frames, report=(session.output / "report.html").is_file())
        return run.commit()[0]


def serve(folder: Path, page: str = VIEWER, port: int = 0) -> None:
    """Serve ``folder`` over HTTP on 127.0.0.1 only (a free port unless ``port``), print the
    page's address and block until Ctrl-C, which ends it cleanly."""
    handler = partial(SimpleHTTPRequestHandler, directory=str(folder))
    # Ctrl-C stops it even where this process was started with SIGINT ignored (as a background
    # job or a child of a process that ignores it inherits it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as server:
        print(f"serving {folder} at http://127.0.0.1:{server.server_address[1]}/{page} "
              "(Ctrl-C stops)", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("stopped", flush=True)
